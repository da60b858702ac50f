package search

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// parseSeeds are searches written as clients write them: the syntax of
// docs/search.md and the shapes parse_test.go checks. FuzzParse adds the
// queries of the acceptance table (testdata/search/expected.json).
var parseSeeds = []string{
	"Patient?name=helene", "Patient?name:exact=Hélène&name:contains=lèn", "Patient?name:missing=true",
	"Patient?identifier=http://x.org|123,|456,http://y|", "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053",
	"Patient?gender:not=male&birthdate=ge1970-01-01&birthdate=lt2000", "Observation?code:text=Blood", "Observation?code:in=http://vs",
	"Observation?code=http://loinc.org|8480-6&value-quantity=gt5.4|http://unitsofmeasure.org|mg", "Observation?value-quantity=ap5.4||mg",
	"Observation?date=eq2020&date=ne2020-03-01T10:00:00.123+02:00&date=sa2019,eb2030", "RiskAssessment?probability=gt0.8",
	"Observation?subject=Patient/123&subject:Patient=123&specimen=123", "Observation?subject=http://other.org/fhir/Patient/1",
	"Observation?subject:identifier=http://x|9", "Observation?subject:Patient.name=peter", "Observation?patient.organization.identifier=x",
	"Patient?_has:Observation:patient:code=1234-5", "Patient?_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1",
	"Observation?code-value-quantity=http://loinc.org|8480-6$gt100|http://unitsofmeasure.org|mm[Hg],http://loinc.org|8462-4$lt60",
	"Observation?component-code-value-quantity=8480-6$100", "ValueSet?url=http://hl7.org/fhir/ValueSet/x&url:below=http://hl7.org/fhir/",
	"Questionnaire?url:above=http://x/y|1.0", "Patient?_sort=-birthdate,name&_count=5&_total=accurate", "Patient?_summary=count",
	"Patient?_summary=true&_elements=name,gender", "Observation?_include=Observation:subject&_include:iterate=Patient:organization&_revinclude=Provenance:target",
	"Observation?_include=Observation:subject:Patient&_include=*&_revinclude:iterate=*", "?_type=Patient,Practitioner&_id=1",
	"?_lastUpdated=gt2020-01-01T00:00:00Z", "Patient?_tag=http://t|a&_security=|R&_profile=http://p&_source=http://s",
	"Patient?name=&_format=json&_pretty=true", "Patient?family=a\\,b,c\\|d\\$e\\\\f", "Patient?_id=1,2&_id:not=3&_lastUpdated=ap2021",
	"Location?near=1|2|3|km", "Patient?_text=x&_content=y&_filter=a", "Patient?link.name=x&general-practitioner:Practitioner.name=y",
	"Observation?subject:missing=false&code:below=http://snomed.info/sct|123", "Patient?_page=abc&_count=0",
}

// FuzzParse feeds random types and query strings through the URL parser
// and the canonical re-encoding: no panic, errors are client errors (a
// *fhir.Error, 4xx, with an issue saying what), an accepted search
// re-encodes to a query string that parses to the same query, with no
// unknown parameter, and whose encoding is a fixed point. See
// docs/fuzzing.md for how to run it.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		typ, q, _ := strings.Cut(s, "?")
		f.Add(typ, q)
	}
	for _, s := range tableQueries(f) {
		typ, q, _ := strings.Cut(s, "?")
		f.Add(typ, q)
	}
	reg := Default()
	f.Fuzz(func(t *testing.T, typ, raw string) {
		if len(raw) > 128<<10 {
			return
		}
		if typ != "" && !fhir.KnownType(typ) {
			return // the service refuses unknown types before it parses
		}
		// echo hands the parser whatever url.ParseQuery made of the query,
		// errors ignored
		vals, _ := url.ParseQuery(raw)
		begin := time.Now()
		q, _, err := Parse(reg, typ, vals)
		if d := time.Since(begin); d > 2*time.Second {
			t.Fatalf("Parse took %v", d)
		}
		if err != nil {
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Status < 400 || fe.Status > 499 {
				t.Fatalf("error %v (%T) is not a client error", err, err)
			}
			if len(fe.Issues) == 0 || fe.Issues[0].Diagnostics == "" || fe.Issues[0].Code == "" {
				t.Fatalf("error without an issue saying what: %+v", fe)
			}
			return
		}
		enc := q.Encode(typ)
		vals2, err := url.ParseQuery(enc)
		if err != nil {
			t.Fatalf("canonical form %q does not parse as a query string: %v", enc, err)
		}
		q2, unknown, err := Parse(reg, typ, vals2)
		if err != nil {
			t.Fatalf("canonical form %q refused: %v", enc, err)
		}
		if len(unknown) > 0 {
			t.Fatalf("canonical form %q has unknown parameters %v", enc, unknown)
		}
		if enc2 := q2.Encode(typ); enc2 != enc {
			t.Fatalf("canonical form not a fixed point:\n %s\n %s", enc, enc2)
		}
		q.Page = "" // the canonical form leaves the cursor out
		// Value.Raw is the value as written, for the canonical form only
		// (specimen=123 is written back as Specimen/123): the engines never
		// read it, everything else must be the same.
		stripRaw(q)
		stripRaw(q2)
		if !reflect.DeepEqual(q, q2) {
			t.Fatalf("canonical form %q parses to another query:\n %+v\n %+v", enc, q, q2)
		}
	})
}

// stripRaw clears Value.Raw throughout q.
func stripRaw(q *query.Query) {
	var clause func(c *query.Clause)
	clause = func(c *query.Clause) {
		for i := range c.Values {
			c.Values[i].Raw = ""
		}
		for _, comps := range c.Components {
			for i := range comps {
				clause(&comps[i])
			}
		}
		if c.Chain != nil {
			clause(c.Chain)
		}
		if c.Has != nil {
			clause(&c.Has.Where)
		}
	}
	for i := range q.Where {
		clause(&q.Where[i])
	}
}

// tableQueries are the queries of the search acceptance table.
func tableQueries(tb testing.TB) []string {
	b, err := os.ReadFile("../../testdata/search/expected.json")
	if err != nil {
		tb.Logf("no acceptance table: %v", err)
		return nil
	}
	var table struct {
		Queries map[string]json.RawMessage `json:"queries"`
	}
	if err := json.Unmarshal(b, &table); err != nil {
		tb.Fatal(err)
	}
	out := make([]string, 0, len(table.Queries))
	for q := range table.Queries {
		// written unencoded: encode each name and value, as the table's test does
		typ, rest, _ := strings.Cut(q, "?")
		var parts []string
		for _, kv := range strings.Split(rest, "&") {
			k, v, _ := strings.Cut(kv, "=")
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
		out = append(out, typ+"?"+strings.Join(parts, "&"))
	}
	sort.Strings(out)
	return out
}
