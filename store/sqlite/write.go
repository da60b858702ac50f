package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// kind describes one index table: its bit in resource.kinds and its
// columns after res.
type kind struct {
	bit   int64
	table string
	cols  []string
}

// The index kinds, in query.Index order.
var (
	kString   = &kind{1, "idx_string", []string{"param", "norm", "exact"}}
	kToken    = &kind{2, "idx_token", []string{"param", "system", "code", "text", "tsys", "tcode"}}
	kRef      = &kind{4, "idx_ref", []string{"param", "type", "id", "url", "version", "ident"}}
	kDate     = &kind{8, "idx_date", []string{"param", "low", "high"}}
	kNumber   = &kind{16, "idx_number", []string{"param", "value", "low", "high"}}
	kQuantity = &kind{32, "idx_quantity", []string{"param", "system", "code", "unit", "value", "low", "high"}}
	kURI      = &kind{64, "idx_uri", []string{"param", "value"}}
	kinds     = []*kind{kString, kToken, kRef, kDate, kNumber, kQuantity, kURI}
)

// batchRows is the most rows one multi-row INSERT carries.
const batchRows = 100

// insertSQL is the multi-row INSERT of n rows into k.
func (k *kind) insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO ")
	b.WriteString(k.table)
	b.WriteString("(res, ")
	b.WriteString(strings.Join(k.cols, ", "))
	b.WriteString(") VALUES ")
	one := "(?" + strings.Repeat(", ?", len(k.cols)) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// pending is the buffered rows of one table: flat args, len(cols)+1 per row.
type pending struct {
	args []any
	n    int
}

// tx is the store.Tx of one Update; it is only used by that Update's fn,
// on the write connection.
type tx struct {
	s    *Store
	done bool

	idx  [7]pending // per kinds index
	hist pending
	// histBytes bounds the memory the buffered history JSON holds.
	histBytes int
	// dirty are the rids with buffered index rows.
	dirty map[int64]struct{}
	// nextHid is the hid of the next history row (0: not read yet).
	nextHid int64
}

var _ store.Tx = (*tx)(nil)

// Update runs fn in one BEGIN IMMEDIATE transaction on the write
// connection, committing when fn returns nil and rolling back otherwise
// (also when fn panics). Writers queue on a mutex, so fn never sees
// SQLITE_BUSY from this process and is never re-run. After an I/O error
// the connection is discarded rather than rolled back (see settle).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(ctx); err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	if s.catchUp.Swap(false) {
		// See checkpointer: with no writer running, this completes the
		// checkpoint, so the BEGIN below starts the WAL over.
		s.ckptMu.Lock()
		if left, ok := checkpointPassive(bg, s.wconn); ok {
			s.walFrames.Store(left)
		}
		s.ckptMu.Unlock()
	}
	if _, err := s.wconn.ExecContext(bg, "BEGIN IMMEDIATE"); err != nil {
		s.settle(connBroken(err))
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	t := &tx{s: s, dirty: map[int64]struct{}{}}
	committed := false
	defer func() {
		t.done = true
		drop := connBroken(err)
		if !committed && !drop {
			if _, rerr := s.wconn.ExecContext(bg, "ROLLBACK"); rerr != nil {
				// The transaction may still be open: the next BEGIN
				// would fail on this connection.
				drop = true
				if err != nil {
					err = errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rerr))
				}
			}
		}
		s.settle(drop)
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flush(bg); err != nil {
		return err
	}
	if _, err := s.wconn.ExecContext(bg, "COMMIT"); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	committed = true
	s.committed()
	return nil
}

// Lock is a no-op: Update already serialises every writer for the whole
// of fn, so whoever holds the write transaction holds every key.
func (t *tx) Lock(ctx context.Context, key string) error {
	if t.done {
		return errTxDone
	}
	return nil
}

var errTxDone = errors.New("sqlite: transaction already ended")

// Read returns the current version, including this Tx's writes.
func (t *tx) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	if t.done {
		return nil, errTxDone
	}
	if err := t.flushHistory(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	return readCurrent(ctx, t.s.w, typ, id)
}

// Search answers q on the write connection after flushing buffered index
// rows, so it sees this Tx's writes.
func (t *tx) Search(ctx context.Context, q *query.Query) (*store.SearchResult, error) {
	if t.done {
		return nil, errTxDone
	}
	if err := t.flush(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	return runSearch(ctx, t.s.w, q)
}

// Targets answers one _include step on the write connection, seeing this
// Tx's writes.
func (t *tx) Targets(ctx context.Context, from []store.Ref, param, targetType string) ([]*store.Resource, error) {
	if t.done {
		return nil, errTxDone
	}
	if err := t.flush(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	return targets(ctx, t.s.w, from, param, targetType)
}

// Referrers answers one _revinclude step on the write connection.
func (t *tx) Referrers(ctx context.Context, typ, param string, to []store.Ref) ([]*store.Resource, error) {
	if t.done {
		return nil, errTxDone
	}
	if err := t.flush(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	return referrers(ctx, t.s.w, typ, param, to)
}

// Put stores w as the new current version, checking its version number.
func (t *tx) Put(ctx context.Context, w *store.Write) error {
	if t.done {
		return errTxDone
	}
	if w == nil || w.Type == "" || w.ID == "" || w.Version < 1 {
		return errors.New("sqlite: put: type, id and a version >= 1 are required")
	}
	ix := w.Index
	if w.Deleted || ix == nil {
		ix = &query.Index{}
	}
	mask := indexMask(ix)
	var js any
	if !w.Deleted {
		js = w.JSON
		if w.JSON == nil {
			js = []byte{}
		}
	}
	upd := w.LastUpdated.UnixMicro()
	bg := context.WithoutCancel(ctx)
	c := t.s.w
	if t.nextHid == 0 {
		if err := t.s.wconn.QueryRowContext(bg, "SELECT COALESCE(MAX(hid), 0) + 1 FROM history").Scan(&t.nextHid); err != nil {
			return fmt.Errorf("sqlite: put: %w", err)
		}
	}
	hid := t.nextHid
	var rid int64
	if w.Version == 1 {
		st, err := c.stmt(bg, "INSERT INTO resource(type, id, version, updated, deleted, method, kinds, hid) VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (type, id) DO NOTHING")
		if err != nil {
			return err
		}
		res, err := st.ExecContext(bg, w.Type, w.ID, upd, w.Deleted, w.Method, mask, hid)
		if err != nil {
			return fmt.Errorf("sqlite: put %s/%s: %w", w.Type, w.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrConflict
		}
		if rid, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: put %s/%s: %w", w.Type, w.ID, err)
		}
	} else {
		st, err := c.stmt(bg, "SELECT rid, version, kinds FROM resource WHERE type = ? AND id = ?")
		if err != nil {
			return err
		}
		var ver, old int64
		switch err := st.QueryRowContext(bg, w.Type, w.ID).Scan(&rid, &ver, &old); {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrConflict
		case err != nil:
			return fmt.Errorf("sqlite: put %s/%s: %w", w.Type, w.ID, err)
		case ver != w.Version-1:
			return store.ErrConflict
		}
		if _, ok := t.dirty[rid]; ok {
			if err := t.flushIndex(bg); err != nil {
				return err
			}
		}
		for _, k := range kinds {
			if old&k.bit == 0 {
				continue
			}
			st, err := c.stmt(bg, "DELETE FROM "+k.table+" WHERE res = ?")
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(bg, rid); err != nil {
				return fmt.Errorf("sqlite: put %s/%s: %w", w.Type, w.ID, err)
			}
		}
		st, err = c.stmt(bg, "UPDATE resource SET version = ?, updated = ?, deleted = ?, method = ?, kinds = ?, hid = ? WHERE rid = ?")
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(bg, w.Version, upd, w.Deleted, w.Method, mask, hid, rid); err != nil {
			return fmt.Errorf("sqlite: put %s/%s: %w", w.Type, w.ID, err)
		}
	}

	// From here on nothing can fail but the buffered flush, which fails the
	// whole transaction.
	t.nextHid++
	t.hist.args = append(t.hist.args, hid, w.Type, w.ID, w.Version, upd, w.Deleted, w.Method, js)
	t.hist.n++
	t.histBytes += len(w.JSON)
	if mask != 0 {
		t.dirty[rid] = struct{}{}
		t.addIndex(rid, ix)
	}
	if t.hist.n >= batchRows || t.histBytes > 8<<20 {
		if err := t.flushHistory(bg); err != nil {
			return err
		}
	}
	for i := range t.idx {
		if t.idx[i].n >= batchRows {
			if err := t.flushKind(bg, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexMask is the set of index tables ix has rows in.
func indexMask(ix *query.Index) int64 {
	var mask int64
	for i, n := range [...]int{len(ix.Strings), len(ix.Tokens), len(ix.Refs), len(ix.Dates), len(ix.Numbers), len(ix.Quantities), len(ix.URIs)} {
		if n > 0 {
			mask |= kinds[i].bit
		}
	}
	for i := range ix.Composites {
		for j := range ix.Composites[i].Parts {
			mask |= indexMask(&ix.Composites[i].Parts[j])
		}
	}
	return mask
}

// compositeParam is the param under which the component comp of the k-th
// composite value of param is stored: "param$k$comp". A search matches
// components through the shared "param$k$" prefix, so they come from the
// same element; '$' sorts below every character of a parameter code, so
// "param$" < row < "param%" selects all of param's rows.
func compositeParam(param string, k int, comp string) string {
	return param + "$" + strconv.Itoa(k) + "$" + comp
}

// addIndex buffers the index rows of rid.
func (t *tx) addIndex(rid int64, ix *query.Index) {
	t.addEntries(rid, ix, func(p string) string { return p })
	for k := range ix.Composites {
		ce := &ix.Composites[k]
		for j := range ce.Parts {
			t.addEntries(rid, &ce.Parts[j], func(p string) string { return compositeParam(ce.Param, k, p) })
		}
	}
}

// addEntries buffers the entries of ix with their params mapped by param.
func (t *tx) addEntries(rid int64, ix *query.Index, param func(string) string) {
	p := &t.idx[0]
	for _, e := range ix.Strings {
		p.args = append(p.args, rid, param(e.Param), e.Norm, e.Exact)
		p.n++
	}
	p = &t.idx[1]
	for _, e := range ix.Tokens {
		if e.Param == "_id" {
			continue // answered from resource.id
		}
		p.args = append(p.args, rid, param(e.Param), e.System, e.Code, e.Text, e.TypeSystem, e.TypeCode)
		p.n++
	}
	p = &t.idx[2]
	for _, e := range ix.Refs {
		p.args = append(p.args, rid, param(e.Param), e.Type, e.ID, e.URL, e.Version, e.Identifier)
		p.n++
	}
	p = &t.idx[3]
	for _, e := range ix.Dates {
		if e.Param == "_lastUpdated" {
			continue // answered from resource.updated
		}
		p.args = append(p.args, rid, param(e.Param), e.Low, e.High)
		p.n++
	}
	p = &t.idx[4]
	for _, e := range ix.Numbers {
		p.args = append(p.args, rid, param(e.Param), e.Value, e.Low, e.High)
		p.n++
	}
	p = &t.idx[5]
	for _, e := range ix.Quantities {
		p.args = append(p.args, rid, param(e.Param), e.System, e.Code, e.Unit, e.Value, e.Low, e.High)
		p.n++
	}
	p = &t.idx[6]
	for _, e := range ix.URIs {
		p.args = append(p.args, rid, param(e.Param), e.Value)
		p.n++
	}
}

// flush writes every buffered row.
func (t *tx) flush(ctx context.Context) error {
	if err := t.flushHistory(ctx); err != nil {
		return err
	}
	return t.flushIndex(ctx)
}

func (t *tx) flushIndex(ctx context.Context) error {
	for i := range t.idx {
		if err := t.flushKind(ctx, i); err != nil {
			return err
		}
	}
	clear(t.dirty)
	return nil
}

func (t *tx) flushKind(ctx context.Context, i int) error {
	k := kinds[i]
	return t.s.insertRows(ctx, &t.idx[i], len(k.cols)+1, k.insertSQL)
}

var histInsert = func(n int) string {
	one := "(?, ?, ?, ?, ?, ?, ?, ?)"
	return "INSERT INTO history(hid, type, id, version, updated, deleted, method, json) VALUES " + one + strings.Repeat(", "+one, n-1)
}

func (t *tx) flushHistory(ctx context.Context) error {
	t.histBytes = 0
	return t.s.insertRows(ctx, &t.hist, 8, histInsert)
}

// insertRows writes p's rows in multi-row INSERTs of at most batchRows
// and empties p.
func (s *Store) insertRows(ctx context.Context, p *pending, width int, sqlFor func(int) string) error {
	args := p.args
	for n := p.n; n > 0; {
		m := min(n, batchRows)
		st, err := s.w.stmt(ctx, sqlFor(m))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args[:m*width]...); err != nil {
			return fmt.Errorf("sqlite: insert: %w", err)
		}
		args = args[m*width:]
		n -= m
	}
	clear(p.args) // let the GC have the JSON and strings
	p.args, p.n = p.args[:0], 0
	return nil
}

// Reindex implements store.Tx: the index rows of the current version are
// replaced in place; the resource and its history are untouched.
func (t *tx) Reindex(ctx context.Context, typ, id string, version int64, ix *query.Index) error {
	if t.done {
		return errTxDone
	}
	if ix == nil {
		ix = &query.Index{}
	}
	bg := context.WithoutCancel(ctx)
	c := t.s.w
	st, err := c.stmt(bg, "SELECT rid, version, deleted, kinds FROM resource WHERE type = ? AND id = ?")
	if err != nil {
		return err
	}
	var rid, ver, old int64
	var deleted bool
	switch err := st.QueryRowContext(bg, typ, id).Scan(&rid, &ver, &deleted, &old); {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrConflict
	case err != nil:
		return fmt.Errorf("sqlite: reindex %s/%s: %w", typ, id, err)
	case ver != version || deleted:
		return store.ErrConflict
	}
	if _, ok := t.dirty[rid]; ok {
		if err := t.flushIndex(bg); err != nil {
			return err
		}
	}
	for _, k := range kinds {
		if old&k.bit == 0 {
			continue
		}
		st, err := c.stmt(bg, "DELETE FROM "+k.table+" WHERE res = ?")
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(bg, rid); err != nil {
			return fmt.Errorf("sqlite: reindex %s/%s: %w", typ, id, err)
		}
	}
	mask := indexMask(ix)
	st, err = c.stmt(bg, "UPDATE resource SET kinds = ? WHERE rid = ?")
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(bg, mask, rid); err != nil {
		return fmt.Errorf("sqlite: reindex %s/%s: %w", typ, id, err)
	}
	if mask != 0 {
		t.dirty[rid] = struct{}{}
		t.addIndex(rid, ix)
	}
	for i := range t.idx {
		if t.idx[i].n >= batchRows {
			if err := t.flushKind(bg, i); err != nil {
				return err
			}
		}
	}
	return nil
}
