package service_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/service"
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
