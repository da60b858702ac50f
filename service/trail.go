package service

import (
	"context"

	"github.com/dccfhir/dccfhir/store"
)

// Trail is what the service tells one request's audit record (issue 10):
// the versions its writes put, inside their storage transaction, so the
// record commits with them or not at all. A request whose context carries
// no Trail records nothing (the server's own work, audit off).
type Trail interface {
	// Wrote is called inside the storage transaction of a write
	// interaction or a transaction Bundle (a batch: of each write entry),
	// after its versions are put and before the commit, with those
	// versions (a deletion's tombstone included). An error aborts the
	// transaction: nothing is written. The engine may run the transaction
	// again after a conflict, and Wrote with it: it must keep no state of
	// an attempt that did not commit.
	Wrote(ctx context.Context, tx store.Tx, written []*store.Resource) error
}

type trailKey struct{}

// WithTrail returns ctx carrying the request's Trail.
func WithTrail(ctx context.Context, t Trail) context.Context {
	return context.WithValue(ctx, trailKey{}, t)
}

// TrailFrom returns the request's Trail, nil when none.
func TrailFrom(ctx context.Context) Trail {
	t, _ := ctx.Value(trailKey{}).(Trail)
	return t
}

// traced runs fn in tx and then tells the request's Trail, still inside
// tx, the versions fn put: a write interaction or a transaction Bundle
// reports what it wrote, not what it answered (a conditional create that
// matched, a delete of nothing, wrote nothing). Without a Trail it is fn.
func traced(ctx context.Context, tx store.Tx, fn func(store.Tx) error) error {
	t := TrailFrom(ctx)
	if t == nil {
		return fn(tx)
	}
	rt := &tracedTx{Tx: tx}
	if err := fn(rt); err != nil {
		return err
	}
	if len(rt.written) == 0 {
		return nil
	}
	return t.Wrote(ctx, tx, rt.written)
}

// tracedTx notes the versions put through it.
type tracedTx struct {
	store.Tx
	written []*store.Resource
}

func (t *tracedTx) Put(ctx context.Context, w *store.Write) error {
	if err := t.Tx.Put(ctx, w); err != nil {
		return err
	}
	t.written = append(t.written, &w.Resource)
	return nil
}
