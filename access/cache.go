package access

import (
	"sync"
	"time"

	"github.com/dccfhir/dccfhir/store"
)

// The care circle is evaluated from the stored resources (circle.go), a
// dozen searches per request. While the store commits nothing they give
// the same answer, so the gate keeps a professional's roles and circle,
// and what a system's Organization reaches (system.go), with the store's
// commit mark (store.CommitMarker) taken before reading
// them, and reuses them while the mark has not moved: any write — a new
// Encounter, an ended CareTeam membership, a consent — moves it, and the
// next request reads again. Time alone also changes the circle: an entry
// lasts no longer than the first CareTeam membership end it relies on,
// nor than cacheAge (the three-year window of Encounters moves by the
// clock). A store with no mark, or that cannot read it, is read every
// request.

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

// cached is what the gate knows of one Practitioner, or one system's
// Organization, at one commit mark.
// Its slices are shared by the requests that use it: never modified.
type cached struct {
	mark  uint64
	pro   *Professional
	rules []*Rule
	// the circle, less consent denials, when computed at this mark
	circle    []string
	hasCircle bool
	until     time.Time // the circle's (or lists') end of use
	// a system's Organization (keyed by Organization/ID): what it reaches
	lists *systemLists
}

// mark is the store's commit mark, ok false when it has none.
func (g *Gate) mark() (uint64, bool) {
	if m, ok := g.Circle.Service.Store.(store.CommitMarker); ok {
		return m.CommitMark()
	}
	return 0, false
}

// get is the entry of practitioner at mark.
func (c *circleCache) get(practitioner string, mark uint64) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[practitioner]
	return e, ok && e.mark == mark
}

// put stores e, or adds its circle to the entry of the same mark.
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
