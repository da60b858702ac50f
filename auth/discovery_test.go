package auth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	iss := e.srv.cfg.Issuer
	for _, path := range []string{"/fhir/.well-known/smart-configuration", "/.well-known/openid-configuration"} {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Header.Set("Accept", "application/fhir+xml") // SMART: JSON whatever Accept says
		a := e.do(req)
		if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") || a.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %d %v", path, a.status, a.header)
		}
		for field, want := range map[string]string{
			"issuer": iss, "jwks_uri": iss + "/auth/jwks", "authorization_endpoint": iss + "/auth/authorize",
			"token_endpoint": iss + "/auth/token", "introspection_endpoint": iss + "/auth/introspect", "revocation_endpoint": iss + "/auth/revoke",
		} {
			if a.str(field) != want {
				t.Errorf("%s %s = %q, want %q", path, field, a.str(field), want)
			}
		}
		list := func(name string) []string {
			var out []string
			for _, v := range a.body[name].([]any) {
				out = append(out, v.(string))
			}
			return out
		}
		for field, want := range map[string][]string{
			"code_challenge_methods_supported":                 {"S256"},
			"response_types_supported":                         {"code"},
			"token_endpoint_auth_methods_supported":            {"private_key_jwt", "client_secret_basic"},
			"grant_types_supported":                            {"authorization_code", "client_credentials", "refresh_token"},
			"token_endpoint_auth_signing_alg_values_supported": {"RS384", "ES384", "RS256", "ES256"},
		} {
			if got := list(field); !slices.Equal(got, want) {
				t.Errorf("%s %s = %v", path, field, got)
			}
		}
		if s := list("scopes_supported"); !slices.Contains(s, "launch") || !slices.Contains(s, "system/*.cruds") || !slices.Contains(s, "openid") {
			t.Errorf("scopes_supported %v", s)
		}
		if path == "/.well-known/openid-configuration" {
			if !slices.Equal(list("id_token_signing_alg_values_supported"), []string{"RS256"}) || len(list("subject_types_supported")) == 0 || !slices.Contains(list("claims_supported"), "fhirUser") {
				t.Errorf("OIDC fields %s", a.raw)
			}
			continue
		}
		caps := list("capabilities")
		for _, c := range []string{"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
			"sso-openid-connect", "context-banner", "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
			"permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1", "permission-v2", "authorize-post"} {
			if !slices.Contains(caps, c) {
				t.Errorf("capability %s missing", c)
			}
		}
	}
	doc := e.srv.SMARTConfiguration()
	doc["issuer"] = "changed"
	if e.srv.SMARTConfiguration()["issuer"] != iss {
		t.Error("SMARTConfiguration hands out the server's own map")
	}
}

// The JWKS endpoint serves public keys only, with kid and alg.
func TestJWKSIsPublic(t *testing.T) {
	e := newEnv(t)
	if _, err := RotateKeys(e.ctx, e.reg); err != nil {
		t.Fatal(err)
	}
	a := e.get("/auth/jwks", "")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(a.raw), &set); err != nil || a.status != 200 {
		t.Fatal(a.status, a.raw)
	}
	e.clock.Add(keyReload)
	set.Keys = nil
	a = e.get("/auth/jwks", "")
	_ = json.Unmarshal([]byte(a.raw), &set)
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys after a rotation, want 2: %s", len(set.Keys), a.raw)
	}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS serves the private member %q", private)
			}
		}
		if k["kty"] != "RSA" || k["alg"] != "RS256" || k["kid"] == "" || k["use"] != "sig" || k["n"] == nil || k["e"] == nil {
			t.Errorf("key %v", k)
		}
	}
}

// CORS: the token endpoint answers the origins of registered redirect
// URIs, no others.
func TestCORS(t *testing.T) {
	e, _ := userEnv(t)
	e.addClient(ClientSpec{ID: "spa", Kind: "public", RedirectURIs: []string{"https://spa.example:443/app/cb", "http://127.0.0.1:9000/cb"}, Scopes: "patient/*.rs"})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://app.example", true},
		{"https://spa.example", true},
		{"HTTPS://SPA.EXAMPLE", true},
		{"http://127.0.0.1:9000", true},
		{"http://127.0.0.1:9001", false},
		{"https://evil.example", false},
		{"http://app.example", false},
		{"https://app.example.evil.example", false},
		{"null", false},
		{"", false},
	} {
		if got := e.srv.AllowedOrigin(e.ctx, tc.origin); got != tc.ok {
			t.Errorf("AllowedOrigin(%q) = %v", tc.origin, got)
		}
		req, _ := http.NewRequest("OPTIONS", e.ts.URL+"/auth/token", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		a := e.do(req)
		if got := a.header.Get("Access-Control-Allow-Origin"); (got == tc.origin && got != "") != tc.ok {
			t.Errorf("preflight from %q: Access-Control-Allow-Origin %q", tc.origin, got)
		}
	}
	// A removed client's origin is refused once the cache has expired.
	if err := e.reg.RemoveClient(e.ctx, "spa"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(originTTL)
	if e.srv.AllowedOrigin(e.ctx, "https://spa.example") {
		t.Error("a removed client's origin is still allowed")
	}
}
