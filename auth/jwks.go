package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Client JWKS URLs are fetched with these bounds (the "Limits").
const (
	jwksTimeout  = 5 * time.Second
	jwksMaxBytes = 1 << 20
	// jwksDefaultTTL is how long a set is kept when its response says
	// nothing; jwksMaxTTL the most a max-age is honoured.
	jwksDefaultTTL = 5 * time.Minute
	jwksMaxTTL     = time.Hour
	// jwksKidRefetch is the least time between two fetches an unknown kid
	// causes; jwksMinRefetch the least between any two (a set served with
	// no-store is fetched at most once a second).
	jwksKidRefetch = time.Minute
	jwksMinRefetch = time.Second
)

// jwksCache fetches and keeps the key sets of client JWKS URLs.
type jwksCache struct {
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex
	sets   map[string]*jwksEntry
}

type jwksEntry struct {
	mu      sync.Mutex // one fetch of a URL at a time
	set     jwk.Set
	fetched time.Time // last fetch attempt
	expires time.Time
	err     error // of the last attempt
}

func (c *jwksCache) init(client *http.Client, now func() time.Time) {
	cl := *client
	// A registered URL is fetched as registered: a redirect is a failure.
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cl.Timeout == 0 || cl.Timeout > jwksTimeout {
		cl.Timeout = jwksTimeout
	}
	c.client, c.now, c.sets = &cl, now, map[string]*jwksEntry{}
}

// keys returns the key set at rawURL: from the cache while its
// Cache-Control allows, else fetched; a cached set without kid is fetched
// again when the last fetch is over a minute old.
func (c *jwksCache) keys(ctx context.Context, rawURL, kid string) (jwk.Set, error) {
	c.mu.Lock()
	e := c.sets[rawURL]
	if e == nil {
		e = &jwksEntry{}
		c.sets[rawURL] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	since := now.Sub(e.fetched)
	switch {
	case e.fetched.IsZero():
	case since < jwksMinRefetch:
		return e.set, e.err
	case e.set != nil && now.Before(e.expires) && (hasKid(e.set, kid) || since < jwksKidRefetch):
		return e.set, nil
	case e.err != nil && since < jwksKidRefetch && !now.Before(e.expires):
		// A failing URL is tried again once a minute.
		return nil, e.err
	}
	set, ttl, err := c.fetch(ctx, rawURL)
	e.fetched = now
	if err != nil {
		e.err = err
		if e.set != nil && now.Before(e.expires) {
			return e.set, nil
		}
		e.set = nil
		return nil, err
	}
	e.set, e.expires, e.err = set, now.Add(ttl), nil
	return set, nil
}

func hasKid(set jwk.Set, kid string) bool {
	_, ok := set.LookupKeyID(kid)
	return ok
}

// fetch GETs a JWKS: 5 s, 1 MiB, status 200, https (or loopback http).
func (c *jwksCache) fetch(ctx context.Context, rawURL string) (jwk.Set, time.Duration, error) {
	if err := checkFetchURL(rawURL); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, errors.New("JWKS URL not reachable")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("JWKS URL answered %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, 0, errors.New("JWKS URL: reading the answer failed")
	}
	if len(body) > jwksMaxBytes {
		return nil, 0, errors.New("JWKS URL: answer over 1 MiB")
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, 0, errors.New("JWKS URL: not a JWK set")
	}
	return set, cacheTTL(resp.Header.Get("Cache-Control")), nil
}

// cacheTTL is how long a response may be kept by its Cache-Control:
// no-store or no-cache: not at all; max-age: that long, at most an hour;
// nothing said: 5 minutes.
func cacheTTL(cc string) time.Duration {
	ttl := jwksDefaultTTL
	for _, d := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				return 0
			}
			ttl = min(time.Duration(n)*time.Second, jwksMaxTTL)
		}
	}
	return ttl
}

// checkFetchURL allows what the server fetches: an absolute https URL, or
// http on a loopback address (tests, a local key service).
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without user or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%q: https required (http only on a loopback address)", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
