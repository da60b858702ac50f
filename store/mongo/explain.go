package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

var _ store.Explainer = (*Store)(nil)

// Explain implements store.Explainer: how clauses are evaluated (native
// $elemMatch, or in Go over id sets), the id sets compiling q produced
// against their cap (chains and _has always make one: their inner query
// runs while compiling), then the filter document and the sort.
func (s *Store) Explain(ctx context.Context, q *query.Query) (*store.Explanation, error) {
	e := &store.Explanation{Engine: "mongodb"}
	tr := &trace{}
	filter, err := s.query(withTrace(ctx, tr), q.Types, q.Where)
	if err != nil {
		return nil, err
	}
	if s.elemMatch {
		e.Add("evaluation", "native: each clause is an $elemMatch on its index array, which a compound multikey index bounds; the clauses are ANDed in the plan's order and MongoDB's query planner picks the index")
	} else {
		e.Add("evaluation", fmt.Sprintf("in Go: this server cannot run $elemMatch on sub-documents, so each clause is evaluated in Go over the resources having its parameter, giving an _id set of at most %d; the filter ANDs those sets", maxIDs))
	}
	for _, set := range tr.sets {
		text := fmt.Sprintf("%s: %d %s", set.what, set.n, plural(set.n, "id", "ids"))
		switch {
		case set.cap > 0 && set.n > set.cap:
			text = fmt.Sprintf("%s: more than the cap of %d ids (the search is refused as too costly)", set.what, set.cap)
		case set.cap > 0:
			text += fmt.Sprintf(" of at most %d", set.cap)
		}
		e.Add("id set", text)
	}
	js, err := bson.MarshalExtJSON(abbreviate(filter), false, false)
	if err != nil {
		return nil, fmt.Errorf("mongo: explain: %w", err)
	}
	e.Add("filter", string(js))
	if q.Count > 0 {
		js, err := bson.MarshalExtJSON(sortDoc(order(q), false), false, false)
		if err != nil {
			return nil, fmt.Errorf("mongo: explain: %w", err)
		}
		e.Add("sort", fmt.Sprintf("%s, limit %d", js, q.Count+1))
	}
	return e, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// trace collects the id sets compiling one query makes, for Explain.
type trace struct{ sets []idSet }

// idSet is one set compiling materialised: what, its size, its cap (0: none).
type idSet struct {
	what   string
	n, cap int
}

type traceKey struct{}

// withTrace makes the compilation under ctx record its id sets in t, as
// net/http/httptrace carries its hooks: only Explain asks for it.
func withTrace(ctx context.Context, t *trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// traceIDs records an id set when ctx carries a trace.
func traceIDs(ctx context.Context, what string, n, limit int) {
	if t, ok := ctx.Value(traceKey{}).(*trace); ok {
		t.sets = append(t.sets, idSet{what, n, limit})
	}
}

// maxShown bounds the elements of an array Explain shows.
const maxShown = 5

// abbreviate copies a filter with long arrays (the id sets) cut to their
// first elements and a count of the rest, so the filter stays readable.
func abbreviate(v any) any {
	switch x := v.(type) {
	case bson.D:
		out := make(bson.D, len(x))
		for i, e := range x {
			out[i] = bson.E{Key: e.Key, Value: abbreviate(e.Value)}
		}
		return out
	case bson.A:
		n := len(x)
		if n > maxShown {
			n = maxShown
		}
		out := make(bson.A, 0, n+1)
		for _, e := range x[:n] {
			out = append(out, abbreviate(e))
		}
		if len(x) > maxShown {
			out = append(out, fmt.Sprintf("… %d more", len(x)-maxShown))
		}
		return out
	}
	return v
}
