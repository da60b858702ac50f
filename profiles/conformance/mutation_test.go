package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
)

const (
	frBase    = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
	frPatIns  = frBase + "fr-core-patient-ins"
	birthURL  = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
	reliabURL = frBase + "fr-core-identity-reliability"
)

// example returns a deep copy of an FR Core example by id.
func example(t testing.TB, id string) map[string]any {
	t.Helper()
	_, pkg := frCore(t)
	for _, ex := range pkg.Examples {
		if ex["id"] == id {
			return cloneMap(ex)
		}
	}
	t.Fatalf("no example %s", id)
	return nil
}

func dropExt(m map[string]any, url string) {
	exts, _ := m["extension"].([]any)
	var keep []any
	for _, x := range exts {
		if str(x.(map[string]any)["url"]) != url {
			keep = append(keep, x)
		}
	}
	m["extension"] = keep
}

func ext(m map[string]any, url string) map[string]any {
	exts, _ := m["extension"].([]any)
	for _, x := range exts {
		if str(x.(map[string]any)["url"]) == url {
			return x.(map[string]any)
		}
	}
	return nil
}

func arr(m map[string]any, key string, i int) map[string]any {
	return m[key].([]any)[i].(map[string]any)
}

// find reports whether issues hold one of severity sev at expr whose
// diagnostics contain diag.
func find(issues []fhir.Issue, sev, expr, diag string) bool {
	for _, i := range issues {
		if i.Severity == sev && strings.Contains(i.Diagnostics, diag) && (expr == "" || (len(i.Expression) > 0 && i.Expression[0] == expr)) {
			return true
		}
	}
	return false
}

func dump(issues []fhir.Issue) string {
	var b strings.Builder
	for _, i := range issues {
		fmt.Fprintf(&b, "\n  %s %s: %s @ %v", i.Severity, i.Code, i.Diagnostics, i.Expression)
	}
	return b.String()
}

func TestFRCoreMutations(t *testing.T) {
	s, _ := frCore(t)
	cases := []struct {
		name, example, profile string
		mutate                 func(r map[string]any)
		expr, diag             string
	}{
		{"INS patient without birth place", "FRCorePatientExample", "", func(r map[string]any) {
			dropExt(r, birthURL)
		}, "Patient.extension", "slice birthPlace requires at least 1"},
		{"VALI identity without official INS identifier", "FRCorePatientExample", "", func(r map[string]any) {
			r["identifier"] = []any{map[string]any{"use": "usual", "system": "urn:oid:1.2.250.1.999", "value": "42"}}
		}, "Patient", "constraint fr-core-1 failed"},
		{"birth place without INSEE code", "FRCorePatientExample", "", func(r map[string]any) {
			delete(ext(r, birthURL)["valueAddress"].(map[string]any), "extension")
		}, "Patient.extension('" + birthURL + "').value.ofType(Address).extension", "minimum required = 1"},
		{"missing slice: BP without diastolic", "FRCoreObservationBPExample", "", func(r map[string]any) {
			r["component"] = r["component"].([]any)[:1]
		}, "Observation.component", "slice DiastolicBP requires at least 1"},
		{"wrong slice: diastolic coded as systolic", "FRCoreObservationBPExample", "", func(r map[string]any) {
			arr(arr(r, "component", 1)["code"].(map[string]any), "coding", 0)["code"] = "8480-6"
		}, "Observation.component", "slice SystolicBP allows at most 1, found 2"},
		{"closed slicing: body weight as a string", "FRCoreObservationBodyWeightExample", "", func(r map[string]any) {
			delete(r, "valueQuantity")
			r["valueString"] = "72 kg"
		}, "Observation.value.ofType(string)", "does not match any slice of the closed slicing"},
		{"fixed mismatch: systolic unit", "FRCoreObservationBPExample", "", func(r map[string]any) {
			arr(r, "component", 0)["valueQuantity"].(map[string]any)["code"] = "mmHg"
		}, "Observation.component[0].value.ofType(Quantity).code", `value must be exactly "mm[Hg]"`},
		{"pattern mismatch: INS-NIR-TEST use", "FRCorePatientExample", "", func(r map[string]any) {
			id := arr(r, "identifier", 0)
			id["system"] = "urn:oid:1.2.250.1.213.1.4.10"
			id["type"] = map[string]any{"coding": []any{map[string]any{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "code": "INS-NIR-TEST"}}}
			id["use"] = "usual"
		}, "Patient.identifier[0].use", `value must match the pattern "official"`},
		{"cardinality: two official given names", "FRCorePatientExample", "", func(r map[string]any) {
			arr(r, "name", 0)["given"] = []any{"Pierre", "Yves"}
		}, "Patient.name[0].given", "maximum allowed = 1, but found 2"},
		{"cardinality: no gender", "FRCorePatientExample", "", func(r map[string]any) {
			delete(r, "gender")
		}, "Patient.gender", "minimum required = 1"},
		{"extension with wrong value type", "FRCorePatientExample", "", func(r map[string]any) {
			x := ext(arr(r, "name", 0), frBase+"fr-core-patient-birth-list-given-name")
			delete(x, "valueString")
			x["valueInteger"] = json.Number("3")
		}, "Patient.name[0].extension('" + frBase + "fr-core-patient-birth-list-given-name').value.ofType(integer)", "type integer is not allowed"},
		{"complex extension: validation mode outside required value set", "FRCorePatientExample", "", func(r map[string]any) {
			x := ext(r, reliabURL)
			x["extension"] = append(x["extension"].([]any), map[string]any{"url": "validationMode",
				"valueCoding": map[string]any{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-mode-validation-identity", "code": "NOPE"}})
		}, "Patient.extension('" + reliabURL + "').extension('validationMode').value.ofType(Coding)", "not in the required value set"},
		{"nested extension with wrong value type", "FRCorePatientExample", "", func(r map[string]any) {
			arr(ext(r, reliabURL), "extension", 0)["valueCoding"] = nil
			delete(arr(ext(r, reliabURL), "extension", 0), "valueCoding")
			arr(ext(r, reliabURL), "extension", 0)["valueString"] = "VALI"
		}, "Patient.extension('" + reliabURL + "').extension('identityStatus').value.ofType(string)", "type string is not allowed"},
		{"required binding on slice: INS identifier use", "FRCorePatientExample", "", func(r map[string]any) {
			arr(r, "identifier", 0)["use"] = "temp"
		}, "Patient.identifier[0].use", "not in the required value set"},
		{"reference target narrowed", "FRCorePatientExample", "", func(r map[string]any) {
			r["managingOrganization"] = map[string]any{"reference": "Practitioner/123"}
		}, "Patient.managingOrganization", "reference to a Practitioner"},
		{"profile for another resource type", "FRCorePatientExample", frBase + "fr-core-organization", func(r map[string]any) {}, "Patient", "is for Organization"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := example(t, tc.example)
			if prof := tc.profile; prof == "" {
				if issues := errorsOf(s.ValidateClaimed(r)); len(issues) > 0 {
					t.Fatalf("unmutated example has errors:%s", dump(issues))
				}
			}
			tc.mutate(r)
			var issues []fhir.Issue
			if tc.profile != "" {
				issues = s.Validate(r, tc.profile)
			} else {
				issues = s.ValidateClaimed(r)
			}
			if !find(issues, "error", tc.expr, tc.diag) {
				t.Errorf("want error %q at %s, got:%s", tc.diag, tc.expr, dump(issues))
			}
		})
	}
}

func TestClaimedUnknownProfile(t *testing.T) {
	s, err := NewSet()
	if err != nil {
		t.Fatal(err)
	}
	r := map[string]any{"resourceType": "Patient", "meta": map[string]any{"profile": []any{"http://example.org/nope"}}}
	issues := s.ValidateClaimed(r)
	if !find(issues, "error", "Patient.meta.profile[0]", "not known") {
		t.Errorf("got:%s", dump(issues))
	}
	if issues := s.Validate(r, "http://example.org/nope"); !HasErrors(issues) {
		t.Error("unknown profile accepted")
	}
	// A base R4 profile from the embedded definitions works without packages.
	vs := map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}}
	if issues := s.Validate(vs, "http://hl7.org/fhir/StructureDefinition/vitalsigns"); !find(issues, "error", "Observation.category", "VSCat") {
		t.Errorf("vitalsigns: %s", dump(issues))
	}
}

func TestMissingDependenciesDegrade(t *testing.T) {
	s, _ := frCore(t)
	deps := strings.Join(s.MissingDependencies(), ",")
	if !strings.Contains(deps, "ans.fr.terminologies#1.7.0") {
		t.Errorf("missing deps: %s", deps)
	}
	r := example(t, "FRCorePatientExample")
	r["extension"] = append(r["extension"].([]any), map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/patient-unknownThing", "valueString": "x"})
	issues := s.ValidateClaimed(r)
	if HasErrors(issues) {
		t.Errorf("errors:%s", dump(issues))
	}
	if !find(issues, "warning", "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-unknownThing')", "unknown extension") {
		t.Errorf("no unknown-extension warning:%s", dump(issues))
	}
	if !find(issues, "warning", "", "cannot check binding") {
		t.Errorf("no binding warning:%s", dump(issues))
	}
}

func BenchmarkValidateFRCorePatient(b *testing.B) {
	s, _ := frCore(b)
	r := example(b, "FRCorePatientExample")
	if issues := s.ValidateClaimed(r); HasErrors(issues) {
		b.Fatal(dump(issues))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Validate(r, frPatIns)
	}
}
