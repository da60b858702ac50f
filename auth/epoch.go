package auth

import (
	"context"
	"errors"

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

// epoch reads the current epoch ("" before the first change).
func (t *tokenSide) epoch(ctx context.Context) (string, error) {
	rec, err := t.s.reg.Store.GetRecord(ctx, KindConfig, epochKey)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return string(rec.Value), nil
}

// liveState is the outcome of a token's last live check (nil err: live)
// and the epoch it was made in.
type liveState struct {
	epoch string
	err   error
}
