package sqlite

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The write connection's life: every write (Update, a records write) runs
// under wmu between writable and settle. A write that fails with an I/O
// error (a commit among them), or whose ROLLBACK fails, discards the
// connection instead of handing it to the next write, which opens a new
// one: a connection whose transaction state is unknown would otherwise fail
// every later BEGIN. Closing it rolls back whatever it had begun, and what
// it had committed is in the WAL, so nothing acknowledged is lost.
//
// A new connection does not remap the -shm wal-index while other
// connections of this process (the read pool, the checkpointer) hold it:
// the wal-index is shared per process, and only protected by its locks
// (see the package comment on other processes).

// openWriter opens the write connection and its statement cache.
func (s *Store) openWriter(ctx context.Context) error {
	c, err := s.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	s.wconn, s.w = c, newStmtCache(c.PrepareContext, c)
	return nil
}

// writable checks that a write may begin, and opens the write connection
// if a failed write discarded it. Callers hold wmu.
func (s *Store) writable(ctx context.Context) error {
	if s.closed {
		return errors.New("sqlite: store closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.wconn == nil {
		if err := s.openWriter(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("sqlite: reopen the write connection: %w", err)
		}
	}
	return nil
}

// settle ends a write: it counts the WAL frames the write appended, and
// discards the write connection when drop is set. Callers hold wmu.
func (s *Store) settle(drop bool) {
	s.countFrames()
	if !drop || s.wconn == nil {
		return
	}
	s.w.close()
	// database/sql closes a connection whose Raw returns ErrBadConn
	// rather than keep it in the pool.
	_ = s.wconn.Raw(func(any) error { return sqldriver.ErrBadConn })
	_ = s.wconn.Close()
	s.wconn, s.w = nil, nil
}

// connBroken reports whether err carries an SQLite error after which the
// connection's state cannot be trusted: an I/O error (SQLITE_IOERR_IN_PAGE
// included), a corrupt or unreadable file, a full disk or memory, a lock
// protocol failure. After these SQLite may or may not have rolled the
// transaction back.
func connBroken(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}
