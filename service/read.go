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
// grant that narrows typ, a resource outside it (another patient's, or
// outside the scope's restriction) is the same 404 as an unknown one, and
// so is a deleted one (what it was cannot be checked): no answer tells
// whether such a resource exists.
func (s *Service) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	lim, err := s.grant(ctx, 'r', typ)
	if err != nil {
		return nil, err
	}
	cur, err := readCurrent(ctx, s.Store, typ, id)
	if err != nil {
		return nil, err
	}
	if cur == nil || (lim != nil && cur.Deleted) {
		return nil, notKnown(typ, id)
	}
	if lim != nil {
		if ok, err := s.member(ctx, s.Store, typ, id, lim); err != nil || !ok {
			return nil, cmp.Or(storeErr(err), notKnown(typ, id))
		}
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
// that narrows typ, the current version must be within it (else 404, as
// for Read) and so must the version asked, by its own content (its
// compartment, and the restriction's token parameters).
func (s *Service) VRead(ctx context.Context, typ, id, vid string) (*store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return nil, err
	}
	lim, err := s.grant(ctx, 'r', typ)
	if err != nil {
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
	if lim != nil {
		if ok, err := s.mayReadVersions(ctx, lim, typ, id); err != nil || !ok {
			return nil, cmp.Or(storeErr(err), notKnown(typ, id))
		}
		if ok, err := s.fitsStored(lim, r); err != nil || !ok {
			return nil, cmp.Or(err, error(fhir.Errorf(404, "not-found", "", "%s/%s has no version %d", typ, id, v)))
		}
	}
	if r.Deleted {
		return r, fhir.Errorf(410, "deleted", "", "version %d of %s/%s is a deletion", v, typ, id)
	}
	return r, nil
}

// mayReadVersions reports whether the current version of typ/id is within
// lim: what the versions of a resource (vread, instance history) need
// before each is checked on its own.
func (s *Service) mayReadVersions(ctx context.Context, lim *limit, typ, id string) (bool, error) {
	return s.member(ctx, s.Store, typ, id, lim)
}
