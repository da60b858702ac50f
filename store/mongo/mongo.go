// Package mongo is the MongoDB storage engine: it implements store.Store on
// a MongoDB deployment (standalone, replica set or sharded) so dccfhir can
// run on the database many hospitals already operate.
//
// # Collections
//
//   - resources: the current version of each resource, _id "Type/id", with
//     type, id, version, lastUpdated (microseconds since the epoch, int64:
//     BSON dates only keep milliseconds), deleted, method, json (the accepted
//     bytes as BSON binary, never converted to a BSON document, so decimal
//     precision and key order survive), params (the codes of the search
//     parameters the resource has a value for), the search index as one
//     sub-document array per value kind, and sa/sd (per-parameter ascending
//     and descending sort keys).
//   - history: every version, _id "Type/id/version" (unique: two writers of
//     the same version collide on it), same fields as resources including the
//     index, so a crashed write can be rolled forward.
//   - locks: Tx.Lock keys.
//   - records: store.Records, _id from (kind, key) (records.go).
//
// # Index arrays and the MongoDB indexes that serve them
//
//	tok: [{p, s, c, t, ts, tc}]   token (and _tag, _profile...): {type, tok.p, tok.c, tok.s}
//	str: [{p, n, e}]              string: {type, str.p, str.n} (anchored prefix regex)
//	ref: [{p, t, i, u, v, idf}]   reference: {type, ref.p, ref.t, ref.i}, {type, ref.p, ref.u}
//	dt:  [{p, lo, hi}]            date: {type, dt.p, dt.lo, dt.hi}
//	num: [{p, v, lo, hi}]         number: {type, num.p, num.v}
//	qty: [{p, s, c, u, v, lo, hi}] quantity: {type, qty.p, qty.v}
//	uri: [{p, v}]                 uri: {type, uri.p, uri.v}
//	cmp: [{p, parts: [{tok, str, ...}]}] composite: {type, cmp.p}; one element per
//	                              composite value, components matched in its parts
//	                              by nested $elemMatch
//	params: [p]                   :missing, and the pre-filter of the fallback below: {type, params}
//
// Every search value is an $elemMatch on its array ({p, ...} on one element),
// so the compound multikey indexes above bound both the parameter and the
// value. _id and _lastUpdated use the top-level id and lastUpdated fields
// ({type, id}, {type, lastUpdated}).
//
// Some MongoDB-compatible servers (FerretDB, used by the tests) cannot run
// $elemMatch on sub-documents. Open probes for it; without it each clause
// is resolved to a bounded set of _ids by evaluating the very same
// predicate in Go over the candidates that have the parameter, and the
// search then runs with {_id: {$in: ...}}. Explain (__explain) shows the
// filter and the size of each such set against its bound (maxIDs).
//
// # Writes without transactions
//
// A Put takes a lease on its resource (an insert on a unique _id, the one
// operation every MongoDB-compatible server runs atomically; FerretDB runs
// a filtered replace as a read then a write), then inserts the history
// document first: it is the commit point, and its
// unique _id makes the loser of two writers of one version get
// store.ErrConflict. It then replaces the current document with a filter on
// the previous version (compare-and-swap). A writer that finds a history
// version newer than the current document (a crash between the two steps)
// rolls the current document forward from it. On a replica set or mongos
// (detected with hello at Open) Update runs in a multi-document transaction
// and Lock writes a lock document inside it; otherwise Lock is a lease
// document with an expiry.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/dccfhir/dccfhir/store"
)

// DefaultDatabase is the database used when the URI names none.
const DefaultDatabase = "dccfhir"

// Store is a store.Store on MongoDB.
type Store struct {
	client    *mongo.Client
	db        *mongo.Database
	res       *mongo.Collection
	hist      *mongo.Collection
	locks     *mongo.Collection
	txn       bool // the deployment runs multi-document transactions
	elemMatch bool // the server runs $elemMatch on sub-documents

	recs      *mongo.Collection // store.Records (records.go)
	recPurged atomic.Int64      // when expired records were last purged, µs
}

var _ store.Store = (*Store)(nil)

// Open connects to the deployment at uri (database from the URI path, else
// DefaultDatabase), creates the indexes and detects what it supports.
func Open(ctx context.Context, uri string) (*Store, error) {
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return nil, fmt.Errorf("mongo: bad URI: %w", err)
	}
	dbName := cs.Database
	if dbName == "" {
		dbName = DefaultDatabase
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	s := &Store{client: client, db: client.Database(dbName)}
	s.res = s.db.Collection("resources")
	s.hist = s.db.Collection("history")
	s.locks = s.db.Collection("locks")
	if err := s.init(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := s.db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return fmt.Errorf("mongo: hello: %w", err)
	}
	s.txn = hello.SetName != "" || hello.Msg == "isdbgrid"

	idx := func(keys ...string) mongo.IndexModel {
		d := bson.D{}
		for _, k := range keys {
			dir := 1
			if strings.HasPrefix(k, "-") {
				k, dir = k[1:], -1
			}
			d = append(d, bson.E{Key: k, Value: dir})
		}
		return mongo.IndexModel{Keys: d}
	}
	resIdx := []mongo.IndexModel{
		idx("type", "id"),
		idx("type", "lastUpdated"),
		idx("type", "params"),
		idx("type", "tok.p", "tok.c", "tok.s"),
		idx("type", "str.p", "str.n"),
		idx("type", "ref.p", "ref.t", "ref.i"),
		idx("type", "ref.p", "ref.u"),
		idx("type", "dt.p", "dt.lo", "dt.hi"),
		idx("type", "num.p", "num.v"),
		idx("type", "qty.p", "qty.v"),
		idx("type", "uri.p", "uri.v"),
		idx("type", "cmp.p"),
	}
	if err := createIndexes(ctx, s.res, resIdx); err != nil {
		return fmt.Errorf("mongo: create resource indexes: %w", err)
	}
	histIdx := []mongo.IndexModel{
		idx("type", "id", "-version"),
		idx("type", "id", "-lastUpdated", "-version"),
		idx("type", "-lastUpdated", "-id", "-version"),
		idx("-lastUpdated", "-type", "-id", "-version"),
	}
	if err := createIndexes(ctx, s.hist, histIdx); err != nil {
		return fmt.Errorf("mongo: create history indexes: %w", err)
	}
	if err := s.initRecords(ctx); err != nil {
		return err
	}

	// Probe $elemMatch on sub-documents. Servers may only evaluate it on
	// a document that has the array, so the probe writes one (in locks,
	// under a key no lock uses) and must find it.
	probe := bson.D{{Key: "_id", Value: "_probe:elemMatch"}, {Key: "tok", Value: bson.A{bson.D{{Key: "p", Value: "x"}, {Key: "c", Value: "y"}}}}}
	if _, err := s.locks.ReplaceOne(ctx, bson.D{{Key: "_id", Value: probe[0].Value}}, probe, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("mongo: probe: %w", err)
	}
	err := s.locks.FindOne(ctx, bson.D{{Key: "_id", Value: probe[0].Value}, {Key: "tok", Value: bson.D{{Key: "$elemMatch", Value: bson.D{{Key: "p", Value: "x"}, {Key: "c", Value: "y"}}}}}}).Err()
	var ce mongo.CommandError
	switch {
	case err == nil:
		s.elemMatch = true
	case errors.As(err, &ce), errors.Is(err, mongo.ErrNoDocuments):
		s.elemMatch = false
	default:
		return fmt.Errorf("mongo: probe: %w", err)
	}
	return nil
}

// createIndexes creates c's indexes (an existing one is left as it is),
// one per command: FerretDB v1 panics on a createIndexes listing several indexes
// that already exist (it deletes from the slice it ranges over), which
// made a second Open of the same database fail.
func createIndexes(ctx context.Context, c *mongo.Collection, models []mongo.IndexModel) error {
	for _, m := range models {
		if _, err := c.Indexes().CreateOne(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// Features reports Transactions on a replica set or sharded cluster.
func (s *Store) Features() store.Features { return store.Features{Transactions: s.txn} }

// Ping reports whether the primary answers.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx, nil) }

// Close disconnects.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.client.Disconnect(ctx)
}

// Read returns the current version of typ/id.
func (s *Store) Read(ctx context.Context, typ, id string) (*store.Resource, error) {
	var d resDoc
	err := s.res.FindOne(ctx, bson.D{{Key: "_id", Value: typ + "/" + id}}, options.FindOne().SetProjection(dataProjection)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: read %s/%s: %w", typ, id, err)
	}
	return d.resource(), nil
}

// VRead returns one version of typ/id.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (*store.Resource, error) {
	var d resDoc
	err := s.hist.FindOne(ctx, bson.D{{Key: "_id", Value: histID(typ, id, version)}}, options.FindOne().SetProjection(dataProjection)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: vread %s/%s/%d: %w", typ, id, version, err)
	}
	return d.resource(), nil
}

func histID(typ, id string, version int64) string {
	return fmt.Sprintf("%s/%s/%d", typ, id, version)
}
