package store

import (
	"context"
	"errors"
	"time"
)

// Record is a piece of server state that is not a FHIR resource: an
// account, a registered client, a signing key, a refresh token, a used
// assertion id, a login counter. It lives in the same storage as the
// resources, on both engines, so one backup and one deployment hold
// everything. Kind names the owner and what it holds ("auth.client",
// "auth.jti"...); Key is unique within a kind; Value is the owner's
// encoding (JSON), opaque to the store.
type Record struct {
	Kind, Key string
	Value     []byte
	// Expires is when the record stops existing (zero: never). An expired
	// record is absent to every call, as if deleted; engines purge them
	// when they like.
	Expires time.Time
}

// Records is the store's key-value side. Every call is atomic on its own;
// CreateRecord and TakeRecord are the building blocks of single-use values
// (authorization codes, assertion ids, reset links): of two concurrent
// callers exactly one succeeds.
type Records interface {
	// CreateRecord stores r unless a live record of that Kind and Key
	// exists, in which case it returns ErrConflict and changes nothing.
	CreateRecord(ctx context.Context, r *Record) error
	// PutRecord stores r, replacing any record of that Kind and Key.
	PutRecord(ctx context.Context, r *Record) error
	// GetRecord returns the live record, or ErrNotFound.
	GetRecord(ctx context.Context, kind, key string) (*Record, error)
	// TakeRecord deletes the live record and returns it, or ErrNotFound.
	TakeRecord(ctx context.Context, kind, key string) (*Record, error)
	// DeleteRecord removes the record; removing an absent one is no error.
	DeleteRecord(ctx context.Context, kind, key string) error
	// ListRecords returns the live records of kind, ordered by Key.
	ListRecords(ctx context.Context, kind string) ([]*Record, error)
}

// CommitMarker is what an engine may offer so that a hot path caching
// records (the token check's epoch) can tell, more cheaply than a read,
// that nothing was committed since it last read them: CommitMark changes
// whenever any transaction commits, from any process. ok false means "do
// not know": read.
type CommitMarker interface {
	CommitMark() (mark uint64, ok bool)
}

// ErrEmptyRecordKind is a records call with no kind (engines refuse it, as
// a record with no key: CheckRecordKey).
var ErrEmptyRecordKind = errors.New("record with an empty kind")

var errEmptyRecordKey = errors.New("record with an empty key")

// CheckRecord is the engines' check of a record to store: not nil, with a
// kind and a key.
func CheckRecord(r *Record) error {
	if r == nil {
		return errors.New("nil record")
	}
	return CheckRecordKey(r.Kind, r.Key)
}

// CheckRecordKey is the engines' check of a record's kind and key.
func CheckRecordKey(kind, key string) error {
	switch {
	case kind == "":
		return ErrEmptyRecordKind
	case key == "":
		return errEmptyRecordKey
	}
	return nil
}
