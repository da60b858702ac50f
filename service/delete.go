package service

import (
	"context"
	"strconv"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// Delete deletes typ/id (a new, deleted version). Deleting what does not
// exist, or is already deleted, succeeds with nothing done.
func (s *Service) Delete(ctx context.Context, typ, id string, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	lim, err := s.writeGrant(ctx, "DELETE", typ)
	if err != nil {
		return nil, err
	}
	w := write{typ: typ, id: id, pre: pre, now: s.now(), lim: lim}
	return s.run(ctx, func(tx store.Tx) (*Result, error) { return s.delete(ctx, tx, w) })
}

func (s *Service) delete(ctx context.Context, tx store.Tx, w write) (*Result, error) {
	typ, id := w.typ, w.id
	cur, err := readCurrent(ctx, tx, typ, id)
	if err != nil {
		return nil, err
	}
	if err := s.mayChange(ctx, tx, "DELETE", w.lim, cur); err != nil {
		return nil, err
	}
	if err := checkIfMatch(w.pre.IfMatch, cur); err != nil {
		return nil, err
	}
	if cur == nil || cur.Deleted {
		return &Result{Resource: cur, Status: 204, Outcome: []fhir.Issue{{Severity: "information", Code: "not-found", Diagnostics: typ + "/" + id + " does not exist; nothing deleted"}}}, nil
	}
	r, err := s.tombstone(ctx, tx, cur, w.now)
	if err != nil {
		return nil, err
	}
	return &Result{Resource: r, Status: 204}, nil
}

// ConditionalDelete deletes what the criteria select: with multiple off,
// more than one match is a 412; with it on, every match (up to MaxCount).
func (s *Service) ConditionalDelete(ctx context.Context, typ, query string, multiple bool) (*Result, error) {
	if err := checkTypeID(typ, ""); err != nil {
		return nil, err
	}
	lim, err := s.writeGrant(ctx, "DELETE", typ)
	if err != nil {
		return nil, err
	}
	mlim, err := s.matchGrant(ctx, typ)
	if err != nil {
		return nil, err
	}
	w := write{typ: typ, query: query, multiple: multiple, now: s.now(), lim: lim, mlim: mlim}
	return s.run(ctx, func(tx store.Tx) (*Result, error) { return s.conditionalDelete(ctx, tx, w) })
}

func (s *Service) conditionalDelete(ctx context.Context, tx store.Tx, w write) (*Result, error) {
	typ, query, multiple := w.typ, w.query, w.multiple
	limit := 2
	if multiple {
		limit = s.MaxCount + 1
	}
	m, err := s.matchUpTo(ctx, tx, typ, query, true, limit, w.lim, w.mlim)
	if err != nil {
		return nil, err
	}
	if len(m) > 1 && !multiple {
		return nil, fhir.Errorf(412, "multiple-matches", "", "%s?%s matches more than one resource", typ, query)
	}
	if len(m) > s.MaxCount {
		return nil, fhir.Errorf(412, "too-costly", "", "%s?%s matches more than %d resources; delete in smaller sets", typ, query, s.MaxCount)
	}
	if len(m) == 0 {
		return &Result{Status: 204, Outcome: []fhir.Issue{{Severity: "information", Code: "not-found", Diagnostics: "no match; nothing deleted"}}}, nil
	}
	var last *store.Resource
	for _, cur := range m {
		if last, err = s.tombstone(ctx, tx, cur, w.now); err != nil {
			return nil, err
		}
	}
	res := &Result{Status: 204, Outcome: []fhir.Issue{{Severity: "information", Code: "informational", Diagnostics: strconv.Itoa(len(m)) + " resource(s) deleted"}}}
	if len(m) == 1 {
		res.Resource = last
	}
	return res, nil
}
