package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/storetest"
)

// countRecords counts the rows of the records table, expired included.
func countRecords(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow("SELECT COUNT(*) FROM records").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecordsPurge: CreateRecord removes expired rows, at most once per
// purgeEvery.
func TestRecordsPurge(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	put := func(key string, exp time.Time) {
		t.Helper()
		if err := s.PutRecord(ctx, &store.Record{Kind: "t", Key: key, Value: []byte(key), Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	create := func(key string) {
		t.Helper()
		if err := s.CreateRecord(ctx, &store.Record{Kind: "t", Key: key, Value: []byte(key)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		put(fmt.Sprint("old", i), time.Now().Add(-time.Minute))
	}
	put("live", time.Now().Add(time.Hour))
	put("forever", time.Time{})
	create("c1") // the first create purges
	if n := countRecords(t, s); n != 3 {
		t.Fatalf("%d rows after the first CreateRecord, want 3 (live, forever, c1)", n)
	}
	put("old", time.Now().Add(-time.Minute))
	create("c2") // within purgeEvery: no purge
	if n := countRecords(t, s); n != 5 {
		t.Fatalf("%d rows after a CreateRecord within a minute, want 5", n)
	}
	s.wmu.Lock()
	s.purged = s.purged.Add(-purgeEvery)
	s.wmu.Unlock()
	create("c3")
	if n := countRecords(t, s); n != 5 {
		t.Fatalf("%d rows after a CreateRecord a minute later, want 5 (the expired one purged)", n)
	}
}

// TestRecordsQueueBehindUpdate: a records write made while an Update holds
// the writer waits for it and then succeeds (no SQLITE_BUSY).
func TestRecordsQueueBehindUpdate(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	inside, release := make(chan struct{}), make(chan struct{})
	updated := make(chan error, 1)
	go func() {
		updated <- s.Update(ctx, func(store.Tx) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	created := make(chan error, 1)
	go func() { created <- s.CreateRecord(ctx, &store.Record{Kind: "t", Key: "k", Value: []byte("v")}) }()
	select {
	case err := <-created:
		t.Fatalf("CreateRecord returned while an Update held the writer: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := s.GetRecord(ctx, "t", "k"); err != store.ErrNotFound {
		t.Fatalf("GetRecord during the Update: %v, want ErrNotFound (reads do not wait)", err)
	}
	close(release)
	if err := <-updated; err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatalf("CreateRecord after the Update: %v", err)
	}
}

func BenchmarkGetRecord(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	for i := range 1000 {
		r := &store.Record{Kind: "auth.client", Key: fmt.Sprint("client", i), Value: benchJSON[:400], Expires: time.Now().Add(time.Hour)}
		if err := s.PutRecord(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.GetRecord(ctx, "auth.client", fmt.Sprint("client", i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetRecordParallel(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	r := &store.Record{Kind: "auth.client", Key: "client", Value: benchJSON[:400]}
	if err := s.PutRecord(ctx, r); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetRecord(ctx, "auth.client", "client"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCreateTakeRecord is a single-use value's life: created, then
// taken (an authorization code, a refresh token's rotation).
func BenchmarkCreateTakeRecord(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprint("code", i)
		if err := s.CreateRecord(ctx, &store.Record{Kind: "auth.code", Key: key, Value: benchJSON[:200], Expires: time.Now().Add(time.Minute)}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.TakeRecord(ctx, "auth.code", key); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRecordsReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhir.db")
	storetest.RecordsReopen(t, func(t *testing.T) store.Store {
		s, err := Open(path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestCommitMark: the mark moves with every commit (a record write, a
// resource write, another store on the same file) and stays put otherwise.
func TestCommitMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	mark := func() uint64 {
		t.Helper()
		m, ok := st.CommitMark()
		if !ok {
			t.Fatal("no mark")
		}
		return m
	}
	m0 := mark()
	if m := mark(); m != m0 {
		t.Fatal("the mark moved with no commit")
	}
	if _, err := st.GetRecord(ctx, "k", "x"); err == nil {
		t.Fatal("unexpected record")
	}
	if m := mark(); m != m0 {
		t.Fatal("a read moved the mark")
	}
	if err := st.PutRecord(ctx, &store.Record{Kind: "k", Key: "a", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	m1 := mark()
	if m1 == m0 {
		t.Fatal("a record write did not move the mark")
	}
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.PutRecord(ctx, &store.Record{Kind: "k", Key: "b", Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	if m := mark(); m == m1 {
		t.Fatal("another store's commit did not move the mark")
	}
	other.Close()
}
