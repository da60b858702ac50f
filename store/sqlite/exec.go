package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// Search answers q from the read pool.
func (s *Store) Search(ctx context.Context, q *query.Query) (*store.SearchResult, error) {
	return runSearch(ctx, s.r, q)
}

// countSQL is the statement counting what where matches (_total).
func countSQL(where *frag) *frag {
	f := &frag{}
	f.w("SELECT COUNT(*) FROM resource r WHERE ")
	f.add(where)
	return f
}

// sortKeys are the ORDER BY expressions of q's _sort keys.
func sortKeys(q *query.Query) ([]sortKey, error) {
	keys := make([]sortKey, 0, len(q.Sort))
	for _, k := range q.Sort {
		sk, err := sortExpr(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, sk)
	}
	return keys, nil
}

// pageCursor is q's _page cursor (nil on the first page), checked to be
// one this engine issued for this very search and sort.
// sig is signature(q).
func pageCursor(q *query.Query, sig string, keys []sortKey) (*cursor, error) {
	if q.Page == "" {
		return nil, nil
	}
	c, err := decodeCursor(q.Page)
	if err != nil || c.sig != sig || len(c.keys) != len(keys)+1 {
		return nil, errBadCursor
	}
	return &c, nil
}

// runSearch answers q on the connections of c.
func runSearch(ctx context.Context, c *stmtCache, q *query.Query) (*store.SearchResult, error) {
	comp := &compiler{}
	where, err := comp.where(q)
	if err != nil {
		return nil, err
	}
	res := &store.SearchResult{Total: -1}
	if q.Total {
		cf := countSQL(where)
		rows, err := c.query(ctx, cf.b.String(), cf.a...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		for rows.Next() {
			if err := rows.Scan(&res.Total); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: search: %w", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
	}
	if q.Count <= 0 {
		return res, nil
	}

	keys, err := sortKeys(q)
	if err != nil {
		return nil, err
	}
	sig := signature(q)
	cur, err := pageCursor(q, sig, keys)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	back := cur != nil && cur.back
	f := pageSQL(where, keys, cur, q.Count+1)
	rows, err := c.query(ctx, f.b.String(), f.a...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	type hit struct {
		rid  int64
		keys []any
	}
	var hits []hit
	more := false
	for rows.Next() {
		if len(hits) == q.Count {
			more = true
			break
		}
		h := hit{keys: make([]any, len(keys)+1)}
		dst := make([]any, len(keys)+1)
		dst[0] = &h.rid
		for i := range keys {
			dst[i+1] = &h.keys[i]
		}
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		h.keys[len(keys)] = h.rid
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	if back {
		slices.Reverse(hits)
	}
	if len(hits) > 0 {
		first, last := hits[0].keys, hits[len(hits)-1].keys
		if more || back {
			if back {
				res.Next = encodeCursor(cursor{sig: sig, keys: last})
				if more {
					res.Prev = encodeCursor(cursor{back: true, sig: sig, keys: first})
				}
			} else {
				res.Next = encodeCursor(cursor{sig: sig, keys: last})
			}
		}
		if !back && cur != nil {
			res.Prev = encodeCursor(cursor{back: true, sig: sig, keys: first})
		}
	} else if cur != nil {
		// An empty page (rows vanished since): point back at where we were.
		if back {
			res.Next = encodeCursor(cursor{sig: sig, keys: cur.keys})
		} else {
			res.Prev = encodeCursor(cursor{back: true, sig: sig, keys: cur.keys})
		}
	}

	rids := make([]int64, len(hits))
	for i, h := range hits {
		rids[i] = h.rid
	}
	found, err := fetchRows(ctx, c, rids)
	if err != nil {
		return nil, err
	}
	for _, h := range hits {
		if r := found[h.rid]; r != nil {
			res.Resources = append(res.Resources, r.Resource)
		}
	}
	return res, nil
}

// ridsJSON renders rids as a JSON array for json_each, so one statement
// text serves any number of ids.
func ridsJSON(rids []int64) string {
	b := make([]byte, 0, 8*len(rids)+2)
	b = append(b, '[')
	for i, r := range rids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, r, 10)
	}
	return string(append(b, ']'))
}

// fetchRows loads the resources of rids.
func fetchRows(ctx context.Context, c *stmtCache, rids []int64) (map[int64]*row, error) {
	out := make(map[int64]*row, len(rids))
	if len(rids) == 0 {
		return out, nil
	}
	rows, err := c.query(ctx, selectResource+" WHERE r.rid IN (SELECT value FROM json_each(?))", ridsJSON(rids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		out[r.rid] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	return out, nil
}
