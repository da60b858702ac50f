package auth

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const (
	appRedirect = "https://app.example/cb"
	appScopes   = "openid fhirUser launch launch/patient offline_access online_access patient/*.rs user/*.cruds"
)

// userEnv is an env with a public app, a confidential app and a
// professional's account.
func userEnv(t testing.TB) (e *env, secret string) {
	e = newEnv(t)
	e.addClient(ClientSpec{ID: "app", Kind: "public", RedirectURIs: []string{appRedirect}, Scopes: appScopes})
	secret = e.addClient(ClientSpec{ID: "web", Kind: "confidential", RedirectURIs: []string{"https://web.example/cb"}, Scopes: appScopes})
	e.addUser(&User{Username: "dr", Practitioner: "Practitioner/p1"})
	return e, secret
}

// issueCode stores an authorization code as the browser side does.
func (e *env) issueCode(c Code) (code, verifier string) {
	e.t.Helper()
	verifier = RandomToken() + "~._-"
	c.Challenge = s256(verifier)
	if c.Issued.IsZero() {
		c.Issued = e.clock.Now()
	}
	code = RandomToken()
	if err := e.reg.put(e.ctx, KindCode, Digest(code), &c, time.Now().Add(time.Minute), true); err != nil {
		e.t.Fatal(err)
	}
	return code, verifier
}

// sameScopes compares scope strings as sets.
func sameScopes(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func codeForm(code, redirect, verifier, clientID string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	if clientID != "" {
		f.Set("client_id", clientID)
	}
	return f
}

func refreshForm(rt, clientID, scope string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

// appCode is a code for the public app, user dr, patient pat1.
func (e *env) appCode(scope string) (code, verifier string) {
	return e.issueCode(Code{ClientID: "app", RedirectURI: appRedirect, Scope: scope, Username: "dr", Nonce: "n-0S6_WzA2Mj",
		Context: Context{Patient: "pat1", NeedPatientBanner: true}})
}

func TestAuthorizationCode(t *testing.T) {
	e, secret := userEnv(t)
	code, verifier := e.appCode("openid fhirUser launch/patient offline_access patient/*.rs")
	a := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if !sameScopes(a.str("scope"), "openid fhirUser launch/patient offline_access patient/*.rs") || a.str("patient") != "pat1" || a.body["need_patient_banner"] != true ||
		a.str("refresh_token") == "" || a.str("fhirUser") != e.base+"/Practitioner/p1" || a.str("token_type") != "Bearer" || a.body["expires_in"].(float64) != 3600 {
		t.Errorf("token response %s", a.raw)
	}
	if a.header.Get("Cache-Control") != "no-store" || a.header.Get("Pragma") != "no-cache" {
		t.Errorf("headers %v", a.header)
	}
	w := e.whoami(a.str("access_token"))
	if w.status != 200 || w.str("user") != "dr" || w.str("client") != "app" || w.str("patient") != "pat1" {
		t.Errorf("whoami %d %s", w.status, w.raw)
	}

	// The ID token: RS256, verified against /auth/jwks, the claims SMART and
	// OpenID Connect require.
	set, err := jwk.Parse([]byte(e.get("/auth/jwks", "").raw))
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := parseHeader(a.str("id_token"))
	if hdr.Alg != "RS256" || hdr.Kid == "" {
		t.Errorf("id token header %+v", hdr)
	}
	id, err := jwt.Parse([]byte(a.str("id_token")), jwt.WithKeySet(set), jwt.WithIssuer(e.srv.cfg.Issuer), jwt.WithAudience("app"), jwt.WithRequiredClaim("exp"))
	if err != nil {
		t.Fatal(err)
	}
	claims := id.PrivateClaims()
	if id.Subject() != "dr" || claims["nonce"] != "n-0S6_WzA2Mj" || claims["fhirUser"] != e.base+"/Practitioner/p1" || claims["auth_time"] == nil || id.IssuedAt().IsZero() {
		t.Errorf("id token claims %v %v", id.Subject(), claims)
	}

	// A confidential app authenticates with HTTP Basic.
	code, verifier = e.issueCode(Code{ClientID: "web", RedirectURI: "https://web.example/cb", Scope: "user/*.cruds", Username: "dr"})
	a = e.post("/auth/token", codeForm(code, "https://web.example/cb", verifier, ""), "web:"+secret)
	if a.status != 200 || a.str("scope") != "user/*.cruds" || a.body["refresh_token"] != nil || a.body["id_token"] != nil || a.body["patient"] != nil {
		t.Errorf("confidential: %d %s", a.status, a.raw)
	}
}

// Refresh tokens rotate; presenting a used one revokes the whole family,
// refresh and access tokens.
func TestRefreshRotation(t *testing.T) {
	e, _ := userEnv(t)
	code, verifier := e.appCode("launch/patient offline_access patient/*.rs")
	first := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	rt1 := first.str("refresh_token")

	// Asking for more than was granted: invalid_scope, and the token is not used up.
	if a := e.post("/auth/token", refreshForm(rt1, "app", "user/*.cruds"), ""); a.str("error") != "invalid_scope" {
		t.Fatalf("broader scope: %d %s", a.status, a.raw)
	}
	second := e.post("/auth/token", refreshForm(rt1, "app", "patient/*.rs"), "")
	rt2 := second.str("refresh_token")
	if second.status != 200 || rt2 == "" || rt2 == rt1 || second.str("scope") != "patient/*.rs" || second.str("patient") != "pat1" {
		t.Fatalf("refresh: %d %s", second.status, second.raw)
	}
	if w := e.whoami(second.str("access_token")); w.status != 200 {
		t.Fatalf("refreshed token: %d %s", w.status, w.raw)
	}
	// The new refresh token keeps the original scope.
	third := e.post("/auth/token", refreshForm(rt2, "app", ""), "")
	if third.status != 200 || !sameScopes(third.str("scope"), "launch/patient offline_access patient/*.rs") {
		t.Fatalf("second refresh: %d %s", third.status, third.raw)
	}

	// rt1 again: reuse.
	a := e.post("/auth/token", refreshForm(rt1, "app", ""), "")
	if a.status != 400 || a.str("error") != "invalid_grant" || !strings.Contains(a.str("error_description"), "revoked") {
		t.Fatalf("reuse: %d %s", a.status, a.raw)
	}
	for i, tok := range []string{first.str("access_token"), second.str("access_token"), third.str("access_token")} {
		if w := e.whoami(tok); w.status != 401 || !strings.Contains(w.str("error_description"), "revoked") {
			t.Errorf("access token %d after reuse: %d %s", i, w.status, w.raw)
		}
	}
	if a := e.post("/auth/token", refreshForm(third.str("refresh_token"), "app", ""), ""); a.str("error") != "invalid_grant" {
		t.Errorf("latest refresh token after reuse: %d %s", a.status, a.raw)
	}
}

// A second use of a code revokes the tokens the first gave.
func TestCodeReplayRevokes(t *testing.T) {
	e, _ := userEnv(t)
	code, verifier := e.appCode("offline_access patient/*.rs")
	first := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	if first.status != 200 {
		t.Fatal(first.raw)
	}
	a := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	if a.str("error") != "invalid_grant" || !strings.Contains(a.str("error_description"), "already used") {
		t.Fatalf("replay: %d %s", a.status, a.raw)
	}
	if w := e.whoami(first.str("access_token")); w.status != 401 {
		t.Errorf("access token of a replayed code: %d", w.status)
	}
	if a := e.post("/auth/token", refreshForm(first.str("refresh_token"), "app", ""), ""); a.str("error") != "invalid_grant" {
		t.Errorf("refresh token of a replayed code: %s", a.raw)
	}
}

// online_access: a refresh token that ends 12 hours after the login.
func TestOnlineAccess(t *testing.T) {
	e, _ := userEnv(t)
	code, verifier := e.appCode("online_access patient/*.rs")
	a := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	if a.str("refresh_token") == "" {
		t.Fatal(a.raw)
	}
	e.clock.Add(11 * time.Hour)
	b := e.post("/auth/token", refreshForm(a.str("refresh_token"), "app", ""), "")
	if b.status != 200 || b.str("refresh_token") == "" {
		t.Fatal(b.raw)
	}
	e.clock.Add(2 * time.Hour)
	c := e.post("/auth/token", refreshForm(b.str("refresh_token"), "app", ""), "")
	if c.status != 200 || c.body["refresh_token"] != nil {
		t.Errorf("past 12 hours: %d %s", c.status, c.raw)
	}
	// Without offline_access or online_access: no refresh token.
	code, verifier = e.appCode("patient/*.rs")
	if a := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), ""); a.status != 200 || a.body["refresh_token"] != nil {
		t.Errorf("no refresh scope: %s", a.raw)
	}
}

// The code exchange's refusals, each by its own check.
func TestCodeAttacks(t *testing.T) {
	e, secret := userEnv(t)
	e.addUser(&User{Username: "gone", Disabled: true})
	e.addClient(ClientSpec{ID: "app2", Kind: "public", RedirectURIs: []string{"https://app2.example/cb"}, Scopes: appScopes})
	for _, tc := range []struct {
		name   string
		code   Code
		form   func(code, verifier string) url.Values
		basic  string
		status int
		err    string
		in     string
	}{
		{"code of another client", Code{ClientID: "app2", RedirectURI: appRedirect}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "app") }, "", 400, "invalid_grant", "another client"},
		{"other redirect_uri", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect+"/x", v, "app") }, "", 400, "invalid_grant", "redirect_uri"},
		{"redirect_uri differing in case", Code{}, func(c, v string) url.Values { return codeForm(c, "https://APP.example/cb", v, "app") }, "", 400, "invalid_grant", "redirect_uri"},
		{"wrong code_verifier", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, RandomToken(), "app") }, "", 400, "invalid_grant", "code_verifier"},
		{"plain PKCE (verifier = challenge)", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, s256(v), "app") }, "", 400, "invalid_grant", "code_verifier"},
		{"no code_verifier", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, "", "app") }, "", 400, "invalid_request", "code_verifier"},
		{"short code_verifier", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, v[:42], "app") }, "", 400, "invalid_request", "code_verifier"},
		{"code_verifier with a character outside the set", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, v[:46]+"+", "app") }, "", 400, "invalid_request", "code_verifier"},
		{"expired code", Code{Issued: time.Now().Add(-2 * time.Minute)}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "app") }, "", 400, "invalid_grant", "expired"},
		{"unknown code", Code{}, func(c, v string) url.Values { return codeForm(RandomToken(), appRedirect, v, "app") }, "", 400, "invalid_grant", "unknown"},
		{"code of a disabled account", Code{Username: "gone"}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "app") }, "", 400, "invalid_grant", "disabled"},
		{"unknown client_id", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "nobody") }, "", 401, "invalid_client", "unknown client"},
		{"no client at all", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "") }, "", 401, "invalid_client", "authentication required"},
		{"confidential client by client_id alone", Code{ClientID: "web"}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "web") }, "", 401, "invalid_client", "must authenticate"},
		{"bad client secret", Code{ClientID: "web"}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "") }, "web:" + secret + "x", 401, "invalid_client", "wrong secret"},
		{"client_secret_post", Code{ClientID: "web"}, func(c, v string) url.Values {
			f := codeForm(c, appRedirect, v, "web")
			f.Set("client_secret", secret)
			return f
		}, "", 401, "invalid_client", "client_secret_post"},
		{"Basic for a public client", Code{}, func(c, v string) url.Values { return codeForm(c, appRedirect, v, "") }, "app:whatever", 401, "invalid_client", "wrong secret"},
		{"unsupported grant_type", Code{}, func(c, v string) url.Values {
			f := codeForm(c, appRedirect, v, "app")
			f.Set("grant_type", "password")
			return f
		}, "", 400, "unsupported_grant_type", "grant_type"},
		{"implicit-style grant", Code{}, func(c, v string) url.Values {
			f := codeForm(c, appRedirect, v, "app")
			f.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
			return f
		}, "", 400, "unsupported_grant_type", "grant_type"},
		{"random refresh token", Code{}, func(c, v string) url.Values { return refreshForm(RandomToken(), "app", "") }, "", 400, "invalid_grant", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.code
			if c.ClientID == "" {
				c.ClientID = "app"
			}
			if c.RedirectURI == "" {
				c.RedirectURI = appRedirect
			}
			if c.Username == "" {
				c.Username = "dr"
			}
			c.Scope = "patient/*.rs"
			code, verifier := e.issueCode(c)
			a := e.post("/auth/token", tc.form(code, verifier), tc.basic)
			if a.status != tc.status || a.str("error") != tc.err || !strings.Contains(a.str("error_description"), tc.in) {
				t.Fatalf("got %d %s, want %d %s (%s)", a.status, a.raw, tc.status, tc.err, tc.in)
			}
			if www := a.header.Get("WWW-Authenticate"); (tc.basic != "" && tc.err == "invalid_client") != (www == `Basic realm="dccfhir"`) {
				t.Errorf("WWW-Authenticate %q", www)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("an error without Cache-Control: no-store")
			}
		})
	}
}

// Refresh tokens are bound to their client.
func TestRefreshOtherClient(t *testing.T) {
	e, _ := userEnv(t)
	e.addClient(ClientSpec{ID: "app2", Kind: "public", RedirectURIs: []string{"https://app2.example/cb"}, Scopes: appScopes})
	code, verifier := e.appCode("offline_access patient/*.rs")
	rt := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "").str("refresh_token")
	if a := e.post("/auth/token", refreshForm(rt, "app2", ""), ""); a.str("error") != "invalid_grant" || !strings.Contains(a.str("error_description"), "another client") {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if a := e.post("/auth/token", refreshForm(rt, "app", ""), ""); a.status != 200 {
		t.Errorf("the right client, after another's attempt: %s", a.raw)
	}
}
