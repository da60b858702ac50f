package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/store"
)

// histOrder is the history order: newest first, then a fixed order (type,
// id, version descending) among versions of one instant. The history
// indexes created at Open follow it.
var histOrder = []sortField{{"lastUpdated", true}, {"type", true}, {"id", true}, {"version", true}}

// History lists versions newest first, keyset-paged.
func (s *Store) History(ctx context.Context, q *store.HistoryQuery) (*store.HistoryPage, error) {
	count := q.Count
	if count <= 0 {
		count = 50
	}
	base := bson.D{}
	if q.Type != "" {
		base = append(base, bson.E{Key: "type", Value: q.Type})
		if q.ID != "" {
			base = append(base, bson.E{Key: "id", Value: q.ID})
		}
	}
	lu := bson.D{}
	if !q.Since.IsZero() {
		lu = append(lu, bson.E{Key: "$gte", Value: q.Since.UnixMicro()})
	}
	if !q.At.IsZero() {
		lu = append(lu, bson.E{Key: "$lte", Value: q.At.UnixMicro()})
	}
	if len(lu) > 0 {
		base = append(base, bson.E{Key: "lastUpdated", Value: lu})
	}
	filter := base
	if q.Page != "" {
		c, err := decodeCursor(q.Page, len(histOrder))
		if err != nil || c.Dir != "n" {
			return nil, errBadCursor
		}
		filter = and(base, after(histOrder, c.Keys))
	}
	page := &store.HistoryPage{Total: -1}
	cur, err := s.hist.Find(ctx, filter, options.Find().SetSort(sortDoc(histOrder, false)).SetProjection(dataProjection))
	if err != nil {
		return nil, fmt.Errorf("mongo: history: %w", err)
	}
	var rows []bson.Raw
	if q.At.IsZero() {
		rows, err = take(ctx, cur, count+1, nil)
	} else {
		rows, err = take(ctx, cur, count+1, s.supersededAt(q.At.UnixMicro()))
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: history: %w", err)
	}
	if len(rows) > count {
		rows = rows[:count]
		page.Next = (&cursor{Dir: "n", Keys: keysOf(rows[count-1], histOrder)}).encode()
	}
	for _, r := range rows {
		var d resDoc
		if err := bson.Unmarshal(r, &d); err != nil {
			return nil, fmt.Errorf("mongo: history: %w", err)
		}
		page.Versions = append(page.Versions, d.resource())
	}
	if q.Total {
		if q.At.IsZero() {
			n, err := s.hist.CountDocuments(ctx, base)
			if err != nil {
				return nil, fmt.Errorf("mongo: history count: %w", err)
			}
			page.Total = int(n)
		} else {
			cur, err := s.hist.Find(ctx, base, options.Find().SetProjection(bson.D{{Key: "type", Value: 1}, {Key: "id", Value: 1}, {Key: "version", Value: 1}}))
			if err != nil {
				return nil, fmt.Errorf("mongo: history count: %w", err)
			}
			all, err := take(ctx, cur, -1, s.supersededAt(q.At.UnixMicro()))
			if err != nil {
				return nil, fmt.Errorf("mongo: history count: %w", err)
			}
			page.Total = len(all)
		}
	}
	return page, nil
}

// take reads up to n rows (all when n < 0) from cur, dropping those that
// drop reports, judged a batch at a time. It closes cur.
func take(ctx context.Context, cur *mongo.Cursor, n int, drop func(context.Context, []bson.Raw) (map[int]bool, error)) ([]bson.Raw, error) {
	defer cur.Close(ctx)
	var out []bson.Raw
	batch := make([]bson.Raw, 0, 100)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var dropped map[int]bool
		if drop != nil {
			var err error
			if dropped, err = drop(ctx, batch); err != nil {
				return err
			}
		}
		for i, r := range batch {
			if !dropped[i] && (n < 0 || len(out) < n) {
				out = append(out, r)
			}
		}
		batch = batch[:0]
		return nil
	}
	for (n < 0 || len(out) < n) && cur.Next(ctx) {
		batch = append(batch, append(bson.Raw(nil), cur.Current...))
		if drop == nil || len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// supersededAt reports the versions of a batch that a next version had
// replaced by at (microseconds): those are not current at at.
func (s *Store) supersededAt(at int64) func(context.Context, []bson.Raw) (map[int]bool, error) {
	return func(ctx context.Context, rows []bson.Raw) (map[int]bool, error) {
		next := make(bson.A, len(rows))
		byNext := map[string]int{}
		for i, r := range rows {
			var d resDoc
			if err := bson.Unmarshal(r, &d); err != nil {
				return nil, err
			}
			id := histID(d.Type, d.RID, d.Version+1)
			next[i] = id
			byNext[id] = i
		}
		cur, err := s.hist.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: next}}}, {Key: "lastUpdated", Value: bson.D{{Key: "$lte", Value: at}}}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return nil, err
		}
		var found []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &found); err != nil {
			return nil, err
		}
		out := map[int]bool{}
		for _, f := range found {
			out[byNext[f.ID]] = true
		}
		return out, nil
	}
}
