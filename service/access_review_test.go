package service_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
)

// TestAccessCustomParameterCompartment: a SearchParameter the server's
// administrator installs replacing Observation.performer by a constant
// Patient/p1 reference changes that parameter's searches, never the
// compartments: p2's Observations written afterwards stay out of p1's.
func TestAccessCustomParameterCompartment(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			f := newFixtureWith(t, e, ownRegistry(t))
			s, bg := f.svc, context.Background()
			storeAccessData(t, s)
			if _, err := s.Create(bg, "SearchParameter", []byte(perfSP), service.Preconditions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update(bg, "Observation", "o9", []byte(obs("o9", "p2", "laboratory", "Z")), service.Preconditions{}); err != nil {
				t.Fatal(err)
			}
			set, _ := scope.Parse(pat1)
			ctx := service.WithAccess(bg, set.Access("p1"))
			if _, err := s.Read(ctx, "Observation", "o9"); err == nil {
				t.Error("p1 reads p2's Observation written after the SearchParameter")
			}
			resp, err := s.Search(ctx, "Observation", url.Values{"_id": {"o9"}}, true)
			if err != nil || len(resp.Result.Resources) != 0 {
				t.Errorf("p1's search finds p2's Observation: %v %v", resp, err)
			}
			// the parameter itself works, for whoever may see what it finds
			resp, err = s.Search(bg, "Observation", url.Values{"performer": {"Patient/p1"}, "_id": {"o9"}}, true)
			if err != nil || len(resp.Result.Resources) != 1 {
				t.Errorf("the custom parameter does not search: %v %v", resp, err)
			}
			resp, err = s.SearchCompartment(bg, "Patient", "p1", "Observation", url.Values{"_id": {"o9"}}, true)
			if err != nil || len(resp.Result.Resources) != 0 {
				t.Errorf("p2's Observation is in p1's compartment: %v %v", resp, err)
			}
		})
	}
}

// queries is a store counting the reads a service asks of it (the real
// engine underneath answers them).
type queries struct {
	store.Store
	n int
}

func (q *queries) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	q.n++
	return q.Store.Read(ctx, typ, id)
}

func (q *queries) VRead(ctx context.Context, typ, id string, v int64) (*store.Resource, error) {
	q.n++
	return q.Store.VRead(ctx, typ, id, v)
}

func (q *queries) Search(ctx context.Context, qu *query.Query) (*store.SearchResult, error) {
	q.n++
	return q.Store.Search(ctx, qu)
}

// TestAccessReadCost: under a narrowing grant a read, and a vread of the
// current version, are one store query (the membership search answers
// them); a vread of an older version two.
func TestAccessReadCost(t *testing.T) {
	f := newFixture(t, engines()[0])
	storeAccessData(t, f.svc, stored{"Observation", obs("o1", "p1", "laboratory", "Y")})
	q := &queries{Store: f.svc.Store}
	f.svc.Store = q
	set, _ := scope.Parse(pat1)
	ctx := service.WithAccess(context.Background(), set.Access("p1"))
	for _, c := range []struct {
		op      op
		queries int
	}{
		{op{do: "read", typ: "Observation", id: "o1"}, 1},
		{op{do: "vread", typ: "Observation", id: "o1", vid: "2"}, 1},
		{op{do: "vread", typ: "Observation", id: "o1", vid: "1"}, 2},
		{op{do: "read", typ: "Observation", id: "o2"}, 1},
		{op{do: "vread", typ: "Observation", id: "o2", vid: "1"}, 1},
	} {
		q.n = 0
		if _, _, err := c.op.run(ctx, f.svc); err != nil && c.op.id == "o1" {
			t.Fatal(err)
		}
		if q.n != c.queries {
			t.Errorf("%s %s/%s/%s: %d store queries, want %d", c.op.do, c.op.typ, c.op.id, c.op.vid, q.n, c.queries)
		}
	}
}
