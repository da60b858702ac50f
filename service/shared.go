package service

// SharedType reports whether typ is reference, conformance or terminology
// data (Practitioner, Organization, ValueSet, Questionnaire...), outside
// every Patient compartment and about no patient: what a confined grant
// still reads and searches unconfined.
func SharedType(typ string) bool { return sharedTypes[typ] }
