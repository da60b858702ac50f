package mongo

import (
	"context"

	"github.com/dccfhir/dccfhir/store"
)

// Placeholder until the records side lands (issue 9).

func (s *Store) CreateRecord(ctx context.Context, r *store.Record) error { return store.ErrUnsupported }
func (s *Store) PutRecord(ctx context.Context, r *store.Record) error    { return store.ErrUnsupported }
func (s *Store) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	return nil, store.ErrUnsupported
}
func (s *Store) TakeRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	return nil, store.ErrUnsupported
}
func (s *Store) DeleteRecord(ctx context.Context, kind, key string) error { return store.ErrUnsupported }
func (s *Store) ListRecords(ctx context.Context, kind string) ([]*store.Record, error) {
	return nil, store.ErrUnsupported
}
