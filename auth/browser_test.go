package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// The browser side's tests run the pages through a real httptest.Server
// with Echo, on a real SQLite store, driven like a browser: a cookie jar,
// the forms' hidden inputs read from the pages and posted back.

// webClock is the server's clock, moved by the tests.
type webClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *webClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *webClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type webHarness struct {
	t     *testing.T
	e     *echo.Echo
	srv   *httptest.Server
	s     *Server
	st    store.Store
	svc   *service.Service
	clock *webClock
}

const (
	testApp      = "app"
	testRedirect = "https://app.example/callback"
	testPassword = "correct horse battery staple"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func testChallenge() string {
	s := sha256.Sum256([]byte(testVerifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// newWebHarness starts a server; cfg adjusts its configuration.
func newWebHarness(t *testing.T, cfg func(*Config)) *webHarness {
	t.Helper()
	ctx := context.Background()
	eng, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	var st store.Store = eng
	svc := service.New(st, search.Default())
	e := echo.New()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	clock := &webClock{t: time.Now().Truncate(time.Millisecond)} // the engines keep microseconds
	c := Config{Store: st, Service: svc, BaseURL: srv.URL + "/fhir", Now: clock.Now}
	if cfg != nil {
		cfg(&c)
	}
	s, err := New(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.web.mailing.Wait) // reset mails finish before the store closes
	s.Register(e, "/fhir")
	h := &webHarness{t: t, e: e, srv: srv, s: s, st: st, svc: svc, clock: clock}
	h.client(&Client{ID: testApp, Name: "Dossier de cancérologie", Kind: "public", RedirectURIs: []string{testRedirect, "https://app.example/other?x=1"},
		Scopes: "openid fhirUser launch launch/patient patient/*.rs user/Patient.rs offline_access"})
	h.user(UserSpec{Username: "alice", Practitioner: "Practitioner/alice", Password: testPassword, Email: "alice@hopital.example"})
	return h
}

func (h *webHarness) client(c *Client) {
	h.t.Helper()
	if err := h.s.reg.PutClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
}

func (h *webHarness) user(spec UserSpec) {
	h.t.Helper()
	if err := h.s.reg.AddUser(context.Background(), spec); err != nil {
		h.t.Fatal(err)
	}
}

// authorizeURL is an authorize request with good defaults; set replaces
// them ("" removes one).
func (h *webHarness) authorizeURL(set map[string]string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {testApp},
		"redirect_uri":          {testRedirect},
		"scope":                 {"openid fhirUser patient/Observation.rs"},
		"state":                 {"st-123"},
		"aud":                   {h.s.cfg.BaseURL},
		"code_challenge":        {testChallenge()},
		"code_challenge_method": {"S256"},
		"nonce":                 {"n-1"},
	}
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return h.srv.URL + "/auth/authorize?" + q.Encode()
}

// browser is a cookie-keeping client that follows redirects within the
// server and stops at the app's redirect URI.
type browser struct {
	h *webHarness
	c *http.Client
}

func (h *webHarness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	srvURL, _ := url.Parse(h.srv.URL)
	return &browser{h: h, c: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != srvURL.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL // where the body came from
}

func (b *browser) do(req *http.Request) *page {
	b.h.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &page{status: resp.StatusCode, header: resp.Header, body: string(body), url: resp.Request.URL}
}

func (b *browser) get(u string) *page {
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

// post sends form to path (below the server) as a browser submits it.
func (b *browser) post(path string, form url.Values) *page {
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// submit posts the page's form (its hidden inputs) with fields added.
func (b *browser) submit(p *page, path string, fields map[string]string) *page {
	b.h.t.Helper()
	form := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		if form.Get(m[1]) == "" {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	for k, v := range fields {
		form.Set(k, v)
	}
	return b.post(path, form)
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

func hidden(p *page, name string) string {
	for _, m := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

// redirect is where a page sent the browser back to the app ("" when it did not).
func (p *page) redirect() *url.URL {
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		return nil
	}
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), "https://app.example/") {
		return nil
	}
	return u
}

// login submits the login page with username and password.
func (b *browser) login(p *page, username, password string) *page {
	b.h.t.Helper()
	if !strings.Contains(p.body, `name="password"`) {
		b.h.t.Fatalf("not the login page (%d): %s", p.status, p.body)
	}
	return b.submit(p, "/auth/login", map[string]string{"username": username, "password": password})
}

// approve submits the consent page with decision=allow.
func (b *browser) approve(p *page) *page {
	b.h.t.Helper()
	if !strings.Contains(p.body, `name="decision" value="allow"`) {
		b.h.t.Fatalf("not the consent page (%d): %s", p.status, p.body)
	}
	return b.submit(p, "/auth/consent", map[string]string{"decision": "allow"})
}

// codeOf checks p is the code redirect and returns the code's record.
func (h *webHarness) codeOf(p *page) (string, *Code, *store.Record) {
	h.t.Helper()
	u := p.redirect()
	if u == nil {
		h.t.Fatalf("no redirect to the app (%d): %s", p.status, p.body)
	}
	code := u.Query().Get("code")
	if code == "" {
		h.t.Fatalf("redirect without a code: %s", u)
	}
	rec, err := h.st.GetRecord(context.Background(), KindCode, Digest(code))
	if err != nil {
		h.t.Fatalf("code record: %v", err)
	}
	c := new(Code)
	if err := json.Unmarshal(rec.Value, c); err != nil {
		h.t.Fatal(err)
	}
	return code, c, rec
}
