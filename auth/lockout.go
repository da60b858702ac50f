package auth

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/dccfhir/dccfhir/store"
)

// Lockout: 5 failed logins within 15 minutes lock the account for 15
// minutes. Each attempt first takes one of five failure slots (a record
// created atomically, living 15 minutes); a failure leaves it taken, a
// success frees them all. With every slot taken the account is locked,
// and the failure that fills the last one sets the lock record for 15
// minutes. Taking
// the slot before the password is checked bounds concurrent guesses too:
// of many simultaneous attempts five get through. Names that are no
// account are counted the same way, so lockout says nothing of which
// accounts exist.
const (
	KindLoginFailure = "auth.loginfail" // Key: Digest(username) + "." + slot (1..5); Expires: 15 min after the attempt
	KindLockout      = "auth.lockout"   // Key: Digest(username); Expires: 15 min after the 5th failure

	MaxLoginFailures = 5
	FailureWindow    = 15 * time.Minute
	LockoutDuration  = 15 * time.Minute
)

func failureKey(username string, slot int) string {
	return Digest(username) + "." + strconv.Itoa(slot)
}

// beginAttempt takes a failure slot for a login attempt of username: 0
// when the account is locked.
func (w *browserSide) beginAttempt(ctx context.Context, username string) (slot int, err error) {
	if _, err := w.load(ctx, KindLockout, Digest(username), nil); err == nil {
		return 0, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	now := w.now()
	for slot := 1; slot <= MaxLoginFailures; slot++ {
		rec := &store.Record{Kind: KindLoginFailure, Key: failureKey(username, slot), Value: []byte("{}"), Expires: now.Add(FailureWindow)}
		err := w.s.cfg.Store.CreateRecord(ctx, rec)
		if err == nil {
			return slot, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return 0, err
		}
		// Taken; unless it is past its time by the server's clock.
		if _, err := w.load(ctx, KindLoginFailure, rec.Key, nil); errors.Is(err, store.ErrNotFound) {
			if err := w.s.cfg.Store.PutRecord(ctx, rec); err != nil {
				return 0, err
			}
			return slot, nil
		} else if err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// endAttempt records the outcome of the attempt that took slot.
func (w *browserSide) endAttempt(ctx context.Context, username string, slot int, success bool) error {
	if success {
		return w.clearFailures(ctx, username)
	}
	for n := 1; n <= MaxLoginFailures; n++ {
		if n == slot {
			continue
		}
		if _, err := w.load(ctx, KindLoginFailure, failureKey(username, n), nil); errors.Is(err, store.ErrNotFound) {
			return nil // fewer than 5 failures in the window
		} else if err != nil {
			return err
		}
	}
	return w.save(ctx, KindLockout, Digest(username), struct{}{}, w.now().Add(LockoutDuration), false)
}

// clearFailures forgets username's failures and lock (a successful login,
// a password reset).
func (w *browserSide) clearFailures(ctx context.Context, username string) error {
	st := w.s.cfg.Store
	for slot := 1; slot <= MaxLoginFailures; slot++ {
		if err := st.DeleteRecord(ctx, KindLoginFailure, failureKey(username, slot)); err != nil {
			return err
		}
	}
	return st.DeleteRecord(ctx, KindLockout, Digest(username))
}
