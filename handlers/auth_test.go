package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/service"
)

// testAuth is an Authenticator with fixed tokens, standing in for
// *auth.Server: its principals' Access is a fixed set of grants.
type testAuth struct {
	issuer  string
	tokens  map[string]*auth.Principal
	origins map[string]bool
}

func (a *testAuth) Verify(_ context.Context, token string) (*auth.Principal, error) {
	if p, ok := a.tokens[token]; ok {
		return p, nil
	}
	if token == tokExpired {
		return nil, &auth.TokenError{Code: "invalid_token", Description: `the token expired "at" 12:00`}
	}
	return nil, &auth.TokenError{Code: "invalid_token", Description: "unknown token"}
}

// Register mounts a token endpoint and an OIDC discovery document, as the
// real one does, to show they answer without a token.
func (a *testAuth) Register(e *echo.Echo, basePath string) {
	e.POST("/auth/token", func(c echo.Context) error {
		return c.JSON(400, map[string]string{"error": "invalid_request"})
	})
	e.GET("/.well-known/openid-configuration", func(c echo.Context) error {
		return c.JSON(200, map[string]string{"issuer": a.issuer})
	})
}

func (a *testAuth) SMARTConfiguration() map[string]any {
	return map[string]any{
		"issuer": a.issuer, "authorization_endpoint": a.issuer + "/auth/authorize", "token_endpoint": a.issuer + "/auth/token",
		"introspection_endpoint": a.issuer + "/auth/introspect", "revocation_endpoint": a.issuer + "/auth/revoke",
		"code_challenge_methods_supported": []string{"S256"},
	}
}

func (a *testAuth) AllowedOrigin(_ context.Context, origin string) bool { return a.origins[origin] }

// grants is a tiny service.Access: "letter type" pairs ("r Patient", "u *").
type grants map[string]bool

func (g grants) Grant(letter byte, typ string) (service.Grant, error) {
	if g[string(letter)+" "+typ] || g[string(letter)+" *"] {
		return service.Grant{}, nil
	}
	return service.Grant{}, fhir.Errorf(403, "forbidden", "", "the token's scopes do not grant user/%s.%c", typ, letter)
}

// The test tokens. They are long and distinctive so the log scan finds
// any of them.
const (
	tokAll      = "tok-all.system-star-cruds.9f2c1b7e4d"
	tokPatients = "tok-patients.user-Patient-rs.5a8e3c"
	tokTerm     = "tok-term.user-ValueSet-r.CodeSystem-s.7d1f"
	tokNone     = "tok-none.no-access.3b6a"
	tokExpired  = "tok-expired.e1f0c2"
	allowedApp  = "https://app.example.org"
)

func newTestAuth(base string) *testAuth {
	return &testAuth{
		issuer: strings.TrimSuffix(base, "/fhir"),
		tokens: map[string]*auth.Principal{
			tokAll:      {ClientID: "admin-cli", Subject: "admin-cli", Access: grants{"c *": true, "r *": true, "u *": true, "d *": true, "s *": true}},
			tokPatients: {ClientID: "app", Subject: "alice", Access: grants{"r Patient": true, "s Patient": true}},
			tokTerm:     {ClientID: "app", Subject: "alice", Access: grants{"r ValueSet": true, "s CodeSystem": true}},
			tokNone:     {ClientID: "app", Subject: "bob"}, // no Access: nothing, not everything
		},
		origins: map[string]bool{allowedApp: true},
	}
}

// protected starts a server with protection on.
func protected(t *testing.T, opts ...option) *fixture {
	t.Helper()
	return start(t, sqliteEngine(), append([]option{func(c *handlersConfig) { c.Auth = newTestAuth(c.BaseURL) }}, opts...)...)
}

func withID(r map[string]any, id string) map[string]any {
	r["id"] = id
	return r
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestAuthNoToken(t *testing.T) {
	f := protected(t)
	for _, rq := range []struct{ method, path string }{
		{"GET", "/Patient"}, {"GET", "/Patient/p1"}, {"POST", "/Patient"}, {"PUT", "/Patient/p1"}, {"DELETE", "/Patient/p1"},
		{"GET", ""}, {"GET", "/"}, {"POST", ""}, {"GET", "/_history"}, {"GET", "/Patient/p1/_history/1"},
		{"GET", "/Patient/p1/Observation"}, {"POST", "/Patient/$validate"}, {"GET", "/ValueSet/$expand"},
		{"GET", "/CodeSystem/$lookup"}, {"POST", "/$reindex"}, {"GET", "/$reindex/x"},
		{"GET", "/no/such/endpoint/at/all"}, {"OPTIONS", "/Patient"}, {"GET", "/.well-known/other"},
	} {
		r := f.do(rq.method, rq.path, nil)
		f.want(r, 401)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="dccfhir"` {
			t.Errorf("%s %s: WWW-Authenticate %q", rq.method, rq.path, got)
		}
		if dig(r.json, "issue", "0", "code") != "login" {
			t.Errorf("%s %s: %s", rq.method, rq.path, r.body)
		}
	}
}

func TestAuthMalformedHeader(t *testing.T) {
	f := protected(t)
	for _, tc := range []struct {
		name   string
		values []string
		error  bool // error="invalid_token" (else the bare realm: no bearer credentials at all)
	}{
		{"scheme alone", []string{"Bearer"}, true},
		{"scheme and space", []string{"Bearer "}, true},
		{"two spaces", []string{"Bearer  " + tokAll}, true},
		{"tab", []string{"Bearer\t" + tokAll}, false},
		{"bad character", []string{"Bearer tok,all"}, true},
		{"quote", []string{`Bearer "` + tokAll + `"`}, true},
		{"padding inside", []string{"Bearer ab=cd"}, true},
		{"non-ASCII", []string{"Bearer tokén"}, true},
		{"oversized", []string{"Bearer " + strings.Repeat("a", 8<<10+1)}, true},
		{"two headers", []string{"Bearer " + tokAll, "Bearer " + tokAll}, true},
		{"Basic", []string{"Basic YWRtaW46cGFzcw=="}, false},
		{"empty", []string{""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rawRequest(t, "GET", f.base+"/Patient", http.Header{"Authorization": tc.values})
			if res.status != 401 || res.str("resourceType") != "OperationOutcome" {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			got := res.header.Get("WWW-Authenticate")
			if tc.error != strings.Contains(got, `error="invalid_token"`) || !strings.HasPrefix(got, `Bearer realm="dccfhir"`) {
				t.Fatalf("WWW-Authenticate %q", got)
			}
		})
	}
	// case-insensitive scheme, padding at the end: well-formed
	for _, v := range []string{"bearer " + tokAll, "BEARER " + tokAll} {
		if r := rawRequest(t, "GET", f.base+"/Patient", http.Header{"Authorization": {v}}); r.status != 200 {
			t.Errorf("%q: %d %s", v, r.status, r.body)
		}
	}
	r := rawRequest(t, "GET", f.base+"/Patient", http.Header{"Authorization": {"Bearer abc=="}})
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error_description="unknown token"`) {
		t.Errorf("a padded token reaches the verifier: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}

func TestAuthInvalidToken(t *testing.T) {
	f := protected(t)
	for tok, desc := range map[string]string{"no-such-token": "unknown token", tokExpired: "the token expired ?at? 12:00"} {
		r := f.do("GET", "/Patient", nil, bearer(tok)...)
		f.want(r, 401)
		want := `Bearer realm="dccfhir", error="invalid_token", error_description="` + desc + `"`
		if got := r.header.Get("WWW-Authenticate"); got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
		if dig(r.json, "issue", "0", "code") != "login" || !strings.Contains(r.str("issue", "0", "diagnostics"), "refused") {
			t.Errorf("%s", r.body)
		}
	}
}

func TestAuthTokenInQuery(t *testing.T) {
	f := protected(t)
	for _, hdr := range [][]string{nil, bearer(tokAll)} {
		r := f.do("GET", "/Patient?access_token="+tokAll, nil, hdr...)
		f.want(r, 400)
		if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_request"`) {
			t.Errorf("WWW-Authenticate %q", got)
		}
		if !strings.Contains(r.str("issue", "0", "diagnostics"), "logs") {
			t.Errorf("the refusal does not say why: %s", r.body)
		}
	}
	// a search parameter merely containing the words is no token
	f.want(f.do("GET", "/Patient?name=access_token", nil, bearer(tokAll)...), 200)
}

func TestAuthValidToken(t *testing.T) {
	f := protected(t)
	r := f.do("PUT", "/Patient/p1", withID(patient("Durand"), "p1"), bearer(tokAll)...)
	f.want(r, 201)
	f.want(f.do("GET", "/Patient/p1", nil, bearer(tokAll)...), 200)
	f.want(f.do("GET", "/Patient/p1", nil, bearer(tokPatients)...), 200)
	f.want(f.do("GET", "/Patient?family=Durand", nil, bearer(tokPatients)...), 200)
}

// TestAuthInsufficientScope: the 403 of a scope check carries
// error="insufficient_scope" and an OperationOutcome naming the scope.
func TestAuthInsufficientScope(t *testing.T) {
	f := protected(t)
	gender := "http://hl7.org/fhir/ValueSet/administrative-gender"
	obs := map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}}
	for _, tc := range []struct {
		name, method, path string
		body               any
		tok                string
		status             int
		scope              string // named in the refusal
	}{
		{"validate without a grant on the type", "POST", "/Observation/$validate", obs, tokPatients, 403, "user/Observation.c"},
		{"validate with a grant on the type", "POST", "/Patient/$validate", patient("X"), tokPatients, 200, ""},
		{"validate with no access at all", "POST", "/Patient/$validate", patient("X"), tokNone, 403, "Patient"},
		{"expand without ValueSet", "GET", "/ValueSet/$expand?url=" + gender, nil, tokPatients, 403, "user/ValueSet.r"},
		{"expand with ValueSet.r", "GET", "/ValueSet/$expand?url=" + gender, nil, tokTerm, 200, ""},
		{"validate-code on ValueSet", "GET", "/ValueSet/$validate-code?url=" + gender + "&code=female&system=http://hl7.org/fhir/administrative-gender", nil, tokTerm, 200, ""},
		{"validate-code on CodeSystem", "GET", "/CodeSystem/$validate-code?url=http://hl7.org/fhir/administrative-gender&code=female", nil, tokTerm, 200, ""},
		{"validate-code without a grant", "GET", "/CodeSystem/$validate-code?url=http://hl7.org/fhir/administrative-gender&code=female", nil, tokPatients, 403, "user/CodeSystem.r"},
		{"lookup with CodeSystem.s", "GET", "/CodeSystem/$lookup?system=http://hl7.org/fhir/administrative-gender&code=female", nil, tokTerm, 200, ""},
		{"lookup without a grant", "GET", "/CodeSystem/$lookup?system=http://hl7.org/fhir/administrative-gender&code=female", nil, tokPatients, 403, "user/CodeSystem.r"},
		{"reindex without system/*.u", "POST", "/$reindex?type=Observation", nil, tokPatients, 403, "system/*.u"},
		{"type reindex without system/*.u", "POST", "/Patient/$reindex", nil, tokPatients, 403, "system/*.u"},
		{"reindex status without system/*.u", "GET", "/$reindex/nope", nil, tokPatients, 403, "system/*.u"},
		{"reindex with system/*.u", "POST", "/$reindex?type=Observation", nil, tokAll, 202, ""},
		{"reindex status with system/*.u", "GET", "/$reindex/nope", nil, tokAll, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, tc.body, bearer(tc.tok)...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			www := r.header.Get("WWW-Authenticate")
			if tc.status != 403 {
				if www != "" {
					t.Fatalf("WWW-Authenticate %q on a %d", www, r.status)
				}
				return
			}
			if www != `Bearer realm="dccfhir", error="insufficient_scope"` {
				t.Fatalf("WWW-Authenticate %q", www)
			}
			if dig(r.json, "issue", "0", "code") != "forbidden" || !strings.Contains(r.str("issue", "0", "diagnostics"), tc.scope) {
				t.Fatalf("the outcome does not name %s: %s", tc.scope, r.body)
			}
		})
	}
}

// TestAuthServiceScope: the service's own 403 gets the header too.
func TestAuthServiceScope(t *testing.T) {
	f := protected(t)
	f.want(f.do("PUT", "/Observation/o1", map[string]any{"resourceType": "Observation", "id": "o1", "status": "final", "code": map[string]any{"text": "x"}}, bearer(tokAll)...), 201)
	r := f.do("GET", "/Observation/o1", nil, bearer(tokPatients)...)
	f.want(r, 403)
	if www := r.header.Get("WWW-Authenticate"); www != `Bearer realm="dccfhir", error="insufficient_scope"` {
		t.Fatalf("WWW-Authenticate %q", www)
	}
	if !strings.Contains(r.str("issue", "0", "diagnostics"), "Observation") {
		t.Fatalf("the outcome names no scope: %s", r.body)
	}
}

func TestAuthPublicEndpoints(t *testing.T) {
	f := protected(t)
	f.want(f.do("GET", "/metadata", nil), 200)
	// the discovery document is JSON whatever Accept says
	for _, accept := range []string{"", "application/fhir+xml", "text/html", "application/fhir+json"} {
		r := f.do("GET", "/.well-known/smart-configuration", nil, "Accept", accept)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.str("token_endpoint") == "" {
			t.Fatalf("Accept %q: %d %s %s", accept, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	root := strings.TrimSuffix(f.base, "/fhir")
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/.well-known/openid-configuration"} {
		if r := f.do("GET", root+p, nil); r.status != 200 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	// the authorization server's endpoints answer for themselves
	if r := f.do("POST", root+"/auth/token", "grant_type=x", "Content-Type", "application/x-www-form-urlencoded"); r.status != 400 || r.json["error"] != "invalid_request" {
		t.Errorf("/auth/token: %d %s", r.status, r.body)
	}
	// without Auth there is no discovery document
	off := start(t, sqliteEngine())
	if r := off.do("GET", "/.well-known/smart-configuration", nil); r.status == 200 {
		t.Errorf("discovery with protection off: %s", r.body)
	}
}

func TestCORS(t *testing.T) {
	f := protected(t)
	f.want(f.do("PUT", "/Patient/p1", withID(patient("Durand"), "p1"), bearer(tokAll)...), 201)
	type check struct {
		name, method, path, origin string
		hdr                        []string
		status                     int
		allow                      string // Access-Control-Allow-Origin wanted ("" none)
	}
	preflight := []string{"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "authorization, content-type, if-match"}
	for _, tc := range []check{
		{"allowed origin", "GET", "/Patient/p1", allowedApp, bearer(tokAll), 200, allowedApp},
		{"allowed origin refused token", "GET", "/Patient/p1", allowedApp, nil, 401, allowedApp},
		{"other origin", "GET", "/Patient/p1", "https://evil.example", bearer(tokAll), 200, ""},
		{"null origin", "GET", "/Patient/p1", "null", bearer(tokAll), 200, ""},
		{"allowed preflight", "OPTIONS", "/Patient/p1", allowedApp, preflight, 204, allowedApp},
		{"refused preflight", "OPTIONS", "/Patient/p1", "https://evil.example", preflight, 401, ""},
		{"metadata any origin", "GET", "/metadata", "https://inferno.example", nil, 200, "*"},
		{"metadata preflight", "OPTIONS", "/metadata", "https://inferno.example", preflight, 204, "*"},
		{"discovery any origin", "GET", "/.well-known/smart-configuration", "https://inferno.example", nil, 200, "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, nil, append([]string{"Origin", tc.origin}, tc.hdr...)...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tc.allow {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tc.allow)
			}
			if r.header.Values("Access-Control-Allow-Credentials") != nil {
				t.Fatal("credentials allowed")
			}
			if tc.allow != "*" && !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
				t.Fatalf("no Vary: Origin: %v", r.header)
			}
			if tc.allow == "" {
				return
			}
			if tc.method == "OPTIONS" {
				ah := strings.ToLower(r.header.Get("Access-Control-Allow-Headers"))
				for _, h := range []string{"authorization", "content-type", "if-match", "prefer"} {
					if !strings.Contains(ah, h) {
						t.Fatalf("Access-Control-Allow-Headers %q lacks %s", ah, h)
					}
				}
				if !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "PUT") {
					t.Fatalf("Access-Control-Allow-Methods %q", r.header.Get("Access-Control-Allow-Methods"))
				}
				return
			}
			if tc.path == "/Patient/p1" {
				eh := r.header.Get("Access-Control-Expose-Headers")
				for _, h := range []string{"Location", "ETag", "Content-Location"} {
					if !strings.Contains(eh, h) {
						t.Fatalf("Access-Control-Expose-Headers %q lacks %s", eh, h)
					}
				}
			}
		})
	}
	// protection off: metadata still answers any origin, the API none
	off := start(t, sqliteEngine())
	if r := off.do("GET", "/metadata", nil, "Origin", allowedApp); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("metadata, protection off: %v", r.header)
	}
	if r := off.do("GET", "/Patient", nil, "Origin", allowedApp); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("API, protection off: %d %v", r.status, r.header)
	}
}

func TestAuthMetadataSecurity(t *testing.T) {
	f := protected(t)
	r := f.do("GET", "/metadata", nil)
	f.want(r, 200)
	sec, _ := dig(r.json, "rest", "0", "security").(map[string]any)
	if sec == nil || sec["cors"] != true {
		t.Fatalf("security: %v", sec)
	}
	if dig(sec, "service", "0", "coding", "0", "system") != "http://terminology.hl7.org/CodeSystem/restful-security-service" ||
		dig(sec, "service", "0", "coding", "0", "code") != "SMART-on-FHIR" {
		t.Fatalf("service: %v", sec["service"])
	}
	if dig(sec, "extension", "0", "url") != "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
		t.Fatalf("extension: %v", sec["extension"])
	}
	root := strings.TrimSuffix(f.base, "/fhir")
	got := map[string]string{}
	subs, _ := dig(sec, "extension", "0", "extension").([]any)
	for _, s := range subs {
		m, _ := s.(map[string]any)
		got[m["url"].(string)], _ = m["valueUri"].(string)
	}
	for name, path := range map[string]string{"authorize": "/auth/authorize", "token": "/auth/token", "introspect": "/auth/introspect", "revoke": "/auth/revoke"} {
		if got[name] != root+path {
			t.Errorf("oauth-uris %s = %q, want %q", name, got[name], root+path)
		}
	}
	off := start(t, sqliteEngine())
	if r := off.do("GET", "/metadata", nil); dig(r.json, "rest", "0", "security") != nil {
		t.Errorf("security with protection off: %s", r.body)
	}
}

func TestMetricsAuth(t *testing.T) {
	on := protected(t)
	on.do("GET", "/Patient", nil)                       // no_token
	on.do("GET", "/Patient", nil, bearer("nope")...)    // invalid_token
	on.do("POST", "/$reindex", nil, bearer(tokNone)...) // insufficient_scope
	on.do("GET", "/Patient?access_token=x", nil)        // token_in_query
	off := start(t, sqliteEngine())
	for _, tc := range []struct {
		f    *fixture
		want []string
	}{
		{on, []string{"dccfhir_auth_enabled 1", `dccfhir_auth_refused_total{reason="no_token"} 1`, `dccfhir_auth_refused_total{reason="invalid_token"} 1`,
			`dccfhir_auth_refused_total{reason="insufficient_scope"} 1`, `dccfhir_auth_refused_total{reason="token_in_query"} 1`}},
		{off, []string{"dccfhir_auth_enabled 0", `dccfhir_auth_refused_total{reason="no_token"} 0`}},
	} {
		r := tc.f.do("GET", strings.TrimSuffix(tc.f.base, "/fhir")+"/metrics", nil)
		if r.status != 200 {
			t.Fatalf("/metrics: %d", r.status)
		}
		for _, w := range tc.want {
			if !bytes.Contains(r.body, []byte(w+"\n")) {
				t.Errorf("/metrics lacks %q", w)
			}
		}
	}
}

// TestMetricsSeparate: with SeparateMetrics the FHIR listener has no
// /metrics; MetricsHandler serves them.
func TestMetricsSeparate(t *testing.T) {
	f := start(t, sqliteEngine(), func(c *handlersConfig) { c.SeparateMetrics = true })
	if r := f.do("GET", strings.TrimSuffix(f.base, "/fhir")+"/metrics", nil); r.status != 404 {
		t.Fatalf("/metrics on the FHIR listener: %d", r.status)
	}
	h, ok := f.srv.Config.Handler.(*handlers.Server)
	if !ok {
		t.Fatalf("the handler is a %T", f.srv.Config.Handler)
	}
	rec := httptest.NewRecorder()
	h.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "dccfhir_auth_enabled 0\n") {
		t.Fatalf("MetricsHandler: %d %s", rec.Code, rec.Body.String())
	}
}

// TestAuthLogNoSecrets scans the server's log of authenticated requests,
// refused ones and a token in the query string for the tokens.
func TestAuthLogNoSecrets(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := protected(t, func(c *handlersConfig) { c.Logger = log })
	f.want(f.do("PUT", "/Patient/p1", withID(patient("Durand"), "p1"), bearer(tokAll)...), 201)
	f.do("GET", "/Patient/p1", nil, bearer(tokPatients)...)
	f.do("GET", "/Patient/p1", nil, bearer(tokExpired)...)
	f.do("POST", "/$reindex", nil, bearer(tokTerm)...)
	f.do("GET", "/Patient?access_token="+tokNone, nil)
	f.do("GET", "/Patient?name=Durand", nil, bearer(tokAll)...)
	f.srv.Close() // waits for the handlers: every line is written
	out := buf.String()
	if strings.Count(out, "msg=request") < 6 || !strings.Contains(out, "client=admin-cli") {
		t.Fatalf("the access log is not what the test expects:\n%s", out)
	}
	for _, secret := range []string{tokAll, tokPatients, tokExpired, tokTerm, tokNone, "Bearer", "Durand"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log carries %q:\n%s", secret, out)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawRequest sends a request with exactly the headers given (several
// values of one header included).
func rawRequest(t *testing.T, method, url string, h http.Header) *resp {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := &resp{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

// TestAuthRealScopes runs the operations' checks against the Access of
// real scope strings (auth/scope), not the test's grants.
func TestAuthRealScopes(t *testing.T) {
	tokens := map[string]string{ // token → scopes (patient/ ones in the context of Patient/p1)
		"tok-system-all": "system/*.cruds",
		"tok-system-rs":  "system/*.rs",
		"tok-user-pat":   "user/Patient.rs",
		"tok-patient":    "patient/*.rs",
		"tok-vs":         "user/ValueSet.r",
	}
	f := protected(t, func(c *handlersConfig) {
		a := c.Auth.(*testAuth)
		for tok, sc := range tokens {
			set, bad := scope.Parse(sc)
			if len(bad) > 0 {
				t.Fatalf("%s: %v", sc, bad)
			}
			a.tokens[tok] = &auth.Principal{ClientID: "app", Scope: sc, Access: set.Access("p1")}
		}
	})
	gender := "http://hl7.org/fhir/ValueSet/administrative-gender"
	obs := map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}}
	for _, tc := range []struct {
		tok, method, path string
		body              any
		status            int
	}{
		{"tok-system-all", "POST", "/$reindex?type=Observation", nil, 202},
		{"tok-system-rs", "POST", "/$reindex?type=Observation", nil, 403},
		{"tok-patient", "POST", "/Patient/$reindex", nil, 403},
		{"tok-user-pat", "POST", "/$reindex", nil, 403},
		{"tok-system-all", "POST", "/Observation/$validate", obs, 200},
		{"tok-user-pat", "POST", "/Observation/$validate", obs, 403},
		{"tok-user-pat", "POST", "/Patient/$validate", patient("X"), 200},
		{"tok-patient", "POST", "/Observation/$validate", obs, 200},
		{"tok-vs", "GET", "/ValueSet/$expand?url=" + gender, nil, 200},
		{"tok-patient", "GET", "/ValueSet/$expand?url=" + gender, nil, 200},
		{"tok-user-pat", "GET", "/ValueSet/$expand?url=" + gender, nil, 403},
		{"tok-vs", "GET", "/CodeSystem/$lookup?system=http://hl7.org/fhir/administrative-gender&code=female", nil, 403},
	} {
		r := f.do(tc.method, tc.path, tc.body, bearer(tc.tok)...)
		if r.status != tc.status {
			t.Errorf("%s (%s) %s %s: %d, want %d: %s", tc.tok, tokens[tc.tok], tc.method, tc.path, r.status, tc.status, r.body)
		}
	}
}
