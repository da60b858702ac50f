package conformance

import "strings"

// ValueSet returns the loaded value set with canonical url, which may carry
// a "|version" suffix (a versioned key is tried first, then the bare url, so
// callers that care about the version must compare it themselves); nil when
// unknown. The map is shared with the Set and must be treated as read-only:
// it exists so that package terminology can expand and describe value sets
// without a second copy of every loaded definition.
func (s *Set) ValueSet(url string) map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return lookupCanonical(s.vss, url)
}

// CodeSystem returns the loaded code system with canonical url ("|version"
// allowed, as for ValueSet); nil when unknown. Read-only, as for ValueSet.
// The R4 base code systems are the compact embedded copy: codes and
// hierarchy only, without displays.
func (s *Set) CodeSystem(url string) map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return lookupCanonical(s.css, url)
}

func lookupCanonical(m map[string]map[string]any, url string) map[string]any {
	if r := m[url]; r != nil {
		return r
	}
	if u, _, ok := strings.Cut(url, "|"); ok {
		return m[u]
	}
	return nil
}
