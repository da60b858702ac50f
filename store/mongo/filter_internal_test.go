package mongo

import (
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// The $elemMatch form (real MongoDB) and the Go evaluation (servers
// without it) must mean the same; the embedded FerretDB only runs the
// second, so the first is pinned here.
func TestElemPredRender(t *testing.T) {
	c := &query.Clause{Param: "birthdate", Type: query.TypeDate}
	conjs, _, err := valueConds(c, &query.Value{Prefix: query.GE, DateLow: 10, DateHigh: 19})
	if err != nil {
		t.Fatal(err)
	}
	p := &elemPred{arr: "dt", param: "birthdate", any: conjs}
	got := fmt.Sprint(p.render())
	want := fmt.Sprint(bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "dt", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "p", Value: "birthdate"}, {Key: "hi", Value: bson.D{{Key: "$gt", Value: int64(19)}}}}}}}},
		bson.D{{Key: "dt", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "p", Value: "birthdate"},
			{Key: "lo", Value: bson.D{{Key: "$gte", Value: int64(10)}}}, {Key: "hi", Value: bson.D{{Key: "$lte", Value: int64(19)}}}}}}}},
	}}})
	if got != want {
		t.Fatalf("render\n got %s\nwant %s", got, want)
	}
	arr := func(docs ...bson.D) bson.Raw {
		b, err := bson.Marshal(bson.D{{Key: "a", Value: docs}})
		if err != nil {
			t.Fatal(err)
		}
		return bson.Raw(bson.Raw(b).Lookup("a").Array())
	}
	el := func(p string, lo, hi int64) bson.D {
		return bson.D{{Key: "p", Value: p}, {Key: "lo", Value: lo}, {Key: "hi", Value: hi}}
	}
	for _, tc := range []struct {
		elems bson.Raw
		want  bool
	}{
		{arr(el("birthdate", 10, 19)), true}, // contained
		{arr(el("birthdate", 15, 25)), true}, // above
		{arr(el("birthdate", 5, 15)), false}, // straddles the start
		{arr(el("death", 30, 40)), false},    // other parameter
		{arr(el("birthdate", 0, 5), el("death", 30, 40)), false},
		{arr(el("birthdate", 0, 5), el("birthdate", 12, 13)), true},
	} {
		if got := p.match(tc.elems); got != tc.want {
			t.Errorf("match %v = %v", tc.elems, got)
		}
	}
	// Cross-element conditions never combine: lo from one, hi from another.
	eqp := &elemPred{arr: "dt", param: "birthdate", any: [][]cond{{{"lo", "$gte", int64(10)}, {"hi", "$lte", int64(19)}}}}
	if eqp.match(arr(el("birthdate", 10, 30), el("birthdate", 0, 19))) {
		t.Error("matched across elements")
	}
}

func TestPrefixes(t *testing.T) {
	got := fmt.Sprint(prefixes("http://a.org/fhir/x"))
	if got != "[http://a.org/fhir/x http://a.org/fhir http://a.org]" {
		t.Fatal(got)
	}
}

func TestReverseString(t *testing.T) {
	words := []string{"", "a", "ab", "abc", "abd", "b", "z", "é", "\uffff", "\U0001F600", "\ud7ff"}
	for _, a := range words {
		for _, b := range words {
			if (a < b) != (reverseString(a) > reverseString(b)) {
				t.Errorf("%q < %q = %v but reversed %v", a, b, a < b, reverseString(a) > reverseString(b))
			}
		}
	}
}

func TestCompositeRender(t *testing.T) {
	p := &elemPred{arr: "cmp", param: "code-value-quantity", alts: [][]compPred{{
		{0, &elemPred{arr: "tok", param: "code", any: [][]cond{{eq("c", "x")}}}},
		{1, &elemPred{arr: "qty", param: "value-quantity", any: [][]cond{{{"v", "$gt", 5.0}}}}},
	}}}
	got := fmt.Sprint(p.render())
	want := fmt.Sprint(bson.D{{Key: "cmp", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "p", Value: "code-value-quantity"}, {Key: "$and", Value: bson.A{
		bson.D{{Key: "parts.0.tok", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "p", Value: "code"}, {Key: "c", Value: bson.D{{Key: "$eq", Value: "x"}}}}}}}},
		bson.D{{Key: "parts.1.qty", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "p", Value: "value-quantity"}, {Key: "v", Value: bson.D{{Key: "$gt", Value: 5.0}}}}}}}},
	}}}}}}})
	if got != want {
		t.Fatalf("render\n got %s\nwant %s", got, want)
	}
}

func TestAbbreviate(t *testing.T) {
	ids := bson.A{}
	for i := range 12 {
		ids = append(ids, fmt.Sprint(i))
	}
	got, err := bson.MarshalExtJSON(abbreviate(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}), false, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"_id":{"$in":["0","1","2","3","4","… 7 more"]}}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestLongRefList: a reference clause of many plain Type/ids of one type
// (a care circle's confinement) is one $elemMatch with an $in of the
// ids, not an $or of one $elemMatch per value, and its Go evaluation
// (FerretDB) is a set lookup meaning the same.
func TestLongRefList(t *testing.T) {
	c := &query.Clause{Param: "_compartment", Type: query.TypeReference}
	for i := range 40000 {
		id := fmt.Sprintf("q%05d", i)
		c.Values = append(c.Values, query.Value{RefType: "Patient", RefID: id, Raw: "Patient/" + id})
	}
	s := &Store{elemMatch: true}
	f, err := s.clause(t.Context(), []string{"Observation"}, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 1 || f[0].Key != "ref" {
		t.Fatalf("filter %.200v, want one $elemMatch on ref", f)
	}
	m := f[0].Value.(bson.D)[0].Value.(bson.D)
	if len(m) != 3 || m[1].Key != "i" || m[2].Key != "t" || len(m[1].Value.(bson.D)[0].Value.(bson.A)) != 40000 {
		t.Fatalf("$elemMatch %.200v, want p, i $in of the 40000 ids, t", m)
	}
	if _, err := bson.Marshal(f); err != nil {
		t.Fatalf("the filter does not marshal: %v", err)
	}
	ids, typ, ok := refList(c)
	if !ok || typ != "Patient" || len(ids) != 40000 {
		t.Fatal("not a list")
	}
	p := &elemPred{arr: "ref", param: "_compartment", any: [][]cond{{{"i", "$in", newInSet(ids)}, eq("t", "Patient")}}}
	el := func(typ, id string) bson.Raw {
		b, _ := bson.Marshal(bson.D{{Key: "a", Value: bson.A{bson.D{{Key: "p", Value: "_compartment"}, {Key: "t", Value: typ}, {Key: "i", Value: id}}}}})
		return bson.Raw(bson.Raw(b).Lookup("a").Array())
	}
	for _, tc := range []struct {
		typ, id string
		want    bool
	}{{"Patient", "q39999", true}, {"Patient", "r1", false}, {"Group", "q00001", false}} {
		if got := p.match(el(tc.typ, tc.id)); got != tc.want {
			t.Errorf("match %s/%s = %v", tc.typ, tc.id, got)
		}
	}
}
