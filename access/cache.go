package access

import (
	"sync"
	"time"

	"github.com/dccfhir/dccfhir/store"
)

// The care circle is evaluated from the stored resources (circle.go), a
// dozen searches per request. While nothing that decides it is written
// they give the same answer, so the gate keeps a professional's roles and
// circle, and what a system's Organization reaches (system.go), with a
// stamp taken before reading them:
//   - the service's write count (service.Writes): a write through this
//     server — a new Encounter, an ended CareTeam membership, a consent —
//     moves it, and the next request reads again, at once;
//   - the store's commit mark (store.CommitMarker, SQLite): while it has
//     not moved nobody else wrote either. It moves with every commit,
//     the audit trail's too (one per request), so an entry whose mark has
//     moved is still used for otherProcessLag after it was read: a write
//     by another process (dccfhir import, a second server on the same
//     storage) is seen within that lag, one of this server at once.
//     Engines with no mark (MongoDB) are always in that case.
// Time alone also changes the circle: an entry lasts no longer than the
// first CareTeam membership end it relies on, nor than cacheAge (the
// three-year window of Encounters moves by the clock).

// otherProcessLag is how long a write by another process may take to be
// seen by this server's access decisions.
const otherProcessLag = time.Second

// cacheSize bounds the professionals kept: when full, all are dropped
// (cheaper than keeping an order, and the circle is recomputed anyway on
// every write).
const cacheSize = 1024

// cacheAge is the longest an entry is used.
const cacheAge = time.Minute

// circleCache is safe for concurrent use; its zero value is empty.
type circleCache struct {
	mu      sync.Mutex
	entries map[string]cached
}

// stamp is the state of the storage a cache entry was read at.
type stamp struct {
	writes uint64    // the service's write count
	mark   uint64    // the store's commit mark, when marked
	marked bool      // the store has a mark
	at     time.Time // when (the gate's clock)
}

// current reports whether what was read at e still holds at now.
func (e stamp) current(now stamp) bool {
	return e.writes == now.writes &&
		(e.marked && now.marked && e.mark == now.mark || now.at.Sub(e.at) < otherProcessLag && !now.at.Before(e.at))
}

// cached is what the gate knows of one Practitioner, or one system's
// Organization, at one stamp.
// Its slices are shared by the requests that use it: never modified.
type cached struct {
	stamp stamp
	pro   *Professional
	rules []*Rule
	// the circle, less consent denials, when computed at this stamp
	circle    []string
	hasCircle bool
	until     time.Time // the circle's (or lists') end of use
	// a system's Organization (keyed by Organization/ID): what it reaches
	lists *systemLists
}

// stamp is the storage's state now; take it before reading.
func (g *Gate) stamp() stamp {
	st := stamp{writes: g.Circle.Service.Writes(), at: g.Circle.Now()}
	if m, ok := g.Circle.Service.Store.(store.CommitMarker); ok {
		st.mark, st.marked = m.CommitMark()
	}
	return st
}

// get is the entry of key (a Practitioner, an Organization) still
// current at now.
func (c *circleCache) get(key string, now stamp) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok && e.stamp.current(now)
}

// put stores e as key's entry.
func (c *circleCache) put(practitioner string, e cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= cacheSize {
		if _, ok := c.entries[practitioner]; !ok {
			c.entries = make(map[string]cached)
		}
	}
	c.entries[practitioner] = e
}
