package service

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
)

// EntryRequest is Bundle.entry.request.
type EntryRequest = fhir.BundleRequest

// parseBundle splits body into its entries with the one Bundle splitter,
// strictly: the members the server reads are decoded (and so checked),
// every other member is checked to be valid JSON, and any problem refuses
// the Bundle as a whole; resources are checked when they are decoded.
func parseBundle(body []byte) (*fhir.RawBundle, error) {
	return fhir.SplitBundle(body, fhir.StrictSplit)
}

// entry is one parsed Bundle entry ready to run.
type entry struct {
	index    int
	fullURL  string
	req      EntryRequest
	method   string
	typ, id  string // from the request URL
	query    string // conditional criteria after '?'
	raw      []byte // the resource as sent, references resolved in step 3
	bodyID   string // the resource's own id
	patchFn  applyFunc
	finalRef string // Type/id this entry's resource ends up as
	lim      *limit // the caller's grant for the entry (writeGrant)
	mlim     *limit // and for its match, when conditional (matchGrant)
}

// conditional reports whether the entry is a conditional write, whose
// match is a search (see match).
func (e *entry) conditional() bool {
	return e.query != "" || (e.method == "POST" && e.req.IfNoneExist != "")
}

// write is the entry as a request of the write path, at instant now. A
// conditional DELETE in a Bundle never removes several matches.
func (e *entry) write(now time.Time) write {
	return write{typ: e.typ, id: e.id, query: e.query, body: e.raw, apply: e.patchFn, now: now, lim: e.lim, mlim: e.mlim,
		pre: Preconditions{IfMatch: e.req.IfMatch, IfNoneMatchAny: e.req.IfNoneMatch == "*"}}
}

// processing order of the specification: DELETE, POST, PUT/PATCH, GET.
var methodRank = map[string]int{"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}

// parseEntry checks one entry and decodes what it carries.
func (s *Service) parseEntry(i int, in *fhir.RawEntry) (*entry, error) {
	at := fmt.Sprintf("Bundle.entry[%d]", i)
	if in.Request == nil || in.Request.Method == "" || in.Request.URL == "" {
		return nil, fhir.Errorf(400, "required", at+".request", "every entry needs request.method and request.url")
	}
	e := &entry{index: i, fullURL: in.FullURL, req: *in.Request, method: strings.ToUpper(in.Request.Method)}
	if _, ok := methodRank[e.method]; !ok {
		return nil, fhir.Errorf(400, "not-supported", at+".request.method", "unknown method %q", in.Request.Method)
	}
	if e.method == "GET" || e.method == "HEAD" {
		if len(in.Resource) > 0 && !json.Valid(in.Resource) {
			return nil, fhir.Errorf(400, "structure", at+".resource", "resource is not valid JSON")
		}
		return e, nil
	}
	u := strings.TrimPrefix(e.req.URL, "/")
	if p, q, ok := strings.Cut(u, "?"); ok {
		u, e.query = p, q
	}
	parts := strings.Split(u, "/")
	e.typ = parts[0]
	if !fhir.KnownType(e.typ) {
		return nil, fhir.Errorf(404, "not-supported", at+".request.url", "unknown resource type in %q", e.req.URL)
	}
	switch {
	case len(parts) == 2 && e.query == "":
		e.id = parts[1]
		if !fhir.ValidID(e.id) {
			return nil, fhir.Errorf(400, "value", at+".request.url", "invalid id in %q", e.req.URL)
		}
	case len(parts) == 1:
	default:
		return nil, fhir.Errorf(400, "invalid", at+".request.url", "cannot %s %q", e.method, e.req.URL)
	}
	switch e.method {
	case "POST":
		if e.id != "" || e.query != "" {
			return nil, fhir.Errorf(400, "invalid", at+".request.url", "POST takes a type URL, not %q", e.req.URL)
		}
	case "PUT", "DELETE", "PATCH":
		if e.id == "" && e.query == "" {
			return nil, fhir.Errorf(400, "invalid", at+".request.url", "%s needs Type/id or Type?criteria, not %q", e.method, e.req.URL)
		}
	}
	if e.method == "DELETE" {
		if len(in.Resource) > 0 && !json.Valid(in.Resource) {
			return nil, fhir.Errorf(400, "structure", at+".resource", "resource is not valid JSON")
		}
		return e, nil
	}
	if len(in.Resource) == 0 {
		return nil, fhir.Errorf(400, "required", at+".resource", "a %s entry needs a resource", e.method)
	}
	e.raw = in.Resource
	if e.method == "PATCH" {
		fn, err := bundlePatcher(e.typ, e.raw)
		if err != nil {
			return nil, err
		}
		e.patchFn = fn
		return e, nil
	}
	// Only the head is read here: the resource is decoded once, when it is
	// prepared, after its references are resolved — so a large Bundle never
	// holds all its decoded resources at once.
	rt, bid, err := head(e.raw)
	switch {
	case err != nil:
		return nil, fhir.Errorf(400, "structure", at+".resource", "resource is not a JSON object: %v", err)
	case rt == "":
		return nil, fhir.Errorf(400, "required", at+".resource.resourceType", "resource has no resourceType")
	case rt != e.typ:
		return nil, fhir.Errorf(400, "invalid", at+".resource.resourceType", "resourceType %q does not match request.url %q", rt, e.req.URL)
	case e.method == "PUT" && e.id != "" && bid != e.id:
		return nil, fhir.Errorf(400, "invalid", at+".resource.id", "the resource id (%q) does not match request.url %q", bid, e.req.URL)
	}
	e.bodyID = bid
	return e, nil
}

// head reads the top-level resourceType and id of a JSON resource without
// decoding the rest.
func head(raw []byte) (rt, id string, err error) {
	ms, err := fhir.Members(raw)
	if err != nil {
		return "", "", err
	}
	for _, m := range ms {
		switch m.Key {
		case "resourceType":
			_ = json.Unmarshal(m.Value, &rt)
		case "id":
			_ = json.Unmarshal(m.Value, &id)
		}
	}
	return rt, id, nil
}

// bundlePatcher reads a PATCH entry's resource: a Parameters (FHIRPath
// Patch) or a Binary holding a JSON Patch.
func bundlePatcher(typ string, raw []byte) (applyFunc, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         string `json:"data"`
	}
	_ = json.Unmarshal(raw, &head)
	if head.ResourceType == "Binary" {
		data, err := base64.StdEncoding.DecodeString(head.Data)
		if err != nil {
			return nil, fhir.Errorf(400, "value", "Binary.data", "not base64: %v", err)
		}
		return patcher(typ, head.ContentType, data)
	}
	return patcher(typ, FHIRJSON, raw)
}
