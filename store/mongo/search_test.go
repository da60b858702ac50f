package mongo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
)

func day(s string) (int64, int64) {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d.UnixMicro(), d.Add(24*time.Hour).UnixMicro() - 1
}

func dateEntry(p, s string) query.DateEntry {
	lo, hi := day(s)
	return query.DateEntry{Param: p, Low: lo, High: hi}
}

// seed writes a small fixed data set.
func seed(t *testing.T, s store.Store) {
	t.Helper()
	pat := func(id, family, birth, gender string, ident ...query.TokenEntry) {
		ix := &query.Index{
			Strings: []query.StringEntry{{Param: "family", Norm: strings.ToLower(family), Exact: family}, {Param: "name", Norm: strings.ToLower(family), Exact: family}},
			Tokens:  append([]query.TokenEntry{{Param: "gender", System: "http://hl7.org/fhir/administrative-gender", Code: gender}}, ident...),
			Dates:   []query.DateEntry{dateEntry("birthdate", birth)},
		}
		put(t, s, w("Patient", id, 1, t0, fmt.Sprintf(`{"resourceType":"Patient","id":%q}`, id), ix))
	}
	pat("p1", "Smith", "1980-05-01", "male", query.TokenEntry{Param: "identifier", System: "urn:mrn", Code: "111", TypeSystem: "http://terminology.hl7.org/CodeSystem/v2-0203", TypeCode: "MR"})
	pat("p2", "Smithers", "1990-01-01", "female")
	pat("p3", "Jones", "2000-12-31", "female", query.TokenEntry{Param: "identifier", System: "urn:other", Code: "111"})
	obs := func(id, subject, code string, value float64, unit string, eff string) {
		ix := &query.Index{
			Refs:       []query.RefEntry{{Param: "subject", Type: "Patient", ID: subject}, {Param: "patient", Type: "Patient", ID: subject}},
			Tokens:     []query.TokenEntry{{Param: "code", System: "http://loinc.org", Code: code, Text: "body weight"}},
			Quantities: []query.QuantityEntry{{Param: "value-quantity", System: "http://unitsofmeasure.org", Code: unit, Unit: unit, Value: value, Low: value - 0.05, High: value + 0.05}},
			Dates:      []query.DateEntry{dateEntry("date", eff)},
			URIs:       []query.URIEntry{{Param: "_profile", Value: "http://example.org/fhir/StructureDefinition/obs"}},
			Composites: []query.CompositeEntry{{Param: "code-value-quantity", Parts: []query.Index{
				{Tokens: []query.TokenEntry{{Param: "code", System: "http://loinc.org", Code: code}}},
				{Quantities: []query.QuantityEntry{{Param: "value-quantity", System: "http://unitsofmeasure.org", Code: unit, Value: value}}},
			}}},
		}
		put(t, s, w("Observation", id, 1, t0.Add(time.Second), fmt.Sprintf(`{"resourceType":"Observation","id":%q}`, id), ix))
	}
	obs("o1", "p1", "29463-7", 70.5, "kg", "2024-01-01")
	obs("o2", "p1", "29463-7", 72, "kg", "2024-02-01")
	obs("o3", "p3", "8302-2", 180, "cm", "2024-03-01")
}

func ids(rs []*store.Resource) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func TestSearch(t *testing.T) {
	s := mongotest.Open(t)
	seed(t, s)
	ctx := context.Background()
	tok := func(p, mod string, vals ...query.Value) query.Clause {
		return query.Clause{Param: p, Type: query.TypeToken, Modifier: mod, Values: vals}
	}
	str := func(p, mod, v string) query.Clause {
		return query.Clause{Param: p, Type: query.TypeString, Modifier: mod, Values: []query.Value{{Str: v}}}
	}
	date := func(p string, pre query.Prefix, d string) query.Clause {
		lo, hi := day(d)
		return query.Clause{Param: p, Type: query.TypeDate, Values: []query.Value{{Prefix: pre, DateLow: lo, DateHigh: hi}}}
	}
	qty := func(pre query.Prefix, n float64, unit string) query.Clause {
		return query.Clause{Param: "value-quantity", Type: query.TypeQuantity, Values: []query.Value{{Prefix: pre, Num: n, NumLow: n - 0.5, NumHigh: n + 0.5, Unit: unit}}}
	}
	yes, no := true, false
	cases := []struct {
		name  string
		types []string
		where []query.Clause
		want  string
	}{
		{"all patients", []string{"Patient"}, nil, "p1,p2,p3"},
		{"token code", []string{"Patient"}, []query.Clause{tok("gender", "", query.Value{Code: "female"})}, "p2,p3"},
		{"token system|code", []string{"Patient"}, []query.Clause{tok("identifier", "", query.Value{System: "urn:mrn", HasSystem: true, Code: "111"})}, "p1"},
		{"token |code", []string{"Patient"}, []query.Clause{tok("identifier", "", query.Value{HasSystem: true, Code: "111"})}, ""},
		{"token system|", []string{"Patient"}, []query.Clause{tok("identifier", "", query.Value{System: "urn:other", HasSystem: true})}, "p3"},
		{"token OR", []string{"Patient"}, []query.Clause{tok("gender", "", query.Value{Code: "male"}, query.Value{Code: "other"})}, "p1"},
		{"token :not", []string{"Patient"}, []query.Clause{tok("gender", "not", query.Value{Code: "male"})}, "p2,p3"},
		{"token :missing", []string{"Patient"}, []query.Clause{{Param: "identifier", Type: query.TypeToken, Missing: &yes}}, "p2"},
		{"token :missing=false", []string{"Patient"}, []query.Clause{{Param: "identifier", Type: query.TypeToken, Missing: &no}}, "p1,p3"},
		{"token :text", []string{"Observation"}, []query.Clause{tok("code", "text", query.Value{Str: "weight"})}, "o1,o2,o3"},
		{"token :of-type", []string{"Patient"}, []query.Clause{tok("identifier", "of-type", query.Value{System: "http://terminology.hl7.org/CodeSystem/v2-0203", Code: "MR", Str: "111"})}, "p1"},
		{"_id", []string{"Patient"}, []query.Clause{tok("_id", "", query.Value{Code: "p2"}, query.Value{Code: "p3"})}, "p2,p3"},
		{"string prefix", []string{"Patient"}, []query.Clause{str("family", "", "smith")}, "p1,p2"},
		{"string exact", []string{"Patient"}, []query.Clause{str("family", "exact", "Smith")}, "p1"},
		{"string contains", []string{"Patient"}, []query.Clause{str("family", "contains", "one")}, "p3"},
		{"AND", []string{"Patient"}, []query.Clause{str("family", "", "smith"), tok("gender", "", query.Value{Code: "female"})}, "p2"},
		{"date eq", []string{"Patient"}, []query.Clause{date("birthdate", "", "1990-01-01")}, "p2"},
		{"date gt", []string{"Patient"}, []query.Clause{date("birthdate", query.GT, "1990-01-01")}, "p3"},
		{"date ge", []string{"Patient"}, []query.Clause{date("birthdate", query.GE, "1990-01-01")}, "p2,p3"},
		{"date lt", []string{"Patient"}, []query.Clause{date("birthdate", query.LT, "1990-01-01")}, "p1"},
		{"date le", []string{"Patient"}, []query.Clause{date("birthdate", query.LE, "1990-01-01")}, "p1,p2"},
		{"date ne", []string{"Patient"}, []query.Clause{date("birthdate", query.NE, "1990-01-01")}, "p1,p3"},
		{"date sa", []string{"Patient"}, []query.Clause{date("birthdate", query.SA, "1990-01-01")}, "p3"},
		{"date eb", []string{"Patient"}, []query.Clause{date("birthdate", query.EB, "1990-01-01")}, "p1"},
		{"_lastUpdated", nil, []query.Clause{{Param: "_lastUpdated", Type: query.TypeDate, Values: []query.Value{{Prefix: query.GT, DateLow: t0.UnixMicro(), DateHigh: t0.UnixMicro()}}}}, "o1,o2,o3"},
		{"reference", []string{"Observation"}, []query.Clause{{Param: "subject", Type: query.TypeReference, Values: []query.Value{{RefType: "Patient", RefID: "p1"}}}}, "o1,o2"},
		{"reference bare id", []string{"Observation"}, []query.Clause{{Param: "subject", Type: query.TypeReference, TargetTypes: []string{"Patient"}, Values: []query.Value{{RefID: "p3"}}}}, "o3"},
		{"quantity eq", []string{"Observation"}, []query.Clause{qty("", 72, "kg")}, "o2"},
		{"quantity gt", []string{"Observation"}, []query.Clause{qty(query.GT, 71, "")}, "o2,o3"},
		{"quantity unit", []string{"Observation"}, []query.Clause{qty(query.GT, 71, "cm")}, "o3"},
		{"uri", []string{"Observation"}, []query.Clause{{Param: "_profile", Type: query.TypeURI, Values: []query.Value{{Str: "http://example.org/fhir/StructureDefinition/obs"}}}}, "o1,o2,o3"},
		{"uri below", []string{"Observation"}, []query.Clause{{Param: "_profile", Type: query.TypeURI, Modifier: "below", Values: []query.Value{{Str: "http://example.org/fhir/"}}}}, "o1,o2,o3"},
		{"uri above", []string{"Observation"}, []query.Clause{{Param: "_profile", Type: query.TypeURI, Modifier: "above", Values: []query.Value{{Str: "http://example.org/fhir/StructureDefinition/obs/x"}}}}, "o1,o2,o3"},
		{"chain", []string{"Observation"}, []query.Clause{{Param: "subject", Type: query.TypeReference, TargetTypes: []string{"Patient"},
			Chain: &query.Clause{Param: "family", Type: query.TypeString, Values: []query.Value{{Str: "jones"}}}}}, "o3"},
		{"_has", []string{"Patient"}, []query.Clause{{Param: "_has", Has: &query.Has{Type: "Observation", RefParam: "subject",
			Where: query.Clause{Param: "code", Type: query.TypeToken, Values: []query.Value{{Code: "29463-7"}}}}}}, "p1"},
		{"composite", []string{"Observation"}, []query.Clause{{Param: "code-value-quantity", Type: query.TypeComposite, Components: [][]query.Clause{
			{{Param: "code", Type: query.TypeToken, Values: []query.Value{{Code: "29463-7"}}}, {Param: "value-quantity", Type: query.TypeQuantity, Values: []query.Value{{Prefix: query.GT, Num: 71}}}},
			{{Param: "code", Type: query.TypeToken, Values: []query.Value{{Code: "8302-2"}}}, {Param: "value-quantity", Type: query.TypeQuantity, Values: []query.Value{{Prefix: query.LT, Num: 100}}}},
		}}}, "o2"},
		{"composite :missing", []string{"Observation"}, []query.Clause{{Param: "code-value-quantity", Type: query.TypeComposite, Missing: &yes}}, ""},
		{"system search", nil, []query.Clause{tok("_id", "", query.Value{Code: "p1"}, query.Value{Code: "o1"})}, "o1,p1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.Search(ctx, &query.Query{Types: c.types, Where: c.where, Count: 50, Total: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(r.Resources); got != c.want {
				t.Errorf("got %q want %q", got, c.want)
			}
			if r.Total != len(r.Resources) {
				t.Errorf("total %d for %d", r.Total, len(r.Resources))
			}
		})
	}

	// A deleted resource no longer matches.
	d := w("Patient", "p2", 2, t0.Add(time.Hour), "", nil)
	d.Deleted, d.JSON = true, nil
	put(t, s, d)
	r, err := s.Search(ctx, &query.Query{Types: []string{"Patient"}, Where: []query.Clause{tok("gender", "", query.Value{Code: "female"})}, Count: 10})
	if err != nil || ids(r.Resources) != "p3" || r.Total != -1 {
		t.Fatalf("after delete: %v %v", r, err)
	}
}

func TestSearchPagingSortInclude(t *testing.T) {
	s := mongotest.Open(t)
	seed(t, s)
	ctx := context.Background()
	order := func(rs []*store.Resource) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	q := &query.Query{Types: []string{"Patient"}, Sort: []query.SortKey{{Param: "birthdate", Type: query.TypeDate, Desc: true}}, Count: 2}
	r, err := s.Search(ctx, q)
	if err != nil || order(r.Resources) != "p3,p2" || r.Next == "" || r.Prev != "" {
		t.Fatalf("page 1: %+v %v", r, err)
	}
	q.Page = r.Next
	r2, err := s.Search(ctx, q)
	if err != nil || order(r2.Resources) != "p1" || r2.Next != "" || r2.Prev == "" {
		t.Fatalf("page 2: %+v %v", r2, err)
	}
	q.Page = r2.Prev
	r3, err := s.Search(ctx, q)
	if err != nil || order(r3.Resources) != "p3,p2" {
		t.Fatalf("back: %+v %v", r3, err)
	}
	// Sort by string ascending, with _id tie-break, one per page.
	q = &query.Query{Types: []string{"Patient"}, Sort: []query.SortKey{{Param: "family", Type: query.TypeString}}, Count: 1}
	var got []string
	for {
		r, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, order(r.Resources))
		if r.Next == "" {
			break
		}
		q.Page = r.Next
	}
	if strings.Join(got, ",") != "p3,p1,p2" {
		t.Fatalf("family order %v", got)
	}
	// Sort on a parameter some resources lack: they come last (then by
	// _id), and paging crosses into them.
	q = &query.Query{Sort: []query.SortKey{{Param: "identifier", Type: query.TypeToken}}, Count: 2}
	got = nil
	for {
		r, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, order(r.Resources))
		if r.Next == "" {
			break
		}
		q.Page = r.Next
	}
	if strings.Join(got, ",") != "p1,p3,o1,o2,o3,p2" {
		t.Fatalf("identifier order %v", got)
	}
	// _include and _revinclude, followed as the service does.
	search := func(ctx context.Context, q *query.Query) (*store.SearchResult, error) {
		r, err := s.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		r.Included, err = store.Includes(ctx, s, r.Resources, store.IncludeSpec{Include: q.Include, RevInclude: q.RevInclude, Depth: store.IncludeDepth})
		return r, err
	}
	r, err = search(ctx, &query.Query{Types: []string{"Observation"}, Where: []query.Clause{{Param: "_id", Type: query.TypeToken, Values: []query.Value{{Code: "o1"}, {Code: "o2"}}}},
		Count: 10, Include: []query.Include{{Type: "Observation", Param: "subject"}}})
	if err != nil || ids(r.Resources) != "o1,o2" || ids(r.Included) != "p1" {
		t.Fatalf("include: %+v %v", r, err)
	}
	r, err = search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, RevInclude: []query.Include{{Type: "Observation", Param: "subject"}}})
	if err != nil || ids(r.Resources) != "p1,p2,p3" || ids(r.Included) != "o1,o2,o3" {
		t.Fatalf("revinclude: %+v %v", r, err)
	}
	r, err = search(ctx, &query.Query{Types: []string{"Patient"}, Where: []query.Clause{{Param: "_id", Type: query.TypeToken, Values: []query.Value{{Code: "p3"}}}},
		Count: 10, RevInclude: []query.Include{{Type: "Observation", Param: "*"}}})
	if err != nil || ids(r.Included) != "o3" {
		t.Fatalf("revinclude *: %+v %v", r, err)
	}
	// Count 0: total only.
	r, err = s.Search(ctx, &query.Query{Types: []string{"Observation"}, Total: true})
	if err != nil || len(r.Resources) != 0 || r.Total != 3 {
		t.Fatalf("count 0: %+v %v", r, err)
	}
}
