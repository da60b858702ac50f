package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/patch"
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

// maxAttempts bounds retries of an interaction that lost a version race.
const maxAttempts = 10

// run executes op in one storage transaction, retrying when a concurrent
// writer took the version it meant to write (the op re-reads and decides
// again, so an If-Match that has gone stale turns into a 412, never into a
// silent overwrite).
func (s *Service) run(ctx context.Context, op func(tx store.Tx) (*Result, error)) (*Result, error) {
	var res *Result
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = s.Store.Update(ctx, func(tx store.Tx) error {
			var e error
			res, e = op(tx)
			return e
		})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, storeErr(err, "", "")
	}
	if res != nil {
		s.afterCommit(res.Resource)
	}
	return res, nil
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func checkTypeID(typ, id string) error {
	if !fhir.KnownType(typ) {
		return fhir.Errorf(404, "not-supported", "", "unknown resource type %q", typ)
	}
	if id != "" && !fhir.ValidID(id) {
		return fhir.Errorf(400, "value", "", "invalid id %q: ids are 1 to 64 of [A-Za-z0-9-.]", id)
	}
	return nil
}

// decodeFor decodes a request body that must be a resource of type typ.
func decodeFor(typ string, body []byte) (map[string]any, error) {
	res, ferr := fhir.Decode(body)
	if ferr != nil {
		return nil, ferr
	}
	rt, _ := res["resourceType"].(string)
	switch {
	case rt == "":
		return nil, fhir.Errorf(400, "required", "resourceType", "resource has no resourceType")
	case rt != typ:
		return nil, fhir.Errorf(400, "invalid", "resourceType", "resourceType %q does not match the URL type %q", rt, typ)
	}
	return res, nil
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

func readCurrent(ctx context.Context, r store.Reader, typ, id string) (*store.Resource, error) {
	cur, err := r.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return cur, err
}

// Read returns the current version; 404 if it never existed, 410 if deleted
// (the tombstone comes back with the 410 error for its ETag).
func (s *Service) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	cur, err := readCurrent(ctx, s.Store, typ, id)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, fhir.Errorf(404, "not-found", "", "%s/%s is not known", typ, id)
	}
	if cur.Deleted {
		return cur, fhir.Errorf(410, "deleted", "", "%s/%s was deleted (version %d)", typ, id, cur.Version)
	}
	return cur, nil
}

// VRead returns one version; a deletion version is 410.
func (s *Service) VRead(ctx context.Context, typ, id, vid string) (*store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	v, err := strconv.ParseInt(vid, 10, 64)
	if err != nil || v < 1 {
		return nil, fhir.Errorf(404, "not-found", "", "%s/%s has no version %q", typ, id, vid)
	}
	r, err := s.Store.VRead(ctx, typ, id, v)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fhir.Errorf(404, "not-found", "", "%s/%s has no version %d", typ, id, v)
	}
	if err != nil {
		return nil, err
	}
	if r.Deleted {
		return r, fhir.Errorf(410, "deleted", "", "version %d of %s/%s is a deletion", v, typ, id)
	}
	return r, nil
}

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

// match runs a conditional query (the part after '?') within tx. With lock,
// it first takes the storage lock on the query so concurrent identical
// conditional writes serialise and cannot both create.
func (s *Service) match(ctx context.Context, tx store.Tx, typ, query string, lock bool) ([]*store.Resource, error) {
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
	q.Count = 2
	sr, err := tx.Search(ctx, q)
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
	return q, nil
}

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

// resolveConditionalID picks the id a conditional update writes to.
// bid is the id in the body, if any.
func (s *Service) resolveConditionalID(ctx context.Context, tx store.Tx, typ, query, bid string) (string, error) {
	m, err := s.match(ctx, tx, typ, query, true)
	if err != nil {
		return "", err
	}
	switch len(m) {
	case 0:
		if bid == "" {
			return newID(), nil
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

// Delete deletes typ/id (a new, deleted version). Deleting what does not
// exist, or is already deleted, succeeds with nothing done.
func (s *Service) Delete(ctx context.Context, typ, id string, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	now := s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) {
		return s.delete(ctx, tx, typ, id, pre, now)
	})
}

func (s *Service) delete(ctx context.Context, tx store.Tx, typ, id string, pre Preconditions, now time.Time) (*Result, error) {
	cur, err := readCurrent(ctx, tx, typ, id)
	if err != nil {
		return nil, err
	}
	if err := checkIfMatch(pre.IfMatch, cur); err != nil {
		return nil, err
	}
	if cur == nil || cur.Deleted {
		return &Result{Resource: cur, Status: 204, Outcome: []fhir.Issue{{Severity: "information", Code: "not-found", Diagnostics: typ + "/" + id + " does not exist; nothing deleted"}}}, nil
	}
	r, err := s.tombstone(ctx, tx, cur, now)
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
	now := s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) {
		return s.conditionalDelete(ctx, tx, typ, query, multiple, now)
	})
}

func (s *Service) conditionalDelete(ctx context.Context, tx store.Tx, typ, query string, multiple bool, now time.Time) (*Result, error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, fhir.Errorf(400, "invalid", "", "conditional query %q: %v", query, err)
	}
	q, err := s.conditionalQuery(typ, vals)
	if err != nil {
		return nil, err
	}
	if err := tx.Lock(ctx, typ+"?"+vals.Encode()); err != nil {
		return nil, err
	}
	limit := 2
	if multiple {
		limit = s.MaxCount + 1
	}
	q.Count = limit
	sr, err := tx.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	m := sr.Resources
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
		if last, err = s.tombstone(ctx, tx, cur, now); err != nil {
			return nil, err
		}
	}
	res := &Result{Status: 204, Outcome: []fhir.Issue{{Severity: "information", Code: "informational", Diagnostics: strconv.Itoa(len(m)) + " resource(s) deleted"}}}
	if len(m) == 1 {
		res.Resource = last
	}
	return res, nil
}

// Patch content types.
const (
	JSONPatch = "application/json-patch+json"
	FHIRJSON  = "application/fhir+json"
)

// Patch applies a JSON Patch or a FHIRPath Patch (Parameters) to typ/id.
func (s *Service) Patch(ctx context.Context, typ, id, contentType string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	apply, err := patcher(typ, contentType, body)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) {
		return s.patch(ctx, tx, typ, id, apply, pre, now)
	})
}

// ConditionalPatch is PATCH Type?criteria on the single match.
func (s *Service) ConditionalPatch(ctx context.Context, typ, query, contentType string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, ""); err != nil {
		return nil, err
	}
	apply, err := patcher(typ, contentType, body)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.run(ctx, func(tx store.Tx) (*Result, error) {
		m, err := s.match(ctx, tx, typ, query, true)
		if err != nil {
			return nil, err
		}
		switch len(m) {
		case 0:
			return nil, fhir.Errorf(404, "not-found", "", "%s?%s matches nothing to patch", typ, query)
		case 1:
			return s.patch(ctx, tx, typ, m[0].ID, apply, pre, now)
		}
		return nil, fhir.Errorf(412, "multiple-matches", "", "%s?%s matches more than one resource", typ, query)
	})
}

type applyFunc func(doc map[string]any) (map[string]any, error)

// patcher parses a patch body once and returns the function applying it.
func patcher(typ, contentType string, body []byte) (applyFunc, error) {
	switch contentType {
	case JSONPatch:
		// Decoded with the resource parser, so the values a patch writes are
		// held to the same rules (UTF-8, no lone surrogates) as a body.
		ops, err := fhir.DecodeValue(body)
		if err != nil {
			return nil, fhir.Errorf(400, "structure", "", "JSON Patch body is not valid JSON: %v", err)
		}
		if _, ok := ops.([]any); !ok {
			return nil, fhir.Errorf(400, "structure", "", "JSON Patch body must be a JSON array of operations")
		}
		return func(doc map[string]any) (map[string]any, error) { return patch.ApplyJSONPatch(doc, body) }, nil
	case FHIRJSON, "application/json":
		params, err := decodeFor("Parameters", body)
		if err != nil {
			return nil, err
		}
		return func(doc map[string]any) (map[string]any, error) { return patch.ApplyFHIRPathPatch(typ, doc, params) }, nil
	}
	return nil, fhir.Errorf(415, "not-supported", "", "PATCH takes %s (JSON Patch) or %s (FHIRPath Patch Parameters), not %q", JSONPatch, FHIRJSON, contentType)
}

func (s *Service) patch(ctx context.Context, tx store.Tx, typ, id string, apply applyFunc, pre Preconditions, now time.Time) (*Result, error) {
	cur, err := readCurrent(ctx, tx, typ, id)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, fhir.Errorf(404, "not-found", "", "%s/%s is not known", typ, id)
	}
	if cur.Deleted {
		return nil, fhir.Errorf(410, "deleted", "", "%s/%s was deleted", typ, id)
	}
	if err := checkIfMatch(pre.IfMatch, cur); err != nil {
		return nil, err
	}
	doc, ferr := fhir.Decode(cur.JSON)
	if ferr != nil {
		return nil, ferr
	}
	out, err := apply(doc)
	if err != nil {
		if fe, ok := isClientErr(err); ok {
			return nil, fe
		}
		return nil, fhir.Errorf(422, "processing", "", "patch cannot be applied: %v", err)
	}
	if rt, _ := out["resourceType"].(string); rt != typ {
		return nil, fhir.Errorf(422, "processing", "resourceType", "a patch may not change resourceType")
	}
	if rid, _ := out["id"].(string); rid != id {
		return nil, fhir.Errorf(422, "processing", typ+".id", "a patch may not change the id")
	}
	body, err := marshal(out)
	if err != nil {
		return nil, err
	}
	r, err := s.put(ctx, tx, typ, id, cur, out, body, "PATCH", now)
	if err != nil {
		return nil, err
	}
	return &Result{Resource: r, Status: 200}, nil
}

// marshal writes a generic tree back to JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(b.String(), "\n")), nil
}
