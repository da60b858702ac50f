package auth

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestAddClientRefusals(t *testing.T) {
	e := newEnv(t)
	es := newClientKeyFor(t, jwa.ES384, "k")
	priv, _ := json.Marshal(map[string]any{"keys": []any{es.priv}})
	noKid := newClientKeyFor(t, jwa.ES384, "")
	small := func() json.RawMessage {
		k := newClientKeyFor(t, jwa.ES256, "k")
		var m map[string][]map[string]any
		_ = json.Unmarshal(k.jwks, &m)
		m["keys"][0]["alg"] = "HS256"
		b, _ := json.Marshal(m)
		return b
	}()
	twice := func() json.RawMessage {
		var m map[string][]any
		_ = json.Unmarshal(es.jwks, &m)
		m["keys"] = append(m["keys"], m["keys"][0])
		b, _ := json.Marshal(m)
		return b
	}()
	app := func(mod func(*ClientSpec)) ClientSpec {
		s := ClientSpec{ID: "app", Kind: "public", RedirectURIs: []string{"https://app.example/cb"}, Scopes: "patient/*.rs"}
		mod(&s)
		return s
	}
	backend := func(mod func(*ClientSpec)) ClientSpec {
		s := ClientSpec{ID: "sys", Kind: "backend", JWKS: es.jwks, Scopes: "system/*.rs"}
		mod(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		spec ClientSpec
		in   string
	}{
		{"empty id", app(func(s *ClientSpec) { s.ID = "" }), "client id"},
		{"id with a space", app(func(s *ClientSpec) { s.ID = "my app" }), "client id"},
		{"id with a slash", app(func(s *ClientSpec) { s.ID = "a/b" }), "client id"},
		{"id starting with a dot", app(func(s *ClientSpec) { s.ID = ".x" }), "client id"},
		{"id too long", app(func(s *ClientSpec) { s.ID = strings.Repeat("a", 65) }), "client id"},
		{"unknown kind", app(func(s *ClientSpec) { s.Kind = "trusted" }), "kind"},
		{"app without redirect URI", app(func(s *ClientSpec) { s.RedirectURIs = nil }), "redirect URI"},
		{"http redirect URI", app(func(s *ClientSpec) { s.RedirectURIs = []string{"http://app.example/cb"} }), "https required"},
		{"relative redirect URI", app(func(s *ClientSpec) { s.RedirectURIs = []string{"/cb"} }), "absolute"},
		{"redirect URI with a fragment", app(func(s *ClientSpec) { s.RedirectURIs = []string{"https://app.example/cb#x"} }), "fragment"},
		{"redirect URI with user info", app(func(s *ClientSpec) { s.RedirectURIs = []string{"https://u:p@app.example/cb"} }), "user"},
		{"custom scheme", app(func(s *ClientSpec) { s.RedirectURIs = []string{"javascript:alert(1)"} }), "absolute"},
		{"keys on an app", app(func(s *ClientSpec) { s.JWKS = es.jwks }), "backend"},
		{"--launch on an app", app(func(s *ClientSpec) { s.Launch = true }), "backend"},
		{"no scopes", app(func(s *ClientSpec) { s.Scopes = " " }), "scopes required"},
		{"scopes that do not parse", app(func(s *ClientSpec) { s.Scopes = "patient/Observation.dus" }), "scopes"},
		{"organization not a reference", app(func(s *ClientSpec) { s.Organization = "CHU Toulouse" }), "organization"},
		{"backend without keys", backend(func(s *ClientSpec) { s.JWKS = nil }), "JWKS"},
		{"backend with JWKS and URL", backend(func(s *ClientSpec) { s.JWKSURL = "https://keys.example/jwks" }), "one of them"},
		{"JWKS URL over http", backend(func(s *ClientSpec) { s.JWKS, s.JWKSURL = nil, "http://keys.example/jwks" }), "https required"},
		{"JWKS not JSON", backend(func(s *ClientSpec) { s.JWKS = json.RawMessage(`{"keys":`) }), "JWKS"},
		{"JWKS with a private key", backend(func(s *ClientSpec) { s.JWKS = priv }), "not a public key"},
		{"JWKS key without kid", backend(func(s *ClientSpec) { s.JWKS = noKid.jwks }), "kid"},
		{"JWKS kid twice", backend(func(s *ClientSpec) { s.JWKS = twice }), "twice"},
		{"JWKS key alg HS256", backend(func(s *ClientSpec) { s.JWKS = small }), "not accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.reg.AddClient(e.ctx, tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.in) {
				t.Fatalf("err %v, want it to say %q", err, tc.in)
			}
			if _, err := e.reg.Client(e.ctx, tc.spec.ID); tc.spec.ID != "" && !errors.Is(err, ErrUnknown) {
				t.Errorf("stored anyway")
			}
		})
	}

	// A confidential client's secret: returned once, stored hashed.
	secret, err := e.reg.AddClient(e.ctx, ClientSpec{ID: "web", Kind: "confidential", RedirectURIs: []string{"http://localhost:8080/cb"}, Scopes: "user/*.rs"})
	if err != nil || len(secret) < 40 {
		t.Fatal(secret, err)
	}
	c, _ := e.reg.Client(e.ctx, "web")
	if !strings.HasPrefix(c.SecretHash, "$argon2id$") || strings.Contains(c.SecretHash, secret) || !CheckSecret(c.SecretHash, secret) {
		t.Errorf("secret hash %q", c.SecretHash)
	}
	if _, err := e.reg.AddClient(e.ctx, ClientSpec{ID: "web", Kind: "public", RedirectURIs: []string{"https://x.example/cb"}, Scopes: "patient/*.rs"}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("same id again: %v", err)
	}
	list, err := e.reg.Clients(e.ctx)
	if err != nil || len(list) != 1 || list[0].ID != "web" {
		t.Errorf("Clients: %v %v", list, err)
	}
	if err := e.reg.RemoveClient(e.ctx, "nobody"); !errors.Is(err, ErrUnknown) {
		t.Errorf("RemoveClient of nobody: %v", err)
	}
}

// The first start's administrator, and dccfhir token from another
// process: a token the running server accepts.
func TestBootstrapAndIssueToken(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	path, err := Bootstrap(e.ctx, e.reg, dir, e.base)
	if err != nil || path != filepath.Join(dir, "admin-credentials.json") {
		t.Fatal(path, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	var creds AdminCredentials
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &creds); err != nil {
		t.Fatal(err)
	}
	u, err := e.reg.User(e.ctx, "admin")
	if err != nil || creds.Username != "admin" || !CheckSecret(u.PasswordHash, creds.Password) || len(u.Roles) != 1 || u.Roles[0] != "admin" || u.Practitioner != "" {
		t.Fatalf("admin %+v %v", u, err)
	}
	c, err := e.reg.Client(e.ctx, adminClientID)
	if err != nil || c.Kind != "backend" || c.Scopes != "system/*.cruds" || creds.ClientID != adminClientID || creds.BaseURL != e.base {
		t.Fatalf("admin-cli %+v %v", c, err)
	}
	if strings.Contains(string(c.JWKS), `"d"`) {
		t.Error("the private key is registered")
	}
	if key, err := jwk.ParseKey(creds.Key); err != nil || key.Algorithm() != jwa.ES384 || key.KeyID() == "" {
		t.Errorf("private key %v", err)
	}
	if p, err := Bootstrap(e.ctx, e.reg, dir, e.base); p != "" || err != nil {
		t.Errorf("second bootstrap: %q %v", p, err)
	}

	// Another process: its own Registry on the same storage.
	other := &Registry{Store: e.st, Now: e.clock.Now}
	for _, tc := range []struct {
		scope, want string
	}{
		{"", "system/*.cruds"},
		{"system/Patient.rs", "system/Patient.rs"},
	} {
		tok, err := IssueToken(e.ctx, other, TokenRequest{ClientID: creds.ClientID, Key: creds.Key, Scope: tc.scope})
		if err != nil {
			t.Fatal(err)
		}
		w := e.whoami(tok)
		if w.status != 200 || w.str("client") != adminClientID || w.str("scope") != tc.want {
			t.Errorf("scope %q: %d %s", tc.scope, w.status, w.raw)
		}
	}
	wrong := newClientKeyFor(t, jwa.ES384, "x")
	wrongKey, _ := json.Marshal(wrong.priv)
	if _, err := IssueToken(e.ctx, other, TokenRequest{ClientID: creds.ClientID, Key: wrongKey}); err == nil {
		t.Error("a token for a key admin-cli does not have")
	}
	pub, _ := wrong.priv.PublicKey()
	pubJSON, _ := json.Marshal(pub)
	if _, err := IssueToken(e.ctx, other, TokenRequest{ClientID: creds.ClientID, Key: pubJSON}); err == nil {
		t.Error("a token from a public key")
	}
	var te *TokenError
	if _, err := IssueToken(e.ctx, other, TokenRequest{ClientID: creds.ClientID, Key: creds.Key, Scope: "patient/*.rs"}); !errors.As(err, &te) || te.Code != "invalid_scope" {
		t.Errorf("a scope admin-cli may not have: %v", err)
	}
	// A store the server never started on, no base URL: refused.
	if _, err := IssueToken(e.ctx, &Registry{Store: openStore(t)}, TokenRequest{ClientID: "x", Key: creds.Key}); err == nil {
		t.Error("IssueToken without a base URL")
	}
}

// dccfhir keys rotate, from another process: the running server signs with
// the new key within keyReload, accepts tokens of the new key at once and
// those of the old one until the old key is dropped.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	k := newClientKeyFor(t, jwa.ES384, "k")
	e.addClient(ClientSpec{ID: "sys", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.rs"})
	key, _ := json.Marshal(k.priv)
	oldTok := e.backendToken(k, "sys", "")
	oldKid, _ := parseHeader(oldTok)

	other := &Registry{Store: e.st, Now: e.clock.Now}
	newKid, err := RotateKeys(e.ctx, other)
	if err != nil || newKid == oldKid.Kid {
		t.Fatal(newKid, err)
	}
	// The old key's record: dropped once its tokens have expired.
	rec, err := e.st.GetRecord(e.ctx, KindKey, oldKid.Kid)
	if err != nil {
		t.Fatal(err)
	}
	want := e.clock.Now().Add(time.Hour + clockSkew + keyReload) // the longest lifetime: user tokens
	if !rec.Expires.Equal(want) {
		t.Errorf("old key expires %v, want %v", rec.Expires, want)
	}
	// The server signs with the new key once it has reread its keys.
	if h, _ := parseHeader(e.backendToken(k, "sys", "")); h.Kid != oldKid.Kid {
		t.Errorf("signed with %s before the reload period", h.Kid)
	}
	e.clock.Add(keyReload)
	if h, _ := parseHeader(e.backendToken(k, "sys", "")); h.Kid != newKid {
		t.Errorf("signed with %s after the reload period, want %s", h.Kid, newKid)
	}
	// Another rotation: a token of the newest key, made by the other
	// process, is accepted at once (an unknown kid rereads the keys), and so
	// are the older keys' tokens.
	newTok := e.backendToken(k, "sys", "")
	newestKid, err := RotateKeys(e.ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	newestTok, err := IssueToken(e.ctx, other, TokenRequest{ClientID: "sys", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := parseHeader(newestTok); h.Kid != newestKid {
		t.Fatalf("IssueToken signed with %s, want the newest %s", h.Kid, newestKid)
	}
	for _, tok := range []string{newestTok, newTok, oldTok} {
		if w := e.whoami(tok); w.status != 200 {
			t.Errorf("%d %s", w.status, w.raw)
		}
	}
	// Once the old key is gone (its record expired), its tokens are refused.
	unseen := e.serverSignWith(oldKid.Kid)
	_ = e.st.DeleteRecord(e.ctx, KindKey, oldKid.Kid)
	e.clock.Add(keyReload)
	if w := e.whoami(unseen); w.status != 401 || !strings.Contains(w.str("error_description"), "unknown signing key") {
		t.Errorf("token of a dropped key: %d %s", w.status, w.raw)
	}
}

// serverSignWith is a valid token for client sys signed by key kid (one of
// the loaded ones).
func (e *env) serverSignWith(kid string) string {
	e.t.Helper()
	ring := e.srv.tokens.keys.current(e.ctx)
	for i := range ring.public.Len() {
		if k, _ := ring.public.Key(i); k.KeyID() == kid {
			recs, _ := e.st.GetRecord(e.ctx, KindKey, kid)
			var sk signingKey
			_ = json.Unmarshal(recs.Value, &sk)
			priv, _ := jwk.ParseKey(sk.JWK)
			return signJWS(e.t, priv, map[string]any{"alg": "RS256", "kid": kid, "typ": "at+jwt"}, e.accessClaims("sys"))
		}
	}
	e.t.Fatalf("no key %s", kid)
	return ""
}

// An unknown kid rereads the keys at most once a second.
func TestUnknownKidRereadBound(t *testing.T) {
	e := newEnv(t)
	mem := e.st.(testStore)
	attacker := newClientKeyFor(t, jwa.RS256, "x")
	before := mem.listed(KindKey)
	for i := 0; i < 20; i++ {
		tok := signJWS(t, attacker.priv, map[string]any{"alg": "RS256", "kid": newID(), "typ": "at+jwt"}, e.accessClaims("sys"))
		if w := e.whoami(tok); w.status != 401 {
			t.Fatal(w.raw)
		}
	}
	if n := mem.listed(KindKey) - before; n != 1 {
		t.Errorf("%d rereads for 20 unknown kids within a second, want 1", n)
	}
	e.clock.Add(time.Second)
	e.whoami(signJWS(t, attacker.priv, map[string]any{"alg": "RS256", "kid": newID(), "typ": "at+jwt"}, e.accessClaims("sys")))
	if n := mem.listed(KindKey) - before; n != 2 {
		t.Errorf("%d rereads after a second, want 2", n)
	}
}
