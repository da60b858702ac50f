package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search"
)

// TestCustomSearchParameterAndReindex: a SearchParameter POSTed to the
// server indexes every later write, $reindex backfills the earlier ones,
// the CapabilityStatement lists it, and deleting it stops its use.
func TestCustomSearchParameterAndReindex(t *testing.T) {
	for _, e := range testEngines() {
		e := e
		t.Run(e.name, func(t *testing.T) {
			reg, err := search.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			f := startWith(t, e, reg)
			const ext = "https://dcc.example.fr/fhir/StructureDefinition/tumor-board-site"
			obs := func(site string) map[string]any {
				return map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"},
					"extension": []any{map[string]any{"url": ext, "valueString": site}}}
			}
			f.want(f.do("POST", "/Observation", obs("poumon")), 201)
			f.want(f.do("POST", "/Observation", obs("colon")), 201)
			// unknown before the SearchParameter exists: strict search refuses it
			f.want(f.do("GET", "/Observation?tb-site=poumon", nil, "Prefer", "handling=strict"), 400)

			sp := map[string]any{"resourceType": "SearchParameter", "url": "https://dcc.example.fr/fhir/SearchParameter/tb-site", "name": "tb-site",
				"status": "active", "description": "tumour board site", "code": "tb-site", "base": []any{"Observation"}, "type": "string",
				"expression": "Observation.extension('" + ext + "').value.ofType(string)"}
			r := f.do("POST", "/SearchParameter", sp)
			f.want(r, 201)
			spID := r.str("id")
			bad := map[string]any{"resourceType": "SearchParameter", "url": "http://x/bad", "name": "bad", "status": "active", "description": "d", "code": "bad", "base": []any{"Observation"}, "type": "string", "expression": "Observation.where("}
			f.want(f.do("POST", "/SearchParameter", bad), 422)

			f.want(f.do("POST", "/Observation", obs("poumon")), 201)
			count := func(q string) int {
				r := f.do("GET", "/Observation?"+q+"&_total=accurate", nil, "Prefer", "handling=strict")
				f.want(r, 200)
				return len(entries(r))
			}
			if n := count("tb-site=poumon"); n != 1 {
				t.Fatalf("before $reindex only the later write is indexed: %d", n)
			}
			meta := f.do("GET", "/metadata", nil)
			if !strings.Contains(string(meta.body), "https://dcc.example.fr/fhir/SearchParameter/tb-site") {
				t.Fatal("CapabilityStatement does not list the new parameter")
			}

			r = f.do("POST", "/$reindex?type=Observation", nil)
			f.want(r, 202)
			status := r.header.Get("Content-Location")
			deadline := time.Now().Add(30 * time.Second)
			for {
				r = f.do("GET", status, nil)
				if r.status == 200 {
					break
				}
				if r.status != 202 || time.Now().After(deadline) {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(string(r.body), "complete: 3 reindexed") {
				t.Fatalf("job: %s", r.body)
			}
			if n := count("tb-site=poumon"); n != 2 {
				t.Fatalf("after $reindex: %d", n)
			}
			if n := count("tb-site=col"); n != 1 {
				t.Fatalf("prefix search after $reindex: %d", n)
			}
			f.want(f.do("GET", "/$reindex/nope", nil), 404)

			// deleting the SearchParameter stops its use
			if r := f.do("DELETE", "/SearchParameter/"+spID, nil); r.status != 204 {
				t.Fatalf("delete: %d", r.status)
			}
			f.want(f.do("GET", "/Observation?tb-site=poumon", nil, "Prefer", "handling=strict"), 400)
		})
	}
}
