package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// maxIDs bounds the _id sets a chain, _has or clause resolution produces.
const maxIDs = 10000

// predFilter is the filter for pred (negated: resources with no such
// element), natively or through an _id set.
func (s *Store) predFilter(ctx context.Context, types []string, pred *elemPred, negate bool) (bson.D, error) {
	if s.elemMatch {
		if negate {
			return bson.D{{Key: "$nor", Value: bson.A{pred.render()}}}, nil
		}
		return pred.render(), nil
	}
	ids, err := s.resolve(ctx, types, pred)
	if err != nil {
		return nil, err
	}
	op := "$in"
	if negate {
		op = "$nin"
	}
	return bson.D{{Key: "_id", Value: bson.D{{Key: op, Value: ids}}}}, nil
}

// resolve evaluates pred in Go over the resources that have its parameter
// (servers without $elemMatch on sub-documents).
func (s *Store) resolve(ctx context.Context, types []string, pred *elemPred) (bson.A, error) {
	f, err := s.query(ctx, types, nil)
	if err != nil {
		return nil, err
	}
	f = and(f, bson.D{{Key: "params", Value: pred.param}})
	cur, err := s.res.Find(ctx, f, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: pred.arr, Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: search: %w", err)
	}
	defer cur.Close(ctx)
	ids := bson.A{}
	for cur.Next(ctx) {
		arr, ok := cur.Current.Lookup(pred.arr).ArrayOK()
		if !ok || !pred.match(bson.Raw(arr)) {
			continue
		}
		ids = append(ids, cur.Current.Lookup("_id").StringValue())
		if len(ids) > maxIDs {
			traceIDs(ctx, "clause "+pred.param+" evaluated in Go over the resources having it", len(ids), maxIDs)
			return nil, tooCostly("search parameter %s matches more than %d resources; narrow the search", pred.param, maxIDs)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("mongo: search: %w", err)
	}
	traceIDs(ctx, "clause "+pred.param+" evaluated in Go over the resources having it", len(ids), maxIDs)
	return ids, nil
}

// chain resolves the inner query to the resources it matches, then asks
// for references to them.
func (s *Store) chain(ctx context.Context, _ []string, c *query.Clause) (bson.D, error) {
	f, err := s.query(ctx, c.TargetTypes, []query.Clause{*c.Chain})
	if err != nil {
		return nil, err
	}
	cur, err := s.res.Find(ctx, f, options.Find().SetProjection(bson.D{{Key: "type", Value: 1}, {Key: "id", Value: 1}}).SetLimit(maxIDs+1))
	if err != nil {
		return nil, fmt.Errorf("mongo: chain: %w", err)
	}
	var hits []resDoc
	if err := cur.All(ctx, &hits); err != nil {
		return nil, fmt.Errorf("mongo: chain: %w", err)
	}
	traceIDs(ctx, "chain "+c.Param+": the targets matching "+c.Chain.Param, len(hits), maxIDs)
	if len(hits) > maxIDs {
		return nil, tooCostly("chained search on %s matches more than %d resources; narrow the search", c.Param, maxIDs)
	}
	byType := map[string]bson.A{}
	var order []string
	for _, h := range hits {
		if _, ok := byType[h.Type]; !ok {
			order = append(order, h.Type)
		}
		byType[h.Type] = append(byType[h.Type], h.RID)
	}
	pred := &elemPred{arr: "ref", param: c.Param}
	for _, t := range order {
		pred.any = append(pred.any, []cond{{"i", "$in", byType[t]}, eq("t", t)})
	}
	if len(pred.any) == 0 {
		return matchNothing(), nil
	}
	return s.predFilter(ctx, nil, pred, false)
}

// has resolves _has:Type:refParam:clause to the resources of types those
// matches reference through refParam.
func (s *Store) has(ctx context.Context, types []string, c *query.Clause) (bson.D, error) {
	f, err := s.query(ctx, []string{c.Has.Type}, []query.Clause{c.Has.Where})
	if err != nil {
		return nil, err
	}
	cur, err := s.res.Find(ctx, f, options.Find().SetProjection(bson.D{{Key: "ref", Value: 1}}).SetLimit(maxIDs+1))
	if err != nil {
		return nil, fmt.Errorf("mongo: _has: %w", err)
	}
	var hits []resDoc
	if err := cur.All(ctx, &hits); err != nil {
		return nil, fmt.Errorf("mongo: _has: %w", err)
	}
	traceIDs(ctx, "_has:"+c.Has.Type+":"+c.Has.RefParam+": the "+c.Has.Type+" resources matching "+c.Has.Where.Param, len(hits), maxIDs)
	if len(hits) > maxIDs {
		return nil, tooCostly("_has:%s:%s matches more than %d resources; narrow the search", c.Has.Type, c.Has.RefParam, maxIDs)
	}
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	seen := map[string]bool{}
	ids := bson.A{}
	for _, h := range hits {
		for _, r := range h.Ix.Ref {
			if r.P != c.Has.RefParam || r.T == "" || r.I == "" || (len(want) > 0 && !want[r.T]) {
				continue
			}
			k := r.T + "/" + r.I
			if !seen[k] {
				seen[k] = true
				ids = append(ids, k)
			}
		}
	}
	traceIDs(ctx, "_has:"+c.Has.Type+":"+c.Has.RefParam+": the resources they refer to", len(ids), 0)
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, nil
}
