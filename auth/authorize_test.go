package auth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAuthorizeCodeFlow(t *testing.T) {
	h := newWebHarness(t, nil)
	b := h.browser()
	login := b.get(h.authorizeURL(map[string]string{"scope": "openid fhirUser patient/Observation.rs user/Observation.rs system/Patient.r"}))
	for _, want := range []string{`<form method="post" action="login">`, `name="username"`, `name="password" type="password"`, `name="pending"`, `name="csrf_token"`, `href="password-reset"`} {
		if !strings.Contains(login.body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if strings.Contains(login.body, "psc/start") {
		t.Error("login page links Pro Santé Connect while it is not configured")
	}
	consent := b.login(login, "alice", testPassword)
	for _, want := range []string{"Lire et rechercher les ressources Observation du patient en contexte", "Connaître votre fiche de professionnel", `name="decision" value="deny"`} {
		if !strings.Contains(consent.body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, consent.body)
		}
	}
	if strings.Contains(consent.body, "system/Patient") || strings.Contains(consent.body, "de tout le serveur") {
		t.Error("the consent page lists a scope the client is not registered for")
	}
	done := b.approve(consent)
	_, code, rec := h.codeOf(done)
	if got := done.redirect().Query().Get("state"); got != "st-123" {
		t.Errorf("state %q", got)
	}
	want := Code{ClientID: testApp, RedirectURI: testRedirect, Challenge: testChallenge(), Scope: "patient/Observation.rs openid fhirUser", Username: "alice", Nonce: "n-1"}
	if code.ClientID != want.ClientID || code.RedirectURI != want.RedirectURI || code.Challenge != want.Challenge || code.Username != want.Username || code.Nonce != want.Nonce {
		t.Errorf("code record %+v, want %+v", code, want)
	}
	if code.Scope != want.Scope {
		t.Errorf("granted scope %q, want %q (narrowed to the registration)", code.Scope, want.Scope)
	}
	if d := rec.Expires.Sub(code.Issued); d != 60*time.Second {
		t.Errorf("code lives %v, want 60s", d)
	}
	if code.Patient != "" || code.NeedPatientBanner {
		t.Errorf("context without a launch: %+v", code.Context)
	}

	// Logged in: the next request asks no password, only consent.
	again := b.get(h.authorizeURL(nil))
	if strings.Contains(again.body, `name="password"`) || !strings.Contains(again.body, `value="allow"`) {
		t.Fatalf("a logged-in browser was not taken to consent (%d): %s", again.status, again.body)
	}
	// Deny.
	denied := b.submit(again, "/auth/consent", map[string]string{"decision": "deny"})
	if u := denied.redirect(); u == nil || u.Query().Get("error") != "access_denied" || u.Query().Get("state") != "st-123" || u.Query().Has("code") {
		t.Errorf("deny: %d %v", denied.status, denied.header.Get("Location"))
	}
	// The denied request is over: approving it afterwards gives nothing.
	if late := b.submit(again, "/auth/consent", map[string]string{"decision": "allow"}); late.redirect() != nil {
		t.Errorf("a denied request got a redirect: %v", late.header.Get("Location"))
	}

	// A trusted app gets its code without the consent page.
	h.client(&Client{ID: "trusted", Kind: "public", Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: "openid patient/*.rs"})
	direct := b.get(h.authorizeURL(map[string]string{"client_id": "trusted"}))
	if _, c, _ := h.codeOf(direct); c.ClientID != "trusted" || c.Scope != "patient/Observation.rs openid" {
		t.Errorf("trusted code %+v", c)
	}
}

func TestAuthorizeTrustedAfterLogin(t *testing.T) {
	h := newWebHarness(t, nil)
	h.client(&Client{ID: "trusted", Kind: "confidential", Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: "openid patient/*.rs"})
	b := h.browser()
	done := b.login(b.get(h.authorizeURL(map[string]string{"client_id": "trusted"})), "ALICE ", testPassword)
	if _, c, _ := h.codeOf(done); c.Username != "alice" {
		t.Errorf("code %+v", c)
	}
}

// Refusals before the client and its redirect URI are known: an error
// page, never a redirect.
func TestAuthorizeRefusedWithoutRedirect(t *testing.T) {
	h := newWebHarness(t, nil)
	// A backend client is refused even with a redirect URI on record.
	h.client(&Client{ID: "system", Kind: "backend", RedirectURIs: []string{testRedirect}, Scopes: "system/*.rs openid"})
	cases := []struct {
		name string
		set  map[string]string
		raw  string // appended to the URL
	}{
		{"no client", map[string]string{"client_id": ""}, ""},
		{"unknown client", map[string]string{"client_id": "nobody"}, ""},
		{"backend client", map[string]string{"client_id": "system"}, ""},
		{"no redirect_uri", map[string]string{"redirect_uri": ""}, ""},
		{"unregistered redirect_uri", map[string]string{"redirect_uri": "https://evil.example/callback"}, ""},
		{"trailing slash", map[string]string{"redirect_uri": testRedirect + "/"}, ""},
		{"case", map[string]string{"redirect_uri": "https://APP.example/callback"}, ""},
		{"path case", map[string]string{"redirect_uri": "https://app.example/Callback"}, ""},
		{"extra query", map[string]string{"redirect_uri": testRedirect + "?next=https://evil.example"}, ""},
		{"registered query changed", map[string]string{"redirect_uri": "https://app.example/other?x=2"}, ""},
		{"fragment", map[string]string{"redirect_uri": testRedirect + "#x"}, ""},
		{"userinfo", map[string]string{"redirect_uri": "https://app.example@evil.example/callback"}, ""},
		{"repeated redirect_uri", nil, "&redirect_uri=" + url.QueryEscape("https://evil.example/")},
		{"repeated client_id", nil, "&client_id=other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := h.browser().get(h.authorizeURL(tc.set) + tc.raw)
			if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
				t.Fatalf("status %d, Location %q; want 400 and no redirect", p.status, p.header.Get("Location"))
			}
			if !strings.Contains(p.body, `class="error"`) || strings.Contains(p.body, `name="password"`) {
				t.Errorf("not the error page: %s", p.body)
			}
		})
	}
	// The registered URI with its own query is accepted as registered.
	if p := h.browser().get(h.authorizeURL(map[string]string{"redirect_uri": "https://app.example/other?x=1"})); !strings.Contains(p.body, `name="password"`) {
		t.Errorf("registered redirect URI with a query refused: %d %s", p.status, p.body)
	}
}

// Refusals once the redirect URI is known go back to the app.
func TestAuthorizeRefusedToApp(t *testing.T) {
	h := newWebHarness(t, nil)
	h.client(&Client{ID: "narrow", Kind: "public", RedirectURIs: []string{testRedirect}, Scopes: "openid launch/patient patient/*.rs"})
	cases := []struct {
		name, code string
		set        map[string]string
		raw        string
		desc       string // in error_description, when given
	}{
		{"no response_type", "invalid_request", map[string]string{"response_type": ""}, "", ""},
		{"token response_type", "unsupported_response_type", map[string]string{"response_type": "token"}, "", ""},
		{"no aud", "invalid_request", map[string]string{"aud": ""}, "", ""},
		{"wrong aud", "invalid_request", map[string]string{"aud": "https://counterfeit.example/fhir"}, "", ""},
		{"aud of another base", "invalid_request", map[string]string{"aud": h.srv.URL + "/fhir2"}, "", ""},
		{"no PKCE", "invalid_request", map[string]string{"code_challenge": "", "code_challenge_method": ""}, "", "PKCE is required"},
		{"method without challenge", "invalid_request", map[string]string{"code_challenge": ""}, "", "PKCE is required"},
		{"challenge without method", "invalid_request", map[string]string{"code_challenge_method": ""}, "", "S256"},
		{"plain PKCE", "invalid_request", map[string]string{"code_challenge_method": "plain", "code_challenge": testVerifier}, "", "plain is refused"},
		{"bad challenge", "invalid_request", map[string]string{"code_challenge": "short"}, "", ""},
		{"repeated scope", "invalid_request", nil, "&scope=system/*.cruds", ""},
		{"repeated state", "invalid_request", nil, "&state=other", ""},
		{"nothing granted", "invalid_scope", map[string]string{"scope": "system/*.cruds"}, "", ""},
		{"unknown idp", "invalid_request", map[string]string{"idp": "google"}, "", ""},
		{"psc not configured", "invalid_request", map[string]string{"idp": "psc"}, "", ""},
		{"launch without the launch scope", "invalid_scope", map[string]string{"launch": "abc"}, "", ""},
		{"unknown launch", "invalid_request", map[string]string{"launch": "abc", "scope": "launch patient/*.rs"}, "", ""},
		{"launch/patient without a user read of Patient", "invalid_scope", map[string]string{"client_id": "narrow", "scope": "launch/patient patient/*.rs"}, "", ""},
		{"long state", "invalid_request", map[string]string{"state": strings.Repeat("s", maxState+1)}, "", ""},
		{"prompt none and login", "invalid_request", map[string]string{"prompt": "none login"}, "", ""},
		{"prompt none, not logged in", "login_required", map[string]string{"prompt": "none"}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := h.browser().get(h.authorizeURL(tc.set) + tc.raw)
			u := p.redirect()
			if u == nil {
				t.Fatalf("no redirect to the app: %d %s", p.status, p.body)
			}
			q := u.Query()
			if q.Get("error") != tc.code || q.Get("error_description") == "" || q.Has("code") {
				t.Errorf("redirect %s, want error=%s", u, tc.code)
			}
			for _, r := range q.Get("error_description") {
				if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
					t.Errorf("error_description %q has %q (RFC 6749 section 4.1.2.1 allows printable ASCII but \" and \\)", q.Get("error_description"), r)
				}
			}
			if !strings.Contains(q.Get("error_description"), tc.desc) {
				t.Errorf("error_description %q, want it to say %q", q.Get("error_description"), tc.desc)
			}
			if want := "st-123"; tc.set["state"] != "" {
				if q.Get("state") != tc.set["state"] {
					t.Errorf("state not given back")
				}
			} else if q.Get("state") != want {
				t.Errorf("state %q, want %q", q.Get("state"), want)
			}
			if u.Scheme+"://"+u.Host+u.Path != testRedirect && !strings.HasPrefix(u.String(), testRedirect) {
				t.Errorf("redirected to %s", u)
			}
		})
	}
}

// state comes back byte for byte, however hostile, and never shows in a page.
func TestAuthorizeStateUntouched(t *testing.T) {
	h := newWebHarness(t, func(c *Config) {})
	h.client(&Client{ID: "trusted", Kind: "public", Trusted: true, RedirectURIs: []string{"https://app.example/cb?tenant=a&x=%2F"}, Scopes: "openid"})
	states := []string{`"><script>alert(1)</script>`, "a+b c&d=e%2F/?#é", "\xff\xfe invalid utf-8", "", strings.Repeat("z", maxState)}
	b := h.browser()
	first := true
	for _, state := range states {
		q := url.Values{"response_type": {"code"}, "client_id": {"trusted"}, "redirect_uri": {"https://app.example/cb?tenant=a&x=%2F"}, "scope": {"openid"},
			"state": {state}, "aud": {h.s.cfg.BaseURL}, "code_challenge": {testChallenge()}, "code_challenge_method": {"S256"}}
		p := b.get(h.srv.URL + "/auth/authorize?" + q.Encode())
		if first {
			if strings.Contains(p.body, "script>") {
				t.Errorf("the state shows in the login page")
			}
			p, first = b.login(p, "alice", testPassword), false
		}
		u := p.redirect()
		if u == nil {
			t.Fatalf("no redirect: %d %s", p.status, p.body)
		}
		vs, ok := u.Query()["state"]
		if !ok || len(vs) != 1 || vs[0] != state {
			t.Errorf("state %q came back as %q", state, vs)
		}
		if u.Query().Get("tenant") != "a" || u.Query().Get("x") != "/" || !strings.HasPrefix(u.String(), "https://app.example/cb?tenant=a&x=%2F&") {
			t.Errorf("the registered query was not kept: %s", u)
		}
	}
	// No state asked, none given.
	q := url.Values{"response_type": {"code"}, "client_id": {"trusted"}, "redirect_uri": {"https://app.example/cb?tenant=a&x=%2F"}, "scope": {"openid"},
		"aud": {h.s.cfg.BaseURL}, "code_challenge": {testChallenge()}, "code_challenge_method": {"S256"}}
	if u := b.get(h.srv.URL + "/auth/authorize?" + q.Encode()).redirect(); u == nil || u.Query().Has("state") {
		t.Errorf("a state appeared: %v", u)
	}
}

// POST /auth/authorize is the same request as GET.
func TestAuthorizePost(t *testing.T) {
	h := newWebHarness(t, nil)
	b := h.browser()
	u, _ := url.Parse(h.authorizeURL(nil))
	p := b.post("/auth/authorize", u.Query())
	if p.url.Path != "/auth/authorize" || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("POST authorize did not reach the login page: %d %s", p.status, p.body)
	}
	if _, c, _ := h.codeOf(b.approve(b.login(p, "alice", testPassword))); c.Challenge != testChallenge() {
		t.Errorf("code %+v", c)
	}
	bad := u.Query()
	bad.Set("code_challenge_method", "plain")
	if r := b.post("/auth/authorize", bad).redirect(); r == nil || r.Query().Get("error") != "invalid_request" {
		t.Errorf("POST with plain PKCE: %v", r)
	}
}

func TestAuthorizeEHRLaunch(t *testing.T) {
	h := newWebHarness(t, nil)
	ctx := context.Background()
	putLaunch := func(id string, ttl time.Duration) {
		l := &Launch{ClientID: "ehr", Context: Context{Patient: "p1", Encounter: "e1", FHIRContext: []map[string]any{{"reference": "Encounter/e1"}}}}
		if err := h.s.web.save(ctx, KindLaunch, Digest(id), l, h.clock.Now().Add(ttl), true); err != nil {
			t.Fatal(err)
		}
	}
	putLaunch("launch-1", 5*time.Minute)
	b := h.browser()
	scope := "launch openid fhirUser patient/*.rs"
	p := b.approve(b.login(b.get(h.authorizeURL(map[string]string{"launch": "launch-1", "scope": scope})), "alice", testPassword))
	_, code, _ := h.codeOf(p)
	if code.Patient != "p1" || code.Encounter != "e1" || !code.NeedPatientBanner || len(code.FHIRContext) != 1 || code.FHIRContext[0]["reference"] != "Encounter/e1" {
		t.Errorf("launch context %+v", code.Context)
	}
	if code.Scope != "patient/*.rs launch openid fhirUser" {
		t.Errorf("scope %q", code.Scope)
	}
	// Used once.
	if u := b.get(h.authorizeURL(map[string]string{"launch": "launch-1", "scope": scope})).redirect(); u == nil || u.Query().Get("error") != "invalid_request" {
		t.Errorf("a launch id was accepted twice: %v", u)
	}
	// Five minutes.
	putLaunch("launch-2", 5*time.Minute)
	h.clock.Advance(5*time.Minute + time.Second)
	if u := b.get(h.authorizeURL(map[string]string{"launch": "launch-2", "scope": scope})).redirect(); u == nil || u.Query().Get("error") != "invalid_request" {
		t.Errorf("an expired launch was accepted: %v", u)
	}
}

func TestPromptNone(t *testing.T) {
	h := newWebHarness(t, nil)
	h.client(&Client{ID: "trusted", Kind: "public", Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: "openid launch/patient user/Patient.rs patient/*.rs"})
	b := h.browser()
	h.codeOf(b.login(b.get(h.authorizeURL(map[string]string{"client_id": "trusted"})), "alice", testPassword))
	cases := []struct{ name, client, scope, want string }{
		{"logged in, trusted", "trusted", "openid", ""},
		{"consent needed", testApp, "openid", "consent_required"},
		{"picker needed", "trusted", "launch/patient patient/*.rs user/Patient.rs", "interaction_required"},
	}
	for _, tc := range cases {
		u := b.get(h.authorizeURL(map[string]string{"client_id": tc.client, "scope": tc.scope, "prompt": "none"})).redirect()
		if u == nil || u.Query().Get("error") != tc.want || (tc.want == "") != u.Query().Has("code") {
			t.Errorf("%s: %v", tc.name, u)
		}
	}
	// prompt=login asks the password again.
	if p := b.get(h.authorizeURL(map[string]string{"client_id": "trusted", "prompt": "login"})); !strings.Contains(p.body, `name="password"`) {
		t.Errorf("prompt=login did not show the login page: %d", p.status)
	}
}

// A code is bound to its request: the pending request of one browser
// cannot be finished from another.
func TestPendingBoundToBrowser(t *testing.T) {
	h := newWebHarness(t, nil)
	victim, attacker := h.browser(), h.browser()
	vp := victim.get(h.authorizeURL(nil))
	ap := attacker.get(h.authorizeURL(nil))
	// The attacker logs in with the victim's pending id and its own CSRF token.
	form := url.Values{"pending": {hidden(vp, "pending")}, "csrf_token": {hidden(ap, "csrf_token")}, "username": {"alice"}, "password": {testPassword}}
	if p := attacker.post("/auth/login", form); p.status != http.StatusBadRequest || strings.Contains(p.body, `value="allow"`) {
		t.Errorf("another browser's pending request was resumed: %d %s", p.status, p.body)
	}
	// The victim's request still works.
	h.codeOf(victim.approve(victim.login(vp, "alice", testPassword)))
}
