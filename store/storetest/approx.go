package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// testApproxDate: "ap" widens the searched range as search.ApproxDateRange
// documents (10% of the distance to now, at least a day), on every engine.
func testApproxDate(t *testing.T, s store.Store) {
	now := time.Now().UTC()
	at := func(d time.Duration) query.DateEntry {
		m := now.Add(d).UnixMicro()
		return query.DateEntry{Param: "date", Low: m, High: m}
	}
	Put(t, s,
		NewWrite("Observation", "near", 1, At(1), &query.Index{Dates: []query.DateEntry{at(-20 * time.Hour)}}),
		NewWrite("Observation", "far", 1, At(1), &query.Index{Dates: []query.DateEntry{at(-50 * time.Hour)}}))
	// searching "ap <the minute 2 hours ago>": the window is ±1 day
	m := now.Add(-2 * time.Hour).Truncate(time.Minute)
	q := &query.Query{Types: []string{"Observation"}, Count: 10, Where: []query.Clause{
		clause("date", query.TypeDate, "", query.Value{Prefix: query.AP, DateLow: m.UnixMicro(), DateHigh: m.Add(time.Minute).UnixMicro() - 1})}}
	res, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(res.Resources, false); len(got) != 1 || got[0] != "Observation/near" {
		t.Fatalf("ap within a day: %v", got)
	}
}
