package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/store"
)

// The records collection (store.Records): one document per record,
//
//	{_id: "<len(kind)>:<kind>:<key>", k: kind, key, v: value (binary),
//	 exp: expiry in microseconds (0: never), n: a nonce new on every write}
//
// with the index {k, key} for ListRecords and {exp} for the purge. The
// length prefix makes _id one-to-one with (kind, key) whatever they hold.
//
// Only an insert on a unique _id is atomic on every MongoDB-compatible
// server: FerretDB runs a filtered write as a read, then a write by _id.
// So CreateRecord decides by insert; over an existing (perhaps expired)
// record it holds a lease on the key while it checks and replaces it, so
// of two creators over an expired record one wins. TakeRecord reads the
// live record and deletes it by _id and nonce: the delete's count, exact
// everywhere, says which of two takers won. On FerretDB a Put or Delete
// landing between the two halves of another call's filtered write can be
// lost; the single-use guarantees (create against create, take against
// take) hold there too.

// recDoc is a record's document.
type recDoc struct {
	ID    string `bson:"_id"`
	Kind  string `bson:"k"`
	Key   string `bson:"key"`
	Value []byte `bson:"v"`
	Exp   int64  `bson:"exp"`
	Nonce string `bson:"n"`
}

// recPurgeEvery is how often CreateRecord first purges expired records.
const recPurgeEvery = time.Minute

// initRecords creates the records collection's indexes (from init).
func (s *Store) initRecords(ctx context.Context) error {
	s.recs = s.db.Collection("records")
	err := createIndexes(ctx, s.recs, []mongo.IndexModel{
		{Keys: bson.D{{Key: "k", Value: 1}, {Key: "key", Value: 1}}},
		{Keys: bson.D{{Key: "exp", Value: 1}}},
	})
	if err != nil {
		return fmt.Errorf("mongo: create record indexes: %w", err)
	}
	return nil
}

// CreateRecord inserts r; when the key is taken, it replaces the record
// only if that one has expired.
func (s *Store) CreateRecord(ctx context.Context, r *store.Record) error {
	if err := store.CheckRecord(r); err != nil {
		return err
	}
	s.purgeRecords(ctx)
	d := newRecDoc(r)
	_, err := s.recs.InsertOne(ctx, d)
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: create record %s/%s: %w", r.Kind, r.Key, err)
	}
	// The usual case (a replayed value): a live record, no lease needed.
	if _, err := s.findRecord(ctx, d.ID); err == nil {
		return store.ErrConflict
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("mongo: create record %s/%s: %w", r.Kind, r.Key, err)
	}
	l, err := s.lease(ctx, "rec:"+d.ID)
	if err != nil {
		return err
	}
	defer s.release(context.WithoutCancel(ctx), l)
	now := time.Now().UnixMicro()
	expired := bson.D{{Key: "_id", Value: d.ID}, {Key: "exp", Value: bson.D{{Key: "$ne", Value: int64(0)}, {Key: "$lte", Value: now}}}}
	res, err := s.recs.ReplaceOne(ctx, expired, d)
	if err != nil {
		return fmt.Errorf("mongo: create record %s/%s: %w", r.Kind, r.Key, err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	// Live, or deleted meanwhile: the insert decides again.
	if _, err := s.recs.InsertOne(ctx, d); mongo.IsDuplicateKeyError(err) {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("mongo: create record %s/%s: %w", r.Kind, r.Key, err)
	}
	return nil
}

// PutRecord upserts r.
func (s *Store) PutRecord(ctx context.Context, r *store.Record) error {
	if err := store.CheckRecord(r); err != nil {
		return err
	}
	d := newRecDoc(r)
	id := bson.D{{Key: "_id", Value: d.ID}}
	_, err := s.recs.ReplaceOne(ctx, id, d, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		// Two upserts of a new key where an upsert is a read then an
		// insert (FerretDB): the document exists now, so this replaces it.
		_, err = s.recs.ReplaceOne(ctx, id, d, options.Replace().SetUpsert(true))
	}
	if err != nil {
		return fmt.Errorf("mongo: put record %s/%s: %w", r.Kind, r.Key, err)
	}
	return nil
}

// GetRecord reads the live record.
func (s *Store) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	if err := store.CheckRecordKey(kind, key); err != nil {
		return nil, err
	}
	d, err := s.findRecord(ctx, recordID(kind, key))
	if err != nil {
		return nil, fmt.Errorf("mongo: get record %s/%s: %w", kind, key, err)
	}
	return d.record(), nil
}

// TakeRecord deletes the live record by _id and nonce: a delete that
// removes nothing lost to another taker (or to a rewrite, then it reads
// again).
func (s *Store) TakeRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	if err := store.CheckRecordKey(kind, key); err != nil {
		return nil, err
	}
	id := recordID(kind, key)
	for {
		d, err := s.findRecord(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("mongo: take record %s/%s: %w", kind, key, err)
		}
		res, err := s.recs.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "n", Value: d.Nonce}})
		if err != nil {
			return nil, fmt.Errorf("mongo: take record %s/%s: %w", kind, key, err)
		}
		if res.DeletedCount == 1 {
			return d.record(), nil
		}
	}
}

// DeleteRecord removes the record, live or not.
func (s *Store) DeleteRecord(ctx context.Context, kind, key string) error {
	if err := store.CheckRecordKey(kind, key); err != nil {
		return err
	}
	if _, err := s.recs.DeleteOne(ctx, bson.D{{Key: "_id", Value: recordID(kind, key)}}); err != nil {
		return fmt.Errorf("mongo: delete record %s/%s: %w", kind, key, err)
	}
	return nil
}

// ListRecords reads the live records of kind in key order (MongoDB's
// default collation compares strings byte by byte, as SQLite does).
func (s *Store) ListRecords(ctx context.Context, kind string) ([]*store.Record, error) {
	if kind == "" {
		return nil, store.ErrEmptyRecordKind
	}
	filter := append(bson.D{{Key: "k", Value: kind}}, liveRecord(time.Now())...)
	cur, err := s.recs.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "key", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: list records %s: %w", kind, err)
	}
	var ds []recDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, fmt.Errorf("mongo: list records %s: %w", kind, err)
	}
	out := make([]*store.Record, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}

// findRecord reads the live document of id, or store.ErrNotFound.
func (s *Store) findRecord(ctx context.Context, id string) (*recDoc, error) {
	filter := append(bson.D{{Key: "_id", Value: id}}, liveRecord(time.Now())...)
	var d recDoc
	err := s.recs.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// liveRecord is the filter of records not expired at now.
func liveRecord(now time.Time) bson.D {
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "exp", Value: int64(0)}},
		bson.D{{Key: "exp", Value: bson.D{{Key: "$gt", Value: now.UnixMicro()}}}},
	}}}
}

// purgeRecords deletes expired records, at most once per recPurgeEvery
// (the callers that lose the race for the turn skip it). A failure only
// leaves them for the next turn: they are invisible anyway.
func (s *Store) purgeRecords(ctx context.Context) {
	now := time.Now()
	last := s.recPurged.Load()
	if now.UnixMicro()-last < recPurgeEvery.Microseconds() || !s.recPurged.CompareAndSwap(last, now.UnixMicro()) {
		return
	}
	_, _ = s.recs.DeleteMany(context.WithoutCancel(ctx), bson.D{{Key: "exp", Value: bson.D{{Key: "$ne", Value: int64(0)}, {Key: "$lte", Value: now.UnixMicro()}}}})
}

// recordID is the _id of kind/key.
func recordID(kind, key string) string {
	return strconv.Itoa(len(kind)) + ":" + kind + ":" + key
}

func newRecDoc(r *store.Record) *recDoc {
	var n [8]byte
	_, _ = rand.Read(n[:])
	v := r.Value
	if v == nil {
		v = []byte{}
	}
	var exp int64
	if !r.Expires.IsZero() {
		if exp = r.Expires.UnixMicro(); exp == 0 {
			exp = -1 // the epoch itself: long expired, not never
		}
	}
	return &recDoc{ID: recordID(r.Kind, r.Key), Kind: r.Kind, Key: r.Key, Value: v, Exp: exp, Nonce: hex.EncodeToString(n[:])}
}

func (d *recDoc) record() *store.Record {
	r := &store.Record{Kind: d.Kind, Key: d.Key, Value: d.Value}
	if r.Value == nil {
		r.Value = []byte{}
	}
	if d.Exp != 0 {
		r.Expires = time.UnixMicro(d.Exp).UTC()
	}
	return r
}
