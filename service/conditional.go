package service

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// Preconditions are the HTTP conditional headers of a write.
type Preconditions struct {
	// IfMatch is the If-Match header (W/"3", "3" or 3); "" for none.
	IfMatch string
	// IfNoneMatchAny is If-None-Match: * on PUT: only create, never overwrite.
	IfNoneMatchAny bool
	// IfNoneExist is the conditional-create query ("identifier=sys|val").
	IfNoneExist string
}

// ParseETag reads a version from an ETag / If-Match value: W/"3", "3" or 3.
func ParseETag(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}

// checkIfMatch enforces If-Match against the current version cur (nil when absent).
func checkIfMatch(ifMatch string, cur *store.Resource) error {
	if ifMatch == "" {
		return nil
	}
	v, ok := ParseETag(ifMatch)
	if !ok {
		return fhir.Errorf(400, "invalid", "", "If-Match %q is not a version ETag such as W/\"3\"", ifMatch)
	}
	if cur == nil || cur.Deleted {
		return fhir.Errorf(412, "conflict", "", "If-Match %s: the resource does not exist", ifMatch)
	}
	if cur.Version != v {
		return fhir.Errorf(412, "conflict", "", "If-Match %s: the current version is %d", ifMatch, cur.Version)
	}
	return nil
}

// match runs a conditional query (the part after '?') within tx and
// returns up to two matches: enough to tell none, one and several. With
// lock, it first takes the storage lock on the query so concurrent
// identical conditional writes serialise and cannot both create.
//
// The match is a search, narrowed to each of lims: the caller's grant for
// the interaction's own letter on typ (c for a conditional create, u for
// update and patch, d for delete) and its grant of 's' on typ, which a
// conditional write needs too (write.mlim: SMART's write letters imply no
// search, and a match tells what exists); a Bundle's conditional
// reference, a search only, is narrowed to 's'. A resource outside them
// never matches, so it behaves as no match (HAPI FHIR's choice, PR #3048)
// and the answer tells nothing of it.
func (s *Service) match(ctx context.Context, tx store.Tx, typ, query string, lock bool, lims ...*limit) ([]*store.Resource, error) {
	return s.matchUpTo(ctx, tx, typ, query, lock, 2, lims...)
}

// matchUpTo is match returning up to limit matches (a conditional delete
// of several takes them all).
func (s *Service) matchUpTo(ctx context.Context, tx store.Tx, typ, query string, lock bool, limit int, lims ...*limit) ([]*store.Resource, error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, fhir.Errorf(400, "invalid", "", "conditional query %q: %v", query, err)
	}
	q, err := s.conditionalQuery(typ, vals)
	if err != nil {
		return nil, err
	}
	if lock {
		if err := tx.Lock(ctx, typ+"?"+vals.Encode()); err != nil {
			return nil, err
		}
	}
	q.Count = limit
	p, err := s.planNarrowed(ctx, tx, q, "", "", lims...)
	if err != nil {
		return nil, err
	}
	sr, err := s.execute(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	return sr.Resources, nil
}

// conditionalQuery parses the criteria of a conditional interaction. Unlike
// a search, an unknown parameter is an error here: ignoring it would widen
// the match and update or delete the wrong resources.
func (s *Service) conditionalQuery(typ string, vals url.Values) (*query.Query, error) {
	q, unknown, err := search.Parse(s.Params, typ, vals)
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		return nil, unknownErr("conditional criteria use", unknown)
	}
	if len(q.Where) == 0 {
		return nil, fhir.Errorf(412, "processing", "", "conditional criteria %q select nothing specific", vals.Encode())
	}
	// what shapes a search result does not change which resources match,
	// and must not make the match (inside the write transaction) costlier
	q.Include, q.RevInclude, q.Sort, q.Total, q.Summary, q.Elements, q.Page = nil, nil, nil, false, "", nil, ""
	return q, nil
}

// resolveConditionalID picks the id a conditional update writes to, the
// match narrowed to lims. bid is the id in the body, if any.
func (s *Service) resolveConditionalID(ctx context.Context, tx store.Tx, typ, query, bid string, lims ...*limit) (string, error) {
	m, err := s.match(ctx, tx, typ, query, true, lims...)
	if err != nil {
		return "", err
	}
	switch len(m) {
	case 0:
		if bid == "" {
			return s.newID(), nil
		}
		if !fhir.ValidID(bid) {
			return "", fhir.Errorf(400, "value", typ+".id", "invalid id %q", bid)
		}
		// The body's id must not land on an existing resource the criteria did not select.
		if cur, err := readCurrent(ctx, tx, typ, bid); err != nil {
			return "", err
		} else if cur != nil && !cur.Deleted {
			return "", fhir.Errorf(409, "conflict", typ+".id", "%s/%s exists but does not match %q", typ, bid, query)
		}
		return bid, nil
	case 1:
		if bid != "" && bid != m[0].ID {
			return "", fhir.Errorf(400, "invalid", typ+".id", "the id in the body (%q) is not the id of the match (%q)", bid, m[0].ID)
		}
		return m[0].ID, nil
	}
	return "", fhir.Errorf(412, "multiple-matches", "", "%s?%s matches more than one resource", typ, query)
}
