package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// failedLogin is the login page after a refusal, without what differs
// between two requests of one browser (the pending id).
func failedLogin(t *testing.T, p *page) string {
	t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, loginFailed) {
		t.Fatalf("not the refused login page (%d): %s", p.status, p.body)
	}
	return pendingRe.ReplaceAllString(p.body, "")
}

var pendingRe = regexp.MustCompile(`value="(p\.)?[A-Za-z0-9_-]{43,}"|pending=(p\.)?[A-Za-z0-9_-]{43,}`)

func TestLockout(t *testing.T) {
	h := newWebHarness(t, nil)
	h.user(UserSpec{Username: "bob", Practitioner: "Practitioner/bob", Password: testPassword})
	b := h.browser()
	var answers []string
	for i := range MaxLoginFailures {
		answers = append(answers, failedLogin(t, b.login(b.get(h.authorizeURL(nil)), "alice", "wrong password "+string(rune('a'+i)))))
	}
	// Locked: the right password gets the same answer, checked before the password.
	answers = append(answers, failedLogin(t, b.login(b.get(h.authorizeURL(nil)), "alice", testPassword)))
	// An unknown account, a disabled one, one without password: the same answer.
	h.user(UserSpec{Username: "carol", Practitioner: "Practitioner/carol", Password: testPassword})
	if err := h.s.reg.DisableUser(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	h.user(UserSpec{Username: "psconly", Practitioner: "Practitioner/p"})
	for _, who := range []string{"nobody", "carol", "psconly", "bad name!"} {
		answers = append(answers, failedLogin(t, b.login(b.get(h.authorizeURL(nil)), who, testPassword)))
	}
	for i, a := range answers {
		if a != answers[0] {
			t.Errorf("answer %d differs from the first:\n%s\n----\n%s", i, a, answers[0])
		}
	}
	// Another account is not locked.
	h.codeOf(b.approve(b.login(b.get(h.authorizeURL(nil)), "bob", testPassword)))

	// Still locked 14 minutes later; free after 15.
	h.clock.Advance(14 * time.Minute)
	late := h.browser()
	failedLogin(t, late.login(late.get(h.authorizeURL(nil)), "alice", testPassword))
	h.clock.Advance(time.Minute + time.Second)
	fresh := h.browser()
	h.codeOf(fresh.approve(fresh.login(fresh.get(h.authorizeURL(nil)), "alice", testPassword)))
}

// Failures spread over more than 15 minutes do not lock; a success clears them.
func TestLockoutWindow(t *testing.T) {
	h := newWebHarness(t, nil)
	b := h.browser()
	fail := func() { failedLogin(t, b.login(b.get(h.authorizeURL(nil)), "alice", "wrong password!")) }
	for range MaxLoginFailures - 1 {
		fail()
	}
	h.clock.Advance(FailureWindow + time.Second)
	fail() // the first four are out of the window
	h.codeOf(b.approve(b.login(b.get(h.authorizeURL(nil)), "alice", testPassword)))
	b2 := h.browser()
	for range MaxLoginFailures - 1 {
		failedLogin(t, b2.login(b2.get(h.authorizeURL(nil)), "alice", "wrong password!"))
	}
	h.codeOf(b2.approve(b2.login(b2.get(h.authorizeURL(nil)), "alice", testPassword)))
	for range MaxLoginFailures - 1 {
		failedLogin(t, b2.login(b2.get(h.authorizeURL(map[string]string{"prompt": "login"})), "alice", "wrong password!"))
	}
	// The success before cleared the count: four failures since, not nine.
	h.codeOf(b2.approve(b2.login(b2.get(h.authorizeURL(map[string]string{"prompt": "login"})), "alice", testPassword)))
}

// Of many simultaneous guesses, at most five are checked.
func TestLockoutConcurrent(t *testing.T) {
	h := newWebHarness(t, nil)
	ctx := context.Background()
	const n = 12
	slots := make(chan int, n)
	for range n {
		go func() {
			slot, err := h.s.web.beginAttempt(ctx, "alice")
			if err != nil {
				t.Error(err)
			}
			slots <- slot
		}()
	}
	taken := 0
	for range n {
		if <-slots != 0 {
			taken++
		}
	}
	if taken != MaxLoginFailures {
		t.Errorf("%d concurrent attempts got a slot, want %d", taken, MaxLoginFailures)
	}
}

// An unknown account costs an argon2id like a known one.
func TestLoginTimingUnknownUser(t *testing.T) {
	h := newWebHarness(t, nil)
	ctx := context.Background()
	timeOf := func(user string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			if _, err := h.s.web.checkLogin(ctx, user, "wrong password!"); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := timeOf("alice"), timeOf("nobody")
	if unknown*3 < known {
		t.Errorf("unknown account answered in %v, a known one in %v", unknown, known)
	}
}

func TestCSRF(t *testing.T) {
	h := newWebHarness(t, nil)
	b := h.browser()
	p := b.get(h.authorizeURL(nil))
	other := h.browser().get(h.authorizeURL(nil))
	pending, token := hidden(p, "pending"), hidden(p, "csrf_token")
	if token == "" || pending == "" {
		t.Fatal("no hidden inputs")
	}
	cases := []struct {
		name string
		form url.Values
		b    *browser
	}{
		{"missing token", url.Values{"pending": {pending}}, b},
		{"forged token", url.Values{"pending": {pending}, "csrf_token": {RandomToken()}}, b},
		{"token of another session", url.Values{"pending": {pending}, "csrf_token": {hidden(other, "csrf_token")}}, b},
		{"token one character off", url.Values{"pending": {pending}, "csrf_token": {oneOff(token)}}, b},
		{"no session cookie", url.Values{"pending": {pending}, "csrf_token": {token}}, h.browser()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("username", "alice")
			tc.form.Set("password", testPassword)
			r := tc.b.post("/auth/login", tc.form)
			if r.status != http.StatusForbidden || r.redirect() != nil || strings.Contains(r.body, `value="allow"`) {
				t.Errorf("status %d: %s", r.status, r.body)
			}
		})
	}
	// The refused posts counted no failure and logged nobody in.
	consent := b.login(p, "alice", testPassword)
	// The consent form wants the token too; the login gave the session a new one.
	if nt := hidden(consent, "csrf_token"); nt == token || nt == "" {
		t.Errorf("the CSRF token did not change at login")
	}
	forged := url.Values{"pending": {hidden(consent, "pending")}, "csrf_token": {token}, "decision": {"allow"}}
	if r := b.post("/auth/consent", forged); r.status != http.StatusForbidden || r.redirect() != nil {
		t.Errorf("consent with the pre-login token: %d %v", r.status, r.header.Get("Location"))
	}
	h.codeOf(b.approve(consent))
}

func TestSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		h := newWebHarness(t, func(c *Config) { c.SecureCookies = secure })
		b := h.browser()
		p := b.get(h.authorizeURL(nil))
		before := cookieOf(t, p)
		if !before.HttpOnly || before.SameSite != http.SameSiteLaxMode || before.Path != "/auth" || before.Secure != secure || len(before.Value) < 43 {
			t.Errorf("pre-login cookie %+v (secure %v)", before, secure)
		}
		if secure {
			// A Secure cookie is not sent back over http: set it by hand.
			u, _ := url.Parse(h.srv.URL + "/auth/")
			b.c.Jar.SetCookies(u, []*http.Cookie{{Name: before.Name, Value: before.Value, Path: "/auth"}})
		}
		form := url.Values{"pending": {hidden(p, "pending")}, "csrf_token": {hidden(p, "csrf_token")}, "username": {"alice"}, "password": {testPassword}}
		req, _ := http.NewRequest("POST", h.srv.URL+"/auth/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		after := cookieOf(t, b.do(req))
		if after.Value == before.Value || !after.HttpOnly || after.SameSite != http.SameSiteLaxMode || after.Path != "/auth" || after.Secure != secure {
			t.Errorf("session cookie after login %+v (before %+v)", after, before)
		}
		// The pre-login session is gone.
		if _, err := h.st.GetRecord(context.Background(), KindSession, Digest(before.Value)); err == nil {
			t.Error("the pre-login session survived the login")
		}
		rec, err := h.st.GetRecord(context.Background(), KindSession, Digest(after.Value))
		if err != nil || rec.Expires.Sub(h.clock.Now()) != SessionTTL {
			t.Errorf("session record %v %v", rec, err)
		}
	}
}

func cookieOf(t *testing.T, p *page) *http.Cookie {
	t.Helper()
	for _, line := range p.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie set (%d)", p.status)
	return nil
}

// A session ends after 8 hours, and with the account.
func TestSessionEnds(t *testing.T) {
	h := newWebHarness(t, nil)
	b := h.browser()
	h.codeOf(b.approve(b.login(b.get(h.authorizeURL(nil)), "alice", testPassword)))
	if p := b.get(h.authorizeURL(nil)); !strings.Contains(p.body, `value="allow"`) {
		t.Fatalf("the session was not kept")
	}
	h.clock.Advance(SessionTTL)
	if p := b.get(h.authorizeURL(nil)); !strings.Contains(p.body, `name="password"`) {
		t.Errorf("a session older than 8 h was still valid")
	}
	h.codeOf(b.approve(b.login(b.get(h.authorizeURL(nil)), "alice", testPassword)))
	if err := h.s.reg.DisableUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if p := b.get(h.authorizeURL(nil)); !strings.Contains(p.body, `name="password"`) {
		t.Errorf("the session of a disabled account was still valid")
	}
}

func TestPageHeaders(t *testing.T) {
	h := newWebHarness(t, func(c *Config) { c.SMTPURL, c.SMTPFrom = "smtp://127.0.0.1:1", "dcc@example.org" })
	b := h.browser()
	login := b.get(h.authorizeURL(nil))
	pages := map[string]*page{
		"login":   login,
		"consent": b.login(login, "alice", testPassword),
		"error":   b.get(h.authorizeURL(map[string]string{"client_id": "nobody"})),
		"reset":   b.get(h.srv.URL + "/auth/password-reset"),
		"confirm": b.get(h.srv.URL + "/auth/password-reset/confirm?token=x"),
		"csrf":    b.post("/auth/login", url.Values{}),
	}
	for name, p := range pages {
		for k, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := p.header.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", name, k, got, want)
			}
		}
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %q", name, p.header.Get("Content-Type"))
		}
		if strings.Contains(p.body, "<script") {
			t.Errorf("%s: a script in the page", name)
		}
	}
	// The code redirect carries them too.
	done := b.approve(pages["consent"])
	if done.header.Get("Referrer-Policy") != "no-referrer" || done.header.Get("Cache-Control") != "no-store" {
		t.Errorf("code redirect headers %v", done.header)
	}
}

func TestBodyLimit(t *testing.T) {
	h := newWebHarness(t, nil)
	b := h.browser()
	p := b.get(h.authorizeURL(nil))
	big := url.Values{"pending": {hidden(p, "pending")}, "csrf_token": {hidden(p, "csrf_token")}, "username": {"alice"}, "password": {strings.Repeat("x", maxFormBytes)}}
	if r := b.post("/auth/login", big); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a %d-byte form: %d", len(big.Encode()), r.status)
	}
	// Without Content-Length (chunked), the reader stops it.
	req, _ := http.NewRequest("POST", h.srv.URL+"/auth/login", strings.NewReader(big.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	if r := b.do(req); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked %d-byte form: %d", len(big.Encode()), r.status)
	}
	// Not a form.
	req, _ = http.NewRequest("POST", h.srv.URL+"/auth/login", strings.NewReader(`{"username":"alice"}`))
	req.Header.Set("Content-Type", "application/json")
	if r := b.do(req); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("a JSON body: %d", r.status)
	}
	// A form just under the bound is read.
	small := url.Values{"pending": {hidden(p, "pending")}, "csrf_token": {hidden(p, "csrf_token")}, "username": {"alice"}, "password": {strings.Repeat("x", 60<<10)}}
	failedLogin(t, b.post("/auth/login", small))
}

// Everything a page shows of the request or the data is escaped.
func TestTemplateEscaping(t *testing.T) {
	h := newWebHarness(t, nil)
	hostile := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	h.client(&Client{ID: "evil", Name: hostile, Kind: "public", RedirectURIs: []string{testRedirect}, Scopes: "openid patient/*.rs"})
	b := h.browser()
	login := b.get(h.authorizeURL(map[string]string{"client_id": "evil", "scope": "openid patient/Observation.rs?code=<script>"}))
	consent := b.login(login, "alice", testPassword)
	for name, p := range map[string]*page{"login": login, "consent": consent} {
		if strings.Contains(p.body, "<script") || strings.Contains(p.body, "<img") {
			t.Errorf("%s page: the client name is not escaped:\n%s", name, p.body)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s page: the escaped client name is missing", name)
		}
	}
}

// The inline style sheet is the one the Content-Security-Policy allows.
func TestPageStyleHash(t *testing.T) {
	h := newWebHarness(t, nil)
	p := h.browser().get(h.authorizeURL(nil))
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no style")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(p.header.Get("Content-Security-Policy"), want) {
		t.Errorf("CSP %q does not allow the page's style (%s)", p.header.Get("Content-Security-Policy"), want)
	}
}

// With Pro Santé Connect configured the login page links it, idp=psc goes
// there at once, and its callback resumes the request through completeLogin.
func TestPSCSeams(t *testing.T) {
	h := newWebHarness(t, func(c *Config) {
		c.PSC = &PSCConfig{DiscoveryURL: "https://psc.example/.well-known/x", ClientID: "dcc"}
	})
	// The psc helper's callback, as far as the browser side sees it.
	h.e.GET("/auth/test-psc-callback", func(c echo.Context) error {
		return h.s.completeLogin(c, c.QueryParam("username"), c.QueryParam("pending"))
	})
	b := h.browser()
	login := b.get(h.authorizeURL(nil))
	pending := hidden(login, "pending")
	if !strings.Contains(login.body, `href="psc/start?pending=`+pending+`"`) {
		t.Errorf("no link to Pro Santé Connect: %s", login.body)
	}
	// idp=psc: straight to /auth/psc/start.
	req, _ := http.NewRequest("GET", h.authorizeURL(map[string]string{"idp": "psc"}), nil)
	resp, err := (&http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/auth/psc/start" || loc.Query().Get("pending") == "" {
		t.Fatalf("idp=psc: %d %s", resp.StatusCode, loc)
	}
	// The callback in another browser resumes nothing.
	if p := h.browser().get(h.srv.URL + "/auth/test-psc-callback?username=alice&pending=" + loc.Query().Get("pending")); p.status != http.StatusBadRequest {
		t.Errorf("a pending request resumed from another browser: %d", p.status)
	}
	// An unknown or disabled account resumes nothing.
	if p := b.get(h.srv.URL + "/auth/test-psc-callback?username=nobody&pending=" + loc.Query().Get("pending")); p.status != http.StatusForbidden {
		t.Errorf("completeLogin of an unknown account: %d", p.status)
	}
	// The same browser: logged in, on to consent, then the code.
	consent := b.get(h.srv.URL + "/auth/test-psc-callback?username=alice&pending=" + loc.Query().Get("pending"))
	if _, code, _ := h.codeOf(b.approve(consent)); code.Username != "alice" {
		t.Errorf("code %+v", code)
	}
}

// oneOff is tok with its last character changed (never to itself).
func oneOff(tok string) string {
	c := byte('A')
	if tok[len(tok)-1] == c {
		c = 'B'
	}
	return tok[:len(tok)-1] + string(c)
}
