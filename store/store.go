// Package store is the storage contract: one interface, implemented by the
// embedded SQLite engine (store/sqlite) and the MongoDB engine (store/mongo),
// and checked by one conformance suite (store/storetest) run on both.
//
// The store keeps every version of every resource as the JSON that was
// accepted, the current version's search index, and nothing it cannot
// give back. FHIR semantics (versions, conditionals, bundles) live above it
// in the service; the store guarantees atomicity and version ordering.
// Searches are planned above it too: an engine answers a page of matches
// (Search) and the two steps of _include and _revinclude (Targets,
// Referrers), and Includes is the one loop over those steps, with one
// bound (IncludeDepth). Engines may say how they answer a query
// (Explainer, for __explain).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// Errors an engine returns; the service maps them to HTTP statuses. An
// engine returns these (wrapped, or as an *Error saying what and where),
// never an HTTP status or an OperationOutcome of its own.
var (
	// ErrNotFound: no version of that resource (or that version) exists.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a Put whose Version is not the current version + 1; a
	// concurrent writer got there first.
	ErrConflict = errors.New("version conflict")
	// ErrNoTransactions: the deployment cannot run multi-document transactions.
	ErrNoTransactions = errors.New("storage does not support multi-document transactions")
	// ErrUnsupported: a search feature the engine does not implement; the
	// client asked for it, so it is a 400, not a failure.
	ErrUnsupported = errors.New("not supported by this storage engine")
	// ErrBadCursor: a paging cursor the engine cannot read (forged or stale).
	ErrBadCursor = errors.New("invalid or expired page cursor")
	// ErrTooCostly: a search whose intermediate result passes a bound of the
	// engine (the MongoDB engine's id sets); the client must narrow it.
	ErrTooCostly = errors.New("search too costly for this storage engine")
)

// Error is an engine error the client caused, whose message is meant for
// the client: Msg names what was wrong, and errors.Is matches Kind (one of
// the Err* above), which decides the status.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an *Error of kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Resource is one stored version of a resource.
type Resource struct {
	Type        string
	ID          string
	Version     int64
	LastUpdated time.Time // UTC, stored with microsecond precision
	Deleted     bool      // a deletion tombstone; JSON is nil
	Method      string    // the HTTP verb that made this version: POST, PUT, PATCH or DELETE
	JSON        []byte    // the resource, meta stamped by the service
}

// Write is a new version to store, with the search values of that version
// (nil for a deletion).
type Write struct {
	Resource
	Index *query.Index
}

// Features says what a deployment can do.
type Features struct {
	// Transactions: Update runs fn atomically (all writes or none).
	Transactions bool
}

// Reader is what a read-only caller, or a transaction, can ask.
type Reader interface {
	// Read returns the current version (a tombstone if deleted) or ErrNotFound.
	Read(ctx context.Context, typ, id string) (*Resource, error)
	// Search returns a page of current, non-deleted resources matching q.
	// It answers the matches only: q.Include and q.RevInclude are ignored,
	// the caller follows them (Includes, over Targets and Referrers).
	Search(ctx context.Context, q *query.Query) (*SearchResult, error)
	// Targets returns the current resources that the resources from refer
	// to through the reference parameter param ("*" or "": any), only those
	// of type targetType when it is set: one step of _include. References
	// to deleted or absent resources, and canonical or external URLs, bring
	// nothing. Each resource comes once, in no set order.
	Targets(ctx context.Context, from []Ref, param, targetType string) ([]*Resource, error)
	// Referrers returns the current resources of type typ ("*" or "": any)
	// that refer to one of to through the reference parameter param ("*"
	// or "": any): one step of _revinclude. Each comes once, in no set order.
	Referrers(ctx context.Context, typ, param string, to []Ref) ([]*Resource, error)
}

// Ref names a resource.
type Ref struct{ Type, ID string }

// Tx is a storage transaction: what it writes is visible to its own reads
// and searches at once, and to others when Update returns.
type Tx interface {
	Reader
	// Put stores a new version. w.Version must be the current version + 1
	// (1 for a new resource), else ErrConflict and nothing is written.
	Put(ctx context.Context, w *Write) error
	// Lock serialises callers that use the same key until the end of their
	// transactions; conditional create/update take it on their query so two
	// concurrent identical requests cannot both create.
	Lock(ctx context.Context, key string) error
	// Reindex replaces the search index of the current version of typ/id
	// without making a new version (a new SearchParameter, $reindex). It
	// returns ErrConflict when the current version is no longer version or
	// is deleted: that write indexed itself.
	Reindex(ctx context.Context, typ, id string, version int64, idx *query.Index) error
}

// Store is a storage engine.
type Store interface {
	Reader
	Records
	// VRead returns one version, or ErrNotFound.
	VRead(ctx context.Context, typ, id string, version int64) (*Resource, error)
	// History lists versions newest first.
	History(ctx context.Context, q *HistoryQuery) (*HistoryPage, error)
	// Update runs fn in one storage transaction and commits when fn returns
	// nil. Engines may run fn again on a transient conflict, so fn must not
	// keep state across runs. Without Features().Transactions the writes of
	// fn are not atomic together (each Put is).
	Update(ctx context.Context, fn func(Tx) error) error
	Features() Features
	// Ping reports whether the storage answers (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// HistoryQuery selects versions: of one resource (Type and ID), of a type
// (Type only) or of everything (neither).
type HistoryQuery struct {
	Type, ID string
	// Since keeps versions with LastUpdated >= Since (zero: no bound).
	Since time.Time
	// At keeps, per resource, the version that was current at At (zero: no bound).
	At time.Time
	// Count is the page size (> 0).
	Count int
	// Page is an opaque cursor from a previous HistoryPage.Next.
	Page string
	// Total asks for HistoryPage.Total.
	Total bool
}

// HistoryPage is one page of history, newest first (LastUpdated descending,
// then a fixed engine order), stable while others write.
type HistoryPage struct {
	Versions []*Resource
	Next     string // cursor of the next page, "" at the end
	Total    int    // when asked, else -1
}

// SearchResult is one page of matches.
type SearchResult struct {
	Resources []*Resource
	// Included are the resources _include/_revinclude brought in; engines
	// leave it empty, the service fills it (Includes).
	Included []*Resource
	Next     string // cursor of the next page, "" at the end
	Prev     string // cursor of the previous page, "" on the first
	Total    int    // when Query.Total, else -1
}
