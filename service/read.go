package service

import (
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
