package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// maxIncluded bounds what one _include/_revinclude directive brings in.
const maxIncluded = 1000

// includes follows _include (references out of the page) and _revinclude
// (resources referring to it); :iterate directives run again on what they
// brought in, a few rounds at most.
func (s *Store) includes(ctx context.Context, q *query.Query, page []*resDoc, seen map[string]bool) ([]*resDoc, error) {
	var out []*resDoc
	src := page
	for round := 0; len(src) > 0 && round < 4; round++ {
		var next []*resDoc
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			ids := bson.A{}
			for _, d := range src {
				if inc.Type != "*" && d.Type != inc.Type {
					continue
				}
				for _, r := range d.Ix.Ref {
					if (inc.Param != "*" && r.P != inc.Param) || r.T == "" || r.I == "" || (inc.TargetType != "" && r.T != inc.TargetType) {
						continue
					}
					k := r.T + "/" + r.I
					if !seen[k] {
						seen[k] = true
						ids = append(ids, k)
					}
				}
			}
			if len(ids) == 0 {
				continue
			}
			got, err := s.fetch(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "deleted", Value: false}}, nil)
			if err != nil {
				return nil, err
			}
			next = append(next, got...)
		}
		for _, ri := range q.RevInclude {
			if round > 0 && !ri.Iterate {
				continue
			}
			byType := map[string]bson.A{}
			var types []string
			for _, d := range src {
				if ri.TargetType != "" && d.Type != ri.TargetType {
					continue
				}
				if _, ok := byType[d.Type]; !ok {
					types = append(types, d.Type)
				}
				byType[d.Type] = append(byType[d.Type], d.RID)
			}
			if len(types) == 0 {
				continue
			}
			param := ri.Param
			if param == "*" {
				param = ""
			}
			var fs []bson.D
			for _, t := range types {
				pred := &elemPred{arr: "ref", param: param, any: [][]cond{{{"i", "$in", byType[t]}, eq("t", t)}}}
				f, err := s.revFilter(ctx, ri.Type, pred)
				if err != nil {
					return nil, err
				}
				fs = append(fs, f)
			}
			var ors bson.A
			for _, f := range fs {
				ors = append(ors, f)
			}
			got, err := s.fetch(ctx, bson.D{{Key: "type", Value: ri.Type}, {Key: "deleted", Value: false}, {Key: "$or", Value: ors}}, seen)
			if err != nil {
				return nil, err
			}
			next = append(next, got...)
		}
		out = append(out, next...)
		src = next
	}
	return out, nil
}

// revFilter is the filter of resources of typ with a reference matching
// pred; an empty param means any reference parameter.
func (s *Store) revFilter(ctx context.Context, typ string, pred *elemPred) (bson.D, error) {
	if pred.param != "" {
		return s.predFilter(ctx, []string{typ}, pred, false)
	}
	conj := pred.any[0]
	if s.elemMatch {
		m := bson.D{}
		for _, c := range conj {
			m = append(m, bson.E{Key: c.f, Value: bson.D{{Key: c.op, Value: c.v}}})
		}
		return bson.D{{Key: "ref", Value: bson.D{{Key: "$elemMatch", Value: m}}}}, nil
	}
	// Without $elemMatch: candidates by reference id, then exact check.
	cur, err := s.res.Find(ctx, bson.D{{Key: "type", Value: typ}, {Key: "deleted", Value: false}},
		options.Find().SetProjection(bson.D{{Key: "ref", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: _revinclude: %w", err)
	}
	var docs []resDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: _revinclude: %w", err)
	}
	ids := bson.A{}
	for _, d := range docs {
		for _, r := range d.Ix.Ref {
			if compare(r.I, conj[0]) && compare(r.T, conj[1]) {
				ids = append(ids, d.ID)
				break
			}
		}
	}
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, nil
}

// fetch reads current documents by filter (skipping and marking seen ones
// when seen is given), bounded by maxIncluded.
func (s *Store) fetch(ctx context.Context, filter bson.D, seen map[string]bool) ([]*resDoc, error) {
	cur, err := s.res.Find(ctx, filter, options.Find().SetProjection(searchProjection).SetLimit(maxIncluded).SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: include: %w", err)
	}
	var docs []*resDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: include: %w", err)
	}
	if seen == nil {
		return docs, nil
	}
	var out []*resDoc
	for _, d := range docs {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out, nil
}
