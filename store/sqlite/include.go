package sqlite

import (
	"context"
	"fmt"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// maxIterate bounds the rounds of _include:iterate / _revinclude:iterate.
const maxIterate = 4

// includes follows q's _include and _revinclude from matches, then the
// :iterate ones from what they brought in, up to maxIterate rounds.
// seen holds the rids already in the result and grows.
func includes(ctx context.Context, c *stmtCache, q *query.Query, matches []*row, seen map[int64]bool) ([]*row, error) {
	var out []*row
	frontier := matches
	for round := 0; round <= maxIterate && len(frontier) > 0; round++ {
		var next []*row
		take := func(rs []*row) {
			for _, r := range rs {
				if !seen[r.rid] {
					seen[r.rid] = true
					next = append(next, r)
				}
			}
		}
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			rs, err := includeOne(ctx, c, inc, frontier, false)
			if err != nil {
				return nil, err
			}
			take(rs)
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			rs, err := includeOne(ctx, c, inc, frontier, true)
			if err != nil {
				return nil, err
			}
			take(rs)
		}
		out = append(out, next...)
		frontier = next
	}
	return out, nil
}

// includeOne runs one directive from the resources of from: forward, the
// live targets of their references; reverse (rev), the resources of
// inc.Type referring to them.
func includeOne(ctx context.Context, c *stmtCache, inc query.Include, from []*row, rev bool) ([]*row, error) {
	var rids []int64
	for _, r := range from {
		want := inc.Type
		if rev {
			want = inc.TargetType
		}
		if want == "" || want == "*" || r.Type == want {
			rids = append(rids, r.rid)
		}
	}
	if len(rids) == 0 {
		return nil, nil
	}
	f := &frag{}
	if rev {
		f.w("SELECT DISTINCT s.rid, s.type, s.id, s.version, s.updated, s.deleted, s.method, h.json FROM resource t",
			" JOIN idx_ref x ON x.type = t.type AND x.id = t.id JOIN resource s ON s.rid = x.res JOIN history h ON h.hid = s.hid",
			" WHERE t.rid IN (SELECT value FROM json_each(")
		f.p(ridsJSON(rids))
		f.w(")) AND s.deleted = 0")
		if inc.Type != "" && inc.Type != "*" {
			f.w(" AND s.type = ")
			f.p(inc.Type)
		}
	} else {
		f.w("SELECT DISTINCT t.rid, t.type, t.id, t.version, t.updated, t.deleted, t.method, h.json FROM idx_ref x",
			" JOIN resource t ON t.type = x.type AND t.id = x.id JOIN history h ON h.hid = t.hid",
			" WHERE x.res IN (SELECT value FROM json_each(")
		f.p(ridsJSON(rids))
		f.w(")) AND t.deleted = 0")
		if inc.TargetType != "" {
			f.w(" AND x.type = ")
			f.p(inc.TargetType)
		}
	}
	if inc.Param != "" && inc.Param != "*" {
		f.w(" AND x.param = ")
		f.p(inc.Param)
	}
	rows, err := c.query(ctx, f.b.String(), f.a...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: include: %w", err)
	}
	defer rows.Close()
	var out []*row
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: include: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: include: %w", err)
	}
	return out, nil
}
