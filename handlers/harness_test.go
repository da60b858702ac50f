package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/profiles"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// engine is a storage engine the HTTP suite runs on.
type engine struct {
	name string
	open func(t *testing.T) store.Store
}

func sqliteEngine() engine {
	return engine{"sqlite", func(t *testing.T) store.Store {
		st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}}
}

// engines lists the engines every HTTP test runs on; engines_mongo_test.go
// adds MongoDB (FerretDB in-process, or DCC_TEST_MONGODB_URI).
var engines = []engine{sqliteEngine()}

// fixture is a running server on one engine.
type fixture struct {
	t    *testing.T
	srv  *httptest.Server
	base string
	st   store.Store
	svc  *service.Service
	// auth is the authorization server of a server started withAuth
	// (nil otherwise); token is the bearer do sends, admin-cli's.
	auth  *auth.Server
	token string
}

type option = func(*handlersConfig)

type handlersConfig = handlers.Config

// withAuth starts the server as serve does by default: protection on
// (app.Config.Auth), the administrator bootstrapped; fixture.do then
// sends admin-cli's system/*.cruds token with every request.
func withAuth(c *handlersConfig) { c.Auth = realAuth{} }

// realAuth, as a configuration's Auth, asks startWith for the real
// authorization server: app.New builds it and puts it in its place.
type realAuth struct{ handlers.Authenticator }

// authTokenTTL is the lifetime of the tokens of a server started withAuth:
// one token, issued at start, outlives any test.
const authTokenTTL = 2 * time.Hour

func start(t *testing.T, e engine, opts ...option) *fixture {
	t.Helper()
	return startWith(t, e, search.Default(), opts...)
}

// startWith starts a server on its own parameter registry (for tests that
// add SearchParameters and must not leak them to others).
func startWith(t *testing.T, e engine, reg *search.Registry, opts ...option) *fixture {
	t.Helper()
	st := e.open(t)
	f := &fixture{t: t, st: st}
	// the handler needs its base URL before the server starts: the
	// unstarted server's listener already has its address
	f.srv = httptest.NewUnstartedServer(nil)
	f.base = "http://" + f.srv.Listener.Addr().String() + "/fhir"
	cfg := handlers.Config{BaseURL: f.base, ConditionalDeleteMultiple: true, Logger: testLogger()}
	if underAuthSuite(t) {
		withAuth(&cfg)
	}
	for _, o := range opts {
		o(&cfg)
	}
	_, protect := cfg.Auth.(realAuth)
	v := fullValidator(t)
	if pv, ok := cfg.Validator.(*profiles.Validator); ok {
		v = pv
	}
	ac := app.Config{Store: st, Validator: v, Registry: reg, HTTP: cfg, Logger: cfg.Logger}
	if protect {
		ac.HTTP.Auth = nil
		ac.Auth = &auth.Config{TokenTTLBackend: authTokenTTL}
		ac.DataDir = t.TempDir()
	}
	a, err := app.New(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = a.Service
	if protect {
		f.auth = a.Auth
		f.token = adminToken(t, a)
	}
	f.srv.Config.Handler = a.Handler
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// adminToken is a system/*.cruds token of the administration client the
// first start bootstrapped, issued as `dccfhir token` issues it: from the
// admin-credentials.json the start wrote.
func adminToken(t testing.TB, a *app.App) string {
	t.Helper()
	if a.Credentials == "" {
		t.Fatal("a server started with auth on an empty store wrote no admin-credentials.json")
	}
	b, err := os.ReadFile(a.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	var cred auth.AdminCredentials
	if err := json.Unmarshal(b, &cred); err != nil {
		t.Fatalf("%s: %v", a.Credentials, err)
	}
	tok, err := auth.IssueToken(context.Background(), a.Auth.Registry(), auth.TokenRequest{ClientID: cred.ClientID, Key: cred.Key})
	if err != nil {
		t.Fatalf("issuing admin-cli's token: %v", err)
	}
	return tok
}

// client is an HTTP client for requests made without do (the Synthea
// loads): it sends the fixture's token, if any, with each.
func (f *fixture) client() *http.Client {
	if f.token == "" {
		return http.DefaultClient
	}
	return &http.Client{Transport: bearerTransport{token: f.token, next: http.DefaultTransport}}
}

type bearerTransport struct {
	token string
	next  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

// benchServer starts a server on st for benchmarks, built as serve builds it.
func benchServer(tb testing.TB, st store.Store, v *profiles.Validator) (*httptest.Server, string) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/fhir"
	a, err := app.New(context.Background(), app.Config{Store: st, Validator: v, Logger: testLogger(),
		HTTP: handlers.Config{BaseURL: base, ConditionalDeleteMultiple: true}})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Config.Handler = a.Handler
	srv.Start()
	return srv, base
}

// testLogger discards server logs unless DCC_TEST_LOG is set (then they go
// to stderr, to see what a 500 was).
func testLogger() *slog.Logger {
	if os.Getenv("DCC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testEngines are the engines a test runs on: every engine, or under -short
// (the fast tier) SQLite only; MongoDB (embedded FerretDB) is the full tier.
func testEngines() []engine {
	if !testing.Short() {
		return engines
	}
	return sqliteOnly(engines)
}

func sqliteOnly(all []engine) []engine {
	var es []engine
	for _, e := range all {
		if e.name == "sqlite" {
			es = append(es, e)
		}
	}
	return es
}

// forEach runs fn as a subtest on every engine of testEngines, each with a
// fresh server; a suite rerun by TestSuitesWithAuth runs on SQLite only,
// unless it is one of the few that run there on every engine.
func forEach(t *testing.T, fn func(t *testing.T, f *fixture), opts ...option) {
	es := testEngines()
	if underAuthSuite(t) && !authOnEveryEngine(t) {
		es = sqliteOnly(es)
	}
	for _, e := range es {
		e := e
		t.Run(e.name, func(t *testing.T) { fn(t, start(t, e, opts...)) })
	}
}

type resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *resp) str(path ...string) string {
	v := dig(r.json, path...)
	s, _ := v.(string)
	return s
}

func dig(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmtSscan(p, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// do sends a request (with the fixture's token, if any, unless hdr gives
// an Authorization of its own); body may be a string, []byte or a value to marshal.
func (f *fixture) do(method, path string, body any, hdr ...string) *resp {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = f.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := &resp{status: res.StatusCode, header: res.Header, body: b}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

// want fails unless r has the status; on an OperationOutcome it checks
// the outcome is one.
func (f *fixture) want(r *resp, status int) {
	f.t.Helper()
	if r.status != status {
		f.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if status >= 400 {
		if r.str("resourceType") != "OperationOutcome" {
			f.t.Fatalf("error %d without an OperationOutcome: %s", status, r.body)
		}
	}
}

func patient(family string, extra ...string) map[string]any {
	p := map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": family, "given": []any{"Hélène"}}}, "gender": "female", "birthDate": "1970-03-04"}
	for i := 0; i+1 < len(extra); i += 2 {
		p["identifier"] = []any{map[string]any{"system": extra[i], "value": extra[i+1]}}
	}
	return p
}

// fullValidator is built once per test binary: base R4 validation plus the
// built-in DCC guide and FR Core, with serve's defaults (a claimed profile
// the server does not know is a warning).
func fullValidator(t testing.TB) *profiles.Validator {
	v, err := validatorOnce()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var validatorOnce = sync.OnceValues(func() (*profiles.Validator, error) {
	v, _, err := profiles.New(profiles.Options{})
	return v, err
})

// strictProfiles is the option for a server started with
// --unknown-profile=error.
func strictProfiles(t testing.TB) option {
	v, err := strictOnce()
	if err != nil {
		t.Fatal(err)
	}
	return func(c *handlersConfig) { c.Validator = v }
}

var strictOnce = sync.OnceValues(func() (*profiles.Validator, error) {
	v, _, err := profiles.New(profiles.Options{UnknownProfileError: true})
	return v, err
})
