package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/dccfhir/dccfhir/store"
)

// defaultHistoryCount is the page size when a HistoryQuery leaves Count 0.
const defaultHistoryCount = 100

// History lists versions newest first (updated DESC, hid DESC). Pages are
// cut by a keyset cursor on (updated, hid) of the last version shown, so a
// version written while a client pages never shifts the following pages.
func (s *Store) History(ctx context.Context, q *store.HistoryQuery) (*store.HistoryPage, error) {
	if q.ID != "" && q.Type == "" {
		return nil, fmt.Errorf("sqlite: history: an id needs a type")
	}
	count := q.Count
	if count <= 0 {
		count = defaultHistoryCount
	}
	var (
		where []string
		args  []any
	)
	if q.Type != "" {
		where, args = append(where, "h.type = ?"), append(args, q.Type)
	}
	if q.ID != "" {
		where, args = append(where, "h.id = ?"), append(args, q.ID)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "h.updated >= ?"), append(args, q.Since.UnixMicro())
	}
	if !q.At.IsZero() {
		at := q.At.UnixMicro()
		where = append(where, "h.updated <= ? AND NOT EXISTS (SELECT 1 FROM history h2 WHERE h2.type = h.type AND h2.id = h.id AND h2.version > h.version AND h2.updated <= ?)")
		args = append(args, at, at)
	}
	page := &store.HistoryPage{Total: -1}
	if q.Total {
		rows, err := s.r.query(ctx, "SELECT COUNT(*) FROM history h"+whereSQL(where), args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: history: %w", err)
		}
		for rows.Next() {
			if err := rows.Scan(&page.Total); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: history: %w", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: history: %w", err)
		}
	}
	if q.Page != "" {
		c, err := decodeCursor(q.Page)
		if err != nil || c.sig != "h" || len(c.keys) != 2 {
			return nil, fmt.Errorf("sqlite: history: %w", errBadCursor)
		}
		u, ok1 := c.keys[0].(int64)
		h, ok2 := c.keys[1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("sqlite: history: %w", errBadCursor)
		}
		where = append(where, "(h.updated < ? OR (h.updated = ? AND h.hid < ?))")
		args = append(args, u, u, h)
	}
	args = append(args, count+1)
	rows, err := s.r.query(ctx, "SELECT h.hid, h.type, h.id, h.version, h.updated, h.deleted, h.method, h.json FROM history h"+
		whereSQL(where)+" ORDER BY h.updated DESC, h.hid DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history: %w", err)
	}
	defer rows.Close()
	var last *row
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: history: %w", err)
		}
		if len(page.Versions) == count {
			page.Next = encodeCursor(cursor{sig: "h", keys: []any{last.LastUpdated.UnixMicro(), last.rid}})
			break
		}
		page.Versions = append(page.Versions, r.Resource)
		last = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: history: %w", err)
	}
	return page, nil
}

func whereSQL(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
