package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// EntryRequest is Bundle.entry.request.
type EntryRequest struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	IfNoneMatch     string `json:"ifNoneMatch"`
	IfModifiedSince string `json:"ifModifiedSince"`
	IfMatch         string `json:"ifMatch"`
	IfNoneExist     string `json:"ifNoneExist"`
}

type entryIn struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *EntryRequest   `json:"request"`
}

// bundleIn is a request Bundle split without decoding its resources: each
// entry's resource stays a sub-slice of the body, decoded once when it is
// prepared, so a large Bundle is neither scanned twice nor copied.
type bundleIn struct {
	ResourceType string
	Type         string
	Entry        []entryIn
}

// parseBundle splits body into its entries. The members the server reads
// are decoded (and so checked); every other member is checked to be valid
// JSON; resources are checked when they are decoded.
func parseBundle(body []byte) (*bundleIn, error) {
	ms, err := fhir.Members(body)
	if err != nil {
		var se *fhir.SyntaxError // a bad string anywhere: the whole Bundle is refused
		if errors.As(err, &se) {
			return nil, fhir.Errorf(400, "structure", "Bundle", "body is not valid JSON: %v", err)
		}
		return nil, fhir.Errorf(400, "structure", "Bundle", "not a Bundle: %v", err)
	}
	b := &bundleIn{}
	for _, m := range ms {
		at := "Bundle." + m.Key
		var err error
		switch m.Key {
		case "resourceType":
			err = json.Unmarshal(m.Value, &b.ResourceType)
		case "type":
			err = json.Unmarshal(m.Value, &b.Type)
		case "entry":
			if string(m.Value) == "null" {
				b.Entry = nil
				continue
			}
			var els [][]byte
			if els, err = fhir.Elements(m.Value); err != nil {
				break
			}
			b.Entry = make([]entryIn, len(els))
			for i, el := range els {
				if err := parseEntryIn(el, &b.Entry[i]); err != nil {
					return nil, fhir.Errorf(400, "structure", fmt.Sprintf("Bundle.entry[%d]", i), "not a Bundle entry: %v", err)
				}
			}
		default:
			if !json.Valid(m.Value) {
				err = errors.New("invalid JSON")
			}
		}
		if err != nil {
			return nil, fhir.Errorf(400, "structure", at, "not a Bundle: %s: %v", m.Key, err)
		}
	}
	return b, nil
}

// parseEntryIn reads one entry the way json.Unmarshal into entryIn would,
// keeping the resource as a sub-slice.
func parseEntryIn(el []byte, in *entryIn) error {
	ms, err := fhir.Members(el)
	if err != nil {
		return err
	}
	for _, m := range ms {
		switch m.Key {
		case "fullUrl":
			err = json.Unmarshal(m.Value, &in.FullURL)
		case "resource":
			in.Resource = json.RawMessage(m.Value)
		case "request":
			in.Request = nil
			if string(m.Value) != "null" {
				in.Request = &EntryRequest{}
				err = json.Unmarshal(m.Value, in.Request)
			}
		default:
			if !json.Valid(m.Value) {
				err = errors.New("invalid JSON")
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %v", m.Key, err)
		}
	}
	return nil
}

// EntryResult is what one entry came to; for a GET the handler's Getter
// fills Body.
type EntryResult struct {
	Request  EntryRequest
	Status   int
	Resource *store.Resource
	Outcome  []fhir.Issue
	// Body is a GET entry's response resource (already rendered JSON).
	Body []byte
	// Headers are a GET entry's ETag / Last-Modified when it has them.
	ETag, LastModified string
}

// Getter answers a GET entry (read, vread, search, history) the way the
// HTTP layer would, returning the status, the body and its ETag/Last-Modified.
type Getter func(ctx context.Context, rawURL string) (status int, body []byte, etag, lastModified string, err error)

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
}

// processing order of the specification: DELETE, POST, PUT/PATCH, GET.
var methodRank = map[string]int{"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}

// Bundle runs a batch or transaction Bundle and returns the results in the
// order of the request entries. A transaction is one storage transaction:
// any failing entry fails the whole (the error names the entry) and nothing
// is stored. A batch answers each entry on its own.
func (s *Service) Bundle(ctx context.Context, body []byte, get Getter) (string, []EntryResult, error) {
	b, err := parseBundle(body)
	if err != nil {
		return "", nil, err
	}
	if b.ResourceType != "Bundle" {
		return "", nil, fhir.Errorf(400, "invalid", "resourceType", "POST to the base takes a Bundle, not %q", b.ResourceType)
	}
	if b.Type != "batch" && b.Type != "transaction" {
		return "", nil, fhir.Errorf(400, "invalid", "Bundle.type", "POST to the base takes a batch or transaction Bundle, not %q", b.Type)
	}
	entries := make([]*entry, len(b.Entry))
	results := make([]EntryResult, len(b.Entry))
	errs := make([]error, len(b.Entry))
	parallel(len(b.Entry), func(i int) { entries[i], errs[i] = s.parseEntry(i, &b.Entry[i]) })
	for i, err := range errs {
		if err == nil {
			results[i].Request = entries[i].req
			continue
		}
		if b.Type == "transaction" {
			return "", nil, entryErr(i, err)
		}
		results[i] = failed(b.Entry[i].Request, err)
	}
	order := make([]*entry, 0, len(entries))
	for _, e := range entries {
		if e != nil {
			order = append(order, e)
		}
	}
	sortStable(order)

	if b.Type == "transaction" {
		if !s.Store.Features().Transactions {
			return "", nil, fhir.Errorf(400, "not-supported", "Bundle.type", "transaction Bundles need a storage engine with multi-document transactions (MongoDB as a replica set or sharded cluster); this deployment has none — send a batch instead")
		}
		if err := checkDuplicates(order); err != nil {
			return "", nil, err
		}
		err := s.transaction(ctx, order, results)
		if err != nil {
			return "", nil, err
		}
	} else {
		for _, e := range order {
			if e.method == "GET" || e.method == "HEAD" {
				continue
			}
			if err := s.transaction(ctx, []*entry{e}, results); err != nil {
				results[e.index] = failed(&e.req, err)
			}
		}
	}
	for _, e := range order {
		if e.method != "GET" && e.method != "HEAD" {
			continue
		}
		st, body, etag, lm, err := get(ctx, e.req.URL)
		if err != nil { // reads run after the writes committed; a failure stays in its entry
			results[e.index] = failed(&e.req, err)
			continue
		}
		results[e.index] = EntryResult{Request: e.req, Status: st, Body: body, ETag: etag, LastModified: lm}
	}
	return b.Type, results, nil
}

func sortStable(es []*entry) {
	// insertion sort: bundles are already mostly in order and the sort must be stable
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && methodRank[es[j].method] < methodRank[es[j-1].method]; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func failed(req *EntryRequest, err error) EntryResult {
	r := EntryResult{Status: 500}
	if req != nil {
		r.Request = *req
	}
	if fe, ok := isClientErr(err); ok {
		r.Status, r.Outcome = fe.Status, fe.Issues
	} else {
		r.Outcome = []fhir.Issue{{Severity: "error", Code: "exception", Diagnostics: err.Error()}}
	}
	return r
}

// entryErr names the failing entry in every issue of err: the diagnostics
// say which entry, and expressions rooted at the resource are re-rooted at
// Bundle.entry[i].resource.
func entryErr(i int, err error) error {
	fe, ok := isClientErr(err)
	if !ok {
		return fmt.Errorf("in Bundle.entry[%d]: %w", i, err)
	}
	out := &fhir.Error{Status: fe.Status}
	prefix := fmt.Sprintf("Bundle.entry[%d]", i)
	for _, is := range fe.Issues {
		is.Diagnostics = prefix + ": " + is.Diagnostics
		exprs := make([]string, 0, len(is.Expression)+1)
		for _, x := range is.Expression {
			if !strings.HasPrefix(x, "Bundle.") {
				if dot := strings.IndexByte(x, '.'); dot > 0 && fhir.KnownType(x[:dot]) {
					x = prefix + ".resource" + x[dot:]
				} else if x == "resourceType" || fhir.KnownType(x) {
					x = prefix + ".resource"
				} else {
					x = prefix + "." + x
				}
			}
			exprs = append(exprs, x)
		}
		if len(exprs) == 0 {
			exprs = append(exprs, prefix)
		}
		is.Expression = exprs
		out.Issues = append(out.Issues, is)
	}
	return out
}

// parseEntry checks one entry and decodes what it carries.
func (s *Service) parseEntry(i int, in *entryIn) (*entry, error) {
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

func checkDuplicates(es []*entry) error {
	seen := map[string]int{}
	for _, e := range es {
		if e.id == "" || e.method == "GET" || e.method == "HEAD" {
			continue
		}
		k := e.typ + "/" + e.id
		if j, dup := seen[k]; dup {
			return fhir.Errorf(400, "invalid", fmt.Sprintf("Bundle.entry[%d]", e.index), "%s appears in entries %d and %d: a transaction may touch a resource once", k, j, e.index)
		}
		seen[k] = e.index
	}
	return nil
}

// transaction runs write entries (already in processing order) in one
// storage transaction, filling results; it retries as a whole when it lost
// a version race.
func (s *Service) transaction(ctx context.Context, es []*entry, results []EntryResult) error {
	now := s.now()
	ah := s.planAhead(ctx, es, now)
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = s.Store.Update(ctx, func(tx store.Tx) error { return s.runEntries(ctx, tx, es, results, now, ah) })
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		if fe, ok := isClientErr(err); ok {
			return fe
		}
		return storeErr(err, "", "")
	}
	for _, e := range es {
		s.afterCommit(results[e.index].Resource)
	}
	return nil
}

// runEntries runs the entries of one storage transaction in the order of
// the specification. ah, when not nil, holds the creates prepared outside
// the transaction; they are used only if placing the entries inside it
// comes to the same ids and references.
func (s *Service) runEntries(ctx context.Context, tx store.Tx, es []*entry, results []EntryResult, now time.Time, ah *ahead) error {
	// 1. DELETEs.
	for _, e := range es {
		if e.method != "DELETE" {
			continue
		}
		var r *Result
		var err error
		if e.query != "" {
			r, err = s.conditionalDelete(ctx, tx, e.typ, e.query, false, now)
		} else {
			r, err = s.delete(ctx, tx, e.typ, e.id, Preconditions{IfMatch: e.req.IfMatch}, now)
		}
		if err != nil {
			return entryErr(e.index, err)
		}
		results[e.index] = EntryResult{Request: e.req, Status: r.Status, Resource: r.Resource, Outcome: r.Outcome}
	}
	var seed map[int]string
	if ah != nil {
		seed = ah.newIDs
	}
	p, err := s.place(ctx, tx, es, seed)
	if err != nil {
		return err
	}
	// 4. Writes: POST, then PUT and PATCH. New resources are prepared
	// (stamped, validated, indexed) in parallel, then written in order.
	creates := p.creates(es)
	var ws []*store.Write
	var perrs []error
	if ah != nil && ah.same(es, p) {
		ws, perrs = ah.ws, ah.errs
	} else {
		ws, perrs = s.prepareCreates(ctx, creates, now)
	}
	prepared := make(map[int]*store.Write, len(creates))
	for i, e := range creates {
		if perrs[i] != nil {
			return entryErr(e.index, perrs[i])
		}
		prepared[e.index] = ws[i]
	}
	for _, e := range es {
		var r *Result
		var err error
		switch e.method {
		case "POST":
			if r = p.pending[e.index]; r == nil {
				w := prepared[e.index]
				if err = tx.Put(ctx, w); err == nil {
					r = &Result{Resource: &w.Resource, Status: 201}
				}
			}
		case "PUT":
			var res map[string]any
			if res, err = decodeFor(e.typ, e.raw); err == nil {
				r, err = s.update(ctx, tx, e.typ, e.id, res, e.raw, Preconditions{IfMatch: e.req.IfMatch, IfNoneMatchAny: e.req.IfNoneMatch == "*"}, now)
			}
		case "PATCH":
			if e.query != "" {
				m, merr := s.match(ctx, tx, e.typ, e.query, true)
				switch {
				case merr != nil:
					err = merr
				case len(m) != 1:
					err = fhir.Errorf(412, "multiple-matches", "", "%s?%s matches %d resources; PATCH needs exactly one", e.typ, e.query, len(m))
				default:
					e.id = m[0].ID
				}
			}
			if err == nil {
				r, err = s.patch(ctx, tx, e.typ, e.id, e.patchFn, Preconditions{IfMatch: e.req.IfMatch}, now)
			}
		default:
			continue
		}
		if err != nil {
			return entryErr(e.index, err)
		}
		results[e.index] = EntryResult{Request: e.req, Status: r.Status, Resource: r.Resource, Outcome: r.Outcome}
	}
	return nil
}

// placement is where a Bundle's POSTs and PUTs land (steps 2 and 3 of the
// processing), read from the storage the way it was when placed.
type placement struct {
	// pending are the POSTs whose ifNoneExist matched: nothing to write.
	pending map[int]*Result
	// cond is every conditional reference resolved, to Type/id.
	cond map[string]string
}

// creates lists the POST entries that create a resource.
func (p *placement) creates(es []*entry) []*entry {
	var out []*entry
	for _, e := range es {
		if e.method == "POST" && p.pending[e.index] == nil {
			out = append(out, e)
		}
	}
	return out
}

// place decides the id of every POST and PUT entry and rewrites the
// references of their resources (fullUrls of other entries, conditional
// references). A new resource takes the id seed gives its entry, else a
// new one.
func (s *Service) place(ctx context.Context, tx store.Tx, es []*entry, seed map[int]string) (*placement, error) {
	p := &placement{pending: map[int]*Result{}, cond: map[string]string{}}
	refs := map[string]string{} // fullUrl → Type/id
	// 2. Decide where every POST and PUT lands, so references can be resolved
	// in any direction before anything is written.
	for _, e := range es {
		switch e.method {
		case "POST":
			e.id = ""
			if e.req.IfNoneExist != "" {
				m, err := s.match(ctx, tx, e.typ, e.req.IfNoneExist, true)
				if err != nil {
					return nil, entryErr(e.index, err)
				}
				if len(m) > 1 {
					return nil, entryErr(e.index, fhir.Errorf(412, "multiple-matches", "", "ifNoneExist %q matches more than one %s", e.req.IfNoneExist, e.typ))
				}
				if len(m) == 1 {
					p.pending[e.index] = &Result{Resource: m[0], Status: 200}
					e.id = m[0].ID
				}
			}
			if e.id == "" {
				if e.id = seed[e.index]; e.id == "" {
					e.id = newID()
				}
			}
		case "PUT":
			if e.query != "" {
				id, err := s.resolveConditionalID(ctx, tx, e.typ, e.query, e.bodyID)
				if err != nil {
					return nil, entryErr(e.index, err)
				}
				e.id = id
			}
		default:
			continue
		}
		e.finalRef = e.typ + "/" + e.id
		if e.fullURL != "" {
			refs[e.fullURL] = e.finalRef
		}
	}
	// 3. Resolve references: fullUrls of other entries, and conditional
	// references (Type?criteria), which must match exactly one resource.
	resolve := func(ref string) (string, bool, error) {
		if to, ok := refs[ref]; ok {
			return to, true, nil
		}
		if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
			return "", false, fhir.Errorf(400, "not-found", "", "reference %q is not the fullUrl of any entry", ref)
		}
		typ, query, ok := strings.Cut(ref, "?")
		if !ok || !fhir.KnownType(typ) {
			return "", false, nil
		}
		if to, ok := p.cond[ref]; ok {
			return to, true, nil
		}
		m, err := s.match(ctx, tx, typ, query, false)
		if err != nil {
			return "", false, err
		}
		if len(m) != 1 {
			return "", false, fhir.Errorf(412, "not-found", "", "conditional reference %q matches %d resources; it must match exactly one", ref, len(m))
		}
		to := typ + "/" + m[0].ID
		p.cond[ref] = to
		return to, true, nil
	}
	for _, e := range es {
		if (e.method != "POST" && e.method != "PUT") || p.pending[e.index] != nil {
			continue
		}
		raw, err := fhir.RewriteReferences(e.raw, resolve)
		if err != nil {
			return nil, entryErr(e.index, err)
		}
		e.raw = raw
	}
	return p, nil
}

// prepareCreates stamps, validates and indexes new resources on every core.
func (s *Service) prepareCreates(ctx context.Context, creates []*entry, now time.Time) ([]*store.Write, []error) {
	ws := make([]*store.Write, len(creates))
	errs := make([]error, len(creates))
	parallel(len(creates), func(i int) {
		e := creates[i]
		res, err := decodeFor(e.typ, e.raw)
		if err != nil {
			errs[i] = err
			return
		}
		ws[i], errs[i] = s.prepare(ctx, e.typ, e.id, nil, res, e.raw, "POST", now)
	})
	return ws, errs
}

// ahead is a Bundle's creates prepared before its storage transaction.
// Preparing (decoding, validating, indexing) is most of the CPU of a write;
// done inside the transaction it would hold the single writer of the
// embedded engine meanwhile, so concurrent Bundles could not overlap.
type ahead struct {
	// newIDs are the ids chosen for the resources to create, which the
	// transaction reuses so that what was prepared can still serve. The
	// ids of the other POSTs are their matches, in pending.
	newIDs map[int]string
	putIDs map[int]string // entry index → id of each PUT
	cond   map[string]string
	// pending are the entries whose ifNoneExist matched, by matched id.
	pending map[int]string
	ws      []*store.Write // by position in placement.creates
	errs    []error
}

// planAhead places the entries on the committed state and prepares the
// creates, outside any write transaction. It returns nil when there is
// nothing to gain or placing fails (the transaction then reports why).
func (s *Service) planAhead(ctx context.Context, es []*entry, now time.Time) *ahead {
	n := 0
	for _, e := range es {
		if e.method == "POST" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	cp := make([]*entry, len(es))
	for i, e := range es {
		c := *e
		cp[i] = &c
	}
	p, err := s.place(ctx, committed{s.Store}, cp, nil)
	if err != nil {
		return nil
	}
	ah := &ahead{newIDs: map[int]string{}, putIDs: map[int]string{}, cond: p.cond, pending: map[int]string{}}
	for _, e := range cp {
		if e.method == "PUT" {
			ah.putIDs[e.index] = e.id
		}
		if r := p.pending[e.index]; r != nil {
			ah.pending[e.index] = r.Resource.ID
		}
	}
	creates := p.creates(cp)
	for _, e := range creates {
		ah.newIDs[e.index] = e.id
	}
	ah.ws, ah.errs = s.prepareCreates(ctx, creates, now)
	return ah
}

// same reports whether placing es inside the transaction (p) came to what
// planAhead found: the same ifNoneExist matches, PUT ids and conditional
// references (the new resources take newIDs either way), hence byte for
// byte the same resources to write.
func (ah *ahead) same(es []*entry, p *placement) bool {
	if len(p.cond) != len(ah.cond) || len(p.pending) != len(ah.pending) {
		return false
	}
	for ref, to := range p.cond {
		if ah.cond[ref] != to {
			return false
		}
	}
	for i, r := range p.pending {
		if ah.pending[i] != r.Resource.ID {
			return false
		}
	}
	for _, e := range es {
		if e.method == "PUT" && ah.putIDs[e.index] != e.id {
			return false
		}
	}
	return true
}

// committed is the store as a Tx that writes nothing, for planAhead: its
// reads see what is committed; Lock has nothing to hold since nothing is
// decided for good there.
type committed struct{ store.Reader }

var errPlanOnly = errors.New("service: planning reads only")

func (committed) Put(context.Context, *store.Write) error { return errPlanOnly }
func (committed) Lock(context.Context, string) error      { return nil }
func (committed) Reindex(context.Context, string, string, int64, *query.Index) error {
	return errPlanOnly
}

// EntryQuery splits a GET entry URL into path and parameters.
func EntryQuery(raw string) (string, url.Values, error) {
	p, q, _ := strings.Cut(strings.TrimPrefix(raw, "/"), "?")
	v, err := url.ParseQuery(q)
	return p, v, err
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines: decoding,
// validating and indexing the entries of a large Bundle use every core.
func parallel(n int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 16 || workers < 2 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
