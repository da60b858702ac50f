package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/storetest"
)

// openTemp opens a fresh database in a test's temporary directory.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sub", "fhir.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a", "b", "fhir.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if !s.Features().Transactions {
		t.Error("Features().Transactions = false")
	}
	storetest.Put(t, s, storetest.NewWrite("Patient", "a", 1, storetest.At(1), nil))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Update(ctx, func(store.Tx) error { return nil }); err == nil {
		t.Error("Update after Close succeeded")
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := s.Read(ctx, "Patient", "a"); err != nil || r.Version != 1 {
		t.Fatalf("after reopen: %+v, %v", r, err)
	}
	// The writer's next history row continues after the stored ones.
	storetest.Put(t, s, storetest.NewWrite("Patient", "a", 2, storetest.At(2), nil))
	if r, err := s.VRead(ctx, "Patient", "a", 1); err != nil || r.Version != 1 {
		t.Fatalf("VRead 1 after reopen: %+v, %v", r, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wconn.ExecContext(context.Background(), "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
}

func TestUnsupportedSearch(t *testing.T) {
	s := openTemp(t)
	for _, c := range []query.Clause{
		{Param: "code", Type: query.TypeToken, Modifier: "in", Values: []query.Value{{Code: "http://vs"}}},
		{Param: "name", Type: query.TypeString, Modifier: "text", Values: []query.Value{{Str: "x"}}},
		{Param: "near", Type: query.TypeSpecial, Values: []query.Value{{Str: "1|2"}}},
	} {
		_, err := s.Search(context.Background(), &query.Query{Types: []string{"Patient"}, Count: 10, Where: []query.Clause{c}})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s:%s: got %v, want ErrUnsupported", c.Param, c.Modifier, err)
		}
	}
	_, err := s.Search(context.Background(), &query.Query{Types: []string{"Patient"}, Count: 10, Page: "garbage"})
	if !errors.Is(err, errBadCursor) {
		t.Errorf("bad page: got %v, want errBadCursor", err)
	}
}

// TestWALFrames: the checkpointer's measure of the WAL counts the frames
// the writer appends, and drops once a checkpoint has copied them back.
func TestWALFrames(t *testing.T) {
	s := openTemp(t)
	for i := range 20 {
		storetest.Put(t, s, storetest.NewWrite("Patient", fmt.Sprint("p", i), 1, storetest.At(i), nil))
	}
	if err := s.PutRecord(context.Background(), &store.Record{Kind: "t", Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// A new WAL, never started over: its frames follow a 32-byte header.
	// The count has one more: the first connection wrote page 1 to the
	// database file itself, to switch it to WAL mode.
	frames := (fi.Size() - 32) / s.frameBytes
	if got := s.walFrames.Load(); got < frames || got > frames+1 || got == 0 {
		t.Fatalf("walFrames %d after 21 commits, the WAL file holds %d frames", got, frames)
	}
	s.ckptBytes = 1
	storetest.Put(t, s, storetest.NewWrite("Patient", "last", 1, storetest.At(30), nil))
	for i := 0; s.walFrames.Load() != 0; i++ {
		if i == 200 {
			t.Fatalf("walFrames %d, 2 s after a commit past the threshold", s.walFrames.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWALStaysBounded: under a steady stream of write transactions the
// background checkpoint never catches up on its own, and SQLite only
// starts the WAL over when a writer begins after one has; the writer's
// catch-up (Update) must keep the WAL file from growing with everything
// ever written.
func TestWALStaysBounded(t *testing.T) {
	s := openTemp(t)
	s.ckptBytes = 64 << 10
	ctx := context.Background()
	body := []byte(`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("x", 3000) + `</div>"}}`)
	const txs, per = 1500, 8
	for i := range txs {
		err := s.Update(ctx, func(tx store.Tx) error {
			for j := range per {
				w := storetest.NewWrite("Patient", fmt.Sprintf("p%d-%d", i, j), 1, storetest.At(i), nil)
				w.JSON = body
				if err := tx.Put(ctx, w); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(s.path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	written := int64(txs * per * len(body))
	// bounded by the threshold and what transactions append while a
	// checkpoint runs (under 4 MB on a quiet machine; the margin is for a
	// loaded CI), not by what was written (37 MB, which grew it to 144 MB)
	if fi.Size() > 32<<20 {
		t.Fatalf("WAL file %d bytes after writing %d bytes of resources: it is not being started over", fi.Size(), written)
	}
	t.Logf("WAL file %d bytes after writing %d bytes of resources", fi.Size(), written)
}
