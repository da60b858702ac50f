package service

import (
	"context"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// Create stores a new resource with a server-assigned id; with
// pre.IfNoneExist it returns the single existing match instead (200; its
// content withheld when the caller may not read it), or 412 when several
// match.
func (s *Service) Create(ctx context.Context, typ string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, ""); err != nil {
		return nil, err
	}
	lim, err := s.writeGrant(ctx, "POST", typ)
	if err != nil {
		return nil, err
	}
	var mlim *limit
	if pre.IfNoneExist != "" {
		if mlim, err = s.matchGrant(ctx, typ); err != nil {
			return nil, err
		}
	}
	res, err := decodeFor(typ, body)
	if err != nil {
		return nil, err
	}
	w := write{typ: typ, res: res, body: body, pre: pre, now: s.now(), lim: lim, mlim: mlim}
	return s.run(ctx, func(tx store.Tx) (*Result, error) { return s.create(ctx, tx, w) })
}

// create is Create inside tx; w.id, when set, is the id to use (a
// transaction assigns ids before it runs).
func (s *Service) create(ctx context.Context, tx store.Tx, w write) (*Result, error) {
	if ine := w.pre.IfNoneExist; ine != "" {
		m, err := s.match(ctx, tx, w.typ, ine, true, w.lim, w.mlim)
		if err != nil {
			return nil, err
		}
		switch len(m) {
		case 0:
		case 1:
			return &Result{Resource: m[0], Status: 200, shows: true}, nil
		default:
			return nil, fhir.Errorf(412, "multiple-matches", "", "If-None-Exist %q matches more than one %s", ine, w.typ)
		}
	}
	if w.id == "" {
		w.id = s.newID()
	}
	w.method = "POST"
	r, issues, err := s.put(ctx, tx, w, nil)
	if err != nil {
		return nil, err
	}
	return &Result{Resource: r, Status: 201, Outcome: issues}, nil
}
