package fhir

// ValidID reports whether s is a legal FHIR id: [A-Za-z0-9\-\.]{1,64}.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// KnownType reports whether t is an R4 resource type this server serves.
func KnownType(t string) bool {
	_, ok := resourceTypeSet[t]
	return ok
}

var resourceTypeSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(ResourceTypes))
	for _, t := range ResourceTypes {
		m[t] = struct{}{}
	}
	return m
}()
