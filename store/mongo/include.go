package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/store"
)

// inBatch bounds the _ids of one $in, keeping each command far below the
// 16 MiB BSON limit however large an include level grows.
const inBatch = 5000

// includeProjection leaves out every index array.
var includeProjection = bson.D{
	{Key: "params", Value: 0}, {Key: "tok", Value: 0}, {Key: "str", Value: 0}, {Key: "ref", Value: 0},
	{Key: "dt", Value: 0}, {Key: "num", Value: 0}, {Key: "qty", Value: 0}, {Key: "uri", Value: 0},
	{Key: "cmp", Value: 0}, {Key: "sa", Value: 0}, {Key: "sd", Value: 0},
}

// Targets answers one _include step: the ref arrays of from, then the live
// documents they name, each a batched _id lookup.
func (s *Store) Targets(ctx context.Context, from []store.Ref, param, targetType string) ([]*store.Resource, error) {
	ids := make([]string, len(from))
	for i, r := range from {
		ids[i] = r.Type + "/" + r.ID
	}
	var srcs []resDoc
	err := s.inBatches(ids, func(in bson.A) error {
		cur, err := s.res.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}}, options.Find().SetProjection(bson.D{{Key: "ref", Value: 1}}))
		if err != nil {
			return err
		}
		var docs []resDoc
		if err := cur.All(ctx, &docs); err != nil {
			return err
		}
		srcs = append(srcs, docs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: _include: %w", err)
	}
	seen := map[string]bool{}
	var want []string
	for _, d := range srcs {
		for _, r := range d.Ix.Ref {
			if (!store.AnyParam(param) && r.P != param) || r.T == "" || r.I == "" || (targetType != "" && r.T != targetType) {
				continue
			}
			if k := r.T + "/" + r.I; !seen[k] {
				seen[k] = true
				want = append(want, k)
			}
		}
	}
	out, err := s.fetchLive(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("mongo: _include: %w", err)
	}
	return out, nil
}

// Referrers answers one _revinclude step: the live documents of typ with a
// ref element naming one of to (to in batches of inBatch).
func (s *Store) Referrers(ctx context.Context, typ, param string, to []store.Ref) ([]*store.Resource, error) {
	var within []string
	if !store.AnyType(typ) {
		within = []string{typ}
	}
	seen := map[string]bool{}
	var out []*store.Resource
	for len(to) > 0 {
		n := min(len(to), inBatch)
		byType := map[string]bson.A{}
		var types []string
		for _, r := range to[:n] {
			if _, ok := byType[r.Type]; !ok {
				types = append(types, r.Type)
			}
			byType[r.Type] = append(byType[r.Type], r.ID)
		}
		to = to[n:]
		pred := &elemPred{arr: "ref", param: param}
		if store.AnyParam(param) {
			pred.param = ""
		}
		for _, t := range types {
			pred.any = append(pred.any, []cond{{"i", "$in", byType[t]}, eq("t", t)})
		}
		f, err := s.revFilter(ctx, within, pred)
		if err != nil {
			return nil, err
		}
		parts := []bson.D{{{Key: "deleted", Value: false}}, f}
		if len(within) == 1 {
			parts = append(parts, bson.D{{Key: "type", Value: typ}})
		}
		cur, err := s.res.Find(ctx, and(parts...), options.Find().SetProjection(includeProjection).SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("mongo: _revinclude: %w", err)
		}
		var docs []*resDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("mongo: _revinclude: %w", err)
		}
		for _, d := range docs {
			if !seen[d.ID] {
				seen[d.ID] = true
				out = append(out, d.resource())
			}
		}
	}
	return out, nil
}

// revFilter is the filter of resources (of types, or any) with a reference
// matching pred; an empty pred.param means any reference parameter, which
// an indexed $elemMatch on {p, ...} cannot say.
func (s *Store) revFilter(ctx context.Context, types []string, pred *elemPred) (bson.D, error) {
	if pred.param != "" {
		return s.predFilter(ctx, types, pred, false)
	}
	if s.elemMatch {
		var ors bson.A
		for _, conj := range pred.any {
			m := bson.D{}
			for _, c := range conj {
				m = append(m, bson.E{Key: c.f, Value: bson.D{{Key: c.op, Value: c.v}}})
			}
			ors = append(ors, bson.D{{Key: "ref", Value: bson.D{{Key: "$elemMatch", Value: m}}}})
		}
		return bson.D{{Key: "$or", Value: ors}}, nil
	}
	// Without $elemMatch: the candidates' ref arrays, checked in Go.
	f, err := s.query(ctx, types, nil)
	if err != nil {
		return nil, err
	}
	cur, err := s.res.Find(ctx, f, options.Find().SetProjection(bson.D{{Key: "ref", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: _revinclude: %w", err)
	}
	var docs []resDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: _revinclude: %w", err)
	}
	ids := bson.A{}
	for _, d := range docs {
	refs:
		for _, r := range d.Ix.Ref {
			for _, conj := range pred.any {
				if matchRef(r, conj) {
					ids = append(ids, d.ID)
					break refs
				}
			}
		}
	}
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, nil
}

// matchRef evaluates a conjunction on the i and t fields of a ref element.
func matchRef(r refDoc, conj []cond) bool {
	for _, c := range conj {
		var v string
		switch c.f {
		case "i":
			v = r.I
		case "t":
			v = r.T
		default:
			return false
		}
		if !compare(v, c) {
			return false
		}
	}
	return true
}

// fetchLive reads the live documents of ids ("Type/id"), in _id order per batch.
func (s *Store) fetchLive(ctx context.Context, ids []string) ([]*store.Resource, error) {
	var out []*store.Resource
	err := s.inBatches(ids, func(in bson.A) error {
		cur, err := s.res.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}, {Key: "deleted", Value: false}},
			options.Find().SetProjection(includeProjection).SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return err
		}
		var docs []*resDoc
		if err := cur.All(ctx, &docs); err != nil {
			return err
		}
		for _, d := range docs {
			out = append(out, d.resource())
		}
		return nil
	})
	return out, err
}

// inBatches calls fn with ids in slices of at most inBatch.
func (*Store) inBatches(ids []string, fn func(bson.A) error) error {
	for len(ids) > 0 {
		n := min(len(ids), inBatch)
		in := make(bson.A, n)
		for i, id := range ids[:n] {
			in[i] = id
		}
		if err := fn(in); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}
