package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// LockTTL is how long a lease lock (deployments without transactions) holds
// before another caller may take it over, so a crashed holder cannot block
// a key forever.
const LockTTL = 30 * time.Second

// Update runs fn in a transaction when the deployment supports them,
// else directly (each Put atomic on its own, Lock a lease).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if !s.txn {
		t := &tx{s: s}
		defer t.unlock(context.WithoutCancel(ctx)) // even when fn panics: the leases go at once, not after LockTTL
		return fn(t)
	}
	sess, err := s.client.StartSession()
	if err != nil {
		return fmt.Errorf("mongo: start session: %w", err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	topts := options.Transaction().SetReadConcern(readconcern.Snapshot()).SetWriteConcern(writeconcern.Majority())
	_, err = sess.WithTransaction(ctx, func(sctx context.Context) (any, error) {
		return nil, fn(&tx{s: s, sess: sess})
	}, topts)
	return err
}

// tx is a store.Tx: inside a session transaction (sess set) or direct.
type tx struct {
	s     *Store
	sess  *mongo.Session
	locks []lease
}

type lease struct{ key, owner string }

func (t *tx) ctx(ctx context.Context) context.Context {
	if t.sess == nil {
		return ctx
	}
	return mongo.NewSessionContext(ctx, t.sess)
}

// Read implements store.Reader inside the transaction.
func (t *tx) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	return t.s.Read(t.ctx(ctx), typ, id)
}

// Search implements store.Reader inside the transaction.
func (t *tx) Search(ctx context.Context, q *query.Query) (*store.SearchResult, error) {
	return t.s.Search(t.ctx(ctx), q)
}

// Targets implements store.Reader inside the transaction.
func (t *tx) Targets(ctx context.Context, from []store.Ref, param, targetType string) ([]*store.Resource, error) {
	return t.s.Targets(t.ctx(ctx), from, param, targetType)
}

// Referrers implements store.Reader inside the transaction.
func (t *tx) Referrers(ctx context.Context, typ, param string, to []store.Ref) ([]*store.Resource, error) {
	return t.s.Referrers(t.ctx(ctx), typ, param, to)
}

// Put stores a new version.
func (t *tx) Put(ctx context.Context, w *store.Write) error {
	return t.s.put(t.ctx(ctx), w, t.sess != nil)
}

// Lock takes key until the end of the Update.
func (t *tx) Lock(ctx context.Context, key string) error {
	if t.sess != nil {
		// Two transactions upserting one document write-conflict: one of
		// them is retried by WithTransaction after the other commits.
		_, err := t.s.locks.UpdateOne(t.ctx(ctx), bson.D{{Key: "_id", Value: key}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now()}}}}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("mongo: lock %q: %w", key, err)
		}
		return nil
	}
	for _, l := range t.locks {
		if l.key == key {
			return nil
		}
	}
	l, err := t.s.lease(ctx, key)
	if err != nil {
		return err
	}
	t.locks = append(t.locks, l)
	return nil
}

// lease takes key in the locks collection: an insert on the unique _id is
// atomic on every MongoDB-compatible server. A lease older than LockTTL is
// taken over, so a crashed holder cannot block the key forever.
func (s *Store) lease(ctx context.Context, key string) (lease, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	wait := 2 * time.Millisecond
	for {
		_, err := s.locks.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: owner}, {Key: "exp", Value: time.Now().Add(LockTTL).UnixMicro()}})
		if err == nil {
			return lease{key, owner}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return lease{}, fmt.Errorf("mongo: lock %q: %w", key, err)
		}
		var held struct {
			Owner string `bson:"owner"`
			Exp   int64  `bson:"exp"`
		}
		err = s.locks.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // released meanwhile
		}
		if err != nil {
			return lease{}, fmt.Errorf("mongo: lock %q: %w", key, err)
		}
		if held.Exp < time.Now().UnixMicro() {
			// The holder is gone: take the lease over.
			if _, err := s.locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: held.Owner}}); err != nil {
				return lease{}, fmt.Errorf("mongo: lock %q: %w", key, err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return lease{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// holdResource leases the resource key ("Type/id") for a write outside a
// transaction. The current document is updated by compare-and-swap, which
// some MongoDB-compatible servers (FerretDB) run as a read then a write:
// the lease keeps two writers of one resource from interleaving there.
func (s *Store) holdResource(ctx context.Context, key string) (release func(), err error) {
	l, err := s.lease(ctx, "w:"+key)
	if err != nil {
		return nil, err
	}
	return func() { s.release(context.WithoutCancel(ctx), l) }, nil
}

func (s *Store) release(ctx context.Context, l lease) {
	_, _ = s.locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: l.key}, {Key: "owner", Value: l.owner}})
}

func (t *tx) unlock(ctx context.Context) {
	for _, l := range t.locks {
		t.s.release(ctx, l)
	}
	t.locks = nil
}

// put writes w.Version: history first (the commit point), then the current
// document by compare-and-swap on the previous version.
func (s *Store) put(ctx context.Context, w *store.Write, inTxn bool) error {
	if w.Type == "" || w.ID == "" || w.Version < 1 {
		return fmt.Errorf("mongo: put: bad write %s/%s version %d", w.Type, w.ID, w.Version)
	}
	key := w.Type + "/" + w.ID
	if !inTxn {
		release, err := s.holdResource(ctx, key)
		if err != nil {
			return err
		}
		defer release()
	}
	cur, err := s.currentVersion(ctx, key)
	if err != nil {
		return err
	}
	if w.Version > cur+1 && !inTxn {
		// Perhaps an earlier writer crashed after its history insert.
		if err := s.rollForward(ctx, w.Type, w.ID); err != nil {
			return err
		}
		if cur, err = s.currentVersion(ctx, key); err != nil {
			return err
		}
	}
	if w.Version != cur+1 {
		return store.ErrConflict
	}
	d := newDoc(w)
	d.ID = histID(w.Type, w.ID, w.Version)
	if _, err := s.hist.InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			if !inTxn {
				if err := s.rollForward(ctx, w.Type, w.ID); err != nil {
					return err
				}
			}
			return store.ErrConflict
		}
		return fmt.Errorf("mongo: put %s history: %w", key, err)
	}
	d.ID = key
	if w.Version == 1 {
		_, err = s.res.InsertOne(ctx, d)
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongo: put %s: %w", key, err)
		}
	} else {
		r, err := s.res.ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "version", Value: w.Version - 1}}, d)
		if err != nil {
			return fmt.Errorf("mongo: put %s: %w", key, err)
		}
		if r.MatchedCount == 1 {
			return nil
		}
	}
	// Someone rolled our committed version (or a later one) forward.
	if v, err := s.currentVersion(ctx, key); err != nil {
		return err
	} else if v < w.Version {
		return fmt.Errorf("mongo: put %s: current version %d after committing %d", key, v, w.Version)
	}
	return nil
}

func (s *Store) currentVersion(ctx context.Context, key string) (int64, error) {
	var d struct {
		Version int64 `bson:"version"`
	}
	err := s.res.FindOne(ctx, bson.D{{Key: "_id", Value: key}}, options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongo: read %s: %w", key, err)
	}
	return d.Version, nil
}

// rollForward makes the current document of typ/id the newest history
// version if it is behind (a writer stopped between its two steps).
func (s *Store) rollForward(ctx context.Context, typ, id string) error {
	var d resDoc
	err := s.hist.FindOne(ctx, bson.D{{Key: "type", Value: typ}, {Key: "id", Value: id}},
		options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mongo: roll forward %s/%s: %w", typ, id, err)
	}
	key := typ + "/" + id
	d.ID = key
	_, err = s.res.ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "version", Value: bson.D{{Key: "$lt", Value: d.Version}}}}, &d,
		options.Replace().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: roll forward %s: %w", key, err)
	}
	return nil
}

// Reindex implements store.Tx: the current document gets the new index
// arrays by compare-and-swap on its version; history keeps what it had.
func (t *tx) Reindex(ctx context.Context, typ, id string, version int64, idx *query.Index) error {
	ctx = t.ctx(ctx)
	key := typ + "/" + id
	if t.sess == nil {
		release, err := t.s.holdResource(ctx, key)
		if err != nil {
			return err
		}
		defer release()
	}
	var cur resDoc
	err := t.s.res.FindOne(ctx, bson.D{{Key: "_id", Value: key}}, options.FindOne().SetProjection(dataProjection)).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("mongo: reindex %s: %w", key, err)
	}
	if cur.Version != version || cur.Deleted {
		return store.ErrConflict
	}
	d := newDoc(&store.Write{Resource: *cur.resource(), Index: idx})
	d.ID = key
	r, err := t.s.res.ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "version", Value: version}}, d)
	if err != nil {
		return fmt.Errorf("mongo: reindex %s: %w", key, err)
	}
	if r.MatchedCount == 0 {
		return store.ErrConflict
	}
	return nil
}
