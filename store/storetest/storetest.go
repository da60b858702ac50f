// Package storetest is the conformance suite of store.Store: every engine
// runs Run from its own tests, so the SQLite and MongoDB engines are held
// to one meaning of versions, history, transactions and search.
//
// The suite builds query.Index values by hand (it does not depend on the
// FHIRPath extractor) and keeps its data small, since some backends are
// slow to write to.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// Run runs the whole suite. open must return a new, empty store for each
// call and arrange its own cleanup (t.Cleanup); subtests run in sequence.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("CreateReadVRead", func(t *testing.T) { testCreateRead(t, open(t)) })
	t.Run("VersionConflict", func(t *testing.T) { testConflict(t, open(t)) })
	t.Run("Tombstone", func(t *testing.T) { testTombstone(t, open(t)) })
	t.Run("History", func(t *testing.T) { testHistory(t, open(t)) })
	t.Run("HistoryPagingWhileWriting", func(t *testing.T) { testHistoryPagingWhileWriting(t, open(t)) })
	t.Run("Rollback", func(t *testing.T) { testRollback(t, open(t)) })
	t.Run("ReadYourWrites", func(t *testing.T) { testReadYourWrites(t, open(t)) })
	t.Run("RacingPuts", func(t *testing.T) { testRacingPuts(t, open(t)) })
	t.Run("LockConditionalCreate", func(t *testing.T) { testLockCreate(t, open(t)) })
	t.Run("Search", func(t *testing.T) { testSearch(t, open(t)) })
	t.Run("Includes", func(t *testing.T) { testIncludes(t, open(t)) })
	t.Run("Reindex", func(t *testing.T) { testReindex(t, open(t)) })
	t.Run("ApproxDate", func(t *testing.T) { testApproxDate(t, open(t)) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, open(t)) })
	t.Run("Records", func(t *testing.T) { testRecords(t, open(t)) })
	t.Run("LongLists", func(t *testing.T) { testLongLists(t, open(t)) })
}

// T0 is the base instant of the suite's timestamps; it carries
// microseconds so engines are checked to keep them.
var T0 = time.Date(2024, 3, 1, 12, 0, 0, 123456000, time.UTC)

// At is T0 plus sec seconds.
func At(sec int) time.Time { return T0.Add(time.Duration(sec) * time.Second) }

// NewWrite returns a write of typ/id at version ver, stamped ts, with a
// small JSON body and index ix (nil: none).
func NewWrite(typ, id string, ver int64, ts time.Time, ix *query.Index) *store.Write {
	method := "PUT"
	if ver == 1 {
		method = "POST"
	}
	return &store.Write{
		Resource: store.Resource{
			Type: typ, ID: id, Version: ver, LastUpdated: ts, Method: method,
			JSON: fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"meta":{"versionId":"%d"}}`, typ, id, ver),
		},
		Index: ix,
	}
}

// Tombstone returns the deletion of typ/id as version ver.
func Tombstone(typ, id string, ver int64, ts time.Time) *store.Write {
	return &store.Write{Resource: store.Resource{Type: typ, ID: id, Version: ver, LastUpdated: ts, Deleted: true, Method: "DELETE"}}
}

// Put stores ws in one Update and fails the test on error.
func Put(t testing.TB, s store.Store, ws ...*store.Write) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, w := range ws {
			if err := tx.Put(context.Background(), w); err != nil {
				return fmt.Errorf("put %s/%s v%d: %w", w.Type, w.ID, w.Version, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// keys renders resources as sorted "Type/id" (or "Type/id/version" when
// withVersion), for comparisons that do not depend on order.
func keys(rs []*store.Resource, withVersion bool) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, key(r, withVersion))
	}
	return out
}

func key(r *store.Resource, withVersion bool) string {
	if withVersion {
		return fmt.Sprintf("%s/%s/%d", r.Type, r.ID, r.Version)
	}
	return r.Type + "/" + r.ID
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func tok(param, system, code string) query.TokenEntry {
	return query.TokenEntry{Param: param, System: system, Code: code}
}

func testCreateRead(t *testing.T, s store.Store) {
	ctx := context.Background()
	w1 := NewWrite("Patient", "a", 1, At(1), &query.Index{Tokens: []query.TokenEntry{tok("gender", "", "male")}})
	Put(t, s, w1)
	w2 := NewWrite("Patient", "a", 2, At(2), nil)
	w2.JSON = []byte(`{"resourceType":"Patient","id":"a","active":true}`)
	Put(t, s, w2)

	cur, err := s.Read(ctx, "Patient", "a")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkResource(t, "Read", cur, &w2.Resource)
	v1, err := s.VRead(ctx, "Patient", "a", 1)
	if err != nil {
		t.Fatalf("VRead 1: %v", err)
	}
	checkResource(t, "VRead 1", v1, &w1.Resource)
	v2, err := s.VRead(ctx, "Patient", "a", 2)
	if err != nil {
		t.Fatalf("VRead 2: %v", err)
	}
	checkResource(t, "VRead 2", v2, &w2.Resource)

	for _, c := range []struct {
		name     string
		typ, id  string
		version  int64
		useVRead bool
	}{
		{"read unknown id", "Patient", "zz", 0, false},
		{"read unknown type", "Observation", "a", 0, false},
		{"vread unknown version", "Patient", "a", 3, true},
		{"vread version 0", "Patient", "a", 0, true},
		{"vread unknown id", "Patient", "zz", 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.useVRead {
				_, err = s.VRead(ctx, c.typ, c.id, c.version)
			} else {
				_, err = s.Read(ctx, c.typ, c.id)
			}
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	}
}

func checkResource(t *testing.T, what string, got, want *store.Resource) {
	t.Helper()
	if got.Type != want.Type || got.ID != want.ID || got.Version != want.Version || got.Deleted != want.Deleted || got.Method != want.Method {
		t.Errorf("%s: got %s/%s v%d deleted=%t %s, want %s/%s v%d deleted=%t %s", what,
			got.Type, got.ID, got.Version, got.Deleted, got.Method, want.Type, want.ID, want.Version, want.Deleted, want.Method)
	}
	if !got.LastUpdated.Equal(want.LastUpdated) || got.LastUpdated.Location() != time.UTC {
		t.Errorf("%s: LastUpdated %v, want %v (UTC)", what, got.LastUpdated, want.LastUpdated)
	}
	if string(got.JSON) != string(want.JSON) {
		t.Errorf("%s: JSON %s, want %s", what, got.JSON, want.JSON)
	}
}

func testConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, NewWrite("Patient", "a", 1, At(1), nil))
	for _, c := range []struct {
		name string
		w    *store.Write
	}{
		{"create existing", NewWrite("Patient", "a", 1, At(2), nil)},
		{"skip a version", NewWrite("Patient", "a", 3, At(2), nil)},
		{"stale version", NewWrite("Patient", "a", 1, At(2), nil)},
		{"update missing", NewWrite("Patient", "b", 2, At(2), nil)},
		{"delete with stale version", Tombstone("Patient", "a", 1, At(2))},
	} {
		t.Run(c.name, func(t *testing.T) {
			var putErr error
			// fn swallows the conflict: the Put must still have written nothing.
			err := s.Update(ctx, func(tx store.Tx) error {
				putErr = tx.Put(ctx, c.w)
				return nil
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if !errors.Is(putErr, store.ErrConflict) {
				t.Fatalf("Put: got %v, want ErrConflict", putErr)
			}
			r, err := s.Read(ctx, "Patient", "a")
			if err != nil || r.Version != 1 || r.Deleted {
				t.Fatalf("after conflict: %+v, %v; want version 1", r, err)
			}
			if _, err := s.Read(ctx, "Patient", "b"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Patient/b: %v, want ErrNotFound", err)
			}
			h, err := s.History(ctx, &store.HistoryQuery{Count: 10, Total: true})
			if err != nil || h.Total != 1 || len(h.Versions) != 1 {
				t.Fatalf("history after conflict: %+v, %v; want 1 version", h, err)
			}
		})
	}
	// The conflict surfaces from Update when fn passes it on.
	err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, NewWrite("Patient", "a", 1, At(3), nil)) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Update: got %v, want ErrConflict", err)
	}
}

func testTombstone(t *testing.T, s store.Store) {
	ctx := context.Background()
	ix := &query.Index{Tokens: []query.TokenEntry{tok("identifier", "sys", "1")}}
	Put(t, s, NewWrite("Patient", "a", 1, At(1), ix))
	del := Tombstone("Patient", "a", 2, At(2))
	Put(t, s, del)
	r, err := s.Read(ctx, "Patient", "a")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !r.Deleted || r.Version != 2 || r.JSON != nil || r.Method != "DELETE" {
		t.Fatalf("Read: %+v, want a tombstone at version 2 without JSON", r)
	}
	if _, err := s.VRead(ctx, "Patient", "a", 1); err != nil {
		t.Fatalf("VRead 1: %v", err)
	}
	v2, err := s.VRead(ctx, "Patient", "a", 2)
	if err != nil || !v2.Deleted {
		t.Fatalf("VRead 2: %+v, %v; want a tombstone", v2, err)
	}
	res, err := s.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Total: true})
	if err != nil || len(res.Resources) != 0 || res.Total != 0 {
		t.Fatalf("search after delete: %+v, %v; want nothing", res, err)
	}
	res, err = s.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Where: []query.Clause{
		{Param: "identifier", Type: query.TypeToken, Values: []query.Value{{Code: "1"}}}}})
	if err != nil || len(res.Resources) != 0 {
		t.Fatalf("search on the deleted version's index: %+v, %v; want nothing", res, err)
	}
	// Recreated after deletion: version 3, searchable again.
	Put(t, s, NewWrite("Patient", "a", 3, At(3), ix))
	res, err = s.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Where: []query.Clause{
		{Param: "identifier", Type: query.TypeToken, Values: []query.Value{{Code: "1"}}}}})
	if err != nil || len(res.Resources) != 1 || res.Resources[0].Version != 3 {
		t.Fatalf("search after re-create: %+v, %v; want Patient/a v3", res, err)
	}
}

func testHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, NewWrite("Patient", "a", 1, At(1), nil))
	Put(t, s, NewWrite("Patient", "b", 1, At(2), nil))
	Put(t, s, NewWrite("Patient", "a", 2, At(3), nil))
	Put(t, s, NewWrite("Observation", "c", 1, At(4), nil))
	Put(t, s, Tombstone("Patient", "a", 3, At(5)))
	Put(t, s, NewWrite("Observation", "c", 2, At(6), nil))

	for _, c := range []struct {
		name  string
		q     store.HistoryQuery
		want  []string
		total int
	}{
		{"instance", store.HistoryQuery{Type: "Patient", ID: "a"}, []string{"Patient/a/3", "Patient/a/2", "Patient/a/1"}, 3},
		{"type", store.HistoryQuery{Type: "Patient"}, []string{"Patient/a/3", "Patient/a/2", "Patient/b/1", "Patient/a/1"}, 4},
		{"system", store.HistoryQuery{}, []string{"Observation/c/2", "Patient/a/3", "Observation/c/1", "Patient/a/2", "Patient/b/1", "Patient/a/1"}, 6},
		{"unknown instance", store.HistoryQuery{Type: "Patient", ID: "zz"}, nil, 0},
		{"since", store.HistoryQuery{Since: At(3)}, []string{"Observation/c/2", "Patient/a/3", "Observation/c/1", "Patient/a/2"}, 4},
		{"type since", store.HistoryQuery{Type: "Observation", Since: At(5)}, []string{"Observation/c/2"}, 1},
		{"at 3", store.HistoryQuery{At: At(3)}, []string{"Patient/a/2", "Patient/b/1"}, 2},
		{"at 5, a deleted", store.HistoryQuery{At: At(5)}, []string{"Patient/a/3", "Observation/c/1", "Patient/b/1"}, 3},
		{"instance at 2", store.HistoryQuery{Type: "Patient", ID: "a", At: At(2)}, []string{"Patient/a/1"}, 1},
		{"before anything", store.HistoryQuery{At: At(0)}, nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, count := range []int{1, 2, 100} {
				q := c.q
				q.Count, q.Total = count, true
				var got []string
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatalf("count %d: too many pages", count)
					}
					p, err := s.History(ctx, &q)
					if err != nil {
						t.Fatalf("count %d: History: %v", count, err)
					}
					if p.Total != c.total {
						t.Errorf("count %d: Total %d, want %d", count, p.Total, c.total)
					}
					if len(p.Versions) > count {
						t.Fatalf("count %d: page of %d", count, len(p.Versions))
					}
					got = append(got, keys(p.Versions, true)...)
					if p.Next == "" {
						break
					}
					q.Page = p.Next
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("count %d: got %v, want %v", count, got, c.want)
				}
			}
		})
	}
	p, err := s.History(ctx, &store.HistoryQuery{Count: 2})
	if err != nil || p.Total != -1 {
		t.Errorf("Total not asked: got %d, %v; want -1", p.Total, err)
	}
}

func testHistoryPagingWhileWriting(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 12
	var want []string
	for i := range n {
		id := fmt.Sprintf("p%02d", i)
		Put(t, s, NewWrite("Patient", id, 1, At(i+1), nil))
		want = append(want, "Patient/"+id+"/1")
	}
	slices.Reverse(want)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	writeErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Newer versions of the paged resources and new resources.
			ws := []*store.Write{NewWrite("Patient", fmt.Sprintf("new%03d", i), 1, At(1000+i), nil)}
			if i < n {
				ws = append(ws, NewWrite("Patient", fmt.Sprintf("p%02d", i), 2, At(1000+i), nil))
			}
			err := s.Update(ctx, func(tx store.Tx) error {
				for _, w := range ws {
					if err := tx.Put(ctx, w); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				writeErr <- err
				return
			}
		}
	}()
	q := &store.HistoryQuery{Type: "Patient", Count: 2}
	var got []string
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("too many pages")
		}
		p, err := s.History(ctx, q)
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		for _, v := range p.Versions {
			k := key(v, true)
			if seen[k] {
				t.Errorf("duplicate %s", k)
			}
			seen[k] = true
			if v.LastUpdated.Before(At(1000)) {
				got = append(got, k)
			}
		}
		if p.Next == "" {
			break
		}
		q.Page = p.Next
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-writeErr:
		t.Fatalf("writer: %v", err)
	default:
	}
	if !slices.Equal(got, want) {
		t.Errorf("versions before the writes: got %v, want %v", got, want)
	}
}

func testRollback(t *testing.T, s store.Store) {
	if !s.Features().Transactions {
		t.Skip("no transactions: writes are not atomic together")
	}
	ctx := context.Background()
	tokIx := func(code string) *query.Index {
		return &query.Index{Tokens: []query.TokenEntry{tok("identifier", "sys", code)}}
	}
	Put(t, s, NewWrite("Patient", "old", 1, At(1), tokIx("old")))
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, w := range []*store.Write{
			NewWrite("Patient", "new", 1, At(2), tokIx("new")),
			NewWrite("Patient", "old", 2, At(2), tokIx("changed")),
		} {
			if err := tx.Put(ctx, w); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: got %v, want fn's error", err)
	}
	if _, err := s.Read(ctx, "Patient", "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Read rolled-back create: %v, want ErrNotFound", err)
	}
	if r, err := s.Read(ctx, "Patient", "old"); err != nil || r.Version != 1 {
		t.Errorf("Read rolled-back update: %+v, %v; want version 1", r, err)
	}
	if _, err := s.VRead(ctx, "Patient", "old", 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("VRead rolled-back version: %v, want ErrNotFound", err)
	}
	for code, want := range map[string]int{"old": 1, "new": 0, "changed": 0} {
		res, err := s.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Where: []query.Clause{
			{Param: "identifier", Type: query.TypeToken, Values: []query.Value{{Code: code}}}}})
		if err != nil || len(res.Resources) != want {
			t.Errorf("search identifier=%s: %v, %v; want %d", code, res, err, want)
		}
	}
	h, err := s.History(ctx, &store.HistoryQuery{Count: 10, Total: true})
	if err != nil || h.Total != 1 {
		t.Errorf("history: %+v, %v; want 1 version", h, err)
	}
	// A panicking fn rolls back too and the store stays usable.
	func() {
		defer func() { _ = recover() }()
		_ = s.Update(ctx, func(tx store.Tx) error {
			_ = tx.Put(ctx, NewWrite("Patient", "panic", 1, At(3), nil))
			panic("fn panics")
		})
	}()
	if _, err := s.Read(ctx, "Patient", "panic"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Read after panic: %v, want ErrNotFound", err)
	}
	Put(t, s, NewWrite("Patient", "after", 1, At(4), nil))
}

func testReadYourWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, NewWrite("Patient", "a", 1, At(1), &query.Index{Tokens: []query.TokenEntry{tok("identifier", "sys", "a1")}}))
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, NewWrite("Patient", "b", 1, At(2), &query.Index{Tokens: []query.TokenEntry{tok("identifier", "sys", "b1")}})); err != nil {
			return err
		}
		if err := tx.Put(ctx, NewWrite("Patient", "a", 2, At(2), &query.Index{Tokens: []query.TokenEntry{tok("identifier", "sys", "a2")}})); err != nil {
			return err
		}
		r, err := tx.Read(ctx, "Patient", "b")
		if err != nil || r.Version != 1 {
			return fmt.Errorf("tx.Read new: %+v, %v", r, err)
		}
		if r, err = tx.Read(ctx, "Patient", "a"); err != nil || r.Version != 2 {
			return fmt.Errorf("tx.Read updated: %+v, %v", r, err)
		}
		for code, want := range map[string][]string{"b1": {"Patient/b"}, "a2": {"Patient/a"}, "a1": nil} {
			res, err := tx.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Where: []query.Clause{
				{Param: "identifier", Type: query.TypeToken, Values: []query.Value{{System: "sys", HasSystem: true, Code: code}}}}})
			if err != nil {
				return err
			}
			if got := keys(res.Resources, false); !slices.Equal(got, want) {
				return fmt.Errorf("tx.Search identifier=%s: %v, want %v", code, got, want)
			}
		}
		// A third version in the same transaction replaces the second's index.
		if err := tx.Put(ctx, NewWrite("Patient", "a", 3, At(3), &query.Index{Tokens: []query.TokenEntry{tok("identifier", "sys", "a3")}})); err != nil {
			return err
		}
		res, err := tx.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 10, Where: []query.Clause{
			{Param: "identifier", Type: query.TypeToken, Values: []query.Value{{Code: "a2"}, {Code: "a3"}}}}})
		if err != nil {
			return err
		}
		if got := keys(res.Resources, true); !slices.Equal(got, []string{"Patient/a/3"}) {
			return fmt.Errorf("tx.Search after 2 updates: %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.VRead(ctx, "Patient", "a", 2)
	if err != nil || r.Version != 2 {
		t.Fatalf("VRead of the intermediate version: %+v, %v", r, err)
	}
}

func testRacingPuts(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, NewWrite("Patient", "a", 1, At(1), nil))
	const n = 10
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, confl int
		other     []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				return tx.Put(ctx, NewWrite("Patient", "a", 2, At(2+i), nil))
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrConflict):
				confl++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || confl != n-1 || len(other) > 0 {
		t.Fatalf("%d succeeded, %d conflicts, other errors %v; want 1 and %d", ok, confl, other, n-1)
	}
	h, err := s.History(ctx, &store.HistoryQuery{Type: "Patient", ID: "a", Count: 10, Total: true})
	if err != nil || h.Total != 2 {
		t.Fatalf("history: %+v, %v; want 2 versions", h, err)
	}
}

func testLockCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 20
	q := &query.Query{Types: []string{"Patient"}, Count: 1, Where: []query.Clause{
		{Param: "identifier", Type: query.TypeToken, Values: []query.Value{{System: "urn:mrn", HasSystem: true, Code: "42"}}}}}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		errs    []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			didCreate := false
			err := s.Update(ctx, func(tx store.Tx) error {
				didCreate = false
				if err := tx.Lock(ctx, "Patient?identifier=urn:mrn|42"); err != nil {
					return err
				}
				res, err := tx.Search(ctx, q)
				if err != nil {
					return err
				}
				if len(res.Resources) > 0 {
					return nil
				}
				didCreate = true
				return tx.Put(ctx, NewWrite("Patient", fmt.Sprintf("g%02d", i), 1, At(i), &query.Index{
					Tokens: []query.TokenEntry{tok("identifier", "urn:mrn", "42")}}))
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if didCreate {
				created++
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	res, err := s.Search(ctx, &query.Query{Types: []string{"Patient"}, Count: 100, Total: true})
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 || res.Total != 1 {
		t.Fatalf("%d creates, %d patients stored; want exactly 1", created, res.Total)
	}
}
