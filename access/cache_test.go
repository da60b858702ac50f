package access

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
)

// TestGateCache: the gate reuses a circle while the store commits
// nothing, and still opens and closes access at once — by a write (a new
// Encounter, an ended CareTeam membership) or by the clock (a membership
// whose end passes).
func TestGateCache(t *testing.T) {
	e := newCircleEnv(t)
	clock := now
	e.c.Now = func() time.Time { return clock }
	role(e, "ra", "Practitioner/a", "Organization/h1", "10")
	e.put("CareTeam", "ct1", map[string]any{"status": "active", "subject": refTo("Patient/p1"), "participant": []any{
		map[string]any{"member": refTo("Practitioner/a"), "period": map[string]any{"end": "2026-12-07T13:00:00Z"}}}})
	g := &Gate{Circle: e.c, Policy: Default()}
	if !g.stamp().marked {
		t.Fatal("the SQLite store gives no commit mark")
	}
	// another process on the same storage: a Service of its own
	other := service.New(e.svc.Store, search.Default())
	circle := func() []string {
		t.Helper()
		a, _, err := g.For(context.Background(), Caller{Scopes: everything{}, User: true, Practitioner: "Practitioner/a"})
		if err != nil {
			t.Fatal(err)
		}
		gr, err := a.Grant('r', "Observation")
		if err != nil {
			t.Fatal(err)
		}
		return gr.Patients
	}
	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"the care team", func() {}, []string{"p1"}},
		{"reused while nothing is written", func() {
			// prove the reuse: what the cache holds at the current stamp is served
			en, ok := g.cache.get("Practitioner/a", g.stamp())
			if !ok || !en.hasCircle {
				t.Fatalf("no cached circle at the current mark: %+v", en)
			}
			en.circle = []string{"cached"}
			g.cache.put("Practitioner/a", en)
		}, []string{"cached"}},
		{"a new Encounter opens access at once", func() {
			e.put("Encounter", "e1", map[string]any{"status": "in-progress", "class": map[string]any{"code": "AMB"}, "subject": refTo("Patient/p2"),
				"participant": []any{map[string]any{"individual": refTo("Practitioner/a")}}, "period": map[string]any{"start": "2026-12-07"}})
		}, []string{"p1", "p2"}},
		{"the membership's end passes: closed at once", func() { clock = now.Add(time.Hour) }, []string{"p2"}},
		{"an ended membership closes access at once", func() {
			e.put("Encounter", "e1", map[string]any{"status": "finished", "class": map[string]any{"code": "AMB"}, "subject": refTo("Patient/p2"),
				"participant": []any{map[string]any{"individual": refTo("Practitioner/z")}}, "period": map[string]any{"start": "2026-12-07"}})
			e.put("CareTeam", "ct2", map[string]any{"status": "active", "subject": refTo("Patient/p2"), "participant": []any{
				map[string]any{"member": refTo("Practitioner/a")}}})
			_ = circle() // cached with ct2
			e.put("CareTeam", "ct2", map[string]any{"status": "active", "subject": refTo("Patient/p2"), "participant": []any{
				map[string]any{"member": refTo("Practitioner/a"), "period": map[string]any{"end": "2026-12-07T12:30:00Z"}}}})
		}, []string{}},
		{"a commit of another process (the audit trail's, say) keeps the cache for a while", func() {
			en, ok := g.cache.get("Practitioner/a", g.stamp())
			if !ok {
				t.Fatal("nothing cached")
			}
			en.circle = []string{"cached"}
			g.cache.put("Practitioner/a", en)
			if _, err := other.Update(context.Background(), "Basic", "b1", []byte(`{"resourceType":"Basic","id":"b1","code":{"text":"x"}}`), service.Preconditions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"cached"}},
		{"another process's write is seen within otherProcessLag", func() {
			b, _ := json.Marshal(map[string]any{"resourceType": "CareTeam", "id": "ct3", "status": "active", "subject": refTo("Patient/p1"),
				"participant": []any{map[string]any{"member": refTo("Practitioner/a")}}})
			if _, err := other.Update(context.Background(), "CareTeam", "ct3", b, service.Preconditions{}); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(otherProcessLag)
		}, []string{"p1"}},
	}
	for _, s := range steps {
		s.change()
		if got := circle(); !slices.Equal(got, s.want) {
			t.Errorf("%s: %v; want %v", s.name, got, s.want)
		}
	}
}

// TestCacheBound: a full cache is emptied before it grows.
func TestCacheBound(t *testing.T) {
	var c circleCache
	for i := range cacheSize + 10 {
		c.put(string(rune('a'+i%26))+string(rune(i)), cached{stamp: stamp{mark: 1, marked: true}})
		if len(c.entries) > cacheSize {
			t.Fatalf("%d entries", len(c.entries))
		}
	}
	at := time.Now()
	c.put("x", cached{stamp: stamp{writes: 7, mark: 1, marked: true, at: at}})
	for _, tc := range []struct {
		name string
		now  stamp
		hit  bool
	}{
		{"the same stamp", stamp{writes: 7, mark: 1, marked: true, at: at.Add(time.Hour)}, true},
		{"a write of this server", stamp{writes: 8, mark: 1, marked: true, at: at}, false},
		{"another commit, within the lag", stamp{writes: 7, mark: 2, marked: true, at: at.Add(otherProcessLag / 2)}, true},
		{"another commit, past the lag", stamp{writes: 7, mark: 2, marked: true, at: at.Add(otherProcessLag)}, false},
		{"no mark, within the lag", stamp{writes: 7, at: at.Add(otherProcessLag / 2)}, true},
		{"no mark, past the lag", stamp{writes: 7, at: at.Add(otherProcessLag)}, false},
		{"a clock gone back", stamp{writes: 7, mark: 2, marked: true, at: at.Add(-time.Second)}, false},
	} {
		if _, ok := c.get("x", tc.now); ok != tc.hit {
			t.Errorf("%s: served %v", tc.name, ok)
		}
	}
}

// BenchmarkGateFor is a doctor's request: For and the Grant of a read.
// cold: a new gate each time (the circle read from the store); warm: one
// gate, nothing written between requests.
func BenchmarkGateFor(b *testing.B) {
	e := newCircleEnv(b)
	role(e, "ra", "Practitioner/a", "Organization/h1", "10")
	for i := range 50 {
		id := "q" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		e.put("Patient", id, map[string]any{})
		e.put("CareTeam", "ct"+id, map[string]any{"status": "active", "subject": refTo("Patient/" + id), "participant": []any{
			map[string]any{"member": refTo("Practitioner/a")}}})
	}
	run := func(b *testing.B, g func() *Gate) {
		for b.Loop() {
			a, _, err := g().For(context.Background(), Caller{Scopes: everything{}, User: true, Practitioner: "Practitioner/a"})
			if err == nil {
				_, err = a.Grant('r', "Observation")
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cold", func(b *testing.B) { run(b, func() *Gate { return &Gate{Circle: e.c, Policy: Default()} }) })
	warm := &Gate{Circle: e.c, Policy: Default()}
	b.Run("warm", func(b *testing.B) { run(b, func() *Gate { return warm }) })
}
