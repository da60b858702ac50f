package auth

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// accessClaims are the claims of a valid backend access token.
func (e *env) accessClaims(clientID string) map[string]any {
	now := e.clock.Now()
	reg := "0"
	if cl, err := e.srv.reg.Client(e.ctx, clientID); err == nil {
		reg = strconv.FormatInt(cl.Created.UnixMicro(), 10)
	}
	return map[string]any{
		"iss": e.srv.cfg.Issuer, "aud": []string{e.base}, "sub": clientID, "client_id": clientID,
		"scope": "system/*.rs", "family": newID(), "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": newID(),
		"client_reg": reg,
	}
}

func (e *env) serverHeader() map[string]any {
	return map[string]any{"alg": "RS256", "kid": e.srv.tokens.keys.current(e.ctx).signer.KeyID(), "typ": "at+jwt"}
}

// serverSign signs as the server does, with its own key: a token it could
// have issued, so only the check under test may refuse it.
func (e *env) serverSign(hdr, claims map[string]any) string {
	return signJWS(e.t, e.srv.tokens.keys.current(e.ctx).signer, hdr, claims)
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func hs256(hdr, claims map[string]any, secret []byte) string {
	in := b64json(hdr) + "." + b64json(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// backendToken gets a real access token for a backend client.
func (e *env) backendToken(k *clientKey, clientID, scope string) string {
	e.t.Helper()
	a := e.post("/auth/token", backendForm(signJWS(e.t, k.priv, k.header(), e.assertionClaims(clientID)), scope), "")
	if a.status != 200 {
		e.t.Fatalf("backend token: %d %s", a.status, a.raw)
	}
	return a.str("access_token")
}

// Every way an access token can be wrong: 401 invalid_token, each by its
// own check; and the valid token and the one within the skew pass.
func TestAccessTokenAttacks(t *testing.T) {
	e, _ := userEnv(t)
	k := newClientKeyFor(t, jwa.ES384, "k")
	e.addClient(ClientSpec{ID: "sys", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.cruds"})
	e.addClient(ClientSpec{ID: "doomed", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.cruds"})
	e.addClient(ClientSpec{ID: "reborn", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.cruds"})
	e.addUser(&User{Username: "leaver"})
	e.addUser(&User{Username: "deleted"})
	attacker := newClientKeyFor(t, jwa.RS256, "evil")
	evil := newKeyServer(t, attacker.jwks)
	attackerPub, _ := attacker.priv.PublicKey()

	pubPEM, pubJWKS := func() ([]byte, []byte) {
		var raw rsa.PrivateKey
		_ = e.srv.tokens.keys.current(e.ctx).signer.Raw(&raw)
		der, _ := x509.MarshalPKIXPublicKey(&raw.PublicKey)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), e.srv.tokens.keys.current(e.ctx).jwks
	}()
	valid := e.serverSign(e.serverHeader(), e.accessClaims("sys"))
	if w := e.whoami(valid); w.status != 200 {
		t.Fatalf("valid forged-by-the-server token: %d %s", w.status, w.raw)
	}
	now := e.clock.Now()
	claims := func() map[string]any { return e.accessClaims("sys") }
	h := e.serverHeader

	// Tokens whose refusal needs an action first.
	removed := e.backendToken(k, "doomed", "")
	reborn := e.backendToken(k, "reborn", "")
	revoked := e.backendToken(k, "sys", "")
	if a := e.post("/auth/revoke", url.Values{"token": {revoked}, "client_assertion_type": {assertionType},
		"client_assertion": {signJWS(t, k.priv, k.header(), e.assertionClaims("sys"))}}, ""); a.status != 200 {
		t.Fatalf("revoke: %d %s", a.status, a.raw)
	}
	disabledUser := e.serverSign(h(), with(claims(), "sub", "leaver", "username", "leaver", "client_id", "app", "scope", "user/*.rs"))
	deletedUser := e.serverSign(h(), with(claims(), "sub", "deleted", "username", "deleted", "client_id", "app", "scope", "user/*.rs"))
	for _, tok := range []string{removed, reborn, disabledUser, deletedUser} {
		if w := e.whoami(tok); w.status != 200 { // verified and cached before the change
			t.Fatalf("before: %d %s", w.status, w.raw)
		}
	}
	if err := e.reg.RemoveClient(e.ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.RemoveClient(e.ctx, "reborn"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	e.addClient(ClientSpec{ID: "reborn", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.cruds"})
	e.addUser(&User{Username: "leaver", Disabled: true})
	_ = e.st.DeleteRecord(e.ctx, KindUser, "deleted")
	_ = e.reg.changed(e.ctx) // as a process deleting it through the Registry would
	code, verifier := e.appCode("openid fhirUser patient/*.rs")
	idToken := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "").str("id_token")
	code, verifier = e.appCode("offline_access patient/*.rs")
	refresh := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "").str("refresh_token")

	for _, tc := range []struct {
		name, token, in string
	}{
		{"alg none", b64json(with(h(), "alg", "none")) + "." + b64json(claims()) + ".", "algorithm"},
		{"HS256 keyed with the server's public key (PEM)", hs256(with(h(), "alg", "HS256"), claims(), pubPEM), "algorithm"},
		{"HS256 keyed with the server's JWKS", hs256(with(h(), "alg", "HS256"), claims(), pubJWKS), "algorithm"},
		{"RS384 with the server's key", signJWS(t, e.srv.tokens.keys.current(e.ctx).signer, with(h(), "alg", "RS384"), claims()), "algorithm"},
		{"unknown kid", signJWS(t, attacker.priv, attacker.header(), with(claims())), "typ"},
		{"unknown kid, typ at+jwt", signJWS(t, attacker.priv, with(h(), "kid", "evil"), claims()), "unknown signing key"},
		{"the server's kid, another key", signJWS(t, attacker.priv, h(), claims()), "signature"},
		{"jwk header carrying the attacker's key", signJWS(t, attacker.priv, with(h(), "jwk", attackerPub), claims()), "header"},
		{"jku header naming the attacker's keys", signJWS(t, attacker.priv, with(h(), "kid", "evil", "jku", evil.URL), claims()), "header"},
		{"x5u header naming the attacker's keys", signJWS(t, attacker.priv, with(h(), "kid", "evil", "x5u", evil.URL), claims()), "header"},
		{"the server's own token with a jku header", e.serverSign(with(h(), "jku", evil.URL), claims()), "header"},
		{"no kid", e.serverSign(with(h(), "kid", nil), claims()), "key id"},
		{"wrong issuer", e.serverSign(h(), with(claims(), "iss", "https://evil.example")), "issuer"},
		{"wrong audience", e.serverSign(h(), with(claims(), "aud", []string{"https://other.example/fhir"})), "audience"},
		{"audience the token endpoint", e.serverSign(h(), with(claims(), "aud", e.srv.tokens.tokenURL)), "audience"},
		{"no audience", e.serverSign(h(), with(claims(), "aud", nil)), "audience"},
		{"expired beyond the skew", e.serverSign(h(), with(claims(), "exp", now.Add(-61*time.Second).Unix())), "expired"},
		{"no exp", e.serverSign(h(), with(claims(), "exp", nil)), "required claim"},
		{"no iat", e.serverSign(h(), with(claims(), "iat", nil)), "required claim"},
		{"no jti", e.serverSign(h(), with(claims(), "jti", nil)), "required claim"},
		{"iat in the future", e.serverSign(h(), with(claims(), "iat", now.Add(2*time.Minute).Unix())), "future"},
		{"no family", e.serverSign(h(), with(claims(), "family", nil)), "incomplete"},
		{"a backend token naming another subject", e.serverSign(h(), with(claims(), "sub", "dr")), "sub must be its client"},
		{"a user token whose sub is not its username", e.serverSign(h(), with(claims(), "sub", "sys", "username", "dr", "client_id", "app")), "sub must be its username"},
		{"typ JWT", e.serverSign(with(h(), "typ", "JWT"), claims()), "typ"},
		{"no typ", e.serverSign(with(h(), "typ", nil), claims()), "typ"},
		{"an ID token", idToken, "typ"},
		{"a client assertion", signJWS(t, k.priv, k.header(), e.assertionClaims("sys")), "typ"},
		{"a refresh token", refresh, "malformed"},
		{"scope changed after signing", func() string {
			p := strings.Split(valid, ".")
			p[1] = b64json(with(claims(), "scope", "system/*.cruds"))
			return strings.Join(p, ".")
		}(), "signature"},
		{"JSON serialization", func() string {
			p := strings.Split(valid, ".")
			b, _ := json.Marshal(map[string]any{"protected": p[0], "payload": p[1], "signature": p[2]})
			return string(b)
		}(), "malformed"},
		{"two signatures' worth of dots", valid + "." + strings.Split(valid, ".")[2], "malformed"},
		{"a removed client's token", removed, "client no longer registered"},
		{"a token of a client removed and registered anew", reborn, "client no longer registered"},
		{"a revoked token", revoked, "revoked"},
		{"a disabled account's token", disabledUser, "disabled"},
		{"a deleted account's token", deletedUser, "account no longer registered"},
		{"an unregistered client's token", e.serverSign(h(), with(claims(), "sub", "ghost", "client_id", "ghost")), "client no longer registered"},
		{"oversized", strings.Repeat("a", maxTokenBytes+1), "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.whoami(tc.token)
			if w.status != 401 || w.str("error") != "invalid_token" || !strings.Contains(w.str("error_description"), tc.in) {
				t.Fatalf("got %d %s, want 401 invalid_token (%s)", w.status, w.raw, tc.in)
			}
		})
	}
	if n := evil.count(); n != 0 {
		t.Errorf("a URL named in a token was fetched %d times", n)
	}

	// Within the skew: accepted; a cached token is refused once past it.
	within := e.serverSign(h(), with(claims(), "exp", now.Add(-30*time.Second).Unix()))
	if w := e.whoami(within); w.status != 200 {
		t.Errorf("within the skew: %d %s", w.status, w.raw)
	}
	e.clock.Add(31 * time.Second)
	if w := e.whoami(within); w.status != 401 {
		t.Errorf("the cached token past the skew: %d %s", w.status, w.raw)
	}
}

// Introspection describes a token only to its client and to admin-cli.
func TestIntrospection(t *testing.T) {
	e, secret := userEnv(t)
	k := newClientKeyFor(t, jwa.ES384, "k")
	e.addClient(ClientSpec{ID: "sys", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.rs"})
	e.addClient(ClientSpec{ID: adminClientID, Kind: "backend", JWKS: k.jwks, Scopes: "system/*.cruds"})
	code, verifier := e.appCode("launch/patient offline_access patient/*.rs")
	tr := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	at, rt := tr.str("access_token"), tr.str("refresh_token")
	backend := e.backendToken(k, "sys", "")
	asClient := func(id string) (url.Values, string) {
		switch id {
		case "app":
			return url.Values{"client_id": {"app"}}, ""
		case "web":
			return url.Values{}, "web:" + secret
		}
		return url.Values{"client_assertion_type": {assertionType}, "client_assertion": {signJWS(t, k.priv, k.header(), e.assertionClaims(id))}}, ""
	}
	introspect := func(caller, token string) *answer {
		f, basic := asClient(caller)
		f.Set("token", token)
		return e.post("/auth/introspect", f, basic)
	}
	for _, tc := range []struct {
		name, caller, token string
		active              bool
		check               map[string]any
	}{
		{"own access token", "app", at, true, map[string]any{"client_id": "app", "sub": "dr", "patient": "pat1", "iss": e.srv.cfg.Issuer, "token_type": "Bearer"}},
		{"own refresh token", "app", rt, true, map[string]any{"client_id": "app", "token_type": "refresh_token", "patient": "pat1"}},
		{"own backend token", "sys", backend, true, map[string]any{"client_id": "sys", "sub": "sys", "scope": "system/*.rs"}},
		{"admin-cli, another's token", adminClientID, at, true, map[string]any{"client_id": "app"}},
		{"another client's access token", "web", at, false, nil},
		{"another client's refresh token", "sys", rt, false, nil},
		{"a public client, a backend token", "app", backend, false, nil},
		{"garbage", "app", "not-a-token", false, nil},
		{"a forged JWT", "app", at[:len(at)-4] + "AAAA", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := introspect(tc.caller, tc.token)
			if a.status != 200 || a.body["active"] != tc.active {
				t.Fatalf("%d %s", a.status, a.raw)
			}
			if !tc.active && len(a.body) != 1 {
				t.Errorf("an inactive answer says more: %s", a.raw)
			}
			for k, v := range tc.check {
				if a.body[k] != v {
					t.Errorf("%s = %v, want %v", k, a.body[k], v)
				}
			}
			if tc.active && (a.body["exp"] == nil || a.str("scope") == "") {
				t.Errorf("exp and scope required: %s", a.raw)
			}
		})
	}
	if a := e.post("/auth/introspect", url.Values{"token": {at}}, ""); a.status != 401 || a.str("error") != "invalid_client" {
		t.Errorf("unauthenticated introspection: %d %s", a.status, a.raw)
	}

	// Revocation by another client leaves the token alone; by its own
	// client (a public client by client_id) it revokes the family.
	f, basic := asClient("web")
	f.Set("token", rt)
	if a := e.post("/auth/revoke", f, basic); a.status != 200 {
		t.Fatalf("revoke by another: %d %s", a.status, a.raw)
	}
	if w := e.whoami(at); w.status != 200 {
		t.Fatalf("revoked by another client: %d", w.status)
	}
	if a := e.post("/auth/revoke", url.Values{"client_id": {"app"}, "token": {rt}}, ""); a.status != 200 {
		t.Fatalf("revoke: %d %s", a.status, a.raw)
	}
	if w := e.whoami(at); w.status != 401 {
		t.Errorf("access token of a revoked refresh token's family: %d", w.status)
	}
	if a := introspect("app", rt); a.body["active"] != false {
		t.Errorf("revoked refresh token introspected %s", a.raw)
	}
	for _, tok := range []string{"unknown", RandomToken(), at, "a.b.c"} {
		if a := e.post("/auth/revoke", url.Values{"client_id": {"app"}, "token": {tok}}, ""); a.status != 200 {
			t.Errorf("revoke %q: %d %s", tok, a.status, a.raw)
		}
	}
}

// What every auth endpoint refuses of its request.
func TestEndpointRequests(t *testing.T) {
	e, _ := userEnv(t)
	send := func(path, ctype, body string) *answer {
		req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return e.do(req)
	}
	big := "grant_type=client_credentials&pad=" + strings.Repeat("x", maxAuthBody)
	for _, path := range []string{"/auth/token", "/auth/introspect", "/auth/revoke"} {
		for _, tc := range []struct {
			name, ctype, body string
			status            int
			in                string
		}{
			{"body over 64 KiB", "application/x-www-form-urlencoded", big, 413, "64 KiB"},
			{"JSON body", "application/json", `{"grant_type":"client_credentials"}`, 400, "x-www-form-urlencoded"},
			{"no content type", "", "grant_type=refresh_token", 400, "x-www-form-urlencoded"},
			{"multipart body", "multipart/form-data; boundary=x", "--x--", 400, "x-www-form-urlencoded"},
			{"repeated parameter", "application/x-www-form-urlencoded", "client_id=app&client_id=web&grant_type=refresh_token&token=x", 400, "repeated"},
			{"malformed form", "application/x-www-form-urlencoded", "a=%zz", 400, "malformed"},
		} {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				a := send(path, tc.ctype, tc.body)
				if a.status != tc.status || a.str("error") != "invalid_request" || !strings.Contains(a.str("error_description"), tc.in) {
					t.Fatalf("%d %s", a.status, a.raw)
				}
			})
		}
	}
	// A body over the bound without a Content-Length (chunked).
	for _, path := range []string{"/auth/token", "/auth/introspect", "/auth/revoke"} {
		req, _ := http.NewRequest("POST", e.ts.URL+path, io.MultiReader(strings.NewReader(big)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.ContentLength = -1
		if a := e.do(req); a.status != 413 {
			t.Errorf("%s chunked over 64 KiB: %d %s", path, a.status, a.raw)
		}
	}
	// Parameters in the query string are not read.
	req, _ := http.NewRequest("POST", e.ts.URL+"/auth/token?grant_type=client_credentials", strings.NewReader("client_id=app"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if a := e.do(req); a.str("error") != "invalid_request" || !strings.Contains(a.str("error_description"), "grant_type missing") {
		t.Errorf("query parameters read: %s", a.raw)
	}
}

// A cached token costs one record read per check while nothing changes;
// a change from another process is seen at the next check, both ways.
func TestVerifyEpoch(t *testing.T) {
	e, _ := userEnv(t)
	st := e.st.(testStore)
	code, verifier := e.appCode("patient/*.rs")
	tok := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "").str("access_token")
	if _, err := e.srv.Verify(e.ctx, tok); err != nil {
		t.Fatal(err)
	}
	reads := func() int {
		return st.got(KindConfig) + st.got(KindUser) + st.got(KindClient) + st.got(KindRevoked) + st.got(KindKey)
	}
	before := reads()
	for i := 0; i < 10; i++ {
		if _, err := e.srv.Verify(e.ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads() - before; n != 10 {
		t.Errorf("%d record reads for 10 checks of a cached token, want 10", n)
	}
	other := &Registry{Store: e.st, Now: e.clock.Now}
	u, _ := other.User(e.ctx, "dr")
	u.Disabled = true
	if err := other.PutUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Verify(e.ctx, tok); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("after disable: %v", err)
	}
	u.Disabled = false
	if err := other.PutUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Verify(e.ctx, tok); err != nil {
		t.Fatalf("after enable: %v", err)
	}
}
