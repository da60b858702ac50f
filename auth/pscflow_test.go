package auth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth/psc/psctest"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// The Pro Santé Connect routes' tests run the server's routes in a real
// httptest.Server with Echo on SQLite, against psctest's provider in
// process, driven like a browser (a cookie jar, redirects followed one by
// one). They go as far as completeLogin: the whole login, with the
// browser side's pending request and session, is the end-to-end tests'.

// pscClock is the server's and the provider's clock.
type pscClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *pscClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *pscClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pscLogBuffer collects the server's log lines.
type pscLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *pscLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *pscLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type pscHarness struct {
	t        *testing.T
	s        *Server
	srv      *httptest.Server
	provider *psctest.Provider
	svc      *service.Service
	clock    *pscClock
	logs     *pscLogBuffer
	browser  *http.Client
}

const pscPageMarker = "Connexion Pro Santé Connect impossible"

// newPSCHarness starts the server's Pro Santé Connect routes and a
// provider; edit adjusts the server's configuration.
func newPSCHarness(t *testing.T, edit func(*Config)) *pscHarness {
	t.Helper()
	eng, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	st := pscTestStore(t, eng)
	h := &pscHarness{t: t, svc: service.New(st, search.Default()), clock: &pscClock{t: time.Now()}, logs: &pscLogBuffer{}}
	e := echo.New()
	h.srv = httptest.NewUnstartedServer(e)
	base := "http://" + h.srv.Listener.Addr().String() + "/fhir"
	h.provider = psctest.Start(t, psctest.Options{RedirectURIs: []string{IssuerOf(base) + "/auth/psc/callback"}, Now: h.clock.now})
	cfg := Config{
		Store: st, Service: h.svc, BaseURL: base, Now: h.clock.now,
		PSC:    &PSCConfig{DiscoveryURL: h.provider.DiscoveryURL, ClientID: h.provider.ClientID, ClientSecret: h.provider.ClientSecret},
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	if h.s, err = New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	h.s.registerPSCRoutes(e)
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	h.browser = h.newBrowser()
	return h
}

func (h *pscHarness) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type pscResponse struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (h *pscHarness) get(browser *http.Client, u string) *pscResponse {
	h.t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &pscResponse{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header}
}

// pendingFor gives browser a pre-login session and returns a pending
// request of it (sealed, as the login page carries it) for the client
// label (not registered: the tests end at completeLogin).
func (h *pscHarness) pendingFor(browser *http.Client, label string, edit ...func(*pendingRequest)) string {
	h.t.Helper()
	value := RandomToken()
	u, _ := url.Parse(h.srv.URL + "/auth")
	browser.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: value, Path: "/auth"}})
	p := &pendingRequest{ClientID: label, Session: Digest(value)}
	for _, f := range edit {
		f(p)
	}
	sealed, err := h.s.seal.seal(purposePending, p, h.clock.now().Add(pendingTTL))
	if err != nil {
		h.t.Fatal(err)
	}
	return sealedPending + sealed
}

// start is GET /auth/psc/start?pending=… for a new pending request of
// browser for the client label: the redirect to the provider.
func (h *pscHarness) start(browser *http.Client, label string) *pscResponse {
	h.t.Helper()
	return h.startPending(browser, h.pendingFor(browser, label))
}

func (h *pscHarness) startPending(browser *http.Client, pending string) *pscResponse {
	h.t.Helper()
	r := h.get(browser, h.srv.URL+"/auth/psc/start?"+url.Values{"pending": {pending}}.Encode())
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, h.provider.Issuer+"/") {
		h.t.Fatalf("start: %d to %q: %s", r.status, r.location, r.body)
	}
	return r
}

// toCallback follows start to the provider and returns the callback URL
// the provider sends the browser to.
func (h *pscHarness) toCallback(browser *http.Client, label string) string {
	h.t.Helper()
	r := h.get(browser, h.start(browser, label).location)
	if r.status != http.StatusFound || !strings.HasPrefix(r.location, h.srv.URL+"/auth/psc/callback?") {
		h.t.Fatalf("provider: %d to %q: %s", r.status, r.location, r.body)
	}
	return r.location
}

// reachedCompleteLogin: the callback went past every check of its own
// (what completeLogin answers is the browser side's).
func (h *pscHarness) reachedCompleteLogin(r *pscResponse) {
	h.t.Helper()
	if strings.Contains(r.body, pscPageMarker) {
		h.t.Fatalf("the callback refused the login: %d %s", r.status, r.body)
	}
}

func (h *pscHarness) refusedWith(r *pscResponse, status int) {
	h.t.Helper()
	if r.status != status || !strings.Contains(r.body, pscPageMarker) {
		h.t.Fatalf("answer %d %q, want the refusal page with %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		h.t.Errorf("content type %q", ct)
	}
	for _, secret := range []string{h.provider.LastIDToken(), h.provider.ClientSecret} {
		if secret != "" && strings.Contains(r.body, secret) {
			h.t.Errorf("the page carries a secret: %s", r.body)
		}
	}
}

func (h *pscHarness) user(username string) *User {
	h.t.Helper()
	u, err := h.s.reg.User(context.Background(), username)
	if errors.Is(err, ErrUnknown) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func (h *pscHarness) count(typ string) int {
	h.t.Helper()
	sr, err := h.svc.Search(context.Background(), typ, url.Values{"_count": {"100"}}, true)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(sr.Result.Resources)
}

// noSecretsLogged: no ID token, code, state or client secret in any log line.
func (h *pscHarness) noSecretsLogged(secrets ...string) {
	h.t.Helper()
	logs := h.logs.String()
	for _, s := range append(secrets, h.provider.LastIDToken(), h.provider.ClientSecret) {
		if s != "" && strings.Contains(logs, s) {
			h.t.Errorf("a secret is logged: %s", logs)
		}
	}
}

const pscSandboxUser = pscUserPrefix + "899700218896"

func TestPSCLogin(t *testing.T) {
	h := newPSCHarness(t, nil)
	pending := h.pendingFor(h.browser, "pending-1")
	start := h.startPending(h.browser, pending)
	// the authorization request
	au, _ := url.Parse(start.location)
	q := au.Query()
	if q.Get("scope") != "openid scope_all" || q.Get("acr_values") != "eidas1" || q.Get("code_challenge_method") != "S256" ||
		q.Get("redirect_uri") != h.srv.URL+"/auth/psc/callback" || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("code_challenge") == "" {
		t.Fatalf("authorization request %v", q)
	}
	// the login, sealed in the cookie (nothing stored before the login)
	ck := pscCookieOf(t, start)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/auth/psc" || ck.Secure {
		t.Errorf("cookie %+v", ck)
	}
	login := new(pscLogin)
	exp, err := h.s.seal.open(purposePSC, ck.Value, login)
	if err != nil || login.Pending != pending || login.State != Digest(q.Get("state")) || login.Verifier == "" || login.Nonce != q.Get("nonce") {
		t.Fatalf("sealed login %+v, %v", login, err)
	}
	if !exp.After(h.clock.now().Add(9*time.Minute)) || exp.After(h.clock.now().Add(10*time.Minute)) {
		t.Errorf("login expires %v", exp)
	}
	if strings.Contains(ck.Value, login.Verifier) || strings.Contains(ck.Value, login.Nonce) {
		t.Error("the cookie shows the PKCE verifier or the nonce")
	}
	if recs, err := h.s.cfg.Store.ListRecords(context.Background(), KindSession); err != nil || len(recs) != 0 {
		t.Errorf("sessions stored before the login: %v %v", recs, err)
	}

	back := h.get(h.browser, start.location)
	r := h.get(h.browser, back.location)
	h.reachedCompleteLogin(r)
	u := h.user(pscSandboxUser)
	if u == nil || u.NationalID != "899700218896" || !strings.HasPrefix(u.Practitioner, "Practitioner/") || u.PasswordHash != "" {
		t.Fatalf("account %+v", u)
	}
	if n := [3]int{h.count("Practitioner"), h.count("Organization"), h.count("PractitionerRole")}; n != [3]int{1, 1, 1} {
		t.Fatalf("FHIR side %v", n)
	}
	h.noSecretsLogged(q.Get("state"), back.location)

	// a second login reuses the account and the FHIR side
	h.reachedCompleteLogin(h.get(h.browser, h.toCallback(h.browser, "pending-2")))
	if again := h.user(pscSandboxUser); again.Practitioner != u.Practitioner || !again.Created.Equal(u.Created) {
		t.Fatalf("second login: %+v, first %+v", again, u)
	}
	if n := [3]int{h.count("Practitioner"), h.count("Organization"), h.count("PractitionerRole")}; n != [3]int{1, 1, 1} {
		t.Fatalf("FHIR side after a second login %v", n)
	}
}

func pscCookies(r *pscResponse) []*http.Cookie {
	var out []*http.Cookie
	for _, line := range r.header.Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == pscCookie {
			out = append(out, ck)
		}
	}
	return out
}

func pscCookieOf(t *testing.T, r *pscResponse) *http.Cookie {
	t.Helper()
	for _, line := range r.header.Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == pscCookie {
			return ck
		}
	}
	t.Fatalf("no %s cookie in %v", pscCookie, r.header)
	return nil
}

func TestPSCCallbackRefusals(t *testing.T) {
	t.Run("replayed callback", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		cb := h.toCallback(h.browser, "p")
		h.reachedCompleteLogin(h.get(h.browser, cb))
		h.refusedWith(h.get(h.browser, cb), http.StatusBadRequest)
	})
	t.Run("unknown state", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		cb, _ := url.Parse(h.toCallback(h.browser, "p"))
		q := cb.Query()
		q.Set("state", RandomToken())
		cb.RawQuery = q.Encode()
		h.refusedWith(h.get(h.browser, cb.String()), http.StatusBadRequest)
	})
	t.Run("no state", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.refusedWith(h.get(h.browser, h.srv.URL+"/auth/psc/callback?code=x"), http.StatusBadRequest)
	})
	t.Run("another browser", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		cb := h.toCallback(h.browser, "p")
		h.refusedWith(h.get(h.newBrowser(), cb), http.StatusBadRequest)
		if h.user(pscSandboxUser) != nil {
			t.Fatal("an account was made")
		}
		// another browser's login cookie with this state: refused too
		other := h.newBrowser()
		h.toCallback(other, "q")
		h.refusedWith(h.get(other, cb), http.StatusBadRequest)
		if h.user(pscSandboxUser) != nil {
			t.Fatal("an account was made")
		}
	})
	t.Run("forged cookie", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		cb := h.toCallback(h.browser, "p")
		u, _ := url.Parse(h.srv.URL + "/auth/psc")
		ck := h.browser.Jar.Cookies(u)[0]
		raw := []byte(ck.Value)
		raw[len(raw)/2] ^= 1
		h.browser.Jar.SetCookies(u, []*http.Cookie{{Name: pscCookie, Value: string(raw), Path: "/auth/psc"}})
		h.refusedWith(h.get(h.browser, cb), http.StatusBadRequest)
	})
	t.Run("expired", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		cb := h.toCallback(h.browser, "p")
		h.clock.advance(pscLoginTTL + time.Second)
		h.refusedWith(h.get(h.browser, cb), http.StatusBadRequest)
	})
	t.Run("the provider refuses the login", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.provider.Set(psctest.Behaviour{DenyLogin: true})
		r := h.get(h.browser, h.toCallback(h.browser, "p"))
		h.refusedWith(r, http.StatusForbidden)
		if !strings.Contains(r.body, "access_denied") {
			t.Errorf("page %s", r.body)
		}
	})
	for _, tc := range []struct {
		name string
		b    psctest.Behaviour
	}{
		{"wrong nonce", psctest.Behaviour{WrongNonce: true}},
		{"wrong audience", psctest.Behaviour{Audience: []string{"another"}, AZP: "-"}},
		{"wrong issuer", psctest.Behaviour{Issuer: "https://elsewhere.example/realm"}},
		{"expired ID token", psctest.Behaviour{ExpiresIn: -5 * time.Minute}},
		{"HS256 with a wrong secret", psctest.Behaviour{Alg: "HS256", HMACSecret: "guess"}},
		{"userinfo of someone else", psctest.Behaviour{UserinfoSub: "f:other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newPSCHarness(t, nil)
			h.provider.Set(tc.b)
			cb := h.toCallback(h.browser, "p")
			h.refusedWith(h.get(h.browser, cb), http.StatusForbidden)
			if h.user(pscSandboxUser) != nil || h.count("Practitioner") != 0 {
				t.Fatal("a refused login made an account or a Practitioner")
			}
			if !strings.Contains(h.logs.String(), "Pro Santé Connect login refused") {
				t.Errorf("the refusal is not logged: %s", h.logs.String())
			}
			h.noSecretsLogged(cb)
		})
	}
	t.Run("HS256 with the client secret", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.provider.Set(psctest.Behaviour{Alg: "HS256", UserinfoJWT: true})
		h.reachedCompleteLogin(h.get(h.browser, h.toCallback(h.browser, "p")))
		if h.user(pscSandboxUser) == nil {
			t.Fatal("no account")
		}
	})
}

func TestPSCAccounts(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.putUser(&User{Username: pscSandboxUser, NationalID: "899700218896", Disabled: true})
		h.refusedWith(h.get(h.browser, h.toCallback(h.browser, "p")), http.StatusForbidden)
	})
	t.Run("of another professional", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.putUser(&User{Username: pscSandboxUser, NationalID: "810000000000"})
		h.refusedWith(h.get(h.browser, h.toCallback(h.browser, "p")), http.StatusForbidden)
	})
	t.Run("prepared by an administrator", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.putUser(&User{Username: pscSandboxUser, Roles: []string{"auditor"}, Email: "c.martin@hopital.example"})
		h.reachedCompleteLogin(h.get(h.browser, h.toCallback(h.browser, "p")))
		u := h.user(pscSandboxUser)
		if u.NationalID != "899700218896" || u.Practitioner == "" || len(u.Roles) != 1 || u.Email != "c.martin@hopital.example" {
			t.Fatalf("account %+v", u)
		}
	})
}

func (h *pscHarness) putUser(u *User) {
	h.t.Helper()
	if err := h.s.reg.PutUser(context.Background(), u); err != nil {
		h.t.Fatal(err)
	}
}

func TestPSCStart(t *testing.T) {
	t.Run("no pending request", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.refusedWith(h.get(h.browser, h.srv.URL+"/auth/psc/start"), http.StatusBadRequest)
	})
	t.Run("not configured", func(t *testing.T) {
		h := newPSCHarness(t, func(c *Config) { c.PSC = nil })
		if r := h.get(h.browser, h.srv.URL+"/auth/psc/start?pending=p"); r.status != http.StatusNotFound {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("misconfigured", func(t *testing.T) {
		h := newPSCHarness(t, func(c *Config) {
			c.PSC.DiscoveryURL = "http://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
		})
		if !strings.Contains(h.logs.String(), "misconfigured") {
			t.Errorf("not logged at registration: %s", h.logs.String())
		}
		h.refusedWith(h.get(h.browser, h.srv.URL+"/auth/psc/start?pending=p"), http.StatusServiceUnavailable)
	})
	t.Run("provider unavailable, then back", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.provider.Set(psctest.Behaviour{Discovery: func(d map[string]any) { delete(d, "jwks_uri") }})
		h.refusedWith(h.get(h.browser, h.srv.URL+"/auth/psc/start?pending=p"), http.StatusServiceUnavailable)
		h.provider.Set(psctest.Behaviour{})
		h.reachedCompleteLogin(h.get(h.browser, h.toCallback(h.browser, "p")))
	})
	t.Run("pending request of another browser", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		pending := h.pendingFor(h.newBrowser(), "p")
		h.pendingFor(h.browser, "q")
		if r := h.get(h.browser, h.srv.URL+"/auth/psc/start?"+url.Values{"pending": {pending}}.Encode()); r.status != http.StatusBadRequest || len(pscCookies(r)) != 0 {
			t.Fatalf("%d %v %s", r.status, r.header, r.body)
		}
	})
	t.Run("forged or unknown pending request", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		h.pendingFor(h.browser, "q")
		for _, pending := range []string{"p", sealedPending + "AAAA", RandomToken()} {
			if r := h.get(h.browser, h.srv.URL+"/auth/psc/start?"+url.Values{"pending": {pending}}.Encode()); r.status != http.StatusBadRequest || len(pscCookies(r)) != 0 {
				t.Fatalf("%q: %d %s", pending, r.status, r.body)
			}
		}
	})
	t.Run("state too long for a cookie", func(t *testing.T) {
		h := newPSCHarness(t, nil)
		pending := h.pendingFor(h.browser, "p", func(p *pendingRequest) { p.State, p.HasState = bytes.Repeat([]byte("s"), 3000), true })
		r := h.get(h.browser, h.srv.URL+"/auth/psc/start?"+url.Values{"pending": {pending}}.Encode())
		h.refusedWith(r, http.StatusBadRequest)
		if len(pscCookies(r)) != 0 {
			t.Error("a cookie was set")
		}
	})
	t.Run("secure cookie over TLS", func(t *testing.T) {
		h := newPSCHarness(t, func(c *Config) { c.SecureCookies = true })
		if ck := pscCookieOf(t, h.start(h.browser, "p")); !ck.Secure {
			t.Errorf("cookie %+v", ck)
		}
	})
}

// Records for the tests until the engines have them (store/sqlite's are a
// placeholder until the records branch lands): a map, used only when the
// engine answers ErrUnsupported.
func pscTestStore(t *testing.T, eng store.Store) store.Store {
	err := eng.CreateRecord(context.Background(), &store.Record{Kind: "test.probe", Key: "psc", Value: []byte("{}")})
	if !errors.Is(err, store.ErrUnsupported) {
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	return &pscRecords{Store: eng, recs: map[[2]string]store.Record{}}
}

type pscRecords struct {
	store.Store
	mu   sync.Mutex
	recs map[[2]string]store.Record
}

func (m *pscRecords) live(kind, key string) (store.Record, bool) {
	r, ok := m.recs[[2]string{kind, key}]
	if !ok || (!r.Expires.IsZero() && !time.Now().Before(r.Expires)) {
		return store.Record{}, false
	}
	return r, true
}

func (m *pscRecords) CreateRecord(_ context.Context, r *store.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.live(r.Kind, r.Key); ok {
		return store.ErrConflict
	}
	m.recs[[2]string{r.Kind, r.Key}] = *r
	return nil
}

func (m *pscRecords) PutRecord(_ context.Context, r *store.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[[2]string{r.Kind, r.Key}] = *r
	return nil
}

func (m *pscRecords) GetRecord(_ context.Context, kind, key string) (*store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.live(kind, key); ok {
		return &r, nil
	}
	return nil, store.ErrNotFound
}

func (m *pscRecords) TakeRecord(_ context.Context, kind, key string) (*store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.live(kind, key)
	delete(m.recs, [2]string{kind, key})
	if !ok {
		return nil, store.ErrNotFound
	}
	return &r, nil
}

func (m *pscRecords) DeleteRecord(_ context.Context, kind, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, [2]string{kind, key})
	return nil
}

func (m *pscRecords) ListRecords(_ context.Context, kind string) ([]*store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*store.Record
	for k := range m.recs {
		if r, ok := m.live(k[0], k[1]); ok && k[0] == kind {
			out = append(out, &r)
		}
	}
	slices.SortFunc(out, func(a, b *store.Record) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
