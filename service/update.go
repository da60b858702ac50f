package service

import (
	"context"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// Update stores body as the new version of typ/id, creating it with that id
// when absent (update as create).
func (s *Service) Update(ctx context.Context, typ, id string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	res, err := decodeFor(typ, body)
	if err != nil {
		return nil, err
	}
	bid, _ := res["id"].(string)
	if bid == "" {
		return nil, fhir.Errorf(400, "required", typ+".id", "an update must carry the resource id in the body")
	}
	if bid != id {
		return nil, fhir.Errorf(400, "invalid", typ+".id", "the id in the body (%q) does not match the id in the URL (%q)", bid, id)
	}
	now := s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) {
		return s.update(ctx, tx, typ, id, res, body, pre, now)
	})
}

func (s *Service) update(ctx context.Context, tx store.Tx, typ, id string, res map[string]any, body []byte, pre Preconditions, now time.Time) (*Result, error) {
	cur, err := readCurrent(ctx, tx, typ, id)
	if err != nil {
		return nil, err
	}
	if pre.IfNoneMatchAny && cur != nil && !cur.Deleted {
		return nil, fhir.Errorf(412, "duplicate", "", "If-None-Match: * but %s/%s exists", typ, id)
	}
	if err := checkIfMatch(pre.IfMatch, cur); err != nil {
		return nil, err
	}
	r, err := s.put(ctx, tx, typ, id, cur, res, body, "PUT", now)
	if err != nil {
		return nil, err
	}
	status := 200
	if cur == nil || cur.Deleted {
		status = 201
	}
	return &Result{Resource: r, Status: status}, nil
}

// ConditionalUpdate is PUT Type?criteria: update the one match, create when
// none (with the body's id if it has one), 412 when several.
func (s *Service) ConditionalUpdate(ctx context.Context, typ, query string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, ""); err != nil {
		return nil, err
	}
	res, err := decodeFor(typ, body)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) {
		return s.conditionalUpdate(ctx, tx, typ, query, res, body, pre, now)
	})
}

func (s *Service) conditionalUpdate(ctx context.Context, tx store.Tx, typ, query string, res map[string]any, body []byte, pre Preconditions, now time.Time) (*Result, error) {
	bid, _ := res["id"].(string)
	id, err := s.resolveConditionalID(ctx, tx, typ, query, bid)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, tx, typ, id, res, body, pre, now)
}
