package handlers_test

import (
	"bufio"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/auth/psc/psctest"
)

// The attack table: each row an attack of its own through the started
// server, most of them the refusals issue 9 lists under "Safe by
// construction" (alg none, HMAC, unknown kid, keys from jku / x5u / jwk /
// x5c, wrong iss or aud, expiry past the skew, code reuse, exact redirect
// URIs, state untouched, body limits), the Pro Santé Connect ID tokens it
// lists, and the neighbours a real attacker would try next. The
// access-token rows forge tokens with the server's own signing key (read
// from the store) where the point is that one claim alone is refused on
// a valid signature.

type secAttack struct {
	name string
	run  func(t *testing.T, f *secFixture)
}

func secAttacks(t *testing.T, f *secFixture) {
	// The forging is sound: a token made as the server makes them is accepted.
	if r := f.protectedRead(f.forge(nil, nil)); r.status != 200 {
		t.Fatalf("a well-forged token is refused, the attacks would prove nothing: %d %s", r.status, r.body)
	}
	attacks := append(append(append(secTokenAttacks(), secAssertionAttacks()...), secFlowAttacks()...), secPSCAttacks()...)
	names := map[string]bool{}
	ran := 0
	for _, a := range attacks {
		if names[a.name] {
			t.Fatalf("attack %q listed twice", a.name)
		}
		names[a.name] = true
		f.run(t, a.name, func(t *testing.T) {
			defer func() {
				if !t.Skipped() {
					ran++
				}
			}()
			a.run(t, f)
		})
	}
	if n := f.attacker.count(); n != 0 {
		t.Errorf("the server fetched a URL named inside a token %d time(s)", n)
	}
	t.Logf("%d distinct attacks run through the started server (%d listed)", ran, len(attacks))
	if ran < 40 {
		t.Errorf("%d attacks ran: issue 9 asks for at least 40", ran)
	}
}

// protectedRead is a FHIR read with token.
func (f *secFixture) protectedRead(token string) *secResp {
	return f.fhir("GET", "/Patient/e2e-pa", token, nil)
}

// accessClaims are the claims of a backend access token of secES, as the
// server writes them; edit replaces (nil value: removes).
func (f *secFixture) accessClaims(edit map[string]any) map[string]any {
	now := f.clock.Now()
	cl, err := f.reg.Client(f.ctx, secES)
	if err != nil {
		panic(err)
	}
	c := map[string]any{
		"iss": f.issuer, "aud": []string{f.base}, "sub": secES, "client_id": secES, "scope": "system/*.rs",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": secRandomID(), "family": secRandomID(),
		"client_reg": strconv.FormatInt(cl.Created.UnixMicro(), 10),
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// forge signs an access token with the server's key: header and claims
// as the server makes them, with edits.
func (f *secFixture) forge(hdr, claims map[string]any) string {
	key, kid := f.serverKey()
	h := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}
	for k, v := range hdr {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	tok := secSignJWS(f.t, key, h, f.accessClaims(claims))
	f.secrets.add("forged token", tok)
	return tok
}

// attackerToken is an access token signed by the attacker's key with hdr added.
func (f *secFixture) attackerToken(hdr map[string]any) string {
	h := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": f.attackerKey.priv.KeyID()}
	for k, v := range hdr {
		h[k] = v
	}
	return secSignJWS(f.t, f.attackerKey.priv, h, f.accessClaims(nil))
}

func (f *secFixture) attackerPublic() map[string]any {
	pub, err := f.attackerKey.priv.PublicKey()
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := json.Marshal(pub)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// attackerCert is a self-signed certificate of the attacker's key (x5c).
func (f *secFixture) attackerCert() string {
	var raw any
	if err := f.attackerKey.priv.Raw(&raw); err != nil {
		f.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "dccfhir"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	pub, _ := f.attackerKey.priv.PublicKey()
	var rawPub any
	_ = pub.Raw(&rawPub)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rawPub, raw)
	if err != nil {
		f.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// secRefusedAccess: the token is refused as invalid_token on a FHIR read,
// for the reason why (its error_description): the check the row is
// about, not another one before it.
func secRefusedAccess(why string, tok func(f *secFixture) string) func(t *testing.T, f *secFixture) {
	return func(t *testing.T, f *secFixture) {
		r := f.protectedRead(tok(f))
		secWantInvalidToken(t, "FHIR read", r)
		if !strings.Contains(r.header.Get("WWW-Authenticate"), why) {
			t.Errorf("refused, but not for %q: %q", why, r.header.Get("WWW-Authenticate"))
		}
	}
}

func secTokenAttacks() []secAttack {
	return []secAttack{
		{"access token with alg none", secRefusedAccess("algorithm not accepted", func(f *secFixture) string {
			_, kid := f.serverKey()
			return secSignJWS(f.t, nil, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}, f.accessClaims(nil))
		})},
		{"access token HS256 keyed with the server's public JWKS", secRefusedAccess("algorithm not accepted", func(f *secFixture) string {
			_, kid := f.serverKey()
			jwks := f.send(secRequest("GET", f.issuer+"/auth/jwks", "")).body
			return secSignJWS(f.t, jwks, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, f.accessClaims(nil))
		})},
		{"access token HS256 keyed with the server's public key in PEM", secRefusedAccess("algorithm not accepted", func(f *secFixture) string {
			key, kid := f.serverKey()
			pub, _ := key.PublicKey()
			var raw any
			_ = pub.Raw(&raw)
			der, _ := x509.MarshalPKIXPublicKey(raw)
			p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return secSignJWS(f.t, p, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, f.accessClaims(nil))
		})},
		{"access token of an unknown kid", secRefusedAccess("unknown signing key", func(f *secFixture) string { return f.attackerToken(nil) })},
		{"access token signed by another key under the server's kid", secRefusedAccess("signature not valid", func(f *secFixture) string {
			_, kid := f.serverKey()
			return f.attackerToken(map[string]any{"kid": kid})
		})},
		{"access token with a jku to the attacker's keys", secRefusedAccess("unexpected header members", func(f *secFixture) string {
			return f.attackerToken(map[string]any{"jku": f.attacker.URL + "/jwks.json"})
		})},
		{"access token with an x5u to the attacker's certificate", secRefusedAccess("unexpected header members", func(f *secFixture) string {
			return f.attackerToken(map[string]any{"x5u": f.attacker.URL + "/cert.pem"})
		})},
		{"access token carrying its key in a jwk header", secRefusedAccess("unexpected header members", func(f *secFixture) string {
			return f.attackerToken(map[string]any{"jwk": f.attackerPublic()})
		})},
		{"access token carrying its certificate in an x5c header", secRefusedAccess("unexpected header members", func(f *secFixture) string {
			return f.attackerToken(map[string]any{"x5c": []string{f.attackerCert()}})
		})},
		{"access token with the server's key and a jku beside", secRefusedAccess("unexpected header members", func(f *secFixture) string {
			return f.forge(map[string]any{"jku": f.attacker.URL + "/jwks.json"}, nil)
		})},
		{"access token of another issuer", secRefusedAccess("wrong issuer", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"iss": "https://evil.example"})
		})},
		{"access token for another audience", secRefusedAccess("wrong audience", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"aud": []string{"https://other.example/fhir"}})
		})},
		{"access token without audience", secRefusedAccess("wrong audience", func(f *secFixture) string { return f.forge(nil, map[string]any{"aud": nil}) })},
		{"access token expired past the 60 s skew", func(t *testing.T, f *secFixture) {
			// iat stays now: a token issued before its client was
			// registered is refused for that (another row).
			now := f.clock.Now()
			past := f.forge(nil, map[string]any{"exp": now.Add(-61 * time.Second).Unix()})
			r := f.protectedRead(past)
			secWantInvalidToken(t, "61 s past its exp", r)
			if !strings.Contains(r.header.Get("WWW-Authenticate"), "expired") {
				t.Errorf("refused for another reason: %q", r.header.Get("WWW-Authenticate"))
			}
			// The skew itself is no wider than 60 s, and not zero either.
			within := f.forge(nil, map[string]any{"exp": now.Add(-30 * time.Second).Unix()})
			if r := f.protectedRead(within); r.status != 200 {
				t.Errorf("30 s past its exp (within the skew): %d %q", r.status, r.header.Get("WWW-Authenticate"))
			}
		}},
		{"access token without exp", secRefusedAccess("required claim", func(f *secFixture) string { return f.forge(nil, map[string]any{"exp": nil}) })},
		{"access token issued in the future", secRefusedAccess("issued in the future", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"iat": f.clock.Now().Add(10 * time.Minute).Unix(), "exp": f.clock.Now().Add(15 * time.Minute).Unix()})
		})},
		{"access token not valid before later", secRefusedAccess("not yet valid", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"nbf": f.clock.Now().Add(10 * time.Minute).Unix()})
		})},
		{"access token without jti", secRefusedAccess("required claim", func(f *secFixture) string { return f.forge(nil, map[string]any{"jti": nil}) })},
		{"access token without family (unrevocable)", secRefusedAccess("incomplete token", func(f *secFixture) string { return f.forge(nil, map[string]any{"family": nil}) })},
		{"access token with its payload widened", secRefusedAccess("signature not valid", func(f *secFixture) string {
			real := f.backendToken(secES, "system/Observation.r")
			parts := strings.Split(real, ".")
			var claims map[string]any
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(b, &claims)
			claims["scope"] = "system/*.cruds"
			return parts[0] + "." + secB64JSON(claims) + "." + parts[2]
		})},
		{"access token with its signature stripped", secRefusedAccess("signature not valid", func(f *secFixture) string {
			parts := strings.Split(f.backendToken(secES, "system/Patient.r"), ".")
			return parts[0] + "." + parts[1] + "."
		})},
		{"access token re-signed RS384 with the server's key", secRefusedAccess("algorithm not accepted", func(f *secFixture) string {
			return f.forge(map[string]any{"alg": "RS384"}, nil)
		})},
		{"access token with a duplicated header member", secRefusedAccess("malformed token", func(f *secFixture) string {
			key, kid := f.serverKey()
			hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","alg":"RS256","typ":"at+jwt","kid":"` + kid + `"}`))
			return secSignRaw(f.t, key, "RS256", hdr+"."+secB64JSON(f.accessClaims(nil)))
		})},
		{"ID token presented as an access token", func(t *testing.T, f *secFixture) {
			if f.patientIDTok == "" {
				t.Skip("needs the EHR launch's ID token")
			}
			secWantInvalidToken(t, "ID token", f.protectedRead(f.patientIDTok))
		}},
		{"client assertion presented as an access token", secRefusedAccess("not an access token", func(f *secFixture) string { return f.assertion(secES) })},
		{"backend token whose sub is not its client", secRefusedAccess("sub must be its client", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"sub": "admin"})
		})},
		{"user token of an account that does not exist", secRefusedAccess("account no longer registered", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"sub": "ghost", "username": "ghost", "client_id": secApp, "scope": "user/*.rs"})
		})},
		{"token older than its client's registration", secRefusedAccess("client no longer registered", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"iat": f.clock.Now().Add(-24 * time.Hour).Unix()})
		})},
		{"paths around the token check (dot segments, encodings, case, the public routes)", func(t *testing.T, f *secFixture) {
			host := strings.TrimPrefix(f.issuer, "http://")
			for _, p := range []string{"//fhir/Patient/e2e-pa", "/fhir//Patient/e2e-pa", "/fhir/./Patient/e2e-pa", "/x/../fhir/Patient/e2e-pa",
				"/fhir/Patient/e2e-pa/", "/FHIR/Patient/e2e-pa", "/fhir/%50atient/e2e-pa", "/fhir/Patient%2Fe2e-pa", "/fhir/metadata/../Patient/e2e-pa",
				"/fhir/metadata%2F..%2FPatient/e2e-pa", "/fhir/.well-known/smart-configuration/../../Patient/e2e-pa", "/fhir/Patient/e2e-pa;x",
				"/auth/../fhir/Patient/e2e-pa", "/fhir%2FPatient/e2e-pa", "/%66hir/Patient/e2e-pa", "/fhir/Patient/e2e-pa%00",
				"http://" + host + "/fhir/Patient/e2e-pa", "/healthz/../fhir/Patient/e2e-pa", "/metrics/../fhir/Patient"} {
				status, body := secRawGet(t, host, p)
				if (status != 401 && status != 404) || strings.Contains(body, "Alpha") {
					t.Errorf("GET %s without a token: %d %.200s", p, status, body)
				}
			}
		}},
		{"access token in the query string", func(t *testing.T, f *secFixture) {
			tok := f.backendToken(secES, "system/Patient.r")
			r := f.fhir("GET", "/Patient/e2e-pa?access_token="+tok, "", nil)
			if r.status != 400 || r.str("resourceType") != "OperationOutcome" || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_request") {
				t.Errorf("%d %q %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
			}
		}},
		{"refresh token presented as an access token", secRefusedAccess("malformed token", func(f *secFixture) string {
			if f.dr == nil {
				f.t.Skip("needs the logged-in browser")
			}
			return f.userTokens(f.t, f.dr, &secAuthz{scope: "offline_access user/*.rs"}, "", "").str("refresh_token")
		})},
		{"access token over 8 KiB", secRefusedAccess("malformed bearer token", func(f *secFixture) string {
			return f.forge(nil, map[string]any{"pad": strings.Repeat("x", 9<<10)})
		})},
	}
}

// secRefusedAssertion: the client-credentials request with the assertion is
// refused as invalid_client.
func secRefusedAssertion(why string, assertion func(f *secFixture) string) func(t *testing.T, f *secFixture) {
	return func(t *testing.T, f *secFixture) {
		a := assertion(f)
		f.secrets.add("client assertion", a)
		r := f.post("/auth/token", secBackendForm(a, ""), "")
		secWantOAuthError(t, "token endpoint", r, 401, "invalid_client")
		if !strings.Contains(r.str("error_description"), why) {
			t.Errorf("refused, but not for %q: %s", why, r.body)
		}
	}
}

// assertionClaims are valid assertion claims of secES; edit as accessClaims.
func (f *secFixture) assertionClaims(edit map[string]any) map[string]any {
	now := f.clock.Now()
	c := map[string]any{"iss": secES, "sub": secES, "aud": f.tokenURL, "exp": now.Add(2 * time.Minute).Unix(), "iat": now.Unix(), "jti": secRandomID()}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// esAssertion is secES's assertion signed with its key, header and claims edited.
func (f *secFixture) esAssertion(hdr, claims map[string]any) string {
	k := f.keys[secES].priv
	h := map[string]any{"alg": "ES384", "kid": k.KeyID(), "typ": "JWT"}
	for name, v := range hdr {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	return secSignJWS(f.t, k, h, f.assertionClaims(claims))
}

// attackerAssertion is secES's claims signed by the attacker's key.
func (f *secFixture) attackerAssertion(hdr map[string]any) string {
	h := map[string]any{"alg": "RS256", "kid": f.attackerKey.priv.KeyID(), "typ": "JWT"}
	for k, v := range hdr {
		h[k] = v
	}
	return secSignJWS(f.t, f.attackerKey.priv, h, f.assertionClaims(nil))
}

func secAssertionAttacks() []secAttack {
	return []secAttack{
		{"client assertion with alg none", secRefusedAssertion("algorithm not accepted", func(f *secFixture) string {
			return secSignJWS(f.t, nil, map[string]any{"alg": "none", "kid": f.keys[secES].priv.KeyID(), "typ": "JWT"}, f.assertionClaims(nil))
		})},
		{"client assertion HS256 keyed with the client's public JWKS", secRefusedAssertion("algorithm not accepted", func(f *secFixture) string {
			return secSignJWS(f.t, []byte(f.keys[secES].jwks), map[string]any{"alg": "HS256", "kid": f.keys[secES].priv.KeyID(), "typ": "JWT"}, f.assertionClaims(nil))
		})},
		{"client assertion of an unknown kid", secRefusedAssertion("no key of that kid", func(f *secFixture) string {
			return f.esAssertion(map[string]any{"kid": "no-such-kid"}, nil)
		})},
		{"client assertion with a jku to the attacker's keys", secRefusedAssertion("jku is not the client's registered JWKS URL", func(f *secFixture) string {
			return f.attackerAssertion(map[string]any{"jku": f.attacker.URL + "/jwks.json"})
		})},
		{"client assertion carrying its key in a jwk header", secRefusedAssertion("(jwk) is never used", func(f *secFixture) string {
			return f.attackerAssertion(map[string]any{"jwk": f.attackerPublic()})
		})},
		{"client assertion with an x5u to the attacker's certificate", secRefusedAssertion("(x5u) is never used", func(f *secFixture) string {
			return f.attackerAssertion(map[string]any{"x5u": f.attacker.URL + "/cert.pem"})
		})},
		{"client assertion carrying its certificate in an x5c header", secRefusedAssertion("(x5c) is never used", func(f *secFixture) string {
			return f.attackerAssertion(map[string]any{"x5c": []string{f.attackerCert()}})
		})},
		{"client assertion for another audience", secRefusedAssertion("aud must be the token endpoint", func(f *secFixture) string {
			return f.esAssertion(nil, map[string]any{"aud": f.base})
		})},
		{"client assertion whose iss is not its sub", secRefusedAssertion("sub must be the client id", func(f *secFixture) string {
			return f.esAssertion(nil, map[string]any{"sub": secRS})
		})},
		{"client assertion of another client signed with this key", secRefusedAssertion("no key of that kid", func(f *secFixture) string {
			return f.esAssertion(nil, map[string]any{"iss": secRS, "sub": secRS})
		})},
		{"client assertion expired past the skew", secRefusedAssertion("expired", func(f *secFixture) string {
			return f.esAssertion(nil, map[string]any{"exp": f.clock.Now().Add(-61 * time.Second).Unix(), "iat": f.clock.Now().Add(-3 * time.Minute).Unix()})
		})},
		{"client assertion living more than 5 minutes", secRefusedAssertion("more than 5 minutes ahead", func(f *secFixture) string {
			return f.esAssertion(nil, map[string]any{"exp": f.clock.Now().Add(10 * time.Minute).Unix()})
		})},
		{"client assertion without exp", secRefusedAssertion("required claim", func(f *secFixture) string { return f.esAssertion(nil, map[string]any{"exp": nil}) })},
		{"client assertion without jti", secRefusedAssertion("required claim", func(f *secFixture) string { return f.esAssertion(nil, map[string]any{"jti": nil}) })},
		{"client assertion replayed (same jti)", func(t *testing.T, f *secFixture) {
			a := f.assertion(secES)
			if r := f.post("/auth/token", secBackendForm(a, ""), ""); r.status != 200 {
				t.Fatalf("first use: %d %s", r.status, r.body)
			}
			secWantOAuthError(t, "second use", f.post("/auth/token", secBackendForm(a, ""), ""), 401, "invalid_client")
		}},
		{"client assertion ES256 on the P-384 key", secRefusedAssertion("does not fit the algorithm", func(f *secFixture) string {
			return f.esAssertion(map[string]any{"alg": "ES256"}, nil)
		})},
		{"client assertion with client_id naming another client", func(t *testing.T, f *secFixture) {
			form := secBackendForm(f.assertion(secES), "")
			form.Set("client_id", secRS)
			secWantOAuthError(t, "token endpoint", f.post("/auth/token", form, ""), 401, "invalid_client")
		}},
		{"server access token presented as a client assertion", secRefusedAssertion("typ JWT required", func(f *secFixture) string {
			return f.backendToken(secES, "system/Patient.r")
		})},
		{"client_secret_post instead of HTTP Basic", func(t *testing.T, f *secFixture) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {secWebRedirect}, "code_verifier": {strings.Repeat("v", 43)},
				"client_id": {secWeb}, "client_secret": {f.webSecret}}
			secWantOAuthError(t, "token endpoint", f.post("/auth/token", form, ""), 401, "invalid_client")
		}},
		{"confidential client by its client_id alone", func(t *testing.T, f *secFixture) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {secWeb}}
			secWantOAuthError(t, "token endpoint", f.post("/auth/token", form, ""), 401, "invalid_client")
		}},
		{"wrong client secret", func(t *testing.T, f *secFixture) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
			wrong := "A" + f.webSecret[1:]
			if wrong == f.webSecret {
				wrong = "B" + f.webSecret[1:]
			}
			r := f.post("/auth/token", form, secWeb+":"+wrong)
			secWantOAuthError(t, "token endpoint", r, 401, "invalid_client")
			if r.header.Get("WWW-Authenticate") != `Basic realm="dccfhir"` {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		}},
		{"client_credentials asked by a public app", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "token", f.post("/auth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {secApp}, "scope": {"system/*.rs"}}, ""), 400, "unauthorized_client")
		}},
		{"access token presented as a refresh token", func(t *testing.T, f *secFixture) {
			tok := f.backendToken(secES, "system/Patient.r")
			secWantOAuthError(t, "refresh", f.post("/auth/token", secRefreshForm(tok, secApp), ""), 400, "invalid_grant")
		}},
		{"server JWKS publishing a private key", func(t *testing.T, f *secFixture) {
			r := f.send(secRequest("GET", f.issuer+"/auth/jwks", ""))
			keys, _ := r.json["keys"].([]any)
			if r.status != 200 || len(keys) == 0 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, k := range keys {
				m, _ := k.(map[string]any)
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					if _, ok := m[private]; ok {
						t.Errorf("the published key %v has its private %s", m["kid"], private)
					}
				}
				if m["alg"] != "RS256" || m["kid"] == nil {
					t.Errorf("published key without alg RS256 or kid: %v", m)
				}
			}
		}},
		{"HTTP Basic and a client assertion at once", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "token endpoint", f.post("/auth/token", secBackendForm(f.assertion(secES), ""), secWeb+":"+f.webSecret), 400, "invalid_request")
		}},
		{"scope escalation by a backend client", func(t *testing.T, f *secFixture) {
			r := f.backend(secEHR, "system/*.cruds")
			if r.status != 200 || r.str("scope") != "system/Patient.r" {
				t.Fatalf("asked system/*.cruds of a client registered for system/Patient.r: %d %s", r.status, r.body)
			}
			if res := f.fhir("DELETE", "/Patient/e2e-pb", r.str("access_token"), nil); res.status != 403 {
				t.Errorf("the narrowed token deletes: %d", res.status)
			}
		}},
		{"introspection of another client's token", func(t *testing.T, f *secFixture) {
			tok := f.backendToken(secES, "system/Patient.r")
			r := f.post("/auth/introspect", url.Values{"client_id": {secApp}, "token": {tok}}, "")
			if r.status != 200 || r.json["active"] != false || len(r.json) != 1 {
				t.Errorf("%d %s", r.status, r.body)
			}
			// admin-cli may see it.
			r = f.post("/auth/introspect", url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {f.assertion(f.admin.ClientID)}, "token": {tok}}, "")
			if r.status != 200 || r.json["active"] != true || r.str("client_id") != secES {
				t.Errorf("admin-cli's introspection: %d %s", r.status, r.body)
			}
		}},
		{"client JWKS URL answering over 1 MiB", func(t *testing.T, f *secFixture) {
			k := newSecKey(t, "RS384", "big-key")
			big := newSecHitServer(t, []byte(`{"keys": [], "pad": "`+strings.Repeat("x", 1<<20)+`"}`))
			if _, err := f.reg.AddClient(f.ctx, auth.ClientSpec{ID: "e2e-bigjwks", Kind: "backend", JWKSURL: big.URL + "/jwks.json", Scopes: "system/Patient.r"}); err != nil {
				t.Fatal(err)
			}
			f.keys["e2e-bigjwks"] = k
			f.addPrivate("e2e-bigjwks key", k.priv)
			r := f.backend("e2e-bigjwks", "")
			secWantOAuthError(t, "token endpoint", r, 401, "invalid_client")
			if !strings.Contains(r.str("error_description"), "1 MiB") || big.count() != 1 {
				t.Errorf("%s (fetched %d times)", r.body, big.count())
			}
		}},
		{"unknown kids at a JWKS URL: one refetch a minute at most", func(t *testing.T, f *secFixture) {
			f.backendToken(secURL, "") // the set is cached
			k := f.keys[secURL].priv
			unknown := func() {
				t.Helper()
				h := map[string]any{"alg": "RS384", "kid": "rotated-" + secRandomID(), "typ": "JWT"}
				c := f.assertionClaims(map[string]any{"iss": secURL, "sub": secURL})
				secWantOAuthError(t, "unknown kid", f.post("/auth/token", secBackendForm(secSignJWS(t, k, h, c), ""), ""), 401, "invalid_client")
			}
			// A minute after the set was fetched: the first unknown kid
			// fetches it again, the next ones within the minute do not.
			f.clock.Advance(61 * time.Second)
			before := f.jwksServer.count()
			for range 5 {
				unknown()
			}
			if n := f.jwksServer.count() - before; n != 1 {
				t.Errorf("5 unknown kids fetched the set %d times, want 1", n)
			}
			f.clock.Advance(61 * time.Second)
			unknown()
			unknown()
			if n := f.jwksServer.count() - before; n != 2 {
				t.Errorf("a minute later: %d fetches, want 2", n)
			}
			if r := f.backend(secURL, ""); r.status != 200 {
				t.Errorf("the registered key after the attempts: %d %s", r.status, r.body)
			}
		}},
		{"revocation of another client's token", func(t *testing.T, f *secFixture) {
			tok := f.backendToken(secES, "system/Patient.r")
			if r := f.post("/auth/revoke", url.Values{"client_id": {secApp}, "token": {tok}}, ""); r.status != 200 {
				t.Errorf("revoke answers %d", r.status)
			}
			if r := f.protectedRead(tok); r.status != 200 {
				t.Errorf("another client revoked the token: %d", r.status)
			}
		}},
	}
}

// secFlowAttacks are the browser side's and the code exchange's.
func secFlowAttacks() []secAttack {
	// noRedirect: authorize answers an error page, never a redirect.
	noRedirect := func(a *secAuthz) func(t *testing.T, f *secFixture) {
		return func(t *testing.T, f *secFixture) {
			p := f.browser().get(f.authorizeURL(a))
			if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.body, "Demande refusée") {
				t.Errorf("%d %q %.300s", p.status, p.header.Get("Location"), p.body)
			}
		}
	}
	// redirectError: authorize sends the app an OAuth error, state untouched.
	redirectError := func(a *secAuthz, code string) func(t *testing.T, f *secFixture) {
		return func(t *testing.T, f *secFixture) {
			a.state = `"<script>&amp;` + secRandomID()
			p := f.browser().get(f.authorizeURL(a))
			u := p.appRedirect()
			if u == nil || u.Query().Get("error") != code || u.Query().Get("state") != a.state || u.Query().Get("code") != "" {
				t.Errorf("%d %q", p.status, p.header.Get("Location"))
			}
		}
	}
	// redirectErrorState is redirectError with the state given (not echoed
	// when it is refused for its size).
	redirectErrorState := func(a *secAuthz, code string) func(t *testing.T, f *secFixture) {
		return func(t *testing.T, f *secFixture) {
			p := f.browser().get(f.authorizeURL(a))
			if u := p.appRedirect(); u == nil || u.Query().Get("error") != code || u.Query().Get("code") != "" {
				t.Errorf("%d %q", p.status, p.header.Get("Location"))
			}
		}
	}
	// codeOf is a fresh code of secApp by the logged-in browser.
	codeOf := func(t *testing.T, f *secFixture, scope string) (*secAuthz, string) {
		t.Helper()
		if f.dr == nil {
			t.Skip("needs the logged-in browser")
		}
		a := &secAuthz{scope: scope}
		return a, f.dr.code(t, a, "", "").Get("code")
	}
	tooBig := strings.Repeat("a", 64<<10+1)
	return []secAttack{
		{"authorize of an unknown client", noRedirect(&secAuthz{client: "e2e-nobody", redirect: secAppRedirect, scope: "user/*.rs"})},
		{"authorize with an unregistered redirect_uri", noRedirect(&secAuthz{client: secApp, redirect: "https://evil.example/cb", scope: "user/*.rs"})},
		{"authorize with a redirect_uri extending the registered one", noRedirect(&secAuthz{client: secApp, redirect: secAppRedirect + "/../../evil", scope: "user/*.rs"})},
		{"authorize with a redirect_uri of another host sharing the prefix", noRedirect(&secAuthz{client: secApp, redirect: "https://app.e2e.example.evil.example/cb", scope: "user/*.rs"})},
		{"authorize with a redirect_uri differing in case", noRedirect(&secAuthz{client: secApp, redirect: "https://APP.e2e.example/cb", scope: "user/*.rs"})},
		{"authorize with a redirect_uri given twice", func(t *testing.T, f *secFixture) {
			u := f.authorizeURL(&secAuthz{scope: "user/*.rs"}) + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb")
			if p := f.browser().get(u); p.status != 400 || p.header.Get("Location") != "" {
				t.Errorf("%d %q", p.status, p.header.Get("Location"))
			}
		}},
		{"authorize of a backend client", noRedirect(&secAuthz{client: secES, redirect: secAppRedirect, scope: "system/*.rs"})},
		{"authorize with PKCE plain", redirectError(&secAuthz{scope: "user/*.rs", set: map[string]string{"code_challenge_method": "plain"}}, "invalid_request")},
		{"authorize without PKCE", redirectError(&secAuthz{scope: "user/*.rs", set: map[string]string{"code_challenge_method": "", "code_challenge": ""}}, "invalid_request")},
		{"authorize for another FHIR server (aud)", redirectError(&secAuthz{scope: "user/*.rs", set: map[string]string{"aud": "https://other.example/fhir"}}, "invalid_request")},
		{"authorize asking scopes never registered", redirectError(&secAuthz{scope: "system/*.cruds"}, "invalid_scope")},
		{"authorize with an implicit-flow response_type", redirectError(&secAuthz{scope: "user/*.rs", set: map[string]string{"response_type": "token"}}, "unsupported_response_type")},
		{"authorize with a state over 4096 bytes", redirectErrorState(&secAuthz{scope: "user/*.rs", state: strings.Repeat("s", 4097)}, "invalid_request")},
		{"launch id without the launch scope", func(t *testing.T, f *secFixture) {
			l := f.launch(f.backendToken(secEHR, ""), `{"patient": "Patient/e2e-pa"}`).str("launch")
			f.secrets.add("launch id", l)
			p := f.browser().get(f.authorizeURL(&secAuthz{scope: "patient/*.rs", launch: l}))
			if u := p.appRedirect(); u == nil || u.Query().Get("error") != "invalid_scope" {
				t.Errorf("%d %q", p.status, p.header.Get("Location"))
			}
		}},
		{"authorize POST over 64 KiB", func(t *testing.T, f *secFixture) {
			if p := f.browser().post("/auth/authorize", url.Values{"client_id": {secApp}, "pad": {tooBig}}); p.status != 413 || p.header.Get("Location") != "" {
				t.Errorf("%d %q", p.status, p.header.Get("Location"))
			}
		}},
		{"state passed back untouched", func(t *testing.T, f *secFixture) {
			if f.dr == nil {
				t.Skip("needs the logged-in browser")
			}
			a := &secAuthz{scope: "user/*.rs", state: "a b+c%2Fd&e=f\u00e9\u202e<>\"'\xff\xfe" + secRandomID()}
			if got := f.dr.code(t, a, "", "").Get("state"); got != a.state {
				t.Errorf("state %q came back %q", a.state, got)
			}
		}},
		{"code exchanged with another redirect_uri", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "user/*.rs")
			a.redirect = secAppRedirect + "/other"
			secWantOAuthError(t, "exchange", f.exchange(a, code, ""), 400, "invalid_grant")
		}},
		{"code exchanged with a wrong PKCE verifier", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "user/*.rs")
			a.verifier = strings.Repeat("A", 43)
			secWantOAuthError(t, "exchange", f.exchange(a, code, ""), 400, "invalid_grant")
		}},
		{"code exchanged with the challenge as verifier (plain)", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "user/*.rs")
			a.verifier = secS256(a.verifier)
			secWantOAuthError(t, "exchange", f.exchange(a, code, ""), 400, "invalid_grant")
		}},
		{"code exchanged by another client", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "user/*.rs")
			w := &secAuthz{client: secWeb, redirect: secAppRedirect, verifier: a.verifier}
			secWantOAuthError(t, "exchange", f.exchange(w, code, secWeb+":"+f.webSecret), 400, "invalid_grant")
		}},
		{"code reused: the tokens it gave are revoked", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "offline_access user/*.rs")
			first := f.exchange(a, code, "")
			if first.status != 200 {
				t.Fatalf("first exchange: %d %s", first.status, first.body)
			}
			secWantOAuthError(t, "second exchange", f.exchange(a, code, ""), 400, "invalid_grant")
			secWantInvalidToken(t, "the first exchange's access token", f.protectedRead(first.str("access_token")))
			secWantOAuthError(t, "the first exchange's refresh token", f.post("/auth/token", secRefreshForm(first.str("refresh_token"), secApp), ""), 400, "invalid_grant")
		}},
		{"code exchanged after 60 s", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "user/*.rs")
			f.clock.Advance(61 * time.Second)
			secWantOAuthError(t, "exchange", f.exchange(a, code, ""), 400, "invalid_grant")
		}},
		{"refresh token presented by another client", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "offline_access user/*.rs")
			rt := f.exchange(a, code, "").str("refresh_token")
			secWantOAuthError(t, "refresh by e2e-web", f.post("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, secWeb+":"+f.webSecret), 400, "invalid_grant")
			if r := f.post("/auth/token", secRefreshForm(rt, secApp), ""); r.status != 200 {
				t.Errorf("the rightful client after the attempt: %d %s", r.status, r.body)
			}
		}},
		{"refresh asking more than was granted", func(t *testing.T, f *secFixture) {
			a, code := codeOf(t, f, "offline_access user/Patient.rs")
			rt := f.exchange(a, code, "").str("refresh_token")
			form := secRefreshForm(rt, secApp)
			form.Set("scope", "user/*.cruds")
			secWantOAuthError(t, "refresh", f.post("/auth/token", form, ""), 400, "invalid_scope")
		}},
		{"token request with a parameter given twice", func(t *testing.T, f *secFixture) {
			body := secBackendForm(f.assertion(secES), "system/Patient.r").Encode() + "&scope=" + url.QueryEscape("system/*.cruds")
			req, _ := http.NewRequest("POST", f.tokenURL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := f.send(req)
			f.keepTokens(r)
			secWantOAuthError(t, "token", r, 400, "invalid_request")
		}},
		{"password login to a Pro Santé Connect account", func(t *testing.T, f *secFixture) {
			b := f.browser()
			p := b.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			if r := b.login(t, p, "psc-899700218896", ""); !r.isLogin() || r.alert() == "" {
				t.Errorf("an empty password: %d", r.status)
			}
		}},
		{"login posted without its CSRF token", func(t *testing.T, f *secFixture) {
			b := f.browser()
			p := b.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			form := secHiddenInputs(p)
			form.Del("csrf_token")
			form.Set("username", secUser)
			form.Set("password", secPassword)
			if r := b.post("/auth/login", form); r.status != 403 || r.isConsent() {
				t.Errorf("%d %.200s", r.status, r.body)
			}
		}},
		{"login posted with another session's CSRF token", func(t *testing.T, f *secFixture) {
			victim, attacker := f.browser(), f.browser()
			vp := victim.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			ap := attacker.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			form := secHiddenInputs(vp)
			form.Set("csrf_token", secHiddenInputs(ap).Get("csrf_token"))
			form.Set("username", secUser)
			form.Set("password", secPassword)
			if r := victim.post("/auth/login", form); r.status != 403 || r.isConsent() {
				t.Errorf("%d %.200s", r.status, r.body)
			}
		}},
		{"session fixation: a cookie planted before login", func(t *testing.T, f *secFixture) {
			victim, attacker := f.browser(), f.browser()
			attacker.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			srv, _ := url.Parse(f.issuer + "/auth/")
			victim.jar.SetCookies(srv, attacker.jar.Cookies(srv)) // the attacker's session, planted
			// The victim logs in with the planted cookie.
			p := victim.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			if v, a := victim.jar.Cookies(srv), attacker.jar.Cookies(srv); len(v) != 1 || len(a) != 1 || v[0].Value != a[0].Value {
				t.Fatalf("the cookie was not planted: %d / %d cookies", len(v), len(a))
			}
			if p = victim.login(t, p, secUser, secPassword); !p.isConsent() {
				t.Fatalf("victim's login: %d %q", p.status, p.alert())
			}
			// The attacker's cookie is worth nothing after it.
			if p := attacker.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"})); !p.isLogin() {
				t.Errorf("the planted session is logged in: %d", p.status)
			}
		}},
		{"login for a pending request of another browser", func(t *testing.T, f *secFixture) {
			victim, attacker := f.browser(), f.browser()
			vp := victim.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			ap := attacker.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			form := secHiddenInputs(ap)
			form.Set("pending", secHiddenInputs(vp).Get("pending"))
			form.Set("username", secUser)
			form.Set("password", secPassword)
			if r := attacker.post("/auth/login", form); r.status != 400 || r.isConsent() || r.appRedirect() != nil {
				t.Errorf("%d %.200s", r.status, r.body)
			}
		}},
		{"consent page framed by another site (clickjacking)", func(t *testing.T, f *secFixture) {
			if f.dr == nil {
				t.Skip("needs the logged-in browser")
			}
			p := f.dr.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			if !p.isConsent() || p.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				!strings.Contains(p.header.Get("Cache-Control"), "no-store") || p.header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("consent page headers: %v", p.header)
			}
		}},
		{"cross-origin calls from a site that is no registered app", func(t *testing.T, f *secFixture) {
			tok := f.backendToken(secES, "system/Patient.r")
			call := func(method, u, origin string, hdr ...string) *secResp {
				req, _ := http.NewRequest(method, u, nil)
				req.Header.Set("Origin", origin)
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				return f.send(req)
			}
			for _, origin := range []string{"https://evil.example", "https://app.e2e.example.evil.example", "null", "http://app.e2e.example"} {
				for _, r := range []*secResp{
					call("GET", f.base+"/Patient/e2e-pa", origin, "Authorization", "Bearer "+tok),
					call("OPTIONS", f.base+"/Patient/e2e-pa", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization"),
					call("OPTIONS", f.tokenURL, origin, "Access-Control-Request-Method", "POST"),
				} {
					if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
						t.Errorf("origin %s allowed (%q)", origin, got)
					}
				}
			}
			// The registered app's origin is.
			if r := call("GET", f.base+"/Patient/e2e-pa", "https://app.e2e.example", "Authorization", "Bearer "+tok); r.header.Get("Access-Control-Allow-Origin") != "https://app.e2e.example" ||
				r.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("the registered app's origin: %v", r.header)
			}
		}},
		{"consent approved from another browser", func(t *testing.T, f *secFixture) {
			if f.dr == nil {
				t.Skip("needs the logged-in browser")
			}
			p := f.dr.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			if !p.isConsent() {
				t.Fatalf("no consent page: %d", p.status)
			}
			r := f.browser().submit(p, "/auth/consent", map[string]string{"decision": "allow"})
			if r.status != 403 || r.appRedirect() != nil {
				t.Errorf("%d %q", r.status, r.header.Get("Location"))
			}
		}},
		{"launch id used twice", func(t *testing.T, f *secFixture) {
			if f.dr == nil {
				t.Skip("needs the logged-in browser")
			}
			r := f.launch(f.backendToken(secEHR, ""), `{"patient": "Patient/e2e-pa"}`)
			l := r.str("launch")
			f.secrets.add("launch id", l)
			f.userTokens(t, f.dr, &secAuthz{scope: "launch patient/*.rs", launch: l}, "", "")
			a := &secAuthz{scope: "launch patient/*.rs", launch: l, state: "s-" + secRandomID()}
			p := f.dr.get(f.authorizeURL(a))
			if u := p.appRedirect(); u == nil || u.Query().Get("error") != "invalid_request" || u.Query().Get("code") != "" {
				t.Errorf("%d %q", p.status, p.header.Get("Location"))
			}
		}},
		{"launch created by a backend client without --launch", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "launch", f.launch(f.backendToken(secPlain, ""), `{"patient": "Patient/e2e-pa"}`), 403, "insufficient_scope")
		}},
		{"launch created with a user's token", func(t *testing.T, f *secFixture) {
			if f.patientToken == "" {
				t.Skip("needs a user token")
			}
			secWantOAuthError(t, "launch", f.launch(f.patientToken, `{"patient": "Patient/e2e-pb"}`), 403, "insufficient_scope")
		}},
		{"launch with an encounter of another patient", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "launch", f.launch(f.backendToken(secEHR, ""), `{"patient": "Patient/e2e-pb", "encounter": "Encounter/e2e-ea"}`), 400, "invalid_request")
		}},
		{"launch for a patient that does not exist", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "launch", f.launch(f.backendToken(secEHR, ""), `{"patient": "Patient/e2e-nobody"}`), 404, "invalid_request")
		}},
		{"launch created without a token", func(t *testing.T, f *secFixture) {
			r := f.launch("", `{"patient": "Patient/e2e-pa"}`)
			secWantOAuthError(t, "launch", r, 401, "invalid_token")
		}},
		{"token endpoint body over 64 KiB", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "token", f.post("/auth/token", url.Values{"grant_type": {"client_credentials"}, "pad": {tooBig}}, ""), 413, "invalid_request")
		}},
		{"revocation body over 64 KiB", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "revoke", f.post("/auth/revoke", url.Values{"client_id": {secApp}, "token": {tooBig}}, ""), 413, "invalid_request")
		}},
		{"introspection body over 64 KiB", func(t *testing.T, f *secFixture) {
			secWantOAuthError(t, "introspect", f.post("/auth/introspect", url.Values{"client_id": {secApp}, "token": {tooBig}}, ""), 413, "invalid_request")
		}},
		{"launch body over 64 KiB", func(t *testing.T, f *secFixture) {
			r := f.launch(f.backendToken(secEHR, ""), `{"patient": "Patient/e2e-pa", "encounter": "`+tooBig+`"}`)
			secWantOAuthError(t, "launch", r, 413, "invalid_request")
		}},
		{"login form over 64 KiB", func(t *testing.T, f *secFixture) {
			b := f.browser()
			p := b.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
			r := b.submit(p, "/auth/login", map[string]string{"username": secUser, "password": tooBig})
			if r.status != 413 || r.isConsent() {
				t.Errorf("%d", r.status)
			}
		}},
		{"password-reset form over 64 KiB", func(t *testing.T, f *secFixture) {
			b := f.browser()
			p := b.get(f.issuer + "/auth/password-reset")
			if r := b.submit(p, "/auth/password-reset", map[string]string{"username": tooBig}); r.status != 413 {
				t.Errorf("%d", r.status)
			}
		}},
		{"reset link that was never sent", func(t *testing.T, f *secFixture) {
			if p := f.browser().get(f.issuer + "/auth/password-reset/confirm?token=" + secRandomID() + secRandomID()); p.status != 400 || strings.Contains(p.body, `name="password"`) {
				t.Errorf("%d", p.status)
			}
		}},
	}
}

// secPSCRefused: a Pro Santé Connect login with the provider misbehaving
// as b says ends in an error page saying why, and the app gets no code.
func secPSCRefused(why string, b psctest.Behaviour) func(t *testing.T, f *secFixture) {
	return func(t *testing.T, f *secFixture) {
		f.psc.Set(b)
		defer f.psc.Set(psctest.Behaviour{})
		p := f.browser().get(f.authorizeURL(&secAuthz{scope: "openid user/*.rs", idp: "psc"}))
		f.secrets.add("ID token of Pro Santé Connect", f.psc.LastIDToken())
		if p.status != 403 || !strings.Contains(p.body, "Connexion Pro Santé Connect impossible") || !strings.Contains(html.UnescapeString(p.body), why) ||
			p.appRedirect() != nil || p.isConsent() {
			t.Errorf("%d %q %.400s", p.status, p.header.Get("Location"), p.body)
		}
	}
}

// pscCallbackURL starts a Pro Santé Connect login in a new browser and
// stops at the provider's redirect back: the callback URL.
func (f *secFixture) pscCallbackURL(t *testing.T) (*secBrowser, string) {
	t.Helper()
	b := f.browser()
	b.stop = func(u *url.URL) bool { return u.Path == "/auth/psc/callback" }
	p := b.get(f.authorizeURL(&secAuthz{scope: "openid user/*.rs", idp: "psc"}))
	b.stop = nil
	loc := p.header.Get("Location")
	if p.status != http.StatusFound || !strings.Contains(loc, "/auth/psc/callback?") {
		t.Fatalf("no redirect to the callback: %d %q", p.status, loc)
	}
	return b, loc
}

func secPSCAttacks() []secAttack {
	return []secAttack{
		{"Pro Santé Connect ID token with a wrong nonce", secPSCRefused("id_token (nonce mismatch)", psctest.Behaviour{WrongNonce: true})},
		{"Pro Santé Connect ID token for another audience", secPSCRefused("id_token (wrong audience)", psctest.Behaviour{Audience: []string{"someone-else"}, AZP: "-"})},
		{"Pro Santé Connect ID token of another issuer", secPSCRefused("id_token (wrong issuer)", psctest.Behaviour{Issuer: "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"})},
		{"Pro Santé Connect ID token expired", secPSCRefused("id_token (expired", psctest.Behaviour{ExpiresIn: -2 * time.Minute})},
		{"Pro Santé Connect ID token with alg none", secPSCRefused("id_token (signature algorithm not accepted)", psctest.Behaviour{Alg: "none"})},
		{"Pro Santé Connect ID token HS256 with another secret", secPSCRefused("id_token (bad signature)", psctest.Behaviour{Alg: "HS256", HMACSecret: "not-the-client-secret"})},
		{"Pro Santé Connect ID token of an unknown kid", secPSCRefused("id_token (unknown signing key)", psctest.Behaviour{UnknownKid: true})},
		{"Pro Santé Connect ID token with an acr outside the set", secPSCRefused("id_token (authentication level not accepted)", psctest.Behaviour{ACR: "eidas0"})},
		{"Pro Santé Connect userinfo of another subject", secPSCRefused("userinfo (userinfo subject differs", psctest.Behaviour{UserinfoSub: "f:someone-else:899700000000"})},
		{"Pro Santé Connect callback replayed", func(t *testing.T, f *secFixture) {
			b, cb := f.pscCallbackURL(t)
			if p := b.get(cb); !p.isConsent() {
				t.Fatalf("first callback: %d %.300s", p.status, p.body)
			}
			if p := b.get(cb); p.status != 400 || p.isConsent() {
				t.Errorf("replayed callback: %d", p.status)
			}
		}},
		{"Pro Santé Connect callback opened in another browser", func(t *testing.T, f *secFixture) {
			_, cb := f.pscCallbackURL(t)
			if p := f.browser().get(cb); p.status != 400 || p.isConsent() {
				t.Errorf("%d %.300s", p.status, p.body)
			}
		}},
		{"Pro Santé Connect callback with a forged state", func(t *testing.T, f *secFixture) {
			_, cb := f.pscCallbackURL(t)
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", secRandomID())
			u.RawQuery = q.Encode()
			if p := f.browser().get(u.String()); p.status != 400 || p.isConsent() {
				t.Errorf("%d", p.status)
			}
		}},
	}
}

// secRawGet sends the request line as written (no client cleans the path).
func secRawGet(t *testing.T, host, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func secRequest(method, u, body string) *http.Request {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	return req
}
