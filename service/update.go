package service

import (
	"context"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// Update stores body as the new version of typ/id, creating it with that id
// when absent (update as create, which needs the 'u' letter only).
func (s *Service) Update(ctx context.Context, typ, id string, body []byte, pre Preconditions) (*Result, error) {
	return s.updateRequest(ctx, write{typ: typ, id: id, body: body, pre: pre})
}

// UpdateTrusted is Update for definitions the server loaded and uses itself
// (the conformance resources of its packages, stored at start): they are
// stored as published, without the write validation, since a package's
// quirks (FR Core has a slicing without discriminator) must not hide a
// definition the validator relies on. Never for what a client sent.
func (s *Service) UpdateTrusted(ctx context.Context, typ, id string, body []byte) (*Result, error) {
	return s.updateRequest(ctx, write{typ: typ, id: id, body: body, trusted: true})
}

func (s *Service) updateRequest(ctx context.Context, w write) (*Result, error) {
	typ, id := w.typ, w.id
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	lim, err := s.writeGrant(ctx, "PUT", typ)
	if err != nil {
		return nil, err
	}
	w.lim = lim
	res, err := decodeFor(typ, w.body)
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
	w.res, w.now = res, s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) { return s.update(ctx, tx, w) })
}

func (s *Service) update(ctx context.Context, tx store.Tx, w write) (*Result, error) {
	cur, err := readCurrent(ctx, tx, w.typ, w.id)
	if err != nil {
		return nil, err
	}
	if err := s.mayChange(ctx, tx, "PUT", w.lim, cur); err != nil {
		return nil, err
	}
	if w.pre.IfNoneMatchAny && cur != nil && !cur.Deleted {
		return nil, fhir.Errorf(412, "duplicate", "", "If-None-Match: * but %s/%s exists", w.typ, w.id)
	}
	if err := checkIfMatch(w.pre.IfMatch, cur); err != nil {
		return nil, err
	}
	w.method = "PUT"
	r, issues, err := s.put(ctx, tx, w, cur)
	if err != nil {
		return nil, err
	}
	status := 200
	if cur == nil || cur.Deleted {
		status = 201
	}
	return &Result{Resource: r, Status: status, Outcome: issues}, nil
}

// ConditionalUpdate is PUT Type?criteria: update the one match, create when
// none (with the body's id if it has one), 412 when several.
func (s *Service) ConditionalUpdate(ctx context.Context, typ, query string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, ""); err != nil {
		return nil, err
	}
	lim, err := s.writeGrant(ctx, "PUT", typ)
	if err != nil {
		return nil, err
	}
	mlim, err := s.matchGrant(ctx, typ)
	if err != nil {
		return nil, err
	}
	res, err := decodeFor(typ, body)
	if err != nil {
		return nil, err
	}
	w := write{typ: typ, query: query, res: res, body: body, pre: pre, now: s.now(), lim: lim, mlim: mlim}
	return s.run(ctx, func(tx store.Tx) (*Result, error) { return s.conditionalUpdate(ctx, tx, w) })
}

func (s *Service) conditionalUpdate(ctx context.Context, tx store.Tx, w write) (*Result, error) {
	bid, _ := w.res["id"].(string)
	id, err := s.resolveConditionalID(ctx, tx, w.typ, w.query, bid, w.lim, w.mlim)
	if err != nil {
		return nil, err
	}
	w.id = id
	return s.update(ctx, tx, w)
}
