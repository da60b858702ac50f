package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/store"
)

// testRecords runs the store.Records cases on one store; each case uses
// kinds of its own, so they do not see one another's records.
func testRecords(t *testing.T, s store.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRecordRoundTrip(t, s) })
	t.Run("PutDelete", func(t *testing.T) { testRecordPutDelete(t, s) })
	t.Run("CreateConflict", func(t *testing.T) { testRecordCreate(t, s) })
	t.Run("Expiry", func(t *testing.T) { testRecordExpiry(t, s) })
	t.Run("Take", func(t *testing.T) { testRecordTake(t, s) })
	t.Run("RacingTakes", func(t *testing.T) { testRecordRacingTakes(t, s) })
	t.Run("RacingCreates", func(t *testing.T) { testRecordRacingCreates(t, s) })
	t.Run("RacingPuts", func(t *testing.T) { testRecordRacingPuts(t, s) })
	t.Run("List", func(t *testing.T) { testRecordList(t, s) })
	t.Run("KindsIsolated", func(t *testing.T) { testRecordKinds(t, s) })
	t.Run("BadArguments", func(t *testing.T) { testRecordBadArgs(t, s) })
	t.Run("WithResourceWrites", func(t *testing.T) { testRecordWithWrites(t, s) })
}

// RecordsReopen checks that records survive closing the store: reopen
// must return a store on the same data each time it is called (the test
// closes each one; the caller's cleanup may close it again).
func RecordsReopen(t *testing.T, reopen func(t *testing.T) store.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	want := []*store.Record{
		{Kind: "storetest.reopen", Key: "forever", Value: []byte{0, 1, 2, 0xff}},
		{Kind: "storetest.reopen", Key: "hour", Value: []byte(`{"a":1}`), Expires: exp},
	}
	s := reopen(t)
	if err := s.CreateRecord(ctx, want[0]); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	if err := s.PutRecord(ctx, want[1]); err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = reopen(t)
	defer s.Close()
	got, err := s.ListRecords(ctx, "storetest.reopen")
	if err != nil {
		t.Fatalf("ListRecords after reopen: %v", err)
	}
	checkRecords(t, "after reopen", got, want)
	if err := s.CreateRecord(ctx, want[0]); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateRecord of a record created before reopen: %v, want store.ErrConflict", err)
	}
}

// sameRecord reports how got differs from want ("" when it does not):
// Value byte for byte, Expires to the microsecond.
func sameRecord(got, want *store.Record) string {
	switch {
	case got == nil:
		return "nil record"
	case got.Kind != want.Kind || got.Key != want.Key:
		return fmt.Sprintf("record %s/%s, want %s/%s", got.Kind, got.Key, want.Kind, want.Key)
	case !bytes.Equal(got.Value, want.Value):
		return fmt.Sprintf("value %q, want %q", got.Value, want.Value)
	case want.Expires.IsZero() != got.Expires.IsZero(),
		!want.Expires.IsZero() && !got.Expires.Equal(want.Expires.Truncate(time.Microsecond)):
		return fmt.Sprintf("expires %v, want %v", got.Expires, want.Expires)
	}
	return ""
}

func checkRecords(t *testing.T, what string, got, want []*store.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records %v, want %d", what, len(got), recordKeys(got), len(want))
		return
	}
	for i := range got {
		if d := sameRecord(got[i], want[i]); d != "" {
			t.Errorf("%s: record %d: %s", what, i, d)
		}
	}
}

func recordKeys(rs []*store.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key
	}
	return out
}

func mustGet(t *testing.T, s store.Store, want *store.Record) {
	t.Helper()
	got, err := s.GetRecord(context.Background(), want.Kind, want.Key)
	if err != nil {
		t.Fatalf("GetRecord %s/%s: %v", want.Kind, want.Key, err)
	}
	if d := sameRecord(got, want); d != "" {
		t.Fatalf("GetRecord %s/%s: %s", want.Kind, want.Key, d)
	}
}

func mustBeAbsent(t *testing.T, s store.Store, kind, key string) {
	t.Helper()
	if r, err := s.GetRecord(context.Background(), kind, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRecord %s/%s: %+v, %v; want store.ErrNotFound", kind, key, r, err)
	}
}

func testRecordRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	soon := time.Now().Add(time.Hour)
	for _, c := range []struct {
		name    string
		value   []byte
		expires time.Time
	}{
		{"json", []byte(`{"client_id":"x","redirect_uris":["https://a/cb"]}`), time.Time{}},
		{"binary", []byte{0, 1, 0x7f, 0x80, 0xfe, 0xff, '\n', 0, 0}, time.Time{}},
		{"invalid utf-8", []byte("caf\xe9 \xc3\x28"), soon},
		{"empty", []byte{}, time.Time{}},
		{"nil", nil, soon},
		{"64 KiB", big, time.Time{}},
		{"expires with nanoseconds", []byte("x"), soon.Add(123 * time.Nanosecond)},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := &store.Record{Kind: "storetest.roundtrip", Key: c.name, Value: bytes.Clone(c.value), Expires: c.expires}
			if err := s.CreateRecord(ctx, in); err != nil {
				t.Fatalf("CreateRecord: %v", err)
			}
			if len(in.Value) > 0 {
				in.Value[0] ^= 0xff // the store kept its own copy
			}
			want := &store.Record{Kind: in.Kind, Key: in.Key, Value: c.value, Expires: c.expires}
			mustGet(t, s, want)
			got, _ := s.GetRecord(ctx, in.Kind, in.Key)
			if len(got.Value) > 0 {
				got.Value[0] ^= 0xff // and gives out copies
			}
			mustGet(t, s, want)
		})
	}
}

func testRecordPutDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.put"
	r1 := &store.Record{Kind: kind, Key: "k", Value: []byte("one")}
	if err := s.PutRecord(ctx, r1); err != nil {
		t.Fatalf("PutRecord (new): %v", err)
	}
	mustGet(t, s, r1)
	r2 := &store.Record{Kind: kind, Key: "k", Value: []byte("two"), Expires: time.Now().Add(time.Hour)}
	if err := s.PutRecord(ctx, r2); err != nil {
		t.Fatalf("PutRecord (replace): %v", err)
	}
	mustGet(t, s, r2)
	r3 := &store.Record{Kind: kind, Key: "k", Value: []byte("three")}
	if err := s.PutRecord(ctx, r3); err != nil {
		t.Fatalf("PutRecord (replace, no expiry): %v", err)
	}
	mustGet(t, s, r3)
	if err := s.DeleteRecord(ctx, kind, "k"); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	mustBeAbsent(t, s, kind, "k")
	if err := s.DeleteRecord(ctx, kind, "k"); err != nil {
		t.Fatalf("DeleteRecord of an absent record: %v", err)
	}
	if err := s.DeleteRecord(ctx, kind, "never-was"); err != nil {
		t.Fatalf("DeleteRecord of a record that never was: %v", err)
	}
	if err := s.CreateRecord(ctx, r1); err != nil {
		t.Fatalf("CreateRecord after DeleteRecord: %v", err)
	}
	mustGet(t, s, r1)
}

func testRecordCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.create"
	now := time.Now()
	for _, c := range []struct {
		name     string
		first    time.Time // Expires of the record already there
		wantErr  error
		survivor string
	}{
		{"over a record that never expires", time.Time{}, store.ErrConflict, "first"},
		{"over a live record", now.Add(time.Hour), store.ErrConflict, "first"},
		{"over an expired record", now.Add(-time.Second), nil, "second"},
		{"over a record long expired", now.Add(-1000 * time.Hour), nil, "second"},
		{"over one expired at the epoch", time.Unix(0, 0), nil, "second"},
	} {
		t.Run(c.name, func(t *testing.T) {
			first := &store.Record{Kind: kind, Key: c.name, Value: []byte("first"), Expires: c.first}
			if err := s.CreateRecord(ctx, first); err != nil {
				t.Fatalf("first CreateRecord: %v", err)
			}
			second := &store.Record{Kind: kind, Key: c.name, Value: []byte("second")}
			if err := s.CreateRecord(ctx, second); !errors.Is(err, c.wantErr) {
				t.Fatalf("second CreateRecord: %v, want %v", err, c.wantErr)
			}
			want := first
			if c.survivor == "second" {
				want = second
			}
			mustGet(t, s, want)
		})
	}
}

func testRecordExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.expiry"
	live := &store.Record{Kind: kind, Key: "live", Value: []byte("l"), Expires: time.Now().Add(time.Hour)}
	soon := &store.Record{Kind: kind, Key: "soon", Value: []byte("s"), Expires: time.Now().Add(300 * time.Millisecond)}
	gone := &store.Record{Kind: kind, Key: "gone", Value: []byte("g"), Expires: time.Now().Add(-time.Minute)}
	for _, r := range []*store.Record{live, soon} {
		if err := s.CreateRecord(ctx, r); err != nil {
			t.Fatalf("CreateRecord %s: %v", r.Key, err)
		}
	}
	if err := s.PutRecord(ctx, gone); err != nil {
		t.Fatalf("PutRecord of an expired record: %v", err)
	}
	mustGet(t, s, soon)
	got, err := s.ListRecords(ctx, kind)
	if err != nil {
		t.Fatalf("ListRecords: %v", err)
	}
	checkRecords(t, "ListRecords before expiry", got, []*store.Record{live, soon})
	time.Sleep(time.Until(soon.Expires) + 50*time.Millisecond)
	for _, key := range []string{"soon", "gone"} {
		mustBeAbsent(t, s, kind, key)
		if r, err := s.TakeRecord(ctx, kind, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TakeRecord %s: %+v, %v; want store.ErrNotFound", key, r, err)
		}
	}
	got, err = s.ListRecords(ctx, kind)
	if err != nil {
		t.Fatalf("ListRecords: %v", err)
	}
	checkRecords(t, "ListRecords after expiry", got, []*store.Record{live})
	if err := s.DeleteRecord(ctx, kind, "gone"); err != nil {
		t.Errorf("DeleteRecord of an expired record: %v", err)
	}
	again := &store.Record{Kind: kind, Key: "soon", Value: []byte("again")}
	if err := s.CreateRecord(ctx, again); err != nil {
		t.Fatalf("CreateRecord over a record that expired: %v", err)
	}
	mustGet(t, s, again)
}

func testRecordTake(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.take"
	r := &store.Record{Kind: kind, Key: "code", Value: []byte(`{"client":"c"}`), Expires: time.Now().Add(time.Minute)}
	if err := s.CreateRecord(ctx, r); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	got, err := s.TakeRecord(ctx, kind, "code")
	if err != nil {
		t.Fatalf("TakeRecord: %v", err)
	}
	if d := sameRecord(got, r); d != "" {
		t.Fatalf("TakeRecord: %s", d)
	}
	if got, err := s.TakeRecord(ctx, kind, "code"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second TakeRecord: %+v, %v; want store.ErrNotFound", got, err)
	}
	mustBeAbsent(t, s, kind, "code")
	if got, err := s.TakeRecord(ctx, kind, "never-was"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeRecord of an absent record: %+v, %v; want store.ErrNotFound", got, err)
	}
	if err := s.CreateRecord(ctx, r); err != nil {
		t.Fatalf("CreateRecord after TakeRecord: %v", err)
	}
}

// racers is how many goroutines race for one record: enough to collide on
// every engine, few enough for a slow one.
const racers = 8

// race runs fn from racers goroutines at once and counts the nil results,
// the results that are want, and the others.
func race(fn func(i int) error, want error) (won, lost int, other []error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, want):
				lost++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return won, lost, other
}

func testRecordRacingTakes(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.racetake"
	for round := range 3 {
		key := fmt.Sprint("code", round)
		if err := s.CreateRecord(ctx, &store.Record{Kind: kind, Key: key, Value: []byte(key)}); err != nil {
			t.Fatalf("CreateRecord: %v", err)
		}
		var mu sync.Mutex
		var taken [][]byte
		won, lost, other := race(func(int) error {
			r, err := s.TakeRecord(ctx, kind, key)
			if err == nil {
				mu.Lock()
				taken = append(taken, r.Value)
				mu.Unlock()
			}
			return err
		}, store.ErrNotFound)
		if won != 1 || lost != racers-1 || len(other) > 0 {
			t.Fatalf("round %d: %d takes succeeded, %d not found, other errors %v; want 1 and %d", round, won, lost, other, racers-1)
		}
		if string(taken[0]) != key {
			t.Fatalf("round %d: took %q, want %q", round, taken[0], key)
		}
		mustBeAbsent(t, s, kind, key)
	}
}

func testRecordRacingCreates(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.racecreate"
	for _, c := range []struct {
		name   string
		before *store.Record // the record already there, if any
	}{
		{"fresh key", nil},
		{"over an expired record", &store.Record{Kind: kind, Value: []byte("old"), Expires: time.Now().Add(-time.Second)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before.Key = c.name
				if err := s.PutRecord(ctx, c.before); err != nil {
					t.Fatalf("PutRecord: %v", err)
				}
			}
			var winner []byte
			var mu sync.Mutex
			won, lost, other := race(func(i int) error {
				v := fmt.Appendf(nil, "racer %d", i)
				err := s.CreateRecord(ctx, &store.Record{Kind: kind, Key: c.name, Value: v, Expires: time.Now().Add(time.Hour)})
				if err == nil {
					mu.Lock()
					winner = v
					mu.Unlock()
				}
				return err
			}, store.ErrConflict)
			if won != 1 || lost != racers-1 || len(other) > 0 {
				t.Fatalf("%d creates succeeded, %d conflicts, other errors %v; want 1 and %d", won, lost, other, racers-1)
			}
			got, err := s.GetRecord(ctx, kind, c.name)
			if err != nil || !bytes.Equal(got.Value, winner) {
				t.Fatalf("GetRecord: %+v, %v; want the winner's value %q", got, err, winner)
			}
		})
	}
}

// testRecordRacingPuts: PutRecord never conflicts, even when every racer
// creates the key.
func testRecordRacingPuts(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.raceput"
	values := map[string]bool{}
	for i := range racers {
		values[fmt.Sprint("racer ", i)] = true
	}
	won, _, other := race(func(i int) error {
		return s.PutRecord(ctx, &store.Record{Kind: kind, Key: "k", Value: fmt.Appendf(nil, "racer %d", i)})
	}, nil)
	if won != racers || len(other) > 0 {
		t.Fatalf("%d puts succeeded, errors %v; want all %d", won, other, racers)
	}
	got, err := s.GetRecord(ctx, kind, "k")
	if err != nil || !values[string(got.Value)] {
		t.Fatalf("GetRecord: %+v, %v; want one racer's value", got, err)
	}
}

func testRecordList(t *testing.T, s store.Store) {
	ctx := context.Background()
	const kind = "storetest.list"
	// Byte order: upper case before lower, "/" before "0", multi-byte
	// UTF-8 last.
	keys := []string{"b", "é", "a0", "B", "a/b", "a", "Z", "ab", "zz"}
	var want []*store.Record
	for i, k := range keys {
		r := &store.Record{Kind: kind, Key: k, Value: fmt.Appendf(nil, "%d", i)}
		if i%2 == 1 {
			r.Expires = time.Now().Add(time.Hour)
		}
		if err := s.PutRecord(ctx, r); err != nil {
			t.Fatalf("PutRecord %q: %v", k, err)
		}
		want = append(want, r)
	}
	if err := s.PutRecord(ctx, &store.Record{Kind: kind, Key: "expired", Value: []byte("x"), Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, &store.Record{Kind: kind + "2", Key: "other kind", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b *store.Record) int { return bytes.Compare([]byte(a.Key), []byte(b.Key)) })
	got, err := s.ListRecords(ctx, kind)
	if err != nil {
		t.Fatalf("ListRecords: %v", err)
	}
	checkRecords(t, "ListRecords", got, want)
	got, err = s.ListRecords(ctx, "storetest.list-none")
	if err != nil || len(got) != 0 {
		t.Fatalf("ListRecords of a kind with no records: %v, %v; want none", recordKeys(got), err)
	}
}

func testRecordKinds(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Pairs that a store joining kind and key with a separator would mix up.
	a := &store.Record{Kind: "storetest.kinds", Key: "x/y", Value: []byte("a")}
	b := &store.Record{Kind: "storetest.kinds/x", Key: "y", Value: []byte("b")}
	c := &store.Record{Kind: "storetest.kinds:1", Key: "x/y", Value: []byte("c")}
	for _, r := range []*store.Record{a, b, c} {
		if err := s.CreateRecord(ctx, r); err != nil {
			t.Fatalf("CreateRecord %s/%s: %v", r.Kind, r.Key, err)
		}
	}
	for _, r := range []*store.Record{a, b, c} {
		mustGet(t, s, r)
	}
	if _, err := s.TakeRecord(ctx, a.Kind, a.Key); err != nil {
		t.Fatalf("TakeRecord: %v", err)
	}
	mustGet(t, s, b)
	mustGet(t, s, c)
	if err := s.DeleteRecord(ctx, b.Kind, b.Key); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	mustGet(t, s, c)
	got, err := s.ListRecords(ctx, c.Kind)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, "ListRecords", got, []*store.Record{c})
}

func testRecordBadArgs(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"CreateRecord nil", func() error { return s.CreateRecord(ctx, nil) }},
		{"PutRecord nil", func() error { return s.PutRecord(ctx, nil) }},
		{"CreateRecord empty kind", func() error { return s.CreateRecord(ctx, &store.Record{Key: "k"}) }},
		{"CreateRecord empty key", func() error { return s.CreateRecord(ctx, &store.Record{Kind: "storetest.bad"}) }},
		{"PutRecord empty kind", func() error { return s.PutRecord(ctx, &store.Record{Key: "k"}) }},
		{"PutRecord empty key", func() error { return s.PutRecord(ctx, &store.Record{Kind: "storetest.bad"}) }},
		{"GetRecord empty kind", func() error { _, err := s.GetRecord(ctx, "", "k"); return err }},
		{"GetRecord empty key", func() error { _, err := s.GetRecord(ctx, "storetest.bad", ""); return err }},
		{"TakeRecord empty kind", func() error { _, err := s.TakeRecord(ctx, "", "k"); return err }},
		{"TakeRecord empty key", func() error { _, err := s.TakeRecord(ctx, "storetest.bad", ""); return err }},
		{"DeleteRecord empty kind", func() error { return s.DeleteRecord(ctx, "", "k") }},
		{"DeleteRecord empty key", func() error { return s.DeleteRecord(ctx, "storetest.bad", "") }},
		{"ListRecords empty kind", func() error { _, err := s.ListRecords(ctx, ""); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic: %v", p)
				}
			}()
			err := c.call()
			if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
				t.Fatalf("got %v, want an error that is neither ErrNotFound nor ErrConflict", err)
			}
		})
	}
	if got, err := s.ListRecords(ctx, "storetest.bad"); err != nil || len(got) != 0 {
		t.Fatalf("a bad call stored something: %v, %v", recordKeys(got), err)
	}
}

// testRecordWithWrites runs records calls alongside resource writes: an
// engine with one writer must queue them, neither deadlock nor fail with
// a busy error.
func testRecordWithWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	const rounds, writers = 5, 2
	var wg sync.WaitGroup
	errs := make(chan error, 4*rounds*writers)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range rounds {
				id := fmt.Sprintf("rw%d-%d", w, i)
				err := s.Update(ctx, func(tx store.Tx) error {
					return tx.Put(ctx, NewWrite("Patient", id, 1, At(i), nil))
				})
				if err != nil {
					errs <- fmt.Errorf("update %s: %w", id, err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range rounds {
				key := fmt.Sprintf("r%d-%d", w, i)
				if err := s.CreateRecord(ctx, &store.Record{Kind: "storetest.writes", Key: key, Value: []byte(key)}); err != nil {
					errs <- fmt.Errorf("CreateRecord %s: %w", key, err)
				}
				if _, err := s.GetRecord(ctx, "storetest.writes", key); err != nil {
					errs <- fmt.Errorf("GetRecord %s: %w", key, err)
				}
				if _, err := s.TakeRecord(ctx, "storetest.writes", key); err != nil {
					errs <- fmt.Errorf("TakeRecord %s: %w", key, err)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("records calls and resource writes still running after 2 minutes: deadlock?")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
