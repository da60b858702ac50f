package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dccfhir/dccfhir/store"
)

// The records table (store.Records). Reads run on the read pool; every
// write is one autocommit statement on the write connection, under the
// writer's mutex like Update, so records writes queue behind a running
// Update (and it behind them) instead of meeting SQLITE_BUSY. A records
// write made from inside an Update's fn would wait for fn itself: the
// Records calls are not part of a transaction.
const (
	recCreate = `INSERT INTO records(kind, key, value, expires) VALUES (?, ?, ?, ?)
  ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value, expires = excluded.expires
  WHERE records.expires <> 0 AND records.expires <= ?`
	recPut = `INSERT INTO records(kind, key, value, expires) VALUES (?, ?, ?, ?)
  ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value, expires = excluded.expires`
	recGet    = "SELECT value, expires FROM records WHERE kind = ? AND key = ? AND (expires = 0 OR expires > ?)"
	recTake   = "DELETE FROM records WHERE kind = ? AND key = ? AND (expires = 0 OR expires > ?) RETURNING value, expires"
	recDelete = "DELETE FROM records WHERE kind = ? AND key = ?"
	recList   = "SELECT key, value, expires FROM records WHERE kind = ? AND (expires = 0 OR expires > ?) ORDER BY key"
	// recPurge removes up to purgeRows expired records (records_expires
	// serves the inner select).
	recPurge = "DELETE FROM records WHERE rowid IN (SELECT rowid FROM records WHERE expires <> 0 AND expires <= ? LIMIT 1000)"
)

// purgeEvery is how often CreateRecord first purges expired records.
const purgeEvery = time.Minute

// CreateRecord inserts r, or replaces an expired record of its Kind and
// Key; a live one makes the upsert's WHERE false and nothing changes.
func (s *Store) CreateRecord(ctx context.Context, r *store.Record) error {
	if err := store.CheckRecord(r); err != nil {
		return err
	}
	return s.writeRecords(ctx, func(ctx context.Context) error {
		now := time.Now()
		if now.Sub(s.purged) >= purgeEvery {
			s.purged = now
			if err := s.execRecords(ctx, recPurge, now.UnixMicro()); err != nil {
				return err
			}
		}
		st, err := s.w.stmt(ctx, recCreate)
		if err != nil {
			return err
		}
		res, err := st.ExecContext(ctx, r.Kind, r.Key, recordValue(r.Value), recordExpires(r.Expires), now.UnixMicro())
		if err != nil {
			return fmt.Errorf("sqlite: create record %s/%s: %w", r.Kind, r.Key, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: create record %s/%s: %w", r.Kind, r.Key, err)
		} else if n == 0 {
			return store.ErrConflict
		}
		return nil
	})
}

// PutRecord inserts or replaces r.
func (s *Store) PutRecord(ctx context.Context, r *store.Record) error {
	if err := store.CheckRecord(r); err != nil {
		return err
	}
	return s.writeRecords(ctx, func(ctx context.Context) error {
		return s.execRecords(ctx, recPut, r.Kind, r.Key, recordValue(r.Value), recordExpires(r.Expires))
	})
}

// GetRecord reads the live record from the read pool.
func (s *Store) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	if err := store.CheckRecordKey(kind, key); err != nil {
		return nil, err
	}
	st, err := s.r.stmt(ctx, recGet)
	if err != nil {
		return nil, err
	}
	r := &store.Record{Kind: kind, Key: key}
	if err := scanRecord(st.QueryRowContext(ctx, kind, key, time.Now().UnixMicro()), r); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, fmt.Errorf("sqlite: get record %s/%s: %w", kind, key, err)
	}
	return r, nil
}

// TakeRecord deletes the live record and returns it, in one DELETE …
// RETURNING: of two takers, the second finds no row.
func (s *Store) TakeRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	if err := store.CheckRecordKey(kind, key); err != nil {
		return nil, err
	}
	r := &store.Record{Kind: kind, Key: key}
	err := s.writeRecords(ctx, func(ctx context.Context) error {
		st, err := s.w.stmt(ctx, recTake)
		if err != nil {
			return err
		}
		return scanRecord(st.QueryRowContext(ctx, kind, key, time.Now().UnixMicro()), r)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: take record %s/%s: %w", kind, key, err)
	}
	return r, nil
}

// DeleteRecord removes the record, live or not.
func (s *Store) DeleteRecord(ctx context.Context, kind, key string) error {
	if err := store.CheckRecordKey(kind, key); err != nil {
		return err
	}
	return s.writeRecords(ctx, func(ctx context.Context) error {
		return s.execRecords(ctx, recDelete, kind, key)
	})
}

// ListRecords reads the live records of kind from the read pool.
func (s *Store) ListRecords(ctx context.Context, kind string) ([]*store.Record, error) {
	if kind == "" {
		return nil, store.ErrEmptyRecordKind
	}
	rows, err := s.r.query(ctx, recList, kind, time.Now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlite: list records %s: %w", kind, err)
	}
	defer rows.Close()
	var out []*store.Record
	for rows.Next() {
		r := &store.Record{Kind: kind}
		var v []byte
		var exp int64
		if err := rows.Scan(&r.Key, &v, &exp); err != nil {
			return nil, fmt.Errorf("sqlite: list records %s: %w", kind, err)
		}
		r.Value, r.Expires = recordValue(v), recordTime(exp)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list records %s: %w", kind, err)
	}
	return out, nil
}

// writeRecords runs fn on the write connection under the writer's mutex.
// Like Update, it runs fn's statements to completion once begun: a
// cancelled context is seen before, not half way.
func (s *Store) writeRecords(ctx context.Context, fn func(context.Context) error) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(ctx); err != nil {
		return err
	}
	defer func() { s.settle(connBroken(err)) }()
	if err := fn(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	s.committed()
	return nil
}

// execRecords runs one prepared write statement; callers hold wmu.
func (s *Store) execRecords(ctx context.Context, q string, args ...any) error {
	st, err := s.w.stmt(ctx, q)
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("sqlite: records: %w", err)
	}
	return nil
}

func scanRecord(sc scanner, r *store.Record) error {
	var v []byte
	var exp int64
	if err := sc.Scan(&v, &exp); err != nil {
		return err
	}
	r.Value, r.Expires = recordValue(v), recordTime(exp)
	return nil
}

// recordValue is v, never nil: the column is NOT NULL and an empty value reads
// back as empty, not absent.
func recordValue(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// recordExpires is t in the column's microseconds, 0 for never.
func recordExpires(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if us := t.UnixMicro(); us != 0 {
		return us
	}
	return -1 // the epoch itself: long expired, not never
}

func recordTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
