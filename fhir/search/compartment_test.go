package search

import "testing"

func TestCompartmentMembership(t *testing.T) {
	obs := map[string]any{"resourceType": "Observation", "id": "o", "status": "final", "code": map[string]any{"text": "x"},
		"subject": map[string]any{"reference": "Patient/p1"}, "performer": []any{map[string]any{"reference": "Practitioner/d1"}, map[string]any{"reference": "Patient/p2"}},
		"encounter": map[string]any{"reference": "Encounter/e1"}}
	idx, err := Extract(Default(), "Observation", obs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range idx.Refs {
		if r.Param == CompartmentParam {
			got[r.Type+"/"+r.ID] = true
		}
	}
	for _, want := range []string{"Patient/p1", "Patient/p2", "Practitioner/d1", "Encounter/e1"} {
		if !got[want] {
			t.Errorf("missing compartment %s in %v", want, got)
		}
	}
	pat, _ := Extract(Default(), "Patient", map[string]any{"resourceType": "Patient", "id": "p1"})
	if len(pat.Refs) != 1 || pat.Refs[0].Type != "Patient" || pat.Refs[0].ID != "p1" {
		t.Fatalf("a patient is in its own compartment: %+v", pat.Refs)
	}
	if !InCompartment("Patient", "Observation") || InCompartment("Patient", "Organization") {
		t.Fatal("InCompartment")
	}
}

// TestCompartmentBuiltInOnly: compartments follow the R4 parameters the
// CompartmentDefinition names, never a custom SearchParameter that
// replaced one: a SearchParameter must not move resources into or out of
// a patient's compartment (a patient/ scope's confinement rests on it).
func TestCompartmentBuiltInOnly(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range []map[string]any{
		// into: every Observation refers to Patient/p1 by "performer"
		{"resourceType": "SearchParameter", "url": "http://example.org/sp/performer", "code": "performer", "base": []any{"Observation"}, "type": "reference", "expression": "'Patient/p1'"},
		// out of: "subject" no longer reads Observation.subject
		{"resourceType": "SearchParameter", "url": "http://example.org/sp/subject", "code": "subject", "base": []any{"Observation"}, "type": "reference", "expression": "Observation.focus"},
		// Task's patient, which patient/ scopes confine Task by
		{"resourceType": "SearchParameter", "url": "http://example.org/sp/task-patient", "code": "patient", "base": []any{"Task"}, "type": "reference", "expression": "Task.owner"},
	} {
		if err := reg.AddResource(sp); err != nil {
			t.Fatal(err)
		}
	}
	obs := map[string]any{"resourceType": "Observation", "id": "o", "status": "final", "code": map[string]any{"text": "x"},
		"subject": map[string]any{"reference": "Patient/p2"}, "performer": []any{map[string]any{"reference": "Practitioner/d1"}}}
	idx, err := ExtractLocal(reg, "Observation", obs, "http://example.org/fhir")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	custom := false
	for _, r := range idx.Refs {
		if r.Param == CompartmentParam {
			got[r.Type+"/"+r.ID] = true
		}
		if r.Param == "performer" && r.Type == "Patient" && r.ID == "p1" {
			custom = true
		}
	}
	if !custom {
		t.Errorf("the custom performer parameter is not indexed: %+v", idx.Refs)
	}
	if got["Patient/p1"] {
		t.Errorf("a custom SearchParameter put the Observation in Patient/p1's compartment: %v", got)
	}
	for _, want := range []string{"Patient/p2", "Practitioner/d1"} {
		if !got[want] {
			t.Errorf("missing compartment %s in %v (from the R4 parameters)", want, got)
		}
	}
	for _, c := range []struct {
		typ, code string
		builtIn   bool
	}{
		{"Observation", "performer", false}, {"Observation", "subject", false}, {"Task", "patient", false},
		{"Observation", "code", true}, {"Device", "patient", true}, {"Observation", "nope", false},
	} {
		if got := reg.BuiltIn(c.typ, c.code); got != c.builtIn {
			t.Errorf("BuiltIn(%s, %s) = %v, want %v", c.typ, c.code, got, c.builtIn)
		}
	}
}
