package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// testClock is a clock tests move.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testStore is the SQLite engine, counting the lists of records.
type testStore struct {
	store.Store
	stats *storeStats
}

type storeStats struct {
	mu    sync.Mutex
	lists map[string]int
	gets  map[string]int
}

// got is how many records of kind were read.
func (s testStore) got(kind string) int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.gets[kind]
}

func (s testStore) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	s.stats.mu.Lock()
	s.stats.gets[kind]++
	s.stats.mu.Unlock()
	return s.Store.GetRecord(ctx, kind, key)
}

// listed is how many times the records of kind were listed.
func (s testStore) listed(kind string) int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.lists[kind]
}

func (s testStore) ListRecords(ctx context.Context, kind string) ([]*store.Record, error) {
	s.stats.mu.Lock()
	s.stats.lists[kind]++
	s.stats.mu.Unlock()
	return s.Store.ListRecords(ctx, kind)
}

// openStore is a real SQLite store in a test directory.
func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "dcc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return testStore{Store: st, stats: &storeStats{lists: map[string]int{}, gets: map[string]int{}}}
}

// env is an authorization server behind a real HTTP server, with a
// protected test route (/fhir/whoami) that checks its bearer token as the
// FHIR handlers do.
type env struct {
	t      testing.TB
	ctx    context.Context
	clock  *testClock
	st     store.Store
	svc    *service.Service
	srv    *Server
	reg    *Registry
	ts     *httptest.Server
	base   string // FHIR base URL
	logbuf *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: &testClock{t: time.Now().UTC().Truncate(time.Second)}, logbuf: &syncBuffer{}}
	e.st = openStore(t)
	e.svc = service.New(e.st, search.Default())
	ech := echo.New()
	e.ts = httptest.NewUnstartedServer(ech)
	e.base = "http://" + e.ts.Listener.Addr().String() + "/fhir"
	srv, err := New(e.ctx, Config{
		Store: e.st, Service: e.svc, BaseURL: e.base, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(e.logbuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.reg = srv, srv.Registry()
	srv.Register(ech, "/fhir")
	ech.GET("/fhir/whoami", func(c echo.Context) error {
		p, err := srv.bearer(c.Request().Context(), c.Request())
		if err != nil {
			return srv.oauthFail(c, err)
		}
		return c.JSON(200, map[string]any{"client": p.ClientID, "sub": p.Subject, "user": p.Username, "scope": p.Scope, "patient": p.Patient})
	})
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

// answer is an HTTP response, its body decoded when JSON.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a *answer) str(name string) string { s, _ := a.body[name].(string); return s }

func (e *env) do(req *http.Request) *answer {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := &answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	for _, r := range a.str("error_description") {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			e.t.Errorf("error_description %q has %q (RFC 6749 section 5.2: printable ASCII but \" and \\)", a.str("error_description"), r)
		}
	}
	return a
}

// post sends a form; basic is "id:secret" for HTTP Basic, "" for none.
func (e *env) post(path string, form url.Values, basic string) *answer {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id, secret, ok := strings.Cut(basic, ":"); ok {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return e.do(req)
}

func (e *env) get(path, bearer string) *answer {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

// whoami is a protected request with token: 200 when Verify accepts it.
func (e *env) whoami(token string) *answer { return e.get("/fhir/whoami", token) }

func (e *env) addClient(spec ClientSpec) string {
	e.t.Helper()
	secret, err := e.reg.AddClient(e.ctx, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func (e *env) addUser(u *User) {
	e.t.Helper()
	if u.Created.IsZero() {
		u.Created = e.clock.Now()
	}
	if err := e.reg.PutUser(e.ctx, u); err != nil {
		e.t.Fatal(err)
	}
}

// clientKey is a backend client's key pair.
type clientKey struct {
	priv jwk.Key
	alg  jwa.SignatureAlgorithm
	jwks json.RawMessage // the public set to register
}

func newClientKeyFor(t testing.TB, alg jwa.SignatureAlgorithm, kid string) *clientKey {
	t.Helper()
	var raw any
	var err error
	switch alg {
	case jwa.ES384:
		raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jwa.ES256:
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		raw, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	_ = k.Set(jwk.AlgorithmKey, alg)
	pub, _ := k.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	b, _ := json.Marshal(set)
	return &clientKey{priv: k, alg: alg, jwks: b}
}

// b64json is the base64url of v's JSON.
func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signJWS signs header and claims exactly as given (alg from the header)
// with key: for crafting tokens a well-behaved library would not make.
func signJWS(t testing.TB, key any, hdr, claims map[string]any) string {
	t.Helper()
	if k, ok := key.(jwk.Key); ok {
		var raw any
		if err := k.Raw(&raw); err != nil {
			t.Fatal(err)
		}
		key = raw
	}
	signer, err := jws.NewSigner(jwa.SignatureAlgorithm(hdr["alg"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	in := b64json(hdr) + "." + b64json(claims)
	sig, err := signer.Sign([]byte(in), key)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// assertionClaims are valid client-assertion claims for clientID.
func (e *env) assertionClaims(clientID string) map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": clientID, "sub": clientID, "aud": e.srv.tokens.tokenURL,
		"exp": now.Add(2 * time.Minute).Unix(), "iat": now.Unix(), "jti": newID(),
	}
}

func (k *clientKey) header() map[string]any {
	return map[string]any{"alg": k.alg.String(), "kid": k.priv.KeyID(), "typ": "JWT"}
}

// backendForm is a client_credentials request with assertion.
func backendForm(assertion, scope string) url.Values {
	f := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {assertionType},
		"client_assertion":      {assertion},
	}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

// keyServer serves a JWKS over HTTP on loopback, counting its requests.
type keyServer struct {
	*httptest.Server
	mu           sync.Mutex
	body         []byte
	cacheControl string
	hits         int
}

func newKeyServer(t testing.TB, body []byte) *keyServer {
	ks := &keyServer{body: body}
	ks.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		ks.hits++
		b, cc := ks.body, ks.cacheControl
		ks.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	ks.Start()
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) count() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.hits
}

func (ks *keyServer) set(body []byte, cc string) {
	ks.mu.Lock()
	ks.body, ks.cacheControl = body, cc
	ks.mu.Unlock()
}

var _ = net.IPv4len
