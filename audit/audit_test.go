package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

// engine is a storage the chain is tested on, with a way to alter a
// stored AuditEvent behind the store's back (as an intruder with access
// to the database would).
type engine struct {
	name string
	// open returns the store and tamper, which replaces old by new in the
	// stored JSON of AuditEvent/id directly in the engine, and reopen,
	// the store as a new process would open it.
	open func(t testing.TB) (st store.Store, tamper func(id, old, new string), reopen func() store.Store)
}

var engines = []engine{
	{"sqlite", func(t testing.TB) (store.Store, func(id, old, new string), func() store.Store) {
		path := filepath.Join(t.TempDir(), "db.sqlite")
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		tamper := func(id, old, new string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			r, err := db.Exec(`UPDATE history SET json = CAST(replace(CAST(json AS TEXT), ?, ?) AS BLOB) WHERE type = 'AuditEvent' AND id = ?`, old, new, id)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := r.RowsAffected(); n != 1 {
				t.Fatalf("tamper AuditEvent/%s: %d rows", id, n)
			}
		}
		reopen := func() store.Store {
			st2, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st2.Close() })
			return st2
		}
		return st, tamper, reopen
	}},
	{"mongodb", func(t testing.TB) (store.Store, func(id, old, new string), func() store.Store) {
		uri := mongotest.URI(t)
		ctx := context.Background()
		st := openMongo(t, uri)
		tamper := func(id, old, new string) {
			c, err := mongo.Connect(options.Client().ApplyURI(uri))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Disconnect(ctx)
			db := c.Database(dbName(uri))
			var d struct {
				JSON []byte `bson:"json"`
			}
			key := "AuditEvent/" + id
			if err := db.Collection("resources").FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d); err != nil {
				t.Fatal(err)
			}
			js := bytes.Replace(d.JSON, []byte(old), []byte(new), 1)
			for _, coll := range []string{"resources", "history"} {
				k := key
				if coll == "history" {
					k += "/1"
				}
				if _, err := db.Collection(coll).UpdateOne(ctx, bson.D{{Key: "_id", Value: k}}, bson.D{{Key: "$set", Value: bson.D{{Key: "json", Value: js}}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		return st, tamper, func() store.Store { return openMongo(t, uri) }
	}},
}

func dbName(uri string) string {
	u, _ := url.Parse(uri)
	return strings.TrimPrefix(u.Path, "/")
}

func openMongo(t testing.TB, uri string) store.Store {
	t.Helper()
	st, err := openMongoStore(uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func event(i int) *audit.Event {
	return &audit.Event{Kind: audit.Rest, Interaction: "read", Status: 200,
		Practitioner: "Practitioner/doc" + fmt.Sprint(i%2), Username: "doc", ClientID: "app", Address: "192.0.2.1",
		Resources: []string{fmt.Sprintf("Observation/o%d/_history/1", i)}, Patients: []string{fmt.Sprintf("Patient/p%d", i%3)}}
}

func TestChain(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			st, tamper, reopen := e.open(t)
			w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
			// concurrent records, then one inside a write transaction
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for i := 0; i < 6; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					errs <- w.Record(ctx, event(i))
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Update(ctx, func(tx store.Tx) error { return w.Append(ctx, tx, []*audit.Event{event(6)}) }); err != nil {
				t.Fatal(err)
			}
			// another process appends: its writer starts with no hint
			w2 := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
			defer w2.Close()
			if err := w2.Record(ctx, event(7)); err != nil {
				t.Fatal(err)
			}
			// and this one, whose hint is stale, appends after it
			if err := w.Record(ctx, event(8)); err != nil {
				t.Fatal(err)
			}
			w.Close()
			rep, err := audit.Verify(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Events != 9 || rep.First != audit.ID(1) || rep.Last != audit.ID(9) {
				t.Fatalf("report %+v, want 9 events 1..9", rep)
			}

			// the searches of the issue find them
			for _, q := range []struct {
				query string
				want  int
			}{
				{"patient=Patient/p0", 3},
				{"patient=p1", 3},
				{"agent=Practitioner/doc1", 4},
				{"agent:identifier=" + audit.SysUsername + "|doc", 9},
				{"agent:identifier=" + audit.SysClient + "|app", 9},
				{"entity=Observation/o4", 1},
				{"type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest", 9},
				{"subtype=read", 9},
				{"subtype=create", 0},
				{"outcome=0", 9},
				{"date=ge2000-01-01", 9},
				{"date=lt2000-01-01", 0},
				{"address=192.0.2.1", 9},
				{"_id=" + audit.ID(3), 1},
				{"_lastUpdated=ge2000-01-01", 9},
				{"_lastUpdated=lt2000-01-01", 0},
				{"entity-role=4", 9},
				// audit.Unindexed: not indexed, so found by nothing
				{"agent-name=doc", 0},
				{"entity-type=2", 0},
				{"source:identifier=https://dcc.example.fr/fhir/sid/server|http://x/fhir", 0},
			} {
				vals, _ := url.ParseQuery(q.query)
				qq, _, err := search.Parse(search.Default(), "AuditEvent", vals)
				if err != nil {
					t.Fatalf("%s: %v", q.query, err)
				}
				qq.Total = true
				r, err := st.Search(ctx, qq)
				if err != nil {
					t.Fatalf("%s: %v", q.query, err)
				}
				if r.Total != q.want {
					t.Errorf("AuditEvent?%s: %d, want %d", q.query, r.Total, q.want)
				}
			}

			var ndjson bytes.Buffer
			if n, err := audit.Export(ctx, st, time.Time{}, &ndjson); err != nil || n != 9 || strings.Count(ndjson.String(), "\n") != 9 {
				t.Fatalf("export: %d, %v", n, err)
			}
			if n, err := audit.Export(ctx, st, time.Now().Add(time.Hour), &ndjson); err != nil || n != 0 {
				t.Fatalf("export since the future: %d, %v", n, err)
			}

			// an event altered directly in the engine breaks the chain at
			// that event: one in the middle, then (on a fresh copy of the
			// question) the last
			tamper(audit.ID(4), `"outcome":"0"`, `"outcome":"4"`)
			st = reopen()
			_, err = audit.Verify(ctx, st)
			var b *audit.Broken
			if !errors.As(err, &b) || b.ID != audit.ID(4) {
				t.Fatalf("verify after altering event 4: %v", err)
			}
			tamper(audit.ID(4), `"outcome":"4"`, `"outcome":"0"`)
			tamper(audit.ID(9), `Observation/o8`, `Observation/o9`)
			st = reopen()
			if _, err = audit.Verify(ctx, st); !errors.As(err, &b) || b.ID != audit.ID(9) {
				t.Fatalf("verify after altering the last event: %v", err)
			}
			tamper(audit.ID(9), `Observation/o9`, `Observation/o8`)
			st = reopen()
			if _, err := audit.Verify(ctx, st); err != nil {
				t.Fatalf("verify after undoing: %v", err)
			}
		})
	}
}

// TestRetention: a purge removes the oldest events but the head, and the
// chain still verifies from the oldest kept; appending goes on.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	st, _, _ := engines[0].open(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir", Now: clock})
	defer w.Close()
	for i := 0; i < 5; i++ {
		now = now.Add(time.Hour)
		if err := w.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	// events at 1h..5h; purge before 3h30 removes 1, 2, 3
	n, err := w.Purge(ctx, time.Date(2026, 1, 1, 3, 30, 0, 0, time.UTC))
	if err != nil || n != 3 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	rep, err := audit.Verify(ctx, st)
	if err != nil || rep.Events != 2 || rep.Purged != 3 || rep.First != audit.ID(4) {
		t.Fatalf("verify after purge: %+v, %v", rep, err)
	}
	// everything older than now: all but the head
	if n, err := w.Purge(ctx, now.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge all: %d, %v", n, err)
	}
	if err := w.Record(ctx, event(9)); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(ctx, st); err != nil || rep.Events != 2 || rep.First != audit.ID(5) {
		t.Fatalf("verify after append: %+v, %v", rep, err)
	}
}

// TestShapes: a break-the-glass read carries BTG and its reason; a refused
// login is a User Authentication / Login failure.
func TestShapes(t *testing.T) {
	ctx := context.Background()
	st, _, _ := engines[0].open(t)
	w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
	defer w.Close()
	btg := event(0)
	btg.BreakGlass = "arrêt cardiaque aux urgences"
	login := &audit.Event{Kind: audit.Login, Username: "dr", ClientID: "app", Status: 200, Failed: true}
	for _, ev := range []*audit.Event{btg, login} {
		if err := w.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	r, err := st.Read(ctx, "AuditEvent", audit.ID(1))
	if err != nil {
		t.Fatal(err)
	}
	js := string(r.JSON)
	for _, want := range []string{`"purposeOfEvent":[{"coding":[{"code":"BTG"`, `"purposeOfUse":[{"coding":[{"code":"BTG"`, `"text":"arrêt cardiaque aux urgences"`} {
		if !strings.Contains(js, want) {
			t.Errorf("break-the-glass event lacks %s: %s", want, js)
		}
	}
	vals, _ := url.ParseQuery("type=http://dicom.nema.org/resources/ontology/DCM|110114&subtype=110122&outcome=4&agent:identifier=" + audit.SysUsername + "|dr")
	q, _, err := search.Parse(search.Default(), "AuditEvent", vals)
	if err != nil {
		t.Fatal(err)
	}
	q.Total = true
	if res, err := st.Search(ctx, q); err != nil || res.Total != 1 {
		t.Fatalf("the refused login: %v %v", res, err)
	}
}

// TestAbortedAppend: an event appended in a write's transaction that does
// not commit leaves no gap: the next append finds the real head.
func TestAbortedAppend(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			st, _, _ := e.open(t)
			if !st.Features().Transactions {
				t.Skip("no transactions: nothing to abort")
			}
			w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
			defer w.Close()
			if err := w.Record(ctx, event(0)); err != nil {
				t.Fatal(err)
			}
			abort := errors.New("the write fails after its event")
			err := st.Update(ctx, func(tx store.Tx) error {
				if err := w.Append(ctx, tx, []*audit.Event{event(1)}); err != nil {
					return err
				}
				return abort
			})
			if !errors.Is(err, abort) {
				t.Fatal(err)
			}
			if err := w.Record(ctx, event(2)); err != nil {
				t.Fatal(err)
			}
			if rep, err := audit.Verify(ctx, st); err != nil || rep.Events != 2 {
				t.Fatalf("verify: %+v %v", rep, err)
			}
		})
	}
}

// TestInvalidUTF8: strings a client sends (a client_id, a username, a
// break-the-glass reason) with invalid UTF-8 are stored as U+FFFD, so the
// chain verifies: nobody can break it by sending a bad byte.
func TestInvalidUTF8(t *testing.T) {
	ctx := context.Background()
	st, _, _ := engines[0].open(t)
	w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
	defer w.Close()
	ev := event(1)
	ev.ClientID, ev.Username, ev.BreakGlass = "bad\xffid", "user\xfe", "urgence \xff\xfe vitale"
	if err := w.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := w.Record(ctx, event(2)); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(ctx, st); err != nil || rep.Events != 2 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestVerifyWhileAppending: verify beside a running server, which appends
// while the chain is walked, finds no break.
func TestVerifyWhileAppending(t *testing.T) {
	ctx := context.Background()
	st, _, _ := engines[0].open(t)
	w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
	defer w.Close()
	for i := range 50 {
		if err := w.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	const appenders = 8
	done := make(chan error, appenders)
	for range appenders {
		go func() {
			for i := range 100 {
				if err := w.Record(ctx, event(i)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 10 {
		if rep, err := audit.Verify(ctx, st); err != nil {
			t.Fatalf("verify while appending: %+v %v", rep, err)
		}
	}
	for range appenders {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
