package service

import (
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// restrictionCache holds search-restricted scopes parsed for the types of
// a search: every narrowed search, membership check, include level and
// write under such a scope needs the clauses, and parsing is a search
// parse each time. It is keyed by the types and the restriction as a
// query string, and emptied when the registry changes (a SearchParameter
// changes what a restriction means) or when it holds restrictionCacheSize
// entries (clients choose the values of their scopes, within what they
// are registered for: the cache must stay bounded). Unrestricted grants
// never reach it.
type restrictionCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]parsedRestriction
}

// restrictionCacheSize bounds the restrictions remembered.
const restrictionCacheSize = 512

type parsedRestriction struct {
	where []query.Clause
	err   error
}

// get returns parse(types, r), parsed at registry generation gen, from
// the cache when it holds it.
func (c *restrictionCache) get(gen uint64, types []string, r url.Values, parse func([]string, url.Values) ([]query.Clause, error)) ([]query.Clause, error) {
	key := strings.Join(types, ",") + "?" + r.Encode()
	c.mu.Lock()
	if c.gen != gen || len(c.m) >= restrictionCacheSize {
		c.gen, c.m = gen, nil
	}
	p, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return p.where, p.err
	}
	where, err := parse(types, r)
	p = parsedRestriction{slices.Clip(where), err}
	c.mu.Lock()
	if c.gen == gen {
		if c.m == nil {
			c.m = make(map[string]parsedRestriction)
		}
		c.m[key] = p
	}
	c.mu.Unlock()
	return p.where, p.err
}
