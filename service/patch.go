package service

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/patch"
	"github.com/dccfhir/dccfhir/store"
)

// Patch content types.
const (
	JSONPatch = "application/json-patch+json"
	FHIRJSON  = "application/fhir+json"
)

// Patch applies a JSON Patch or a FHIRPath Patch (Parameters) to typ/id.
// The patched resource is returned only when the caller may read it (its
// content withheld otherwise: Result.Withheld). A patch's test operations
// still answer whether a value is what the caller guessed (422 when not):
// a u-only token can probe values it cannot read, one guess per request.
// Every successful patch writes a version, a no-op one too.
func (s *Service) Patch(ctx context.Context, typ, id, contentType string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	lim, err := s.writeGrant(ctx, "PATCH", typ)
	if err != nil {
		return nil, err
	}
	apply, err := patcher(typ, contentType, body)
	if err != nil {
		return nil, err
	}
	w := write{typ: typ, id: id, apply: apply, pre: pre, now: s.now(), lim: lim}
	return s.run(ctx, func(tx store.Tx) (*Result, error) { return s.patch(ctx, tx, w) })
}

// ConditionalPatch is PATCH Type?criteria on the single match.
func (s *Service) ConditionalPatch(ctx context.Context, typ, query, contentType string, body []byte, pre Preconditions) (*Result, error) {
	if err := checkTypeID(typ, ""); err != nil {
		return nil, err
	}
	lim, err := s.writeGrant(ctx, "PATCH", typ)
	if err != nil {
		return nil, err
	}
	mlim, err := s.matchGrant(ctx, typ)
	if err != nil {
		return nil, err
	}
	apply, err := patcher(typ, contentType, body)
	if err != nil {
		return nil, err
	}
	w := write{typ: typ, query: query, apply: apply, pre: pre, now: s.now(), lim: lim, mlim: mlim}
	return s.run(ctx, func(tx store.Tx) (*Result, error) { return s.conditionalPatch(ctx, tx, w) })
}

func (s *Service) conditionalPatch(ctx context.Context, tx store.Tx, w write) (*Result, error) {
	m, err := s.match(ctx, tx, w.typ, w.query, true, w.lim, w.mlim)
	if err != nil {
		return nil, err
	}
	switch len(m) {
	case 0:
		return nil, fhir.Errorf(404, "not-found", "", "%s?%s matches nothing to patch", w.typ, w.query)
	case 1:
		w.id = m[0].ID
		return s.patch(ctx, tx, w)
	}
	return nil, fhir.Errorf(412, "multiple-matches", "", "%s?%s matches more than one resource", w.typ, w.query)
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

func (s *Service) patch(ctx context.Context, tx store.Tx, w write) (*Result, error) {
	typ, id := w.typ, w.id
	cur, err := readCurrent(ctx, tx, typ, id)
	if err != nil {
		return nil, err
	}
	if cur == nil || (cur.Deleted && w.lim != nil) {
		// under a narrowing grant a deleted resource is not known either:
		// what it was cannot be checked, and a 410 would say it existed
		return nil, w.lim.notKnown(typ, id)
	}
	if cur.Deleted {
		return nil, fhir.Errorf(410, "deleted", "", "%s/%s was deleted", typ, id)
	}
	if err := s.mayChange(ctx, tx, "PATCH", w.lim, cur); err != nil {
		return nil, err
	}
	if err := checkIfMatch(w.pre.IfMatch, cur); err != nil {
		return nil, err
	}
	doc, err := fhir.DecodeStored(cur.JSON)
	if err != nil {
		return nil, err
	}
	out, err := w.apply(doc)
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
	w.res, w.body, w.method = out, body, "PATCH"
	r, issues, err := s.put(ctx, tx, w, cur)
	if err != nil {
		return nil, err
	}
	// the result holds what the caller did not send: shown only to a reader
	return &Result{Resource: r, Status: 200, Outcome: issues, shows: true}, nil
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
