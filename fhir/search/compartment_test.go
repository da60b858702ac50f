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
