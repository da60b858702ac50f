package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	usCorePatient = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
	frCorePatient = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"
)

// claiming is a plain patient whose meta.profile claims profiles.
func claiming(family string, profiles ...string) map[string]any {
	p := patient(family)
	ps := make([]any, len(profiles))
	for i, u := range profiles {
		ps[i] = u
	}
	p["meta"] = map[string]any{"profile": ps}
	return p
}

// findIssue returns the first issue of an OperationOutcome (decoded JSON)
// with that severity whose diagnostics mention text, nil when none.
func findIssue(oo any, severity, text string) map[string]any {
	issues, _ := dig(oo, "issue").([]any)
	for _, is := range issues {
		m, _ := is.(map[string]any)
		if d, _ := m["diagnostics"].(string); m["severity"] == severity && strings.Contains(d, text) {
			return m
		}
	}
	return nil
}

// wantUnknownProfileWarning fails unless oo carries the warning naming the
// unknown profile at Patient.meta.profile[0].
func wantUnknownProfileWarning(t *testing.T, oo any, raw []byte) {
	t.Helper()
	is := findIssue(oo, "warning", usCorePatient)
	if is == nil || dig(is, "code") != "not-supported" || dig(is, "expression", "0") != "Patient.meta.profile[0]" {
		t.Fatalf("no warning at Patient.meta.profile[0] naming %s: %s", usCorePatient, raw)
	}
}

// TestUnknownProfileWarning: by default a claimed profile the server does
// not know is stored with a warning, reported with Prefer:
// return=OperationOutcome, in Bundle entries' response.outcome and by
// $validate; the resource is still checked against base R4 and the
// profiles the server knows.
func TestUnknownProfileWarning(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		// create: stored; the default response is the resource
		r := f.do("POST", "/Patient", claiming("Plain", usCorePatient))
		f.want(r, 201)
		if r.str("resourceType") != "Patient" {
			t.Fatalf("create: %s", r.body)
		}
		id := r.str("id")
		r = f.do("POST", "/Patient", claiming("Outcome", usCorePatient), "Prefer", "return=OperationOutcome")
		f.want(r, 201)
		wantUnknownProfileWarning(t, r.json, r.body)
		if findIssue(r.json, "information", "created Patient/") == nil {
			t.Errorf("no information issue: %s", r.body)
		}
		// update and patch report it too
		p := claiming("Updated", usCorePatient)
		p["id"] = id
		r = f.do("PUT", "/Patient/"+id, p, "Prefer", "return=OperationOutcome")
		f.want(r, 200)
		wantUnknownProfileWarning(t, r.json, r.body)
		r = f.do("PATCH", "/Patient/"+id, `[{"op":"replace","path":"/gender","value":"male"}]`,
			"Content-Type", "application/json-patch+json", "Prefer", "return=OperationOutcome")
		f.want(r, 200)
		wantUnknownProfileWarning(t, r.json, r.body)
		// a resource without warnings gets none
		r = f.do("POST", "/Patient", patient("Clean"), "Prefer", "return=OperationOutcome")
		f.want(r, 201)
		if findIssue(r.json, "warning", "") != nil {
			t.Errorf("warnings on a clean patient: %s", r.body)
		}

		// still validated against base R4 and the known profiles it claims
		bad := claiming("Bad", usCorePatient)
		bad["gender"] = "woman"
		f.want(f.do("POST", "/Patient", bad), 422)
		r = f.do("POST", "/Patient", claiming("Both", usCorePatient, "https://dcc.example.fr/fhir/StructureDefinition/dcc-patient"))
		f.want(r, 422)
		if findIssue(r.json, "warning", usCorePatient) == nil {
			t.Errorf("the warning is not listed beside the errors: %s", r.body)
		}
		// a DCC-namespace profile that does not exist stays an error
		r = f.do("POST", "/Patient", claiming("Typo", "https://dcc.example.fr/fhir/StructureDefinition/dcc-patiant"))
		f.want(r, 422)
		if is := findIssue(r.json, "error", "dcc-patiant"); is == nil || dig(is, "expression", "0") != "Patient.meta.profile[0]" {
			t.Errorf("DCC-namespace typo: %s", r.body)
		}

		// batch and transaction entries carry it in response.outcome
		for _, typ := range []string{"batch", "transaction"} {
			if typ == "transaction" && !f.st.Features().Transactions {
				continue
			}
			bundle := map[string]any{"resourceType": "Bundle", "type": typ, "entry": []any{
				map[string]any{"resource": claiming("Entry0", usCorePatient), "request": map[string]any{"method": "POST", "url": "Patient"}},
				map[string]any{"resource": patient("Entry1"), "request": map[string]any{"method": "POST", "url": "Patient"}},
			}}
			r = f.do("POST", "", bundle, "Prefer", "return=minimal")
			f.want(r, 200)
			if st := r.str("entry", "0", "response", "status"); !strings.HasPrefix(st, "201") {
				t.Fatalf("%s entry 0: %s", typ, r.body)
			}
			wantUnknownProfileWarning(t, dig(r.json, "entry", "0", "response", "outcome"), r.body)
			if dig(r.json, "entry", "1", "response", "outcome") != nil {
				t.Errorf("%s entry 1 has an outcome without warnings: %s", typ, r.body)
			}
		}

		// $validate lists it
		body, _ := json.Marshal(claiming("Validate", usCorePatient))
		r = f.do("POST", "/Patient/$validate", body)
		f.want(r, 200)
		wantUnknownProfileWarning(t, r.json, r.body)
	})
}

// TestUnknownProfileError: --unknown-profile=error keeps the strict
// behaviour: 422 naming the profile where it is claimed.
func TestUnknownProfileError(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		r := f.do("POST", "/Patient", claiming("Strict", usCorePatient))
		f.want(r, 422)
		if is := findIssue(r.json, "error", usCorePatient); is == nil || dig(is, "expression", "0") != "Patient.meta.profile[0]" {
			t.Fatalf("strict: %s", r.body)
		}
		f.want(f.do("POST", "/Patient", patient("Plain")), 201)
	}, strictProfiles(t))
}

// TestFRCoreBuiltIn: with no package configured, a patient claiming FR
// Core Patient is checked against it.
func TestFRCoreBuiltIn(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		good := claiming("Durand", frCorePatient)
		good["name"] = []any{map[string]any{"use": "official", "family": "Durand", "given": []any{"Hélène"}}}
		r := f.do("POST", "/Patient", good, "Prefer", "return=OperationOutcome")
		f.want(r, 201)
		if findIssue(r.json, "warning", frCorePatient) != nil {
			t.Fatalf("FR Core Patient not known: %s", r.body)
		}
		// "other" is an R4 gender outside FR Core's required binding
		bad := claiming("Durand", frCorePatient)
		bad["gender"] = "other"
		f.want(f.do("POST", "/Patient", patient("Base")), 201)
		r = f.do("POST", "/Patient", bad)
		f.want(r, 422)
		if !hasIssue(r, "", "Patient.gender") {
			t.Fatalf("no error at Patient.gender: %s", r.body)
		}
	})
}

// TestWarningsPerEntry: each Bundle entry reports the warnings of the very
// version it wrote, even when two entries write the same resource.
func TestWarningsPerEntry(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		first := claiming("First", usCorePatient)
		first["id"] = "w1"
		second := patient("Second")
		second["id"] = "w1"
		bundle := map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{
			map[string]any{"resource": first, "request": map[string]any{"method": "PUT", "url": "Patient/w1"}},
			map[string]any{"resource": second, "request": map[string]any{"method": "PUT", "url": "Patient/w1"}},
		}}
		r := f.do("POST", "", bundle, "Prefer", "return=minimal")
		f.want(r, 200)
		wantUnknownProfileWarning(t, dig(r.json, "entry", "0", "response", "outcome"), r.body)
		if findIssue(dig(r.json, "entry", "1", "response", "outcome"), "warning", usCorePatient) != nil {
			t.Errorf("entry 1 reports entry 0's warning: %s", r.body)
		}
		// a PUT whose body carries meta.versionId gets its warning too
		third := claiming("Third", usCorePatient)
		third["id"] = "w1"
		third["meta"].(map[string]any)["versionId"] = "2"
		r = f.do("PUT", "/Patient/w1", third, "Prefer", "return=OperationOutcome")
		f.want(r, 200)
		wantUnknownProfileWarning(t, r.json, r.body)
	})
}
