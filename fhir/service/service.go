// Package service implements the FHIR RESTful interactions — read, vread,
// create, update, patch, delete, their conditional forms, history, search,
// batch and transaction — on top of a store.Store, independently of HTTP.
//
// Every interaction is written once as a function running inside a storage
// transaction (store.Tx), so a transaction Bundle runs the very same code as
// the single request, in one storage transaction.
package service

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store"
)

// Validator checks a resource about to be written (after the server has set
// id and meta). It is the one hook every write path calls: create, update,
// the result of a patch and each Bundle entry. It returns nil or a client
// error (400/422) listing every problem; what it accepts with warnings it
// notes with fhir.NoteWarnings, for the response.
type Validator func(ctx context.Context, typ string, res map[string]any) *fhir.Error

// Service is the FHIR server without its HTTP clothes.
type Service struct {
	Store    store.Store
	Params   *search.Registry
	Validate Validator
	// DefaultCount and MaxCount bound search and history pages.
	DefaultCount, MaxCount int
	// Now is the clock (tests may replace it).
	Now func() time.Time

	// ValueSetCodes expands value sets for :in / :not-in (nil: refused).
	ValueSetCodes CodeLister
	// BaseURL is the server's own FHIR base: absolute references to it are
	// indexed as the local references they are.
	BaseURL string

	custom customParams
}

// New returns a Service with the default page sizes and base validation.
func New(st store.Store, reg *search.Registry) *Service {
	return &Service{Store: st, Params: reg, Validate: BaseValidate, DefaultCount: 50, MaxCount: 1000, Now: time.Now}
}

// Result is the outcome of a write: the version stored (or found, for a
// conditional create that matched) and the HTTP status it deserves.
type Result struct {
	Resource *store.Resource
	Status   int // 200 or 201 (204 for a delete with nothing to delete)
	// Outcome carries information issues (e.g. "no match, nothing deleted").
	Outcome []fhir.Issue
}

// InstantFormat is how the server writes meta.lastUpdated: UTC, microseconds.
const InstantFormat = "2006-01-02T15:04:05.000000Z07:00"

// FormatInstant renders t as the server's lastUpdated string.
func FormatInstant(t time.Time) string { return t.UTC().Format(InstantFormat) }

// BaseValidate is the check every write gets until profile validation is
// plugged in: a known resourceType and a legal id.
func BaseValidate(_ context.Context, typ string, res map[string]any) *fhir.Error {
	if !fhir.KnownType(typ) {
		return fhir.Errorf(400, "not-supported", "", "unknown resource type %q", typ)
	}
	if id, ok := res["id"].(string); !ok || !fhir.ValidID(id) {
		return fhir.Errorf(400, "value", typ+".id", "invalid id")
	}
	if m, ok := res["meta"]; ok {
		if _, ok := m.(map[string]any); !ok {
			return fhir.Errorf(400, "structure", typ+".meta", "meta must be an object")
		}
	}
	return nil
}

// newID is a server-assigned id.
func newID() string { return uuid.NewString() }

// put stores a new version of typ/id over prev (nil when new) inside tx.
func (s *Service) put(ctx context.Context, tx store.Tx, typ, id string, prev *store.Resource, res map[string]any, body []byte, method string, now time.Time) (*store.Resource, error) {
	w, err := s.prepare(ctx, typ, id, prev, res, body, method, now)
	if err != nil {
		return nil, err
	}
	if err := tx.Put(ctx, w); err != nil {
		return nil, err // ErrConflict stays raw so run() retries the interaction
	}
	return &w.Resource, nil
}

// prepare builds the version to write: it stamps id and meta into both the
// tree and the bytes, validates, and extracts the search index. It touches
// no storage, so a Bundle prepares its entries in parallel.
func (s *Service) prepare(ctx context.Context, typ, id string, prev *store.Resource, res map[string]any, body []byte, method string, now time.Time) (*store.Write, error) {
	version := int64(1)
	if prev != nil {
		version = prev.Version + 1
		if !now.After(prev.LastUpdated) {
			now = prev.LastUpdated.Add(time.Microsecond)
		}
	}
	now = now.UTC().Truncate(time.Microsecond)
	vid, lu := strconv.FormatInt(version, 10), FormatInstant(now)
	res["id"] = id
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		if _, present := res["meta"]; present {
			return nil, fhir.Errorf(400, "structure", typ+".meta", "meta must be an object")
		}
		meta = map[string]any{}
		res["meta"] = meta
	}
	meta["versionId"], meta["lastUpdated"] = vid, lu
	if s.Validate != nil && ctx.Value(trustedKey{}) == nil {
		if err := s.Validate(ctx, typ, res); err != nil {
			return nil, err
		}
	}
	if typ == "SearchParameter" {
		if err := s.checkSearchParameter(res); err != nil {
			return nil, err
		}
	}
	stamped, err := fhir.Stamp(body, id, vid, lu)
	if err != nil {
		return nil, fhir.Errorf(400, "structure", "", "body is not a JSON object: %v", err)
	}
	idx, err := search.ExtractLocal(s.Params, typ, res, s.BaseURL)
	if err != nil {
		return nil, fhir.Errorf(422, "processing", "", "cannot index resource: %v", err)
	}
	return &store.Write{Resource: store.Resource{Type: typ, ID: id, Version: version, LastUpdated: now, Method: method, JSON: stamped}, Index: idx}, nil
}

// tombstone stores a deletion version over prev.
func (s *Service) tombstone(ctx context.Context, tx store.Tx, prev *store.Resource, now time.Time) (*store.Resource, error) {
	if !now.After(prev.LastUpdated) {
		now = prev.LastUpdated.Add(time.Microsecond)
	}
	w := &store.Write{Resource: store.Resource{Type: prev.Type, ID: prev.ID, Version: prev.Version + 1, LastUpdated: now.UTC().Truncate(time.Microsecond), Deleted: true, Method: "DELETE"}}
	if err := tx.Put(ctx, w); err != nil {
		return nil, err
	}
	return &w.Resource, nil
}

// storeErr turns an engine error into a client-facing one where the client
// caused it; anything else stays an internal error.
func storeErr(err error, typ, id string) error {
	var fe *fhir.Error
	switch {
	case errors.As(err, &fe):
		return fe
	case errors.Is(err, store.ErrConflict):
		return fhir.Errorf(409, "conflict", "", "the resource kept changing concurrently (%v); retry with the current version", err)
	case errors.Is(err, store.ErrUnsupported):
		return fhir.Errorf(400, "not-supported", "", "%v", err)
	case errors.Is(err, store.ErrBadCursor):
		return fhir.Errorf(400, "invalid", "", "%v: start the search again", err)
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

// Chain runs validators in order and returns the first failure, so the
// cheap base checks reject garbage before the full validator runs.
func Chain(vs ...Validator) Validator {
	return func(ctx context.Context, typ string, res map[string]any) *fhir.Error {
		for _, v := range vs {
			if v == nil {
				continue
			}
			if err := v(ctx, typ, res); err != nil {
				return err
			}
		}
		return nil
	}
}

type trustedKey struct{}

// Trusted marks ctx for writes the server makes of definitions it already
// loaded and uses (the conformance resources of its packages): they are
// stored as published, without the write validation, since a package's
// quirks (FR Core has a slicing without discriminator) must not hide a
// definition the validator relies on.
func Trusted(ctx context.Context) context.Context { return context.WithValue(ctx, trustedKey{}, true) }
