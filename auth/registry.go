package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dccfhir/dccfhir/store"
)

// Registry reads and writes the auth records of one store; the server and
// the command-line tools share it.
type Registry struct {
	Store store.Records
	Now   func() time.Time
}

// ErrUnknown is a client or user that is not registered.
var ErrUnknown = errors.New("not registered")

func (r *Registry) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// get decodes the record kind/key into v; ErrUnknown when absent.
func (r *Registry) get(ctx context.Context, kind, key string, v any) error {
	rec, err := r.Store.GetRecord(ctx, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknown
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(rec.Value, v); err != nil {
		return fmt.Errorf("auth record %s/%s: %w", kind, key, err)
	}
	return nil
}

// put stores v as the record kind/key (create: only if absent, else
// store.ErrConflict). A client, account or revocation stored bumps the
// epoch token checks watch (epoch.go).
func (r *Registry) put(ctx context.Context, kind, key string, v any, expires time.Time, create bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec := &store.Record{Kind: kind, Key: key, Value: b, Expires: expires}
	if create {
		err = r.Store.CreateRecord(ctx, rec)
	} else {
		err = r.Store.PutRecord(ctx, rec)
	}
	if err == nil && watched(kind) {
		err = r.changed(ctx)
	}
	return err
}

// Client returns a registered client, ErrUnknown when there is none.
func (r *Registry) Client(ctx context.Context, id string) (*Client, error) {
	c := new(Client)
	if err := r.get(ctx, KindClient, id, c); err != nil {
		return nil, err
	}
	return c, nil
}

// User returns an account, ErrUnknown when there is none.
func (r *Registry) User(ctx context.Context, username string) (*User, error) {
	u := new(User)
	if err := r.get(ctx, KindUser, username, u); err != nil {
		return nil, err
	}
	return u, nil
}

// PutUser stores an account (replacing it).
func (r *Registry) PutUser(ctx context.Context, u *User) error {
	return r.put(ctx, KindUser, u.Username, u, time.Time{}, false)
}

// PutClient stores a client (replacing it).
func (r *Registry) PutClient(ctx context.Context, c *Client) error {
	return r.put(ctx, KindClient, c.ID, c, time.Time{}, false)
}
