package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// testErrors checks that what a client can get wrong comes back as a
// store sentinel (the service maps those to a status), whichever engine.
func testErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, NewWrite("Patient", "p1", 1, At(1), &query.Index{Tokens: []query.TokenEntry{tok("gender", genderSys, "male")}}))
	for _, c := range []query.Clause{
		// :in reaches an engine only if the service forgot to expand it
		{Param: "code", Type: query.TypeToken, Modifier: "in", Values: []query.Value{{Str: "http://vs"}}},
		{Param: "name", Type: query.TypeString, Modifier: "below", Values: []query.Value{{Str: "x"}}},
		{Param: "near", Type: query.TypeSpecial, Values: []query.Value{{Str: "1|2"}}},
	} {
		_, err := s.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Where: []query.Clause{c}})
		if !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("%s:%s: got %v, want store.ErrUnsupported", c.Param, c.Modifier, err)
		}
	}
	if _, err := s.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Page: "garbage"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("Search with a forged page: got %v, want store.ErrBadCursor", err)
	}
	if _, err := s.History(ctx, &store.HistoryQuery{Type: "Patient", Count: 10, Page: "garbage"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("History with a forged page: got %v, want store.ErrBadCursor", err)
	}
}
