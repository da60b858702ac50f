package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// TestSearchNever500 replays over HTTP, on both engines, searches at the
// edges of the syntax and of the value ranges, among them those the
// fuzzers found mishandled: each must be a 200 or a 4xx OperationOutcome.
func TestSearchNever500(t *testing.T) {
	qs := []string{
		// found by FuzzParse: values that are all empty made a clause
		// without values, a 500 on SQLite; now ignored
		"Patient?identifier=,", "Patient?identifier=,,&name=,",
		// found probing: an :of-type without code or value was a 500 on SQLite
		"Patient?identifier:of-type=||", "Patient?identifier:of-type=s|c|",
		"Patient?name=fuzz&_sort=name,-name",
		"Patient?_lastUpdated=ap0001", "Observation?date=ap9999-12-31T23:59:59.999999+14:00", "Observation?date=ap0001-01-01T00:00:00-14:00",
		"Patient?birthdate=sa9999&birthdate=eb0001", "RiskAssessment?probability=ap1e308", "RiskAssessment?probability=ap-1e308",
		"Observation?value-quantity=ap1e308|http://unitsofmeasure.org|mg", "Observation?value-quantity=gt-1e308", "RiskAssessment?probability=1e-400",
		"Patient?_id=" + strings.Repeat("a", 64), "Patient?_id:not=x", "Patient?name:contains=%25", "Patient?name:contains=\\", "Patient?name:contains=.*(",
		"Observation?code:text=%25_", "Observation?subject:identifier=|", "ValueSet?url:above=", "ValueSet?url:below=",
		"Patient?_tag:not=a", "Patient?_profile:below=http://x", "Observation?code-value-quantity=$", "Observation?code-value-quantity=x$",
		"Patient?_include=*&_revinclude=*", "Patient?_include:iterate=*&_revinclude:iterate=*", "?_include=*", "?_revinclude=*", "?_sort=_id&_count=1",
		"Patient?_sort=_lastUpdated,-_id", "?_type=Patient&_sort=name", "Patient?_summary=count&_total=none", "Patient?_count=0&_total=accurate",
		"Patient?_elements=id,meta", "Patient?_summary=text&_elements=name", "Patient/x/*?_type=Observation", "Patient?general-practitioner:missing=true",
		"Patient?link:Patient.name:missing=true", "Patient?_has:Observation:patient:_id:missing=false", "Patient?_has:Observation:subject:_lastUpdated=gt2000",
		"Observation?subject._lastUpdated=gt2000", "Observation?subject._id=f1", "Observation?subject:Patient._has:Observation:subject:code=x",
		"Observation?combo-code=x", "Observation?component-value-quantity=ap0", "Patient?address-postalcode:exact=", "Patient?name:exact=%00",
		"Patient?name=%FF%FE", "Patient?identifier=%FF|%FF", "Observation?code:in=http://hl7.org/fhir/ValueSet/observation-status",
		"Observation?code:not-in=http://hl7.org/fhir/ValueSet/administrative-gender", "Observation?code:below=http://snomed.info/sct|123",
		"Observation?_lastUpdated=ne2020&_lastUpdated:missing=true", "Patient?_id:missing=true", "Patient?_source=x", "Patient?_security:not=x",
		"Patient?_page=garbage", "Patient?_count=2&_page=" + url.QueryEscape("eyJ4IjoxfQ=="), "Patient?_sort=-name&_page=AAAA",
		"Observation?patient=Patient/f1/_history/1", "Observation?subject=urn:uuid:1", "Observation?subject=http://x/Patient/1|2",
		"Observation?value-string:contains=", "Observation?value-concept:text=x", "Observation?data-absent-reason:missing=false",
		"Patient?birthdate=2020-02-30", "Patient?birthdate=2020-01-01T25:00", "Patient?death-date=ap2020", "Patient?phone=%2B33",
		"Observation?value-quantity=5||", "Observation?value-quantity=5|sys|", "Observation?value-quantity=ne5", "Observation?value-quantity=sa5&value-quantity=eb5",
	}
	forEach(t, func(t *testing.T, f *fixture) {
		for _, r := range fuzzData() {
			f.want(f.do("POST", "/"+r["resourceType"].(string), r), 201)
		}
		for _, q := range qs {
			r := f.do("GET", "/"+q, nil)
			if r.status >= 500 || r.status >= 400 && r.str("resourceType") != "OperationOutcome" {
				t.Errorf("GET %s: %d %.300s", q, r.status, r.body)
			}
		}
	})
}

// FuzzSearchHTTP sends random searches (type, query string) to a running
// server on each engine (SQLite; FerretDB too without -short), holding a
// few linked resources: every answer must be a 200 or a 4xx
// OperationOutcome. FuzzParse (fhir/search) checks the parser alone; this
// one also reaches the engines, where a query the parser accepted can
// still fail. See docs/fuzzing.md for how to run it.
func FuzzSearchHTTP(f *testing.F) {
	for _, s := range searchFuzzSeeds(f) {
		typ, q, _ := strings.Cut(s, "?")
		f.Add(typ, q)
	}
	var bases []string
	for _, e := range []string{"sqlite", "mongodb"} {
		if e == "mongodb" && testing.Short() {
			continue
		}
		var st store.Store
		if e == "sqlite" {
			s, err := sqlite.Open(filepath.Join(f.TempDir(), "db.sqlite"))
			if err != nil {
				f.Fatal(err)
			}
			f.Cleanup(func() { s.Close() })
			st = s
		} else {
			st = mongotest.Open(f)
		}
		srv := httptest.NewUnstartedServer(nil)
		base := "http://" + srv.Listener.Addr().String() + "/fhir"
		a, err := app.New(context.Background(), app.Config{Store: st, Validator: fullValidator(f), Logger: testLogger(),
			HTTP: handlers.Config{BaseURL: base, ConditionalDeleteMultiple: true, Logger: testLogger()}})
		if err != nil {
			f.Fatal(err)
		}
		srv.Config.Handler = a.Handler
		srv.Start()
		f.Cleanup(srv.Close)
		for _, r := range fuzzData() {
			b, _ := json.Marshal(r)
			res, err := http.Post(base+"/"+r["resourceType"].(string), "application/fhir+json", bytes.NewReader(b))
			if err != nil {
				f.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 201 {
				f.Fatalf("%s: %d", b, res.StatusCode)
			}
		}
		bases = append(bases, base)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	f.Fuzz(func(t *testing.T, typ, raw string) {
		if len(raw) > 16<<10 || !fhir.KnownType(typ) && typ != "" {
			return
		}
		vals, _ := url.ParseQuery(raw) // as echo reads the query
		for _, base := range bases {
			u := base + "/" + typ + "?" + vals.Encode()
			res, err := client.Get(u)
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var out struct {
				ResourceType string `json:"resourceType"`
			}
			_ = json.Unmarshal(body, &out)
			switch {
			case res.StatusCode == 200:
			case res.StatusCode >= 400 && res.StatusCode < 500 && out.ResourceType == "OperationOutcome":
			default:
				t.Fatalf("GET %s: %d %.500s", u, res.StatusCode, body)
			}
		}
	})
}

// fuzzData is what FuzzSearchHTTP searches: two linked Patients, an
// Observation on one, a Provenance, an Organization.
func fuzzData() []map[string]any {
	p1 := patient("Fuzz", "http://x", "1")
	p1["id"] = "f1"
	p2 := patient("Second")
	p2["link"] = []any{map[string]any{"other": map[string]any{"reference": "Patient/f1"}, "type": "seealso"}}
	return []map[string]any{p1, p2,
		{"resourceType": "Organization", "name": "Org", "identifier": []any{map[string]any{"system": "http://o", "value": "9"}}},
		{"resourceType": "Observation", "status": "final", "code": map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}}},
			"subject": map[string]any{"reference": "Patient/f1"}, "effectiveDateTime": "2020-05-01T10:00:00Z",
			"valueQuantity": map[string]any{"value": 120.5, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
			"component": []any{map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8462-4"}}},
				"valueQuantity": map[string]any{"value": 80, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}}},
		{"resourceType": "Provenance", "recorded": "2020-01-01T00:00:00Z", "target": []any{map[string]any{"reference": "Patient/f1"}},
			"agent": []any{map[string]any{"who": map[string]any{"display": "x"}}}},
	}
}

// searchFuzzSeeds are the acceptance table's queries (encoded) and the
// searches TestSearchFuzzFindings replays.
func searchFuzzSeeds(tb testing.TB) []string {
	var qs searchQueries
	b, err := os.ReadFile(filepath.Join(searchDir, "queries.json"))
	if err == nil {
		err = json.Unmarshal(b, &qs)
	}
	if err != nil {
		tb.Logf("no acceptance table: %v", err)
	}
	out := []string{"Patient?identifier=,", "Patient?name=fuzz&_sort=name,-name", "Observation?code-value-quantity=http://loinc.org|8480-6$gt100",
		"Patient?_has:Observation:patient:code=8480-6&_revinclude=Provenance:target", "?_type=Patient,Observation&_lastUpdated=ap2024",
		"Observation?subject:Patient.name=fuzz&date=ge2020&value-quantity=le200|http://unitsofmeasure.org|mm[Hg]"}
	for _, q := range qs.Queries {
		typ, rest, _ := strings.Cut(q.Query, "?")
		var parts []string
		for _, kv := range strings.Split(rest, "&") {
			k, v, _ := strings.Cut(kv, "=")
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
		out = append(out, typ+"?"+strings.Join(parts, "&"))
	}
	return out
}
