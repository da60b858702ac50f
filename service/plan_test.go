package service

import (
	"context"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

func newPlanService(t *testing.T) *Service {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, search.Default())
	s.ValueSetCodes = func(u string) ([][2]string, error) {
		return [][2]string{{"http://loinc.org", "8302-2"}, {"http://loinc.org", "29463-7"}}, nil
	}
	return s
}

func parse(t *testing.T, s *Service, typ, qs string) *query.Query {
	t.Helper()
	vals, err := url.ParseQuery(qs)
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := (&search.Parser{Registry: s.Params, DefaultCount: 50, MaxCount: 1000}).Parse(typ, vals)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func params(cls []query.Clause) []string {
	var out []string
	for _, c := range cls {
		out = append(out, c.Param)
	}
	return out
}

func TestPlanSearch(t *testing.T) {
	s := newPlanService(t)
	q := parse(t, s, "Observation", "date=ge2020&patient.gender=male&status=final&code:in=http://vs&_include=Observation:patient&_include:iterate=Patient:organization")
	p, err := s.planSearch(q, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// evaluation order: tokens (the expanded value set is one; ties in
	// parse order), the chain, then the date
	if got, want := params(p.Match.Where), []string{"code", "status", "patient", "date"}; !slices.Equal(got, want) {
		t.Errorf("clause order %v, want %v", got, want)
	}
	if d := p.Driving(); d == nil || d.Param != "code" {
		t.Errorf("driving %+v, want code", d)
	}
	if got := params(q.Where); !slices.Equal(got, []string{"code", "date", "patient", "status"}) {
		t.Errorf("the asked query changed: %v", got)
	}
	code := p.Match.Where[0]
	if code.Modifier != "" || len(code.Values) != 2 || q.Where[0].Modifier != "in" {
		t.Errorf("value set not expanded in Match only: %+v / %+v", code, q.Where[0])
	}
	if len(p.ValueSets) != 1 || p.ValueSets[0] != (Expansion{Param: "code:in", URL: "http://vs", Codes: 2}) {
		t.Errorf("expansions %+v", p.ValueSets)
	}
	if len(p.Match.Include)+len(p.Match.RevInclude) != 0 || len(p.Include) != 2 || p.Depth != store.IncludeDepth {
		t.Errorf("includes: match %v %v, plan %v depth %d", p.Match.Include, p.Match.RevInclude, p.Include, p.Depth)
	}

	// no clause can drive: none is named
	p, err = s.planSearch(parse(t, s, "Patient", "gender:not=male&_lastUpdated=gt2020"), "", "")
	if err != nil || p.Driving() != nil {
		t.Errorf("driving %+v, %v; want none", p.Driving(), err)
	}
	// _id drives whatever else is asked
	p, _ = s.planSearch(parse(t, s, "Patient", "identifier=x&_id=a"), "", "")
	if d := p.Driving(); d == nil || d.Param != "_id" {
		t.Errorf("driving %+v, want _id", d)
	}
}

func TestPlanCompartment(t *testing.T) {
	s := newPlanService(t)
	q := parse(t, s, "", "_tag=x&_type=Observation,Organization")
	p, err := s.planSearch(q, "Patient", "p1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Compartment == nil || p.Compartment.Param != search.CompartmentParam {
		t.Fatalf("compartment clause %+v", p.Compartment)
	}
	// the compartment reference drives; Organization is never in a Patient compartment
	if got := params(p.Match.Where); !slices.Equal(got, []string{search.CompartmentParam, "_tag"}) || !slices.Equal(p.Match.Types, []string{"Observation"}) {
		t.Errorf("match %v of %v", got, p.Match.Types)
	}
	if len(q.Where) != 1 || len(q.Types) != 2 {
		t.Errorf("the asked query changed: %+v", q)
	}
}

// TestSearchFollowsIncludes: the service, not the engine, follows the
// directives, to store.IncludeDepth levels.
func TestSearchFollowsIncludes(t *testing.T) {
	s := newPlanService(t)
	ctx := context.Background()
	put := func(typ, body string) {
		t.Helper()
		res, err := decodeFor(typ, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, typ, res["id"].(string), []byte(body), Preconditions{}); err != nil {
			t.Fatal(err)
		}
	}
	// a chain of organizations one longer than the bound
	for i := store.IncludeDepth + 1; i >= 0; i-- {
		body := `{"resourceType":"Organization","id":"org` + string(rune('0'+i)) + `"`
		if i <= store.IncludeDepth {
			body += `,"partOf":{"reference":"Organization/org` + string(rune('0'+i+1)) + `"}`
		}
		put("Organization", body+"}")
	}
	put("Patient", `{"resourceType":"Patient","id":"p1","managingOrganization":{"reference":"Organization/org0"}}`)
	put("Observation", `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}`)

	resp, err := s.Search(ctx, "Observation", url.Values{"_include": {"Observation:subject"},
		"_include:iterate": {"Patient:organization", "Organization:partof"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range resp.Result.Included {
		got = append(got, r.Type+"/"+r.ID)
	}
	// level 1 the patient, 2 org0, 3 org1, 4 org2: org3 is one level too far
	want := []string{"Patient/p1", "Organization/org0", "Organization/org1", "Organization/org2"}
	if !slices.Equal(got, want) {
		t.Errorf("included %v, want %v", got, want)
	}
}

func TestSearchExplainIssues(t *testing.T) {
	s := newPlanService(t)
	ctx := context.Background()
	resp, err := s.Search(ctx, "Observation", url.Values{"code:in": {"http://vs"}, "_include:iterate": {"Observation:subject"}, ExplainParam: {"true"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, is := range resp.Explain {
		if is.Severity != "information" || is.Code != "informational" {
			t.Errorf("issue %+v", is)
		}
		text = append(text, is.Diagnostics)
	}
	all := strings.Join(text, "\n")
	for _, w := range []string{
		"driving clause: code=http://loinc.org|8302-2,http://loinc.org|29463-7 (token)",
		"value set: code:in=http://vs expanded to 2 codes",
		"includes: _include:iterate=Observation:subject (up to 4 levels)",
		"sqlite sql: SELECT", "sqlite query plan:",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("explain lacks %q:\n%s", w, all)
		}
	}
	if resp, err := s.Search(ctx, "Observation", url.Values{}, false); err != nil || resp.Explain != nil {
		t.Errorf("without __explain: %v, %v", resp.Explain, err)
	}
	_, err = s.Search(ctx, "Observation", url.Values{ExplainParam: {"1"}}, false)
	if fe, ok := isClientErr(err); !ok || fe.Status != 400 || fe.Issues[0].Expression[0] != ExplainParam {
		t.Errorf("__explain=1: %v, want a 400 at %s", err, ExplainParam)
	}
}
