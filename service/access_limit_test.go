package service

import (
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
)

// TestConfinementKinds: the types a patient/ grant confines by their
// patient parameter and the reference data it reads unconfined are
// resource types outside the R4 Patient compartment (else the
// compartment would confine them), and the parameters exist.
func TestConfinementKinds(t *testing.T) {
	for typ, p := range patientParams {
		if search.InCompartment(patientComp, typ) || !search.Default().BuiltIn(typ, p) {
			t.Errorf("%s.%s", typ, p)
		}
	}
	for typ := range sharedTypes {
		if !fhir.KnownType(typ) || search.InCompartment(patientComp, typ) || patientParams[typ] != "" {
			t.Errorf("%s", typ)
		}
	}
}
