package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// includeData is searchData plus what the include cases need besides: an
// Observation referring to the deleted Patient/p4, a chain of
// Organizations longer than store.IncludeDepth (c0 part of c1, ...) and
// two that are part of each other.
func includeData() (ws []*store.Write, chain int) {
	ws = searchData()
	ws = append(ws, NewWrite("Observation", "obx", 1, At(20), &query.Index{Refs: []query.RefEntry{ref("subject", "Patient", "p4")}}))
	chain = store.IncludeDepth + 3
	for i := range chain {
		ix := &query.Index{}
		if i+1 < chain {
			ix.Refs = []query.RefEntry{ref("partof", "Organization", fmt.Sprintf("c%d", i+1))}
		}
		ws = append(ws, NewWrite("Organization", fmt.Sprintf("c%d", i), 1, At(21+i), ix))
	}
	ws = append(ws,
		NewWrite("Organization", "y1", 1, At(40), &query.Index{Refs: []query.RefEntry{ref("partof", "Organization", "y2")}}),
		NewWrite("Organization", "y2", 1, At(41), &query.Index{Refs: []query.RefEntry{ref("partof", "Organization", "y1")}}))
	return ws, chain
}

func refTo(typ, id string) store.Ref { return store.Ref{Type: typ, ID: id} }

// orgs names Organizations c<from>..c<to> (inclusive, either direction).
func orgs(from, to int) []string {
	var out []string
	step := 1
	if to < from {
		step = -1
	}
	for i := from; ; i += step {
		out = append(out, fmt.Sprintf("Organization/c%d", i))
		if i == to {
			return out
		}
	}
}

// testIncludes runs _include/_revinclude as a search does: the engine's
// page, then store.Includes over its Targets and Referrers.
func testIncludes(t *testing.T, s store.Store) {
	ctx := context.Background()
	ws, chain := includeData()
	Put(t, s, ws...)
	obs, pat := []string{"Observation"}, []string{"Patient"}
	id := func(ids ...string) []query.Clause {
		var vs []query.Value
		for _, i := range ids {
			vs = append(vs, tokV(i))
		}
		return []query.Clause{clause("_id", query.TypeToken, "", vs...)}
	}
	partof := query.Include{Type: "Organization", Param: "partof", Iterate: true}
	for _, c := range []struct {
		name       string
		q          query.Query
		match, inc []string
	}{
		{"include", query.Query{Types: obs, Where: id("ob1"),
			Include: []query.Include{{Type: "Observation", Param: "subject"}}},
			[]string{"Observation/ob1"}, []string{"Patient/p1"}},
		{"include shared target once", query.Query{Types: obs, Where: []query.Clause{clause("code", query.TypeToken, "", tokV("8302-2"))},
			Include: []query.Include{{Type: "Observation", Param: "subject"}, {Type: "Observation", Param: "patient", TargetType: "Patient"}}},
			[]string{"Observation/ob2", "Observation/ob3"}, []string{"Patient/p1", "Patient/p2"}},
		{"include target type", query.Query{Types: obs, Where: id("ob1"),
			Include: []query.Include{{Type: "Observation", Param: "subject", TargetType: "Group"}}},
			[]string{"Observation/ob1"}, nil},
		{"include Type:*", query.Query{Types: pat, Where: id("p2"),
			Include: []query.Include{{Type: "Patient", Param: "*"}}},
			[]string{"Patient/p2"}, []string{"Organization/o2"}},
		{"include * (any type, any parameter)", query.Query{Types: obs, Where: id("ob1"),
			Include: []query.Include{{Param: "*"}}},
			[]string{"Observation/ob1"}, []string{"Patient/p1"}},
		{"include of another type ignored", query.Query{Types: pat, Where: id("p2"),
			Include: []query.Include{{Type: "Observation", Param: "subject"}}},
			[]string{"Patient/p2"}, nil},
		{"include of a deleted target", query.Query{Types: obs, Where: id("obx"),
			Include: []query.Include{{Type: "Observation", Param: "subject"}}},
			[]string{"Observation/obx"}, nil},
		{"include of an external URL", query.Query{Types: obs, Where: id("ob2"),
			Include: []query.Include{{Type: "Observation", Param: "derived-from"}}},
			[]string{"Observation/ob2"}, nil},
		{"include of a match", query.Query{Types: []string{"Organization"}, Where: id("c0", "c1"),
			Include: []query.Include{{Type: "Organization", Param: "partof"}}},
			[]string{"Organization/c0", "Organization/c1"}, []string{"Organization/c2"}},
		{"include :iterate", query.Query{Types: obs, Where: id("ob1"),
			Include: []query.Include{{Type: "Observation", Param: "subject"}, {Type: "Patient", Param: "organization", Iterate: true}}},
			[]string{"Observation/ob1"}, []string{"Patient/p1", "Organization/o1"}},
		{"include without :iterate stops", query.Query{Types: obs, Where: id("ob1"),
			Include: []query.Include{{Type: "Observation", Param: "subject"}, {Type: "Patient", Param: "organization"}}},
			[]string{"Observation/ob1"}, []string{"Patient/p1"}},
		{"include :iterate stops at store.IncludeDepth", query.Query{Types: []string{"Organization"}, Where: id("c0"),
			Include: []query.Include{partof}},
			[]string{"Organization/c0"}, orgs(1, store.IncludeDepth)},
		{"include :iterate through a cycle", query.Query{Types: []string{"Organization"}, Where: id("y1"),
			Include: []query.Include{partof}},
			[]string{"Organization/y1"}, []string{"Organization/y2"}},
		{"revinclude", query.Query{Types: pat, Where: id("p1"),
			RevInclude: []query.Include{{Type: "Observation", Param: "subject"}}},
			[]string{"Patient/p1"}, []string{"Observation/ob1", "Observation/ob3"}},
		{"revinclude deleted source ignored", query.Query{Types: []string{"Organization"}, Where: id("o1"),
			RevInclude: []query.Include{{Type: "Patient", Param: "organization"}}},
			[]string{"Organization/o1"}, []string{"Patient/p1"}},
		{"revinclude * and :iterate", query.Query{Types: pat, Where: id("p1"),
			RevInclude: []query.Include{{Type: "Observation", Param: "*"}, {Type: "Provenance", Param: "target", Iterate: true}}},
			[]string{"Patient/p1"}, []string{"Observation/ob1", "Observation/ob3", "Provenance/pv1"}},
		{"revinclude * (any type, any parameter)", query.Query{Types: obs, Where: id("ob1"),
			RevInclude: []query.Include{{Param: "*"}}},
			[]string{"Observation/ob1"}, []string{"Provenance/pv1"}},
		{"revinclude target type", query.Query{Types: pat, Where: id("p1"),
			RevInclude: []query.Include{{Type: "Observation", Param: "subject", TargetType: "Group"}}},
			[]string{"Patient/p1"}, nil},
		{"revinclude :iterate stops at store.IncludeDepth", query.Query{Types: []string{"Organization"}, Where: id(fmt.Sprintf("c%d", chain-1)),
			RevInclude: []query.Include{partof}},
			[]string{fmt.Sprintf("Organization/c%d", chain-1)}, orgs(chain-2, chain-1-store.IncludeDepth)},
		{"include and revinclude", query.Query{Types: obs, Where: id("ob1"),
			Include: []query.Include{{Type: "Observation", Param: "subject"}}, RevInclude: []query.Include{{Type: "Provenance", Param: "target"}}},
			[]string{"Observation/ob1"}, []string{"Patient/p1", "Provenance/pv1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := c.q
			q.Count = 10
			res, err := s.Search(ctx, &q)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if got := sorted(keys(res.Resources, false)); !slices.Equal(got, sorted(c.match)) {
				t.Errorf("matches %v, want %v", got, sorted(c.match))
			}
			if len(res.Included) > 0 {
				t.Errorf("Search included %v: following directives is the caller's job", keys(res.Included, false))
			}
			inc, err := store.Includes(ctx, s, res.Resources, store.IncludeSpec{Include: q.Include, RevInclude: q.RevInclude, Depth: store.IncludeDepth})
			if err != nil {
				t.Fatalf("Includes: %v", err)
			}
			got := keys(inc, false)
			if g := sorted(got); !slices.Equal(g, sorted(c.inc)) {
				t.Errorf("included %v, want %v", g, sorted(c.inc))
			}
			if len(slices.Compact(sorted(got))) != len(got) {
				t.Errorf("included %v: a resource twice", got)
			}
		})
	}

	t.Run("Max", func(t *testing.T) {
		// the :iterate chain brings chain-2 … chain-1-IncludeDepth: past a
		// bound smaller than that, the search is refused, not truncated
		q := query.Query{Types: []string{"Organization"}, Where: id(fmt.Sprintf("c%d", chain-1)), Count: 10, RevInclude: []query.Include{partof}}
		res, err := s.Search(ctx, &q)
		if err != nil {
			t.Fatal(err)
		}
		spec := store.IncludeSpec{RevInclude: q.RevInclude, Depth: store.IncludeDepth, Max: store.IncludeDepth - 1}
		if _, err := store.Includes(ctx, s, res.Resources, spec); !errors.Is(err, store.ErrTooCostly) {
			t.Fatalf("over the bound: %v, want ErrTooCostly", err)
		}
		spec.Max = store.IncludeDepth
		if inc, err := store.Includes(ctx, s, res.Resources, spec); err != nil || len(inc) != store.IncludeDepth {
			t.Fatalf("at the bound: %d, %v", len(inc), err)
		}
	})
	t.Run("Targets", func(t *testing.T) {
		rs, err := s.Targets(ctx, []store.Ref{refTo("Observation", "ob1"), refTo("Observation", "ob3"), refTo("Observation", "nope")}, "*", "")
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(rs, false); !slices.Equal(got, []string{"Patient/p1"}) {
			t.Errorf("got %v, want Patient/p1 once", got)
		}
		if rs, _ := s.Targets(ctx, []store.Ref{refTo("Patient", "p1"), refTo("Patient", "p2")}, "organization", "Organization"); !slices.Equal(sorted(keys(rs, false)), []string{"Organization/o1", "Organization/o2"}) {
			t.Errorf("organizations: got %v", keys(rs, false))
		}
		if rs, err := s.Targets(ctx, nil, "*", ""); err != nil || len(rs) != 0 {
			t.Errorf("no sources: %v, %v", keys(rs, false), err)
		}
	})
	t.Run("Referrers", func(t *testing.T) {
		rs, err := s.Referrers(ctx, "Observation", "*", []store.Ref{refTo("Patient", "p1"), refTo("Patient", "p2")})
		if err != nil {
			t.Fatal(err)
		}
		if got := sorted(keys(rs, false)); !slices.Equal(got, []string{"Observation/ob1", "Observation/ob2", "Observation/ob3"}) || len(rs) != 3 {
			t.Errorf("got %v, want ob1, ob2, ob3 once each", keys(rs, false))
		}
		if rs, _ := s.Referrers(ctx, "*", "target", []store.Ref{refTo("Observation", "ob1")}); !slices.Equal(keys(rs, false), []string{"Provenance/pv1"}) {
			t.Errorf("any type through target: got %v", keys(rs, false))
		}
		if rs, _ := s.Referrers(ctx, "Observation", "subject", []store.Ref{refTo("Patient", "p4")}); !slices.Equal(keys(rs, false), []string{"Observation/obx"}) {
			t.Errorf("referrers of a deleted resource: got %v", keys(rs, false))
		}
	})
	t.Run("InTransaction", func(t *testing.T) {
		errRollback := errors.New("roll back")
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put(ctx, NewWrite("Observation", "obt", 1, At(50), &query.Index{Refs: []query.RefEntry{ref("subject", "Patient", "p2")}})); err != nil {
				return err
			}
			rs, err := tx.Referrers(ctx, "Observation", "subject", []store.Ref{refTo("Patient", "p2")})
			if err != nil {
				return err
			}
			if got := sorted(keys(rs, false)); !slices.Equal(got, []string{"Observation/ob2", "Observation/obt"}) {
				t.Errorf("Referrers in the transaction: got %v, want its own write too", got)
			}
			rs, err = tx.Targets(ctx, []store.Ref{refTo("Observation", "obt")}, "subject", "")
			if err != nil {
				return err
			}
			if got := keys(rs, false); !slices.Equal(got, []string{"Patient/p2"}) {
				t.Errorf("Targets in the transaction: got %v", got)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("Update: %v", err)
		}
	})
}
