package auth

import (
	"context"
	"errors"
	"sync"

	"github.com/dccfhir/dccfhir/store"
)

// The epoch: a KindConfig record rewritten (with a new random value) after
// every change of what a live token depends on — a client stored or
// removed, an account stored, a family revoked — by whichever process
// makes it. Verify reads it on every call (one primary-key read) and
// rechecks a cached token's revocation, client and user only when it
// differs from the value of the token's last check, so that a change from
// another process (dccfhir client remove, user disable) takes effect at
// the next request. Every such change goes through Registry (put,
// RemoveClient), which bumps it.
const epochKey = "epoch"

// watched: the kinds whose changes bump the epoch.
func watched(kind string) bool {
	return kind == KindClient || kind == KindUser || kind == KindRevoked
}

// changed bumps the epoch.
func (r *Registry) changed(ctx context.Context) error {
	return r.Store.PutRecord(ctx, &store.Record{Kind: KindConfig, Key: epochKey, Value: []byte(newID())})
}

// epoch returns the current epoch ("" before the first change), as read
// by a store read that began after this call did: concurrent checks share
// one read (epochReader), so a change made before a request arrived is
// always seen by its check, at one store read per burst of requests
// rather than one per request.
//
// On an engine that can tell cheaply that nothing was committed since
// (store.CommitMarker: SQLite's WAL-index header), the last epoch read is
// reused while the commit mark has not moved: a read-only load then costs
// one small file read per check instead of a store read.
func (t *tokenSide) epoch(ctx context.Context) (string, error) {
	cm, _ := t.s.reg.Store.(store.CommitMarker)
	var mark uint64
	marked := false
	if cm != nil {
		// taken before the read: if it has not moved later, nothing was
		// committed after it, so the value read after it is still current
		if mark, marked = cm.CommitMark(); marked {
			if last := t.lastEpoch.Load(); last != nil && last.mark == mark {
				return last.val, nil
			}
		}
	}
	v, err := t.epochs.read(ctx, func(ctx context.Context) (string, error) {
		rec, err := t.s.reg.Store.GetRecord(ctx, KindConfig, epochKey)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		} else if err != nil {
			return "", err
		}
		return string(rec.Value), nil
	})
	if err == nil && marked {
		t.lastEpoch.Store(&markedEpoch{mark: mark, val: v})
	}
	return v, err
}

// markedEpoch is an epoch value with the commit mark taken before it was read.
type markedEpoch struct {
	mark uint64
	val  string
}

// epochReader coalesces epoch reads without ever answering a caller with
// a read that began before it arrived (which could miss a change committed
// just before its request). A caller that finds no read in flight starts
// one. A caller that finds one in flight (begun before it arrived) joins
// the next read, which starts as soon as the one in flight ends; the first
// to join it runs it. Under load that is about one store read per read's
// duration instead of one per request; a lone request reads once.
type epochReader struct {
	mu        sync.Mutex
	cur, next *epochRead
}

type epochRead struct {
	done chan struct{}
	val  string
	err  error
}

func (e *epochReader) read(ctx context.Context, fetch func(context.Context) (string, error)) (string, error) {
	// The reads are shared: none may end with the context of the caller
	// that happens to run it.
	fctx := context.WithoutCancel(ctx)
	e.mu.Lock()
	if e.cur == nil {
		r := &epochRead{done: make(chan struct{})}
		e.cur = r
		e.mu.Unlock()
		e.run(fctx, r, fetch)
		return r.val, r.err
	}
	inFlight, lead := e.cur, e.next == nil
	if lead {
		e.next = &epochRead{done: make(chan struct{})}
	}
	n := e.next
	e.mu.Unlock()
	if !lead {
		return n.wait(ctx)
	}
	<-inFlight.done // bounded by one store read
	e.mu.Lock()
	e.cur, e.next = n, nil
	e.mu.Unlock()
	e.run(fctx, n, fetch)
	return n.val, n.err
}

// run performs r and retires it.
func (e *epochReader) run(ctx context.Context, r *epochRead, fetch func(context.Context) (string, error)) {
	r.val, r.err = fetch(ctx)
	close(r.done)
	e.mu.Lock()
	if e.cur == r {
		e.cur = nil
	}
	e.mu.Unlock()
}

func (r *epochRead) wait(ctx context.Context) (string, error) {
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// liveState is the outcome of a token's last live check (nil err: live)
// and the epoch it was made in, with the principal as of that check: the
// token's claims and what its records say now (the user's roles, the
// client's organization), shared read-only by the requests of the epoch.
type liveState struct {
	epoch string
	err   error
	p     *Principal
}
