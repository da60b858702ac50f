// Package sqlite is the embedded storage engine: one SQLite file (pure Go
// driver modernc.org/sqlite, no cgo) in WAL mode, so a single binary can run
// a FHIR server with no database to install.
//
// # Schema
//
//	resource(rid PK, type, id, version, updated, deleted, method, kinds, hid)
//	    the current version of every resource, UNIQUE(type, id); rid is the
//	    stable internal key the index tables point at (a row is updated in
//	    place on every new version, never deleted). kinds is a bit set of the
//	    index tables holding rows for it, so an update deletes only from those.
//	    hid points at the current version's history row, which holds the
//	    JSON: every version's JSON is written once, not twice.
//	history(hid PK, type, id, version, updated, deleted, method, json)
//	    every version, UNIQUE(type, id, version); hid orders writes and is
//	    assigned by the (single) writer, so history rows can be batched.
//	idx_string(res, param, norm, exact)       idx_token(res, param, system, code, text, tsys, tcode)
//	idx_ref(res, param, type, id, url, version, ident)
//	idx_date(res, param, low, high)           idx_number(res, param, value, low, high)
//	idx_quantity(res, param, system, code, unit, value, low, high)
//	idx_uri(res, param, value)
//	    one table per query.Index kind. They are WITHOUT ROWID tables whose
//	    primary key starts with (res, param): the correlated EXISTS of a
//	    search clause and the delete of a previous version's rows are both
//	    one range seek, and each row costs two b-tree inserts (the key and
//	    one lookup index such as token (param, code, system)) instead of three.
//	    The keys are kept short because a secondary index of a WITHOUT ROWID
//	    table repeats them: token is keyed (res, param, system, code), so two
//	    entries differing only in display text or identifier type keep the
//	    first (same for a reference's version/identifier beside type/id/url).
//	    The secondary indexes are most of the write cost: each high-cardinality
//	    value (identifier, reference) dirties its own page.
//	records(kind, key, value, expires)
//	    store.Records, PRIMARY KEY (kind, key); expires in microseconds, 0
//	    for never (records.go).
//
// The _id token and _lastUpdated date the extractor produces are not stored:
// searches and sorts on them use resource.id and resource.updated.
//
// Timestamps are microseconds since the Unix epoch (UTC), as in query.Index.
//
// # Search
//
// A page is one statement (compile.go, values.go, page.go): the clause of
// lowest store.DriveRank drives as "rid IN (subquery on its index)", the
// others are correlated EXISTS seeks on their tables' (res, param) keys,
// and a keyset condition on the sort keys pages. The steps of _include and
// _revinclude are key lookups from the ids given (include.go). Explain
// gives the statements and their EXPLAIN QUERY PLAN; TestQueryPlans and
// TestIncludePlans pin the plans the engine relies on.
//
// # Concurrency
//
// There is one writer: Update takes a Go mutex (so writers queue in Go
// rather than spin on SQLITE_BUSY), then runs fn inside BEGIN IMMEDIATE on a
// dedicated connection. Reads and searches from the Store go to a pool of
// read-only connections that WAL lets run alongside the writer; reads and
// searches through a Tx run on the write connection and see its writes.
// Because writers are serialised for the whole of fn, Tx.Lock has nothing
// left to do and is a no-op. busy_timeout still covers another process
// (a backup, the sqlite3 shell) holding the file.
//
// # Durability
//
// synchronous=NORMAL: in WAL mode a commit is in the WAL file before Update
// returns, so killing the process (kill -9, OOM, panic) loses nothing; only
// an OS crash or power loss can lose the last transactions, never corrupt
// the file. FULL adds one fsync per commit, which costs little on a bundle
// of 700 resources but multiplies the cost of single-resource writes (see
// BenchmarkPutSingle*); Options.Synchronous selects it.
//
// # Write path
//
// Put checks the version and writes the resource row at once, and buffers
// the history row (which holds the JSON) and the index rows; they are
// flushed as multi-row INSERTs of up to 100 rows, from statements prepared
// once per connection, before any read or search in the Tx and at commit.
// SQLite's automatic checkpoint is off: a background goroutine checkpoints
// (PASSIVE) on its own connection once this Store's writes have left 64 MiB
// of WAL not yet copied back, so commits do not pay for it.
//
// # Other processes
//
// The admin commands (dccfhir token, client, user, keys) open the file
// while a server has it open: WAL mode lets them, through SQLite's locks on
// the file and on its -shm wal-index. Those are POSIX record locks, which
// the kernel drops for the whole process at the close of any descriptor of
// the file, so nothing in this package opens the database, -wal or -shm
// file itself (it once read the -shm header to size the WAL: every close
// dropped the server's locks, the next admin command took the wal-index
// for its own, truncated and rebuilt it, and the server's commits then
// faulted on its stale mapping, SQLITE_IOERR_IN_PAGE). The WAL is measured
// with SQLite's own counters instead (see checkpointer). A write that fails
// with an I/O error discards the write connection (settle), and Close
// leaves the checkpoint at close to SQLite, which runs it only when no
// other process has the file open.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dccfhir/dccfhir/store"

	msqlite "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrUnsupported is returned (wrapped) for a search feature this engine
// cannot answer yet, so the service can report it to the client as such.
var ErrUnsupported = fmt.Errorf("sqlite: %w", store.ErrUnsupported)

// Options tune the engine; the zero value is the default.
type Options struct {
	// Synchronous is "NORMAL" (default) or "FULL" (fsync on every commit:
	// survives power loss, slower for small transactions).
	Synchronous string
	// ReadConns is the size of the read pool (default max(4, 2*GOMAXPROCS)).
	ReadConns int
}

// Store is the SQLite engine; it implements store.Store.
type Store struct {
	path string
	shm  shmHeader // commitmark.go

	wmu sync.Mutex // serialises Update (and Close)
	wdb *sql.DB
	// wconn is the write connection and w its statements; nil after a
	// write discarded them (settle) until the next write opens another.
	wconn  *sql.Conn
	w      *stmtCache
	closed bool
	// purged is when CreateRecord last purged expired records (under wmu).
	purged time.Time

	rdb *sql.DB
	r   *stmtCache

	// The checkpointer copies the WAL back into the database file on its
	// own connection, off the writer's path (see checkpointer).
	cdb      *sql.DB
	ckpt     chan struct{}
	ckptDone chan struct{}
	// ckptBytes is walCheckpointBytes (smaller in tests).
	ckptBytes int64
	// walFrames estimates the WAL frames not yet checkpointed: those the
	// writer appended (countFrames) since the last checkpoint, plus those
	// it left. frameBytes is the size of one (page size + 24).
	walFrames  atomic.Int64
	frameBytes int64
	// catchUp asks the next writer to finish the checkpoint before it
	// begins (see checkpointer).
	catchUp atomic.Bool
	// ckptMu keeps the writer's catch-up from running into a background
	// checkpoint (SQLite runs one at a time; the other gets SQLITE_BUSY).
	ckptMu sync.Mutex
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it and its directory on first start) the database
// file at path with the default Options.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith opens the database at path with opts.
func OpenWith(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	syncMode := "NORMAL"
	switch opts.Synchronous {
	case "", "NORMAL", "normal":
	case "FULL", "full":
		syncMode = "FULL"
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q: want NORMAL or FULL", opts.Synchronous)
	}
	nread := opts.ReadConns
	if nread <= 0 {
		nread = max(4, 2*runtime.GOMAXPROCS(0))
	}
	common := "_pragma=busy_timeout(10000)&_pragma=temp_store(MEMORY)&_pragma=foreign_keys(0)"
	wdsn := path + "?" + common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(" + syncMode + ")&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)"
	cdsn := path + "?" + common + "&_pragma=synchronous(" + syncMode + ")&_pragma=wal_autocheckpoint(0)"
	rdsn := path + "?" + common + "&_pragma=query_only(1)&_pragma=cache_size(-8192)"

	s := &Store{path: path}
	var err error
	if s.wdb, err = sql.Open("sqlite", wdsn); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if err = s.openWriter(ctx); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var page int64
	if err = s.wconn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&page); err == nil {
		err = migrate(ctx, s.wconn)
	}
	if err != nil {
		s.wconn.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	s.frameBytes = page + 24
	if s.rdb, err = sql.Open("sqlite", rdsn); err != nil {
		s.wconn.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.rdb.SetMaxOpenConns(nread)
	s.rdb.SetMaxIdleConns(nread)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)
	s.r = newStmtCache(s.rdb.PrepareContext, s.rdb)
	if s.cdb, err = sql.Open("sqlite", cdsn); err != nil {
		s.rdb.Close()
		s.wconn.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.cdb.SetMaxOpenConns(1)
	s.ckpt, s.ckptDone = make(chan struct{}, 1), make(chan struct{})
	s.ckptBytes = walCheckpointBytes
	go s.checkpointer()
	return s, nil
}

// walCheckpointBytes is how much WAL content not yet copied back into the
// database makes the checkpointer run. Checkpointing after every commit
// would copy a page each time a transaction touches it again; waiting for
// this much lets one copy serve several transactions.
const walCheckpointBytes = 64 << 20

// checkpointer runs PASSIVE checkpoints when commits have left more than
// ckptBytes of WAL frames not yet in the database. SQLite's automatic
// checkpoint would run them inside COMMIT, on the writer's time, fsync
// included; here they overlap the next transactions instead, and never
// block readers.
//
// The measure is walFrames, kept from SQLite's counters: the frames the
// writer connection appended (countFrames) and those a checkpoint left
// (checkpointPassive). Frames other processes append are not counted
// (an admin command writes a few records, and checkpoints nothing), nor
// those an earlier run left after a crash: they are copied back with the
// next checkpoint.
//
// A checkpoint that runs while writers keep appending never catches up,
// and SQLite starts the WAL over only when a write transaction begins
// after one has: left alone, the WAL would grow without bound under a
// steady load (it reached 40 GB during a region import). So when frames
// were appended meanwhile, the next writer finishes the checkpoint itself
// before it begins (Update): only the frames of the last transactions are
// left to copy, and with no writer running the copy completes. At worst
// the writer waits for a background checkpoint still running, once per
// ckptBytes of WAL.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	for range s.ckpt {
		if s.walFrames.Load()*s.frameBytes < s.ckptBytes {
			continue
		}
		// Under ckptMu, as the writer's catch-up that resets walFrames.
		s.ckptMu.Lock()
		before := s.walFrames.Load()
		// SQLITE_BUSY from another process's checkpoint (!ok) only delays
		// this one to the next commit.
		if left, ok := checkpointPassive(context.Background(), s.cdb); ok {
			// Frames appended while it ran stay counted; if there are
			// any, or it left some, the next writer finishes it.
			if s.walFrames.Add(left-before) > 0 {
				s.catchUp.Store(true)
			}
		}
		s.ckptMu.Unlock()
	}
}

// checkpointPassive runs a PASSIVE checkpoint on q and returns the WAL
// frames it left uncopied (readers still on older snapshots, or frames
// appended since it began); ok is false when it could not run.
func checkpointPassive(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (left int64, ok bool) {
	var busy, log, copied int64
	if err := q.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied); err != nil || busy != 0 || log < 0 {
		return 0, false
	}
	return max(log-copied, 0), true
}

// countFrames adds the WAL frames the write connection appended since the
// last call (its SQLITE_DBSTATUS_CACHE_WRITE counter, which WAL mode
// advances by one per frame) to walFrames. Callers hold wmu.
func (s *Store) countFrames() {
	if s.wconn == nil {
		return
	}
	_ = s.wconn.Raw(func(dc any) error {
		if st, ok := dc.(msqlite.DBStatus); ok {
			if n, _, err := st.Status(msqlite.DBStatusCacheWrite, true); err == nil {
				s.walFrames.Add(int64(n))
			}
		}
		return nil
	})
}

// committed wakes the checkpointer without waiting for it.
func (s *Store) committed() {
	select {
	case s.ckpt <- struct{}{}:
	default:
	}
}

// schemaVersion is the PRAGMA user_version of the schema below; a file of
// a later version is refused rather than misread.
const schemaVersion = 1

// migrate creates the schema in a new file and checks an existing one's.
func migrate(ctx context.Context, c *sql.Conn) error {
	var v int
	if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("database schema version %d is newer than this server's (%d)", v, schemaVersion)
	}
	if _, err := c.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	_, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
	return err
}

// schema is idempotent: it runs on every Open.
const schema = `
CREATE TABLE IF NOT EXISTS resource (
  rid     INTEGER PRIMARY KEY,
  type    TEXT NOT NULL,
  id      TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  method  TEXT NOT NULL,
  kinds   INTEGER NOT NULL,
  hid     INTEGER NOT NULL,
  UNIQUE (type, id)
);
CREATE INDEX IF NOT EXISTS resource_live ON resource(type, deleted);
CREATE INDEX IF NOT EXISTS resource_updated ON resource(type, updated);

CREATE TABLE IF NOT EXISTS history (
  hid     INTEGER PRIMARY KEY,
  type    TEXT NOT NULL,
  id      TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  method  TEXT NOT NULL,
  json    BLOB,
  UNIQUE (type, id, version)
);
CREATE INDEX IF NOT EXISTS history_all ON history(updated, hid);
CREATE INDEX IF NOT EXISTS history_type ON history(type, updated, hid);

CREATE TABLE IF NOT EXISTS idx_string (
  res INTEGER NOT NULL, param TEXT NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL,
  PRIMARY KEY (res, param, norm, exact)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_string_norm ON idx_string(param, norm);
CREATE INDEX IF NOT EXISTS idx_string_exact ON idx_string(param, exact);

CREATE TABLE IF NOT EXISTS idx_token (
  res INTEGER NOT NULL, param TEXT NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
  text TEXT NOT NULL, tsys TEXT NOT NULL, tcode TEXT NOT NULL,
  PRIMARY KEY (res, param, system, code)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_token_code ON idx_token(param, code, system);

CREATE TABLE IF NOT EXISTS idx_ref (
  res INTEGER NOT NULL, param TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
  url TEXT NOT NULL, version TEXT NOT NULL, ident TEXT NOT NULL,
  PRIMARY KEY (res, param, type, id, url)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_ref_target ON idx_ref(type, id, param);
CREATE INDEX IF NOT EXISTS idx_ref_url ON idx_ref(url, param) WHERE url <> '';

CREATE TABLE IF NOT EXISTS idx_date (
  res INTEGER NOT NULL, param TEXT NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL,
  PRIMARY KEY (res, param, low, high)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_date_low ON idx_date(param, low, high);

CREATE TABLE IF NOT EXISTS idx_number (
  res INTEGER NOT NULL, param TEXT NOT NULL, value REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
  PRIMARY KEY (res, param, value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_number_value ON idx_number(param, value);

CREATE TABLE IF NOT EXISTS idx_quantity (
  res INTEGER NOT NULL, param TEXT NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL,
  value REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
  PRIMARY KEY (res, param, system, code, value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_quantity_value ON idx_quantity(param, value);

CREATE TABLE IF NOT EXISTS idx_uri (
  res INTEGER NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (res, param, value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_uri_value ON idx_uri(param, value);

CREATE TABLE IF NOT EXISTS records (
  kind    TEXT NOT NULL,
  key     TEXT NOT NULL,
  value   BLOB NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS records_expires ON records(expires) WHERE expires <> 0;
`

// Features reports that Update is atomic.
func (s *Store) Features() store.Features { return store.Features{Transactions: true} }

// Ping checks that a read connection answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes every connection, the writer last; it waits for a running
// Update. It runs no checkpoint of its own: when the process's last
// connection to the file closes, SQLite checkpoints the WAL and deletes it
// if it can take an exclusive lock on the database file, that is when no
// other process has it open, so a server (or an admin command) that was
// alone leaves the file alone a complete copy. When another process has
// it open, the WAL is left to that one: a TRUNCATE checkpoint here, from
// an admin command while a server runs, would stall the server's writers
// until its readers moved on (up to busy_timeout), to copy a WAL the
// server's checkpointer copies anyway.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.ckpt)
	<-s.ckptDone
	s.cdb.Close()
	s.r.close()
	rerr := s.rdb.Close()
	var werr error
	if s.wconn != nil {
		s.w.close()
		werr = s.wconn.Close()
	}
	if err := s.wdb.Close(); werr == nil {
		werr = err
	}
	s.shm.close() // last: closing it drops this process's locks on -shm (commitmark.go)
	return errors.Join(rerr, werr)
}

// selectResource reads resource rows (alias r) with their JSON.
const selectResource = "SELECT r.rid, r.type, r.id, r.version, r.updated, r.deleted, r.method, h.json FROM resource r JOIN history h ON h.hid = r.hid"

// row is a resource row with its internal id.
type row struct {
	rid int64
	*store.Resource
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

func scanResource(sc scanner) (*row, error) {
	var (
		rid, ver, upd int64
		del           bool
		r             store.Resource
		js            []byte
	)
	if err := sc.Scan(&rid, &r.Type, &r.ID, &ver, &upd, &del, &r.Method, &js); err != nil {
		return nil, err
	}
	r.Version, r.LastUpdated, r.Deleted = ver, time.UnixMicro(upd).UTC(), del
	if !del {
		r.JSON = js
	}
	return &row{rid, &r}, nil
}

// Read returns the current version of typ/id.
func (s *Store) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	return readCurrent(ctx, s.r, typ, id)
}

func readCurrent(ctx context.Context, c *stmtCache, typ, id string) (*store.Resource, error) {
	st, err := c.stmt(ctx, selectResource+" WHERE r.type = ? AND r.id = ?")
	if err != nil {
		return nil, err
	}
	r, err := scanResource(st.QueryRowContext(ctx, typ, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s/%s: %w", typ, id, err)
	}
	return r.Resource, nil
}

// VRead returns one version of typ/id from the history.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (*store.Resource, error) {
	st, err := s.r.stmt(ctx, "SELECT hid, type, id, version, updated, deleted, method, json FROM history WHERE type = ? AND id = ? AND version = ?")
	if err != nil {
		return nil, err
	}
	r, err := scanResource(st.QueryRowContext(ctx, typ, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: vread %s/%s/_history/%d: %w", typ, id, version, err)
	}
	return r.Resource, nil
}

// stmtCache keeps one prepared statement per SQL text: on the write
// connection it is a statement of that connection; on the read pool a
// database/sql Stmt, which database/sql prepares once on each connection
// it runs on. Searches of the same shape share one text (values are bound),
// so the cache stays small; past maxCached texts, statements run unprepared
// rather than evict one another goroutine may be using.
type stmtCache struct {
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	prepare func(context.Context, string) (*sql.Stmt, error)
	direct  interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}
}

const maxCached = 2000

func newStmtCache(prep func(context.Context, string) (*sql.Stmt, error), direct interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) *stmtCache {
	return &stmtCache{m: map[string]*sql.Stmt{}, prepare: prep, direct: direct}
}

func (c *stmtCache) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	st, err := c.prepare(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	if len(c.m) < maxCached {
		c.m[q] = st
	}
	return st, nil
}

// query runs q, prepared when the cache has room.
func (c *stmtCache) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.mu.Lock()
	st, ok := c.m[q]
	full := len(c.m) >= maxCached
	c.mu.Unlock()
	if !ok {
		if full {
			return c.direct.QueryContext(ctx, q, args...)
		}
		var err error
		if st, err = c.stmt(ctx, q); err != nil {
			return nil, err
		}
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}
