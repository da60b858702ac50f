package service

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search"
)

// fixedAccess grants every letter on every type as the Grant it is.
type fixedAccess Grant

func (a fixedAccess) Grant(byte, string) (Grant, error) { return Grant(a), nil }

// TestGrantUnrestrictedAllocates: the path of an unconfined, unrestricted
// grant (every request of system/ and user/ scopes) allocates nothing.
func TestGrantUnrestrictedAllocates(t *testing.T) {
	s := New(nil, search.Default())
	ctx := WithAccess(context.Background(), fixedAccess{})
	if n := testing.AllocsPerRun(100, func() {
		if l, err := s.grant(ctx, 'r', "Observation"); l != nil || err != nil {
			t.Fatal(l, err)
		}
		if l, err := s.writeGrant(ctx, "PUT", "Observation"); l != nil || err != nil {
			t.Fatal(l, err)
		}
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// TestRestrictionCache: a restriction is parsed once per types, until the
// registry changes; the cache stays bounded.
func TestRestrictionCache(t *testing.T) {
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, reg)
	r := url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}
	obs := []string{"Observation"}
	a, err := s.restrictionClauses(obs, r)
	if err != nil || len(a) != 1 {
		t.Fatal(a, err)
	}
	b, _ := s.restrictionClauses(obs, r)
	if &a[0] != &b[0] {
		t.Error("parsed again")
	}
	if c, _ := s.restrictionClauses([]string{"Condition"}, r); &c[0] == &a[0] {
		t.Error("another type shares the clauses")
	}
	if _, err := s.restrictionClauses(obs, url.Values{"shoe-size": {"42"}}); err == nil {
		t.Error("an unknown parameter is allowed")
	}
	if _, err := s.restrictionClauses(obs, url.Values{"shoe-size": {"42"}}); err == nil {
		t.Error("an unknown parameter is allowed, cached")
	}
	// a SearchParameter changes what a restriction means
	if err := reg.AddResource(map[string]any{"resourceType": "SearchParameter", "url": "http://example.org/sp/shoe", "code": "shoe-size", "base": []any{"Observation"}, "type": "token", "expression": "Observation.code"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.restrictionClauses(obs, url.Values{"shoe-size": {"42"}}); err != nil {
		t.Errorf("the new parameter is not seen: %v", err)
	}
	if c, _ := s.restrictionClauses(obs, r); &c[0] == &a[0] {
		t.Error("not parsed again after the registry changed")
	}
	for i := 0; i < 2*restrictionCacheSize; i++ {
		_, _ = s.restrictionClauses(obs, url.Values{"code": {fmt.Sprint(i)}})
	}
	if n := len(s.restrictions.m); n > restrictionCacheSize {
		t.Errorf("%d restrictions cached", n)
	}
}
