package handlers_test

import (
	"context"
	"testing"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/profiles"
)

// TestConformanceResourcesServed: the conformance resources of the loaded
// packages (the built-in DCC guide and FR Core) are readable and searchable
// by url, version and name, and publishing again adds nothing.
func TestConformanceResourcesServed(t *testing.T) {
	v, _, err := profiles.New(profiles.Options{})
	if err != nil {
		t.Fatal(err)
	}
	forEach(t, func(t *testing.T, f *fixture) {
		n, errs := app.Publish(context.Background(), f.svc, v)
		for _, e := range errs {
			t.Errorf("not published: %v", e)
		}
		if n < 60 {
			t.Fatalf("only %d resources published", n)
		}
		queries := map[string]int{
			"/StructureDefinition?url=https://dcc.example.fr/fhir/StructureDefinition/dcc-patient":               1,
			"/StructureDefinition?url=https://dcc.example.fr/fhir/StructureDefinition/dcc-patient&version=0.1.0": 1,
			"/StructureDefinition?name=DccPatient":                                                               -1,
			"/CodeSystem?url=https://dcc.example.fr/fhir/CodeSystem/dcc-cs-molecular-test":                       -1,
			"/ImplementationGuide": -1,
			"/ValueSet?url=https://dcc.example.fr/fhir/ValueSet/dcc-vs-circuit-business-status":         -1,
			"/StructureDefinition?url=https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient":  1,
			"/ImplementationGuide?url=https://hl7.fr/ig/fhir/core/ImplementationGuide/hl7.fhir.fr.core": 1,
		}
		for q, want := range queries {
			r := f.do("GET", q+"&_total=accurate", nil)
			if q == "/ImplementationGuide" {
				r = f.do("GET", q, nil)
			}
			f.want(r, 200)
			got := len(entries(r))
			if total, ok := dig(r.json, "total").(float64); ok && got == 0 {
				got = int(total)
			}
			if (want < 0 && got == 0) || (want >= 0 && got != want) {
				t.Errorf("%s: %d results: %.300s", q, got, r.body)
			}
		}
		before := len(entries(f.do("GET", "/_history?_count=1000", nil)))
		if n, errs := app.Publish(context.Background(), f.svc, v); n != 0 || len(errs) != 0 {
			t.Fatalf("republishing wrote %d (%v)", n, errs)
		}
		if after := len(entries(f.do("GET", "/_history?_count=1000", nil))); after != before {
			t.Fatalf("republishing made %d versions", after-before)
		}
	})
}
