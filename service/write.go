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
			return traced(ctx, tx, func(tx store.Tx) error {
				var e error
				res, e = op(tx)
				return e
			})
		})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if res != nil {
		s.afterCommit(res.Resource)
		if res.shows {
			res.Resource, res.Outcome, res.Withheld = s.withhold(ctx, res.Resource, res.Outcome)
		}
	}
	return res, nil
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

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

// write is one write interaction on its way down the write path: what the
// client asked (type, id or criteria, body, preconditions) and what the
// server settled for it (the method the version records, the instant,
// whether it is trusted). It travels by value: a step that settles the id or
// the body sets it on its own copy, so an attempt run() retries starts again
// from what the caller built.
type write struct {
	typ, id string
	// query is the criteria of a conditional interaction (after the '?').
	query string
	// res is body decoded, once, before run(). prepare stamps id and meta
	// into it; a retried attempt stamps the same keys over, so sharing the
	// map between attempts is safe.
	res  map[string]any
	body []byte
	// apply is a parsed patch (PATCH only).
	apply applyFunc
	pre   Preconditions
	// multiple lets a conditional delete remove every match.
	multiple bool
	// method is what the stored version records: POST, PUT or PATCH.
	method string
	now    time.Time
	// trusted skips the write validation: the server storing definitions it
	// loaded and uses itself (see UpdateTrusted).
	trusted bool
	// lim is what the caller's grant for this write narrows (writeGrant),
	// nil when nothing; mlim what its grant of 's' narrows, for the match
	// of a conditional write (matchGrant).
	lim, mlim *limit
}

// newID is a server-assigned id (NewID, when the caller set one).
func (s *Service) newID() string {
	if s.NewID != nil {
		return s.NewID()
	}
	return uuid.NewString()
}

// put stores w as the new version of w.typ/w.id over prev (nil when new)
// inside tx.
// The issues returned are validation's of the accepted version.
func (s *Service) put(ctx context.Context, tx store.Tx, w write, prev *store.Resource) (*store.Resource, []fhir.Issue, error) {
	v, issues, err := s.prepare(ctx, w, prev)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Put(ctx, v); err != nil {
		return nil, nil, err // ErrConflict stays raw so run() retries the interaction
	}
	return &v.Resource, issues, nil
}

// prepare builds the version to write: it stamps id and meta into both the
// tree and the bytes, validates, and extracts the search index. It touches
// no storage, so a Bundle prepares its entries in parallel. The tree serves
// validation and indexing; the bytes, stamped in place rather than
// re-encoded from the tree, are what is stored, so the stored JSON is the
// JSON accepted and no write pays for an encoding. It also returns the
// issues validation found without refusing the resource (warnings), for
// the write's outcome.
func (s *Service) prepare(ctx context.Context, w write, prev *store.Resource) (*store.Write, []fhir.Issue, error) {
	typ, id, res, now := w.typ, w.id, w.res, w.now
	version := int64(1)
	if prev != nil {
		version = prev.Version + 1
	}
	now = nextInstant(now, prev)
	vid, lu := strconv.FormatInt(version, 10), FormatInstant(now)
	res["id"] = id
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		if _, present := res["meta"]; present {
			return nil, nil, fhir.Errorf(400, "structure", typ+".meta", "meta must be an object")
		}
		meta = map[string]any{}
		res["meta"] = meta
	}
	// The write is validated as sent: a versionId or lastUpdated the client
	// wrote is checked as it is (a bad one is refused, not silently
	// replaced); the server's values stand in only for absent ones, then
	// replace both.
	if _, ok := meta["versionId"]; !ok {
		meta["versionId"] = vid
	}
	if _, ok := meta["lastUpdated"]; !ok {
		meta["lastUpdated"] = lu
	}
	var issues []fhir.Issue
	if s.Validate != nil && !w.trusted {
		var verr *fhir.Error
		if issues, verr = s.Validate(ctx, typ, res); verr != nil {
			return nil, nil, verr
		}
	}
	meta["versionId"], meta["lastUpdated"] = vid, lu
	if typ == "SearchParameter" {
		if err := s.checkSearchParameter(res); err != nil {
			return nil, nil, err
		}
	}
	stamped, err := fhir.Stamp(w.body, id, vid, lu)
	if err != nil {
		return nil, nil, fhir.Errorf(400, "structure", "", "body is not a JSON object: %v", err)
	}
	idx, err := search.ExtractLocal(s.Params, typ, res, s.BaseURL)
	if err != nil {
		return nil, nil, fhir.Errorf(422, "processing", "", "cannot index resource: %v", err)
	}
	if err := s.mayWrite(w, idx); err != nil {
		return nil, nil, err
	}
	return &store.Write{Resource: store.Resource{Type: typ, ID: id, Version: version, LastUpdated: now, Method: w.method, JSON: stamped}, Index: idx}, issues, nil
}

// nextInstant is the lastUpdated of a version written at now over prev
// (nil when new): UTC, to the microsecond, and after prev's, so versions
// stay ordered even when the clock is not.
func nextInstant(now time.Time, prev *store.Resource) time.Time {
	if prev != nil && !now.After(prev.LastUpdated) {
		now = prev.LastUpdated.Add(time.Microsecond)
	}
	return now.UTC().Truncate(time.Microsecond)
}

// tombstone stores a deletion version over prev.
func (s *Service) tombstone(ctx context.Context, tx store.Tx, prev *store.Resource, now time.Time) (*store.Resource, error) {
	w := &store.Write{Resource: store.Resource{Type: prev.Type, ID: prev.ID, Version: prev.Version + 1, LastUpdated: nextInstant(now, prev), Deleted: true, Method: "DELETE"}}
	if err := tx.Put(ctx, w); err != nil {
		return nil, err
	}
	return &w.Resource, nil
}

// afterCommit applies committed writes that change the server itself: a
// SearchParameter created or updated is used by every later write (and by
// $reindex for existing data); a deleted one stops being used.
func (s *Service) afterCommit(rs ...*store.Resource) {
	s.writes.Add(1)
	for _, r := range rs {
		if r == nil || r.Type != "SearchParameter" {
			continue
		}
		s.custom.mu.Lock()
		if s.custom.byID == nil {
			s.custom.byID = map[string]string{}
		}
		if old, ok := s.custom.byID[r.ID]; ok {
			s.Params.RemoveURL(old)
			delete(s.custom.byID, r.ID)
		}
		if !r.Deleted {
			// stored bytes: read without the checks a body gets (a version
			// stored before them must still register)
			if res, err := fhir.DecodeStored(r.JSON); err == nil && usable(res) {
				if err := s.Params.AddResource(res); err == nil {
					u, _ := res["url"].(string)
					if u == "" {
						u = "urn:dccfhir:searchparameter:" + str(res["code"])
					}
					s.custom.byID[r.ID] = u
				}
			}
		}
		s.custom.mu.Unlock()
	}
}

func usable(res map[string]any) bool { return res["status"] != "retired" }

func str(v any) string { s, _ := v.(string); return s }
