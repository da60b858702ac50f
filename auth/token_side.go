package auth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// tokenSide is the state of the token side: the server's keys, the cache
// of verified access tokens, client JWKS fetched from their URLs, the
// origins CORS allows, and the discovery documents.
type tokenSide struct {
	s        *Server
	keys     keySource
	verified verifyCache
	epochs   epochReader
	// lastEpoch is the last epoch read with its commit mark (epoch.go).
	lastEpoch atomic.Pointer[markedEpoch]
	// clientCreated and userDisabled are the parts of client and user
	// records Verify reads, decoded once per version of the record.
	clientCreated recordMemo[clientStanding]
	userDisabled  recordMemo[userStanding]
	jwks          jwksCache
	origins       originCache
	// tokenURL is the token endpoint's absolute URL: the audience client
	// assertions must name.
	tokenURL string
	smart    map[string]any
	oidc     map[string]any
}

// serverRecord is the KindConfig record "server": what the command-line
// tools need to know of the server that runs on the same storage.
type serverRecord struct {
	BaseURL string `json:"baseUrl"`
	Issuer  string `json:"issuer"`
	// Token lifetimes, in seconds.
	TokenTTLBackend int64     `json:"tokenTtlBackend"`
	TokenTTLUser    int64     `json:"tokenTtlUser"`
	Started         time.Time `json:"started"`
}

const serverRecordKey = "server"

// maxTTL is the longest access or ID token lifetime (1 hour when the
// server never recorded its own).
func (r *serverRecord) maxTTL() time.Duration {
	ttl := time.Duration(max(r.TokenTTLBackend, r.TokenTTLUser)) * time.Second
	if ttl <= 0 {
		return time.Hour
	}
	return ttl
}

// loadServerRecord reads the server record; an empty one when the server
// never started on this storage.
func loadServerRecord(ctx context.Context, r *Registry) (*serverRecord, error) {
	rec := new(serverRecord)
	if err := r.get(ctx, KindConfig, serverRecordKey, rec); err != nil && !errors.Is(err, ErrUnknown) {
		return nil, err
	}
	return rec, nil
}

// init loads (or makes) the keys and records the server's URLs and
// lifetimes for the tools.
func (t *tokenSide) init(ctx context.Context, s *Server) error {
	if err := t.prepare(ctx, s); err != nil {
		return err
	}
	rec := &serverRecord{
		BaseURL: s.cfg.BaseURL, Issuer: s.cfg.Issuer,
		TokenTTLBackend: int64(s.cfg.TokenTTLBackend / time.Second), TokenTTLUser: int64(s.cfg.TokenTTLUser / time.Second),
		Started: s.cfg.Now().UTC(),
	}
	return s.reg.put(ctx, KindConfig, serverRecordKey, rec, time.Time{}, false)
}

// prepare is init without the server record: what an in-process token
// issuer (IssueToken) needs.
func (t *tokenSide) prepare(ctx context.Context, s *Server) error {
	t.s = s
	t.keys = keySource{recs: s.reg.Store, now: s.cfg.Now, log: s.cfg.Logger.Warn}
	if err := t.keys.load(ctx, s.reg); err != nil {
		return err
	}
	t.verified.init(s.cfg.Now)
	t.jwks.init(s.cfg.HTTPClient, s.cfg.Now)
	t.tokenURL = s.cfg.Issuer + "/auth/token"
	t.smart, t.oidc = discoveryDocuments(s.cfg)
	return nil
}

func (s *Server) registerTokenRoutes(e *echo.Echo, basePath string) {
	basePath = strings.TrimRight(basePath, "/")
	e.GET(basePath+"/.well-known/smart-configuration", s.smartConfiguration)
	e.GET("/.well-known/openid-configuration", s.openIDConfiguration)
	e.GET("/auth/jwks", s.jwksEndpoint)
	for path, h := range map[string]echo.HandlerFunc{
		"/auth/token":      s.tokenEndpoint,
		"/auth/introspect": s.introspectEndpoint,
		"/auth/revoke":     s.revokeEndpoint,
	} {
		e.POST(path, h, s.cors)
		e.OPTIONS(path, s.preflight, s.cors)
	}
	e.POST("/auth/launch", s.launchEndpoint)
}

// originTTL is how long the set of allowed origins is kept: a new client's
// origin is allowed, a removed one's refused, within that time.
const originTTL = 10 * time.Second

// originCache is the origins of the registered redirect URIs.
type originCache struct {
	set atomic.Pointer[originSet]
	mu  sync.Mutex // held by the one rereading
}

type originSet struct {
	origins map[string]bool
	loaded  time.Time
}

// AllowedOrigin reports whether a browser page from origin may call the
// FHIR API and the token endpoint: an origin (scheme://host[:port]) of a
// registered redirect URI. The set is reread from the clients when it is
// 10 seconds old (by one caller; the others use the one they have), so a
// client registered or removed counts within that time.
func (s *Server) AllowedOrigin(ctx context.Context, origin string) bool {
	if origin = originOf(origin); origin == "" {
		return false
	}
	o := &s.tokens.origins
	cur := o.set.Load()
	now := s.cfg.Now()
	if cur == nil || now.Sub(cur.loaded) >= originTTL || now.Before(cur.loaded) {
		if cur == nil {
			o.mu.Lock()
		} else if !o.mu.TryLock() {
			return cur.origins[origin]
		}
		if fresh := o.set.Load(); fresh != cur {
			cur = fresh
		} else if next, err := s.loadOrigins(ctx, now); err != nil {
			s.cfg.Logger.Warn("auth: reading the clients for CORS failed", "error", err)
		} else {
			o.set.Store(next)
			cur = next
		}
		o.mu.Unlock()
	}
	return cur != nil && cur.origins[origin]
}

func (s *Server) loadOrigins(ctx context.Context, now time.Time) (*originSet, error) {
	clients, err := s.reg.Clients(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, c := range clients {
		for _, u := range c.RedirectURIs {
			if o := originOf(u); o != "" {
				set[o] = true
			}
		}
	}
	return &originSet{origins: set, loaded: now}, nil
}

// originOf is the origin of an absolute URL (scheme://host[:port], lower
// case, without the scheme's default port), "" when it has none.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
		return ""
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		host += ":" + port
	}
	return scheme + "://" + host
}

// cors lets the pages of registered apps call the endpoint.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Add("Vary", "Origin")
		if origin := c.Request().Header.Get("Origin"); s.AllowedOrigin(c.Request().Context(), origin) {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		return next(c)
	}
}

func (s *Server) preflight(c echo.Context) error {
	h := c.Response().Header()
	if h.Get("Access-Control-Allow-Origin") != "" {
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
	return c.NoContent(204)
}
