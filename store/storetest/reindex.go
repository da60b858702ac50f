package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// testReindex: Reindex swaps the index of the current version in place,
// makes no version, and refuses a stale or deleted version.
func testReindex(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, NewWrite("Observation", "r1", 1, At(1), &query.Index{Tokens: []query.TokenEntry{tok("code", "s", "old")}}),
		NewWrite("Observation", "r2", 1, At(1), &query.Index{Tokens: []query.TokenEntry{tok("code", "s", "old")}}))
	find := func(code string) []string {
		t.Helper()
		q := &query.Query{Types: []string{"Observation"}, Count: 10, Where: []query.Clause{clause("code", query.TypeToken, "", tokV(code))}}
		res, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return sorted(keys(res.Resources, false))
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Reindex(ctx, "Observation", "r1", 1, &query.Index{Tokens: []query.TokenEntry{tok("code", "s", "new"), tok("extra", "", "x")}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := find("new"); len(got) != 1 || got[0] != "Observation/r1" {
		t.Fatalf("after reindex, code=new finds %v", got)
	}
	if got := find("old"); len(got) != 1 || got[0] != "Observation/r2" {
		t.Fatalf("after reindex, code=old finds %v", got)
	}
	h, err := s.History(ctx, &store.HistoryQuery{Type: "Observation", ID: "r1", Count: 10})
	if err != nil || len(h.Versions) != 1 {
		t.Fatalf("reindex made versions: %v %v", h, err)
	}
	stale := s.Update(ctx, func(tx store.Tx) error {
		return tx.Reindex(ctx, "Observation", "r1", 2, &query.Index{})
	})
	if !errors.Is(stale, store.ErrConflict) {
		t.Fatalf("stale version: %v", stale)
	}
	Put(t, s, Tombstone("Observation", "r2", 2, At(2)))
	gone := s.Update(ctx, func(tx store.Tx) error {
		return tx.Reindex(ctx, "Observation", "r2", 1, &query.Index{})
	})
	if !errors.Is(gone, store.ErrConflict) {
		t.Fatalf("deleted resource: %v", gone)
	}
}
