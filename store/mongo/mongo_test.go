package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
	mstore "github.com/dccfhir/dccfhir/store/mongo"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
)

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)

func put(t *testing.T, s store.Store, w *store.Write) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Put(context.Background(), w) })
	if err != nil {
		t.Fatalf("put %s/%s v%d: %v", w.Type, w.ID, w.Version, err)
	}
}

func w(typ, id string, v int64, at time.Time, json string, ix *query.Index) *store.Write {
	return &store.Write{Resource: store.Resource{Type: typ, ID: id, Version: v, LastUpdated: at, Method: "PUT", JSON: []byte(json)}, Index: ix}
}

func TestReadWriteVersions(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	if _, err := s.Read(ctx, "Patient", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read missing: %v", err)
	}
	body := `{"resourceType":"Patient","id":"a","x":1.50}`
	put(t, s, w("Patient", "a", 1, t0, body, nil))
	r, err := s.Read(ctx, "Patient", "a")
	if err != nil || string(r.JSON) != body || r.Version != 1 || !r.LastUpdated.Equal(t0) || r.Method != "PUT" {
		t.Fatalf("read = %+v, %v", r, err)
	}
	// Wrong versions conflict and write nothing.
	for _, v := range []int64{1, 3} {
		err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, w("Patient", "a", v, t0, "{}", nil)) })
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("put v%d: %v, want conflict", v, err)
		}
	}
	del := w("Patient", "a", 2, t0.Add(time.Second), "", nil)
	del.Deleted, del.Method, del.JSON = true, "DELETE", nil
	put(t, s, del)
	r, err = s.Read(ctx, "Patient", "a")
	if err != nil || !r.Deleted || r.JSON != nil || r.Version != 2 {
		t.Fatalf("read tombstone = %+v, %v", r, err)
	}
	r, err = s.VRead(ctx, "Patient", "a", 1)
	if err != nil || string(r.JSON) != body {
		t.Fatalf("vread 1 = %+v, %v", r, err)
	}
	if _, err := s.VRead(ctx, "Patient", "a", 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("vread 3: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if mongotest.Embedded() && s.Features().Transactions {
		t.Fatal("FerretDB reported transactions")
	}
}

// Concurrent writers of one version: exactly one wins, the rest conflict.
func TestConcurrentPut(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				return tx.Put(ctx, w("Patient", "c", 1, t0, fmt.Sprintf(`{"n":%d}`, i), nil))
			})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, store.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 5 {
		t.Fatalf("wins %d conflicts %d", wins.Load(), conflicts.Load())
	}
}

// A writer that stopped after its history insert is rolled forward by the
// next writer.
func TestRollForward(t *testing.T) {
	uri := mongotest.URI(t)
	ctx := context.Background()
	s, err := mstore.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, w("Patient", "r", 1, t0, `{"v":1}`, nil))
	put(t, s, w("Patient", "r", 2, t0.Add(time.Second), `{"v":2}`, nil))

	// Simulate the crash: copy history v2 as v3 without touching current.
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	db := c.Database(dbName(t, c, uri))
	var h bson.M
	if err := db.Collection("history").FindOne(ctx, bson.D{{Key: "_id", Value: "Patient/r/2"}}).Decode(&h); err != nil {
		t.Fatal(err)
	}
	h["_id"], h["version"], h["json"] = "Patient/r/3", int64(3), []byte(`{"v":3}`)
	if _, err := db.Collection("history").InsertOne(ctx, h); err != nil {
		t.Fatal(err)
	}
	// A writer working from the stale current (v2) conflicts, and current
	// is rolled forward so its retry succeeds.
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, w("Patient", "r", 3, t0, `{}`, nil)) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale put: %v", err)
	}
	r, err := s.Read(ctx, "Patient", "r")
	if err != nil || r.Version != 3 || string(r.JSON) != `{"v":3}` {
		t.Fatalf("after roll forward: %+v %v", r, err)
	}
	put(t, s, w("Patient", "r", 4, t0.Add(2*time.Second), `{"v":4}`, nil))
}

func dbName(t *testing.T, c *mongo.Client, uri string) string {
	t.Helper()
	// The harness URI is scheme://hosts/<db>[?opts].
	i := len(uri)
	for j := len("mongodb://"); j < len(uri); j++ {
		if uri[j] == '?' {
			i = j
			break
		}
	}
	k := len("mongodb://")
	for k < i && uri[k] != '/' {
		k++
	}
	return uri[k+1 : i]
}

func TestHistory(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	// a: v1 t0, v2 t0+2s, v3 (deleted) t0+4s; b: v1 t0+1s, v2 t0+3s; o (Observation) v1 t0+2s.
	put(t, s, w("Patient", "a", 1, t0, `{"a":1}`, nil))
	put(t, s, w("Patient", "b", 1, t0.Add(1*time.Second), `{"b":1}`, nil))
	put(t, s, w("Patient", "a", 2, t0.Add(2*time.Second), `{"a":2}`, nil))
	put(t, s, w("Observation", "o", 1, t0.Add(2*time.Second), `{"o":1}`, nil))
	put(t, s, w("Patient", "b", 2, t0.Add(3*time.Second), `{"b":2}`, nil))
	d := w("Patient", "a", 3, t0.Add(4*time.Second), "", nil)
	d.Deleted, d.JSON = true, nil
	put(t, s, d)

	list := func(q store.HistoryQuery) (out []string, total int) {
		t.Helper()
		total = -1
		for {
			p, err := s.History(ctx, &q)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total >= 0 {
				total = p.Total
			}
			for _, v := range p.Versions {
				out = append(out, fmt.Sprintf("%s/%s/%d", v.Type, v.ID, v.Version))
			}
			if p.Next == "" {
				return
			}
			q.Page, q.Total = p.Next, false
		}
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v want %v", name, got, want)
		}
	}
	got, total := list(store.HistoryQuery{Count: 2, Total: true})
	check("system", got, "Patient/a/3", "Patient/b/2", "Patient/a/2", "Observation/o/1", "Patient/b/1", "Patient/a/1")
	if total != 6 {
		t.Errorf("total %d", total)
	}
	got, _ = list(store.HistoryQuery{Type: "Patient", Count: 1})
	check("type", got, "Patient/a/3", "Patient/b/2", "Patient/a/2", "Patient/b/1", "Patient/a/1")
	got, _ = list(store.HistoryQuery{Type: "Patient", ID: "a", Count: 10})
	check("instance", got, "Patient/a/3", "Patient/a/2", "Patient/a/1")
	got, _ = list(store.HistoryQuery{Count: 10, Since: t0.Add(2 * time.Second)})
	check("since", got, "Patient/a/3", "Patient/b/2", "Patient/a/2", "Observation/o/1")
	got, total = list(store.HistoryQuery{Type: "Patient", Count: 1, At: t0.Add(2500 * time.Millisecond), Total: true})
	check("at", got, "Patient/a/2", "Patient/b/1")
	if total != 2 {
		t.Errorf("at total %d", total)
	}
	if _, err := s.History(ctx, &store.HistoryQuery{Count: 1, Page: "garbage"}); err == nil {
		t.Error("bad cursor accepted")
	}
}

func TestLockLease(t *testing.T) {
	s := mongotest.Open(t)
	if s.Features().Transactions {
		t.Skip("lease locks are for deployments without transactions")
	}
	ctx := context.Background()
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Lock(ctx, "Patient?identifier=x"); err != nil {
					return err
				}
				if err := tx.Lock(ctx, "Patient?identifier=x"); err != nil { // re-entrant
					return err
				}
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				time.Sleep(20 * time.Millisecond)
				inside.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders at once", maxInside.Load())
	}
	// A canceled waiter gives up.
	block := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Lock(ctx, "k"); err != nil {
				return err
			}
			close(held)
			<-block
			return nil
		})
	}()
	<-held
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := s.Update(cctx, func(tx store.Tx) error { return tx.Lock(cctx, "k") })
	close(block)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
}
