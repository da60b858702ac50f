package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

var _ store.Explainer = (*Store)(nil)

// Explain implements store.Explainer: the clause the SQL starts from, the
// statement of q's page (the first, or the one q.Page points at) with its
// arguments and SQLite's EXPLAIN QUERY PLAN, and the same for the COUNT
// when q asks for a total.
func (s *Store) Explain(ctx context.Context, q *query.Query) (*store.Explanation, error) {
	e := &store.Explanation{Engine: "sqlite"}
	where, err := (&compiler{}).where(q)
	if err != nil {
		return nil, err
	}
	switch d := driver(q); {
	case d >= 0:
		e.Add("driver", fmt.Sprintf("clause %d (%s) as rid IN (a subquery on its index); the others as correlated EXISTS seeks on their tables' (res, param) keys", d+1, q.Where[d].Param))
	case hasIDClause(q):
		e.Add("driver", "the resource (type, id) key, for _id")
	default:
		e.Add("driver", "none: the resource (type, deleted) index, every clause a correlated EXISTS")
	}
	if q.Total {
		if err := s.explainSQL(ctx, e, "count ", countSQL(where)); err != nil {
			return nil, err
		}
	}
	if q.Count > 0 {
		keys, err := sortKeys(q)
		if err != nil {
			return nil, err
		}
		cur, _ := pageCursor(q, signature(q), keys) // a bad cursor: explained as the first page
		if err := s.explainSQL(ctx, e, "", pageSQL(where, keys, cur, q.Count+1)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func hasIDClause(q *query.Query) bool {
	for i := range q.Where {
		if q.Where[i].Param == "_id" && store.DriveRank(&q.Where[i]) == 0 {
			return true
		}
	}
	return false
}

// maxArg bounds an argument as Explain shows it (id lists can be long).
const maxArg = 200

// explainSQL adds the statement f, its arguments and its query plan.
func (s *Store) explainSQL(ctx context.Context, e *store.Explanation, what string, f *frag) error {
	args := make([]any, len(f.a))
	for i, a := range f.a {
		if str, ok := a.(string); ok && len(str) > maxArg {
			a = str[:maxArg] + "…"
		}
		args[i] = a
	}
	js, _ := json.Marshal(args)
	plan, err := explainQueryPlan(ctx, s.rdb, f)
	if err != nil {
		return err
	}
	e.Add(what+"sql", f.b.String())
	e.Add(what+"arguments", string(js))
	e.Add(what+"query plan", "\n"+strings.Join(plan, "\n"))
	return nil
}

// explainQueryPlan is SQLite's EXPLAIN QUERY PLAN of f, one row a line,
// indented by its depth in the plan tree.
func explainQueryPlan(ctx context.Context, db *sql.DB, f *frag) ([]string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+f.b.String(), f.a...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: explain: %w", err)
	}
	defer rows.Close()
	depth := map[int]int{}
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, fmt.Errorf("sqlite: explain: %w", err)
		}
		d := 0
		if parent != 0 {
			d = depth[parent] + 1
		}
		depth[id] = d
		out = append(out, strings.Repeat("  ", d)+detail)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: explain: %w", err)
	}
	return out, nil
}
