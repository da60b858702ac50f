// Package patch applies the two patch formats the FHIR PATCH interaction
// accepts to a resource held as the generic JSON tree of fhir.Decode: JSON
// Patch (RFC 6902) and FHIRPath Patch (FHIR R4 §2.21, a Parameters
// resource). Both work on a copy, so a failing patch leaves the stored
// version untouched, and both report failures as *fhir.Error (400 for a
// malformed patch, 422 for one that does not apply to this resource) so the
// handler can answer with an OperationOutcome directly.
package patch
