package service

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// EntryResult is what one entry came to. A write carries the version it
// stored or matched; a GET carries what it read, as data, for the HTTP layer
// to render the way it renders the same interaction asked on its own.
type EntryResult struct {
	Request EntryRequest
	Status  int
	// Resource is the version written, matched or read (for a 410, the
	// tombstone).
	Resource *store.Resource
	Outcome  []fhir.Issue
	// Withheld is Result.Withheld: Resource has no content, which the
	// caller may not read.
	Withheld bool
	shows    bool
	// Get is a GET entry's URL as understood (nil for a write, or when the
	// URL names no interaction); Search and History hold the page a search
	// or a history entry read.
	Get     *GetEntry
	Search  *SearchResponse
	History *store.HistoryPage
}

// BundleOptions are what the entries of a Bundle inherit from the request
// that carried it.
type BundleOptions struct {
	// Strict makes the searches of GET entries refuse unknown parameters,
	// as Prefer: handling=strict does for a search of its own.
	Strict bool
}

// Bundle runs a batch or transaction Bundle and returns the results in the
// order of the request entries. A transaction is one storage transaction:
// any failing entry fails the whole (the error names the entry) and nothing
// is stored. A batch answers each entry on its own.
func (s *Service) Bundle(ctx context.Context, body []byte, opts BundleOptions) (string, []EntryResult, error) {
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
		// each write entry is asked of the caller's access as the single
		// request is (GET entries are, by the read or search they run),
		// before anything runs: a transaction with one forbidden entry is
		// refused whole, a batch entry fails on its own
		if e := entries[i]; err == nil && e.method != "GET" && e.method != "HEAD" {
			if e.lim, err = s.writeGrant(ctx, e.method, e.typ); err == nil && e.conditional() {
				e.mlim, err = s.matchGrant(ctx, e.typ)
			}
			if err != nil {
				entries[i] = nil
			}
		}
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
		results[e.index] = s.get(ctx, e, opts)
	}
	return b.Type, results, nil
}

// entryResult is the result of a write entry.
func entryResult(req EntryRequest, r *Result) EntryResult {
	return EntryResult{Request: req, Status: r.Status, Resource: r.Resource, Outcome: r.Outcome, shows: r.shows}
}

// sortStable orders entries by methodRank, keeping the Bundle's order
// among entries of one method.
func sortStable(es []*entry) {
	slices.SortStableFunc(es, func(a, b *entry) int { return methodRank[a.method] - methodRank[b.method] })
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
		err = s.Store.Update(ctx, func(tx store.Tx) error {
			return traced(ctx, tx, func(tx store.Tx) error { return s.runEntries(ctx, tx, es, results, now, ah) })
		})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return storeErr(err)
	}
	for _, e := range es {
		r := &results[e.index]
		s.afterCommit(r.Resource)
		if r.shows {
			r.Resource, r.Outcome, r.Withheld = s.withhold(ctx, r.Resource, r.Outcome)
		}
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
			r, err = s.conditionalDelete(ctx, tx, e.write(now))
		} else {
			r, err = s.delete(ctx, tx, e.write(now))
		}
		if err != nil {
			return entryErr(e.index, err)
		}
		results[e.index] = entryResult(e.req, r)
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
	var pcs []preparedCreate
	if ah != nil && ah.same(es, p) {
		pcs = ah.creates
	} else {
		pcs = s.prepareCreates(ctx, creates, now)
	}
	prepared := make(map[int]*preparedCreate, len(creates))
	for i, e := range creates {
		if pcs[i].err != nil {
			return entryErr(e.index, pcs[i].err)
		}
		prepared[e.index] = &pcs[i]
	}
	for _, e := range es {
		var r *Result
		var err error
		switch e.method {
		case "POST":
			if r = p.pending[e.index]; r == nil {
				pc := prepared[e.index]
				if err = tx.Put(ctx, pc.w); err == nil {
					r = &Result{Resource: &pc.w.Resource, Status: 201, Outcome: pc.issues}
				}
			}
		case "PUT":
			w := e.write(now)
			if w.res, err = decodeFor(e.typ, e.raw); err == nil {
				r, err = s.update(ctx, tx, w)
			}
		case "PATCH":
			if e.query != "" {
				r, err = s.conditionalPatch(ctx, tx, e.write(now))
			} else {
				r, err = s.patch(ctx, tx, e.write(now))
			}
		default:
			continue
		}
		if err != nil {
			return entryErr(e.index, err)
		}
		results[e.index] = entryResult(e.req, r)
	}
	return nil
}

// preparedCreate is a Bundle's new resource made ready to write: the
// version, validation's issues of it, or why it cannot be written.
type preparedCreate struct {
	w      *store.Write
	issues []fhir.Issue
	err    error
}

// prepareCreates stamps, validates and indexes new resources on every core.
func (s *Service) prepareCreates(ctx context.Context, creates []*entry, now time.Time) []preparedCreate {
	out := make([]preparedCreate, len(creates))
	parallel(len(creates), func(i int) {
		e := creates[i]
		w := e.write(now)
		var err error
		if w.res, err = decodeFor(e.typ, e.raw); err != nil {
			out[i].err = err
			return
		}
		w.method = "POST"
		out[i].w, out[i].issues, out[i].err = s.prepare(ctx, w, nil)
	})
	return out
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
	var failed atomic.Pointer[any] // the first panic of a worker
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					failed.CompareAndSwap(nil, &p)
					next.Store(int64(n)) // the others stop at their next item
				}
			}()
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
	// a panic in a worker goroutine would end the process: raise it in the
	// caller's, where the request's recovery answers a 500 and the server
	// goes on
	if p := failed.Load(); p != nil {
		panic(*p)
	}
}
