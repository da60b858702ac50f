package service

import (
	"context"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// Create stores a new resource with a server-assigned id; with
// pre.IfNoneExist it returns the single existing match instead (200), or
// 412 when several match.
func (s *Service) Create(ctx context.Context, typ string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, ""); err != nil {
		return nil, err
	}
	res, err := decodeFor(typ, body)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) {
		return s.create(ctx, tx, typ, res, body, pre.IfNoneExist, now, "")
	})
}

// create is Create inside tx; id, when set, is the id to use (a
// transaction assigns ids before it runs).
func (s *Service) create(ctx context.Context, tx store.Tx, typ string, res map[string]any, body []byte, ifNoneExist string, now time.Time, id string) (*Result, error) {
	if ifNoneExist != "" {
		m, err := s.match(ctx, tx, typ, ifNoneExist, true)
		if err != nil {
			return nil, err
		}
		switch len(m) {
		case 0:
		case 1:
			return &Result{Resource: m[0], Status: 200}, nil
		default:
			return nil, fhir.Errorf(412, "multiple-matches", "", "If-None-Exist %q matches more than one %s", ifNoneExist, typ)
		}
	}
	if id == "" {
		id = newID()
	}
	r, err := s.put(ctx, tx, typ, id, nil, res, body, "POST", now)
	if err != nil {
		return nil, err
	}
	return &Result{Resource: r, Status: 201}, nil
}
