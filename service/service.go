// Package service implements the FHIR RESTful interactions — read, vread,
// create, update, patch, delete, their conditional forms, history, search,
// batch and transaction — on top of a store.Store, independently of HTTP.
//
// Every interaction is written once as a function running inside a storage
// transaction (store.Tx), so a transaction Bundle runs the very same code as
// the single request, in one storage transaction.
//
// One interaction per file: read.go (read, vread), create.go, update.go
// (update and conditional update), patch.go, delete.go, history.go and
// search.go; conditional.go holds what the conditional forms share (the
// preconditions and the criteria match), write.go the path every write ends
// in (retries, stamping, validation, indexing, the post-commit hook).
// Bundles are parsed in bundle_parse.go, their ids and references placed in
// bundle_place.go, prepared ahead of the transaction in bundle_ahead.go and
// run in bundle.go.
package service

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store"
)

// Validator checks a resource about to be written (after the server has set
// its id; meta.versionId and meta.lastUpdated as the client sent them, the
// server's where it sent none). It is the one hook every write path calls:
// create, update, the result of a patch and each Bundle entry. It returns
// the issues of a resource it accepts (warnings, information: they come
// back in the write's Result.Outcome), or a client error (400/422) listing
// every problem.
type Validator func(ctx context.Context, typ string, res map[string]any) ([]fhir.Issue, *fhir.Error)

// Service is the FHIR server without its HTTP clothes.
type Service struct {
	Store    store.Store
	Params   *search.Registry
	Validate Validator
	// DefaultCount and MaxCount bound search and history pages.
	DefaultCount, MaxCount int
	// Now is the clock and NewID assigns the ids of created resources
	// (tests fix both).
	Now   func() time.Time
	NewID func() string

	// ValueSetCodes expands value sets for :in / :not-in (nil: refused).
	ValueSetCodes CodeLister
	// BaseURL is the server's own FHIR base: absolute references to it are
	// indexed as the local references they are.
	BaseURL string

	custom       customParams
	restrictions restrictionCache
	writes       atomic.Uint64
}

// Writes counts the writes this Service has committed (afterCommit): a
// cache of what stored resources decide (the access gate's care circles)
// is current while it has not moved and nothing else wrote to the store.
func (s *Service) Writes() uint64 { return s.writes.Load() }

// PageParam is the query parameter carrying an engine's paging cursor, in
// search and history alike.
const PageParam = "_page"

// New returns a Service with the default page sizes and base validation.
func New(st store.Store, reg *search.Registry) *Service {
	return &Service{Store: st, Params: reg, Validate: BaseValidate, DefaultCount: 50, MaxCount: 1000, Now: time.Now, NewID: uuid.NewString}
}

// Result is the outcome of a write: the version stored (or found, for a
// conditional create that matched) and the HTTP status it deserves.
type Result struct {
	Resource *store.Resource
	Status   int // 200 or 201 (204 for a delete with nothing to delete)
	// Outcome carries information issues (e.g. "no match, nothing deleted").
	Outcome []fhir.Issue
	// Withheld is set when the answer would show the caller a resource
	// its scopes do not let it read (a conditional create's match, a
	// patch's result, without 'r' on it: SMART's write letters do not
	// imply read). Resource then keeps the version's type, id, version
	// and instant, for the headers, but not its content (JSON is nil), and
	// Outcome says why: the HTTP layer answers with that OperationOutcome
	// (or nothing, under Prefer: return=minimal), never the resource.
	Withheld bool
	// shows is set when Resource holds more than what the caller sent
	// (a match, a patch's result): what Withheld is decided on, after the
	// commit (withhold).
	shows bool
}

// InstantFormat is how the server writes meta.lastUpdated: UTC, microseconds.
const InstantFormat = "2006-01-02T15:04:05.000000Z07:00"

// FormatInstant renders t as the server's lastUpdated string.
func FormatInstant(t time.Time) string { return t.UTC().Format(InstantFormat) }

// BaseValidate is the check every write gets until profile validation is
// plugged in: a known resourceType and a legal id.
func BaseValidate(_ context.Context, typ string, res map[string]any) ([]fhir.Issue, *fhir.Error) {
	if !fhir.KnownType(typ) {
		return nil, fhir.Errorf(400, "not-supported", "", "unknown resource type %q", typ)
	}
	if id, ok := res["id"].(string); !ok || !fhir.ValidID(id) {
		return nil, fhir.Errorf(400, "value", typ+".id", "invalid id")
	}
	if m, ok := res["meta"]; ok {
		if _, ok := m.(map[string]any); !ok {
			return nil, fhir.Errorf(400, "structure", typ+".meta", "meta must be an object")
		}
	}
	return nil, nil
}

// storeErr turns an engine error into a client-facing one where the client
// caused it; anything else stays an internal error.
func storeErr(err error) error {
	var fe *fhir.Error
	switch {
	case errors.As(err, &fe):
		return fe
	case errors.Is(err, store.ErrConflict):
		return fhir.Errorf(409, "conflict", "", "the resource kept changing concurrently (%v); retry with the current version", err)
	case errors.Is(err, store.ErrUnsupported):
		return fhir.Errorf(400, "not-supported", "", "%v", err)
	case errors.Is(err, store.ErrBadCursor):
		return fhir.Errorf(400, "invalid", PageParam, "the page cursor (%s) is invalid or expired: start again from the first page", PageParam)
	case errors.Is(err, store.ErrTooCostly):
		return fhir.Errorf(400, "too-costly", "", "%v", err)
	case errors.Is(err, store.ErrNoTransactions):
		return fhir.Errorf(400, "not-supported", "", "%v", err)
	}
	return err
}

// isClientErr reports whether err is a *fhir.Error (a reply, not a failure).
func isClientErr(err error) (*fhir.Error, bool) {
	var fe *fhir.Error
	ok := errors.As(err, &fe)
	return fe, ok
}

func checkTypeID(typ, id string) error {
	if !fhir.KnownType(typ) {
		return fhir.Errorf(404, "not-supported", "", "unknown resource type %q", typ)
	}
	if id != "" && !fhir.ValidID(id) {
		return fhir.Errorf(400, "value", "", "invalid id %q: ids are 1 to 64 of [A-Za-z0-9-.]", id)
	}
	return nil
}

// Chain runs validators in order and returns the first failure, so the
// cheap base checks reject garbage before the full validator runs; the
// issues of an accepted resource are those of every validator.
func Chain(vs ...Validator) Validator {
	return func(ctx context.Context, typ string, res map[string]any) ([]fhir.Issue, *fhir.Error) {
		var all []fhir.Issue
		for _, v := range vs {
			if v == nil {
				continue
			}
			issues, err := v(ctx, typ, res)
			if err != nil {
				return nil, err
			}
			all = append(all, issues...)
		}
		return all, nil
	}
}
