package mongo

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// searchProjection leaves out the index arrays, keeping the sort keys
// (sa, sd) the page cursor is made of.
var searchProjection = bson.D{
	{Key: "params", Value: 0}, {Key: "tok", Value: 0}, {Key: "str", Value: 0}, {Key: "ref", Value: 0},
	{Key: "dt", Value: 0}, {Key: "num", Value: 0}, {Key: "qty", Value: 0}, {Key: "uri", Value: 0}, {Key: "cmp", Value: 0},
}

// order is the keyset order of a query: its sort keys then _id.
func order(q *query.Query) []sortField {
	var out []sortField
	for _, k := range q.Sort {
		switch k.Param {
		case "_lastUpdated":
			out = append(out, sortField{"lastUpdated", k.Desc})
		case "_id":
			out = append(out, sortField{"id", k.Desc})
		default:
			// Both run descending (sa holds reversed keys), so resources
			// without the parameter come last either way.
			p := "sa."
			if k.Desc {
				p = "sd."
			}
			out = append(out, sortField{p + sortKey(k.Param), true})
		}
	}
	return append(out, sortField{"_id", false})
}

// Search returns a page of current resources matching q.
func (s *Store) Search(ctx context.Context, q *query.Query) (*store.SearchResult, error) {
	base, err := s.query(ctx, q.Types, q.Where)
	if err != nil {
		return nil, err
	}
	res := &store.SearchResult{Total: -1}
	if q.Total {
		n, err := s.res.CountDocuments(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("mongo: search count: %w", err)
		}
		res.Total = int(n)
	}
	if q.Count <= 0 {
		return res, nil
	}
	fields := order(q)
	var rows []bson.Raw
	backward := false
	filter := base
	if q.Page != "" {
		c, err := decodeCursor(q.Page, len(fields))
		if err != nil {
			return nil, err
		}
		if c.Dir == "p" {
			backward = true
			filter = and(base, after(reversed(fields), c.Keys))
		} else {
			filter = and(base, after(fields, c.Keys))
		}
	}
	rows, err = s.find(ctx, filter, fields, backward, q.Count+1)
	if err != nil {
		return nil, err
	}
	if backward && len(rows) <= q.Count {
		// Back at the start: serve the first page.
		backward = false
		q2 := *q
		q2.Page = ""
		if rows, err = s.find(ctx, base, fields, false, q.Count+1); err != nil {
			return nil, err
		}
		q = &q2
	}
	more := len(rows) > q.Count
	if more {
		rows = rows[:q.Count]
	}
	if backward {
		slices.Reverse(rows)
	}
	if len(rows) > 0 {
		if more || backward {
			res.Next = (&cursor{Dir: "n", Keys: keysOf(rows[len(rows)-1], fields)}).encode()
		}
		if q.Page != "" && (!backward || more) {
			res.Prev = (&cursor{Dir: "p", Keys: keysOf(rows[0], fields)}).encode()
		}
	}
	for _, r := range rows {
		var d resDoc
		if err := bson.Unmarshal(r, &d); err != nil {
			return nil, fmt.Errorf("mongo: search: %w", err)
		}
		res.Resources = append(res.Resources, d.resource())
	}
	return res, nil
}

func (s *Store) find(ctx context.Context, filter bson.D, fields []sortField, reverse bool, limit int) ([]bson.Raw, error) {
	cur, err := s.res.Find(ctx, filter, options.Find().SetSort(sortDoc(fields, reverse)).SetLimit(int64(limit)).SetProjection(searchProjection))
	if err != nil {
		return nil, fmt.Errorf("mongo: search: %w", err)
	}
	rows, err := take(ctx, cur, limit, nil)
	if err != nil {
		return nil, fmt.Errorf("mongo: search: %w", err)
	}
	return rows, nil
}
