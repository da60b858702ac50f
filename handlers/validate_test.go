package handlers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateOperation(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		good, err := os.ReadFile(filepath.Join("..", "testdata", "dcc", "dcc-patient.valid.json"))
		if err != nil {
			t.Fatal(err)
		}
		bad, _ := os.ReadFile(filepath.Join("..", "testdata", "dcc", "dcc-patient.invalid-vali-without-ins.json"))
		r := f.do("POST", "/Patient/$validate", good)
		f.want(r, 200)
		if r.str("resourceType") != "OperationOutcome" || strings.Contains(string(r.body), `"severity":"error"`) {
			t.Fatalf("valid patient: %s", r.body)
		}
		r = f.do("POST", "/Patient/$validate", bad)
		f.want(r, 200)
		if !strings.Contains(string(r.body), `"severity":"error"`) {
			t.Fatalf("invalid patient not reported: %s", r.body)
		}
		// profile parameter: a plain patient checked against the DCC patient profile
		plain := `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","gender":"female"}},{"name":"profile","valueUri":"https://dcc.example.fr/fhir/StructureDefinition/dcc-patient"},{"name":"mode","valueCode":"create"}]}`
		r = f.do("POST", "/Patient/$validate", plain)
		f.want(r, 200)
		if !strings.Contains(string(r.body), `"severity":"error"`) {
			t.Fatalf("profile parameter ignored: %s", r.body)
		}
		// an unknown profile is an error
		r = f.do("POST", "/Patient/$validate?profile=http://example.org/nope", `{"resourceType":"Patient"}`)
		if !strings.Contains(string(r.body), "not known") {
			t.Fatalf("unknown profile: %s", r.body)
		}
		// instance level on what is stored, and mode=update id checks
		p := patient("Val")
		p["id"] = "val"
		f.want(f.do("PUT", "/Patient/val", p), 201)
		f.want(f.do("GET", "/Patient/val/$validate", nil), 200)
		r = f.do("POST", "/Patient/val/$validate?mode=update", `{"resourceType":"Patient","id":"other"}`)
		if !strings.Contains(string(r.body), "does not match") {
			t.Fatalf("mode=update: %s", r.body)
		}
		f.want(f.do("GET", "/Patient/none/$validate", nil), 404)
		f.want(f.do("POST", "/Patient/$validate?mode=upsert", `{"resourceType":"Patient"}`), 400)
		f.want(f.do("POST", "/Patient/$validate", `{"resourceType":"Patient"`), 400)
		// $validate stores nothing
		if n := len(entries(f.do("GET", "/Patient", nil))); n != 1 {
			t.Fatalf("%d patients after $validate", n)
		}
	})
}
