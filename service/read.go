package service

import (
	"cmp"
	"context"
	"errors"
	"strconv"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

func readCurrent(ctx context.Context, r store.Reader, typ, id string) (*store.Resource, error) {
	cur, err := r.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return cur, err
}

// Read returns the current version; 404 if it never existed, 410 if deleted
// (the tombstone comes back with the 410 error for its ETag). Under a
// grant that narrows typ, it is one membership search (current): a
// resource outside it (another patient's, or outside the scope's
// restriction) is the same 404 as an unknown one, and so is a deleted one
// (what it was cannot be checked): no answer tells whether such a
// resource exists.
func (s *Service) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	lim, err := s.grant(ctx, 'r', typ)
	if err != nil {
		return nil, err
	}
	if lim != nil {
		cur, err := s.current(ctx, s.Store, typ, id, lim)
		if err != nil || cur == nil {
			return nil, cmp.Or(storeErr(err), lim.notKnown(typ, id))
		}
		return cur, nil
	}
	cur, err := readCurrent(ctx, s.Store, typ, id)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, notKnown(typ, id)
	}
	if cur.Deleted {
		return cur, fhir.Errorf(410, "deleted", "", "%s/%s was deleted (version %d)", typ, id, cur.Version)
	}
	return cur, nil
}

// notKnown is the 404 of a resource that does not exist or that the
// caller may not see: the same words for both.
func notKnown(typ, id string) error {
	return fhir.Errorf(404, "not-found", "", "%s/%s is not known", typ, id)
}

// VRead returns one version; a deletion version is 410. Under a grant
// that narrows typ, see vreadNarrowed.
func (s *Service) VRead(ctx context.Context, typ, id, vid string) (*store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	lim, err := s.grant(ctx, 'r', typ)
	if err != nil {
		return nil, err
	}
	if lim != nil {
		return s.vreadNarrowed(ctx, lim, typ, id, vid)
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
	if typ == "AuditEvent" {
		if p, err := s.purgedAudit(ctx, id); err != nil || p {
			return nil, cmp.Or(err, errPurged(id))
		}
	}
	return r, nil
}

// vreadNarrowed is VRead under a grant lim that narrows typ: the current
// version must be within it (a membership search, which answers a vread
// of the current version by itself), and so must the version asked, by
// its own content (fitsStored: a restriction clause it cannot check on an
// index fails closed). The access check comes first, and every refusal —
// outside the grant, unknown, a malformed or missing version, a deletion
// — is the same notKnown 404: no answer tells whether a resource the
// caller may not see exists, or how many versions it has.
func (s *Service) vreadNarrowed(ctx context.Context, lim *limit, typ, id, vid string) (*store.Resource, error) {
	cur, err := s.current(ctx, s.Store, typ, id, lim)
	if err != nil {
		return nil, storeErr(err)
	}
	v, perr := strconv.ParseInt(vid, 10, 64)
	switch {
	case cur == nil || perr != nil || v < 1:
		return nil, lim.notKnown(typ, id)
	case v == cur.Version:
		return cur, nil
	}
	r, err := s.Store.VRead(ctx, typ, id, v)
	if errors.Is(err, store.ErrNotFound) {
		return nil, lim.notKnown(typ, id)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := s.fitsStored(lim, r); err != nil || !ok {
		return nil, cmp.Or(err, lim.notKnown(typ, id))
	}
	return r, nil
}
