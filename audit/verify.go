package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// Report is what Verify found on an intact chain.
type Report struct {
	// Events is the number of live events checked, Purged the tombstones
	// of retention before them.
	Events, Purged int
	// First and Last are the ids of the first and last live events; Head
	// is the last one's hash (an operator may note it elsewhere: what
	// follows a noted head cannot be truncated unseen).
	First, Last, Head string
}

// Broken is a chain that does not verify: ID is the AuditEvent where it
// breaks (the first altered, deleted or misplaced event).
type Broken struct {
	ID  string
	Why string
}

func (b *Broken) Error() string {
	return fmt.Sprintf("audit chain broken at AuditEvent/%s: %s", b.ID, b.Why)
}

// Verify walks the chain from its first event: each live event's hash
// must be that of its content, and its previous hash its predecessor's.
// Retention's tombstones may only come before the first live event (a
// purge keeps the newest); Verify then starts at the oldest kept event,
// whose previous hash it cannot check. Finally the count of AuditEvents
// the storage holds must be the count walked: an event written after a
// deleted one is found. A *Broken error says where the chain breaks;
// another error is the storage's.
func Verify(ctx context.Context, st store.Store) (*Report, error) {
	rep := &Report{}
	prev, havePrev := "", false
	seq := int64(1)
	// The walk ends at the first id not stored; the count then says
	// whether events lie beyond a gap. A server running beside verify
	// appends meanwhile: the walk goes on from where it ended, as long as
	// it finds the next event there (bounded).
	for attempt := 0; ; attempt++ {
		for ; ; seq++ {
			id := ID(seq)
			r, err := st.Read(ctx, Type, id)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
			if r.Deleted {
				if rep.Events > 0 {
					return nil, &Broken{id, "deleted after events that were kept (retention purges the oldest only)"}
				}
				rep.Purged++
				continue
			}
			if r.Version != 1 {
				return nil, &Broken{id, fmt.Sprintf("rewritten (version %d): an AuditEvent has one version", r.Version)}
			}
			ae, err := decode(r.JSON)
			if err != nil {
				return nil, &Broken{id, "unreadable: " + err.Error()}
			}
			if ae["id"] != id || ae["resourceType"] != Type {
				return nil, &Broken{id, fmt.Sprintf("holds %v/%v", ae["resourceType"], ae["id"])}
			}
			p, h, err := links(ae)
			if err != nil {
				return nil, &Broken{id, err.Error()}
			}
			calc, err := Hash(ae)
			if err != nil {
				return nil, &Broken{id, err.Error()}
			}
			if calc != h {
				return nil, &Broken{id, "its content does not match its hash (altered)"}
			}
			switch {
			case seq == 1 && p != "":
				return nil, &Broken{id, "the first event names a predecessor"}
			case havePrev && p != prev:
				return nil, &Broken{id, fmt.Sprintf("its previous hash is not that of AuditEvent/%s", ID(seq-1))}
			}
			if rep.Events == 0 {
				rep.First = id
			}
			rep.Events++
			rep.Last, rep.Head = id, h
			prev, havePrev = h, true
		}
		res, err := st.Search(ctx, &query.Query{Types: []string{Type}, Total: true})
		if err != nil {
			return nil, err
		}
		if res.Total <= rep.Events {
			break
		}
		if _, err := st.Read(ctx, Type, ID(seq)); attempt < maxVerifyRounds && err == nil {
			continue // appended since the walk ended
		}
		return nil, &Broken{ID(seq), fmt.Sprintf("missing, while the storage holds %d live AuditEvents and the chain up to it %d", res.Total, rep.Events)}
	}
	return rep, nil
}

// maxVerifyRounds bounds the walks verify resumes after events appended
// during it.
const maxVerifyRounds = 100

// Export writes the live events stored at or after since (meta.lastUpdated)
// to out as NDJSON, in chain order, each as stored (chain extension
// included, so an archive verifies on its own), and returns their number.
func Export(ctx context.Context, st store.Store, since time.Time, out io.Writer) (int, error) {
	n := 0
	for seq := int64(1); ; seq++ {
		r, err := st.Read(ctx, Type, ID(seq))
		if errors.Is(err, store.ErrNotFound) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if r.Deleted || r.LastUpdated.Before(since) {
			continue
		}
		if _, err := out.Write(append(r.JSON, '\n')); err != nil {
			return n, err
		}
		n++
	}
}

// purgeBatch bounds the tombstones of one purge transaction.
const purgeBatch = 500

// Purge applies retention: the events stored before before are replaced
// by tombstones (deleted versions: gone from reads and searches), oldest
// first, never the newest event (the head, which the next append chains
// to). It returns how many it purged. The engines keep the versions'
// history: bytes leave the storage with the engine's own compaction, not
// here (docs/security.md).
func (w *Writer) Purge(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for {
		done := false
		k := 0
		err := w.cfg.Store.Update(ctx, func(tx store.Tx) error {
			done, k = false, 0
			if err := tx.Lock(ctx, LockKey); err != nil {
				return err
			}
			w.mu.Lock()
			h := w.hint
			w.mu.Unlock()
			h, err := findHead(ctx, tx, h)
			if err != nil {
				return err
			}
			start, err := firstLive(ctx, tx, h.seq)
			if err != nil {
				return err
			}
			for seq := start; seq < h.seq; seq++ {
				r, err := tx.Read(ctx, Type, ID(seq))
				if err != nil {
					return err
				}
				if r.Deleted {
					continue
				}
				if !r.LastUpdated.Before(before) || k == purgeBatch {
					break
				}
				err = tx.Put(ctx, &store.Write{Resource: store.Resource{Type: Type, ID: r.ID, Version: r.Version + 1,
					LastUpdated: w.cfg.Now().UTC().Truncate(time.Microsecond), Deleted: true, Method: "DELETE"}})
				if err != nil {
					return err
				}
				k++
			}
			done = k < purgeBatch
			return nil
		})
		if err != nil {
			return n, err
		}
		n += k
		if done {
			return n, nil
		}
	}
}

// Retain runs Purge every period with the cutoff keep before now, until
// ctx ends; failures go to logf.
func (w *Writer) Retain(ctx context.Context, keep, period time.Duration, logf func(n int, err error)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		n, err := w.Purge(ctx, w.cfg.Now().Add(-keep))
		if logf != nil && (n > 0 || err != nil) {
			logf(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// firstLive is the first event retention kept, by bisection (tombstones
// are a prefix of the chain): last+1 when there is none.
func firstLive(ctx context.Context, r store.Reader, last int64) (int64, error) {
	lo, hi := int64(1), last+1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		res, err := r.Read(ctx, Type, ID(mid))
		if err != nil {
			return 0, err
		}
		if res.Deleted {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}
