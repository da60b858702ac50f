package handlers_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/auth"
)

// The suite's browser: a cookie jar, redirects followed on the server and
// on the Pro Santé Connect provider, stopping at the app's redirect URI
// (or where stop says); forms posted with the hidden inputs of the page
// they come from.

type secBrowser struct {
	f   *secFixture
	c   *http.Client
	jar *cookiejar.Jar
	// stop, when set, ends a redirect chain at the URL it accepts.
	stop func(*url.URL) bool
}

func (f *secFixture) browser() *secBrowser {
	jar, _ := cookiejar.New(nil)
	b := &secBrowser{f: f, jar: jar}
	srv, _ := url.Parse(f.issuer)
	provider, _ := url.Parse(f.psc.Issuer)
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		q := req.URL.Query()
		if req.URL.Path == "/auth/psc/callback" {
			f.secrets.add("Pro Santé Connect code", q.Get("code"))
			f.secrets.add("Pro Santé Connect state", q.Get("state"))
		}
		if b.stop != nil && b.stop(req.URL) {
			return http.ErrUseLastResponse
		}
		if req.URL.Host != srv.Host && req.URL.Host != provider.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

type secPage struct {
	status int
	header http.Header
	body   string
	url    *url.URL // where the body came from
}

func (b *secBrowser) do(req *http.Request) *secPage {
	b.f.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	b.keepCookies()
	return &secPage{status: res.StatusCode, header: res.Header, body: string(body), url: res.Request.URL}
}

// keepCookies records the browser's cookies (session, Pro Santé Connect
// binding) as secrets.
func (b *secBrowser) keepCookies() {
	for _, p := range []string{"/auth/", "/auth/psc/"} {
		u, _ := url.Parse(b.f.issuer + p)
		for _, c := range b.jar.Cookies(u) {
			b.f.secrets.add("cookie "+c.Name, c.Value)
		}
	}
}

func (b *secBrowser) get(u string) *secPage {
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

// post sends form to path (below the issuer) as a browser submits it.
func (b *secBrowser) post(path string, form url.Values) *secPage {
	req, _ := http.NewRequest("POST", b.f.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var secHidden = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// secHiddenInputs are the hidden inputs of a page.
func secHiddenInputs(p *secPage) url.Values {
	form := url.Values{}
	for _, m := range secHidden.FindAllStringSubmatch(p.body, -1) {
		if form.Get(m[1]) == "" {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return form
}

// submit posts the page's hidden inputs and fields to path.
func (b *secBrowser) submit(p *secPage, path string, fields map[string]string) *secPage {
	form := secHiddenInputs(p)
	for k, v := range fields {
		form.Set(k, v)
	}
	return b.post(path, form)
}

func (p *secPage) isLogin() bool {
	return strings.Contains(p.body, `name="password"`) && strings.Contains(p.body, `action="login"`)
}
func (p *secPage) isConsent() bool { return strings.Contains(p.body, `name="decision" value="allow"`) }

var secAlert = regexp.MustCompile(`(?s)role="alert">(.*?)</p>`)

// alert is the page's error message.
func (p *secPage) alert() string {
	if m := secAlert.FindStringSubmatch(p.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// login submits the login page.
func (b *secBrowser) login(t *testing.T, p *secPage, username, password string) *secPage {
	t.Helper()
	if !p.isLogin() {
		t.Fatalf("not the login page (%d): %.600s", p.status, p.body)
	}
	return b.submit(p, "/auth/login", map[string]string{"username": username, "password": password})
}

// approve submits the consent page with decision=allow.
func (b *secBrowser) approve(t *testing.T, p *secPage) *secPage {
	t.Helper()
	if !p.isConsent() {
		t.Fatalf("not the consent page (%d): %.600s", p.status, p.body)
	}
	return b.submit(p, "/auth/consent", map[string]string{"decision": "allow"})
}

// appRedirect is where a page sent the browser back to an app, nil when
// it did not.
func (p *secPage) appRedirect() *url.URL {
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		return nil
	}
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil || (!strings.HasPrefix(u.String(), secAppRedirect) && !strings.HasPrefix(u.String(), secWebRedirect)) {
		return nil
	}
	return u
}

// secAuthz is an authorize request.
type secAuthz struct {
	client, redirect, scope, state, launch, idp string
	verifier, nonce                             string // set by authorizeURL when empty
	set                                         map[string]string
}

func secS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL is a's authorize URL; set overrides parameters ("" removes).
func (f *secFixture) authorizeURL(a *secAuthz) string {
	if a.client == "" {
		a.client, a.redirect = secApp, secAppRedirect
	}
	if a.verifier == "" {
		a.verifier = auth.RandomToken() + "-e2e"
		f.secrets.add("PKCE verifier", a.verifier)
	}
	q := url.Values{
		"response_type": {"code"}, "client_id": {a.client}, "redirect_uri": {a.redirect},
		"scope": {a.scope}, "aud": {f.base},
		"code_challenge": {secS256(a.verifier)}, "code_challenge_method": {"S256"},
	}
	if a.nonce == "" {
		a.nonce = "n-" + secRandomID()
	}
	q.Set("nonce", a.nonce)
	if a.state != "" {
		q.Set("state", a.state)
	}
	if a.launch != "" {
		q.Set("launch", a.launch)
	}
	if a.idp != "" {
		q.Set("idp", a.idp)
	}
	for k, v := range a.set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return f.issuer + "/auth/authorize?" + q.Encode()
}

// code runs an authorize request to its code: login (when the browser has
// no session; username "" fails the test there), consent, the redirect to
// the app. It returns the redirect's query.
func (b *secBrowser) code(t *testing.T, a *secAuthz, username, password string) url.Values {
	t.Helper()
	p := b.get(b.f.authorizeURL(a))
	if p.isLogin() {
		if username == "" {
			t.Fatalf("the browser was to be logged in already")
		}
		p = b.login(t, p, username, password)
	}
	if p.isConsent() {
		p = b.approve(t, p)
	}
	u := p.appRedirect()
	if u == nil || u.Query().Get("code") == "" {
		t.Fatalf("no code redirect (%d %s): %.600s", p.status, p.header.Get("Location"), p.body)
	}
	b.f.secrets.add("authorization code", u.Query().Get("code"))
	return u.Query()
}

// exchange trades a code for tokens (basic "" : a public client by client_id).
func (f *secFixture) exchange(a *secAuthz, code, basic string) *secResp {
	f.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {a.redirect}, "code_verifier": {a.verifier}}
	if basic == "" {
		form.Set("client_id", a.client)
	}
	return f.post("/auth/token", form, basic)
}

// userTokens is a's code flow in browser b and the exchange, which must succeed.
func (f *secFixture) userTokens(t *testing.T, b *secBrowser, a *secAuthz, username, password string) *secResp {
	t.Helper()
	q := b.code(t, a, username, password)
	r := f.exchange(a, q.Get("code"), "")
	if r.status != 200 || r.str("access_token") == "" {
		t.Fatalf("code exchange: %d %s", r.status, r.body)
	}
	return r
}

func secRefreshForm(rt, clientID string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}}
}

// nextMail waits for the next message the SMTP server receives.
func (f *secFixture) nextMail(t *testing.T) (to string, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, 15*time.Second)
	defer cancel()
	m, err := f.mail.Next(ctx)
	if err != nil {
		t.Fatalf("no mail: %v", err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		rd = quotedprintable.NewReader(msg.Body)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(m.To, ","), string(b)
}

var secResetLink = regexp.MustCompile(`https?://\S+/auth/password-reset/confirm\?token=[A-Za-z0-9_%-]+`)
