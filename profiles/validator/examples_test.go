package validator

import (
	"sort"
	"strings"
	"testing"
)

// invalidExamples are official R4 examples that really are invalid, with
// the reason (each checked against the specification); they must fail.
var invalidExamples = map[string]string{
	"Bundle-dataelements.json":         "bdl-7: a collection whose entries repeat fullUrls (de-Quantity.value, ...) without meta.versionId",
	"DeviceMetric-example.json":        "parent is Reference(Device) in R4 but points at DeviceDefinition/dc102",
	"DeviceUseStatement-example.json":  "reasonReference does not allow Procedure (Condition|Observation|DiagnosticReport|DocumentReference|Media)",
	"ImplementationGuide-fhir.json":    "name and status (both 1..1) are missing; a manifest reference has a 67-character id",
	"MedicationRequest-medrx0301.json": "dispenseRequest.performer is Reference(Organization) but points at Practitioner/f001",
	"Observation-clinical-gender.json": "performer does not allow Encounter",
	"Questionnaire-qs1.json":           "32 items lack linkId (1..1)",
	"SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json": "id is 67 characters (ids are at most 64)",
	"StructureDefinition-Definition.json":                                                      "sdf-4: logical model, not abstract, without baseDefinition",
	"StructureDefinition-Event.json":                                                           "sdf-4: logical model, not abstract, without baseDefinition",
	"StructureDefinition-FiveWs.json":                                                          "sdf-4: logical model, not abstract, without baseDefinition",
	"StructureDefinition-Request.json":                                                         "sdf-4: logical model, not abstract, without baseDefinition",
	"SearchParameter-codesystem-extensions-CodeSystem-author.json":                             "base (1..*) is missing",
	"SearchParameter-codesystem-extensions-CodeSystem-effective.json":                          "base (1..*) is missing",
	"SearchParameter-codesystem-extensions-CodeSystem-end.json":                                "base (1..*) is missing",
	"SearchParameter-codesystem-extensions-CodeSystem-keyword.json":                            "base (1..*) is missing",
	"SearchParameter-codesystem-extensions-CodeSystem-workflow.json":                           "base (1..*) is missing",
	"SearchParameter-valueset-extensions-ValueSet-author.json":                                 "base (1..*) is missing",
	"SearchParameter-valueset-extensions-ValueSet-effective.json":                              "base (1..*) is missing",
	"SearchParameter-valueset-extensions-ValueSet-end.json":                                    "base (1..*) is missing",
	"SearchParameter-valueset-extensions-ValueSet-keyword.json":                                "base (1..*) is missing",
	"SearchParameter-valueset-extensions-ValueSet-workflow.json":                               "base (1..*) is missing",
}

func TestOfficialExamples(t *testing.T) {
	files := r4Examples(t)
	v := testValidator()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	pass, fail := 0, 0
	byKey := map[string]int{}
	for _, n := range names {
		res := decode(t, files[n])
		rt, _ := res["resourceType"].(string)
		var errs []string
		for _, is := range v.Validate(rt, res) {
			if is.Severity == "error" {
				errs = append(errs, is.Expression[0]+": "+is.Diagnostics)
				k := is.Code + " " + is.Diagnostics
				if i := strings.IndexAny(k, "\"("); i > 0 {
					k = k[:i]
				}
				byKey[k]++
			}
		}
		_, expectInvalid := invalidExamples[n]
		switch {
		case len(errs) > 0 && !expectInvalid:
			fail++
			t.Errorf("%s: %d errors:\n  %s", n, len(errs), strings.Join(errs[:min(len(errs), 5)], "\n  "))
		case len(errs) == 0 && expectInvalid:
			t.Errorf("%s: listed as invalid (%s) but passes", n, invalidExamples[n])
		default:
			pass++
		}
	}
	t.Logf("%d examples: %d as expected, %d unexpected errors", len(names), pass, fail)
	if fail > 0 {
		for k, c := range byKey {
			t.Logf("%5d %s", c, k)
		}
	}
}
