package auth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// SMART Backend Services with an ES384 key registered as a JWKS and an
// RS384 key behind a JWKS URL: each gets a token the resource side accepts.
func TestBackendServices(t *testing.T) {
	e := newEnv(t)
	es := newClientKeyFor(t, jwa.ES384, "es-1")
	e.addClient(ClientSpec{ID: "lab", Kind: "backend", JWKS: es.jwks, Scopes: "system/Observation.cruds system/Patient.rs"})
	rs := newClientKeyFor(t, jwa.RS384, "rs-1")
	ks := newKeyServer(t, rs.jwks)
	e.addClient(ClientSpec{ID: "ehr", Kind: "backend", JWKSURL: ks.URL + "/jwks.json", Scopes: "system/*.rs"})

	for _, tc := range []struct {
		client string
		key    *clientKey
		scope  string
		want   string
	}{
		{"lab", es, "system/Observation.rs", "system/Observation.rs"},
		{"ehr", rs, "system/Patient.rs", "system/Patient.rs"},
		{"lab", es, "", "system/Observation.cruds system/Patient.rs"},
	} {
		a := e.post("/auth/token", backendForm(signJWS(t, tc.key.priv, tc.key.header(), e.assertionClaims(tc.client)), tc.scope), "")
		if a.status != 200 {
			t.Fatalf("%s: %d %s", tc.client, a.status, a.raw)
		}
		if a.str("token_type") != "Bearer" || !sameScopes(a.str("scope"), tc.want) || a.body["expires_in"].(float64) != 300 {
			t.Errorf("%s: %s", tc.client, a.raw)
		}
		if a.body["refresh_token"] != nil || a.body["id_token"] != nil {
			t.Errorf("%s: a backend token response has no refresh or ID token: %s", tc.client, a.raw)
		}
		if cc, p := a.header.Get("Cache-Control"), a.header.Get("Pragma"); cc != "no-store" || p != "no-cache" {
			t.Errorf("headers %q %q", cc, p)
		}
		w := e.whoami(a.str("access_token"))
		if w.status != 200 || w.str("client") != tc.client || w.str("sub") != tc.client || w.str("user") != "" {
			t.Errorf("%s: whoami %d %s", tc.client, w.status, w.raw)
		}
	}
	if n := ks.count(); n != 1 {
		t.Errorf("JWKS URL fetched %d times, want 1 (cached)", n)
	}
}

// The JWKS URL cache: Cache-Control honoured, an unknown kid refetched at
// most once a minute, never more than 1 MiB read, redirects not followed.
func TestJWKSURLCache(t *testing.T) {
	e := newEnv(t)
	k1 := newClientKeyFor(t, jwa.RS384, "k1")
	ks := newKeyServer(t, k1.jwks)
	e.addClient(ClientSpec{ID: "sys", Kind: "backend", JWKSURL: ks.URL + "/k", Scopes: "system/*.rs"})
	token := func(k *clientKey) int {
		return e.post("/auth/token", backendForm(signJWS(t, k.priv, k.header(), e.assertionClaims("sys")), ""), "").status
	}
	if s := token(k1); s != 200 || ks.count() != 1 {
		t.Fatalf("first: %d, %d fetches", s, ks.count())
	}
	// A new key, published: the unknown kid is refetched only after a minute.
	k2 := newClientKeyFor(t, jwa.RS384, "k2")
	ks.set(k2.jwks, "")
	if s := token(k2); s != 401 || ks.count() != 1 {
		t.Fatalf("unknown kid within a minute: %d, %d fetches", s, ks.count())
	}
	e.clock.Add(61 * time.Second)
	if s := token(k2); s != 200 || ks.count() != 2 {
		t.Fatalf("unknown kid after a minute: %d, %d fetches", s, ks.count())
	}
	// no-store: fetched again on each use (at most once a second).
	ks.set(k2.jwks, "no-store")
	e.clock.Add(5 * time.Minute) // the set fetched without Cache-Control expires
	token(k2)
	e.clock.Add(2 * time.Second)
	token(k2)
	e.clock.Add(500 * time.Millisecond)
	token(k2)
	if n := ks.count(); n != 4 {
		t.Errorf("no-store: %d fetches, want 4", n)
	}
	// max-age=600: kept 10 minutes.
	ks.set(k2.jwks, "max-age=600")
	e.clock.Add(2 * time.Second)
	token(k2)
	e.clock.Add(5 * time.Minute)
	token(k2)
	if n := ks.count(); n != 5 {
		t.Errorf("max-age: %d fetches, want 5", n)
	}
	e.clock.Add(6 * time.Minute)
	token(k2)
	if n := ks.count(); n != 6 {
		t.Errorf("max-age expired: %d fetches, want 6", n)
	}

	// Over 1 MiB: refused.
	big := newKeyServer(t, []byte(`{"keys":[],"pad":"`+strings.Repeat("x", jwksMaxBytes)+`"}`))
	e.addClient(ClientSpec{ID: "big", Kind: "backend", JWKSURL: big.URL, Scopes: "system/*.rs"})
	if a := e.post("/auth/token", backendForm(signJWS(t, k1.priv, k1.header(), e.assertionClaims("big")), ""), ""); a.status != 401 || !strings.Contains(a.str("error_description"), "1 MiB") {
		t.Errorf("big JWKS: %d %s", a.status, a.raw)
	}
}

// Every way a client assertion can be wrong is invalid_client (or the
// grant's own error), each refused by its own check.
func TestAssertionAttacks(t *testing.T) {
	e := newEnv(t)
	k := newClientKeyFor(t, jwa.ES384, "main")
	ks := newKeyServer(t, k.jwks)
	e.addClient(ClientSpec{ID: "lab", Kind: "backend", JWKS: k.jwks, Scopes: "system/Observation.cruds"})
	e.addClient(ClientSpec{ID: "viajku", Kind: "backend", JWKSURL: ks.URL + "/registered", Scopes: "system/Observation.rs"})
	e.addClient(ClientSpec{ID: "other", Kind: "backend", JWKS: newClientKeyFor(t, jwa.ES384, "o").jwks, Scopes: "system/Observation.rs"})
	secret := e.addClient(ClientSpec{ID: "webapp", Kind: "confidential", RedirectURIs: []string{"https://app.example/cb"}, Scopes: "user/*.rs"})
	// A P-256 key registered without alg: ES384 must still not verify with it.
	p256 := newClientKeyFor(t, jwa.ES256, "p256")
	var noAlg map[string][]map[string]any
	_ = json.Unmarshal(p256.jwks, &noAlg)
	delete(noAlg["keys"][0], "alg")
	noAlgJWKS, _ := json.Marshal(noAlg)
	e.addClient(ClientSpec{ID: "p256", Kind: "backend", JWKS: noAlgJWKS, Scopes: "system/Observation.rs"})
	rsaSameKid := newClientKeyFor(t, jwa.RS384, "main")
	impostor := newClientKeyFor(t, jwa.ES384, "main")
	attacker := newClientKeyFor(t, jwa.ES384, "evil")
	evilServer := newKeyServer(t, attacker.jwks)
	pubJWK, _ := attacker.priv.PublicKey()

	var pubDER []byte
	{
		var raw any
		kp, _ := k.priv.PublicKey()
		_ = kp.Raw(&raw)
		pubDER, _ = x509.MarshalPKIXPublicKey(raw)
	}
	claims := func() map[string]any { return e.assertionClaims("lab") }
	sign := func(hdr, c map[string]any) string { return signJWS(t, k.priv, hdr, c) }
	replayed := sign(k.header(), claims())
	if a := e.post("/auth/token", backendForm(replayed, ""), ""); a.status != 200 {
		t.Fatalf("valid assertion: %d %s", a.status, a.raw)
	}
	now := e.clock.Now()

	cases := []struct {
		name      string
		form      func() (assertion string, extra map[string]string)
		basic     string
		wantError string
		wantIn    string // in error_description
	}{
		{"alg none", func() (string, map[string]string) {
			return b64json(with(k.header(), "alg", "none")) + "." + b64json(claims()) + ".", nil
		}, "", "invalid_client", "algorithm"},
		{"HS256 keyed with the client's public key", func() (string, map[string]string) {
			return hs256(with(k.header(), "alg", "HS256"), claims(), pubDER), nil
		}, "", "invalid_client", "algorithm"},
		{"HS256 keyed with the client's JWKS", func() (string, map[string]string) {
			return hs256(with(k.header(), "alg", "HS256"), claims(), k.jwks), nil
		}, "", "invalid_client", "algorithm"},
		{"unknown kid", func() (string, map[string]string) {
			return sign(with(k.header(), "kid", "nope"), claims()), nil
		}, "", "invalid_client", "no key of that kid"},
		{"missing kid", func() (string, map[string]string) {
			return sign(with(k.header(), "kid", nil), claims()), nil
		}, "", "invalid_client", "kid required"},
		{"missing typ", func() (string, map[string]string) {
			return sign(with(k.header(), "typ", nil), claims()), nil
		}, "", "invalid_client", "typ JWT"},
		{"jku not the registered JWKS URL", func() (string, map[string]string) {
			c := with(e.assertionClaims("viajku"))
			return sign(with(k.header(), "jku", evilServer.URL), c), nil
		}, "", "invalid_client", "jku"},
		{"jku on a client registered by JWKS", func() (string, map[string]string) {
			return sign(with(k.header(), "jku", ks.URL+"/registered"), claims()), nil
		}, "", "invalid_client", "jku"},
		{"x5u header", func() (string, map[string]string) {
			return sign(with(k.header(), "x5u", evilServer.URL), claims()), nil
		}, "", "invalid_client", "x5u"},
		{"jwk header (embedded key)", func() (string, map[string]string) {
			return signJWS(t, attacker.priv, with(attacker.header(), "jwk", pubJWK, "kid", "main"), claims()), nil
		}, "", "invalid_client", "jwk"},
		{"x5c header", func() (string, map[string]string) {
			return sign(with(k.header(), "x5c", []string{base64.StdEncoding.EncodeToString(pubDER)}), claims()), nil
		}, "", "invalid_client", "x5c"},
		{"crit header", func() (string, map[string]string) {
			return sign(with(k.header(), "crit", []string{"exp"}), claims()), nil
		}, "", "invalid_client", "crit"},
		{"signed by another key of the same kid", func() (string, map[string]string) {
			return signJWS(t, impostor.priv, impostor.header(), claims()), nil
		}, "", "invalid_client", "signature"},
		{"RS384 under the kid of an EC key", func() (string, map[string]string) {
			return signJWS(t, rsaSameKid.priv, with(rsaSameKid.header(), "alg", "RS384"), claims()), nil
		}, "", "invalid_client", "does not fit"},
		{"ES384 with a P-256 key", func() (string, map[string]string) {
			return signJWS(t, p256.priv, with(p256.header(), "alg", "ES384"), e.assertionClaims("p256")), nil
		}, "", "invalid_client", "does not fit"},
		{"payload changed after signing", func() (string, map[string]string) {
			s := sign(k.header(), claims())
			p := strings.Split(s, ".")
			p[1] = b64json(with(claims(), "exp", now.Add(4*time.Minute).Unix()))
			return strings.Join(p, "."), nil
		}, "", "invalid_client", "signature"},
		{"iss of another client", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "iss", "other", "sub", "other")), nil
		}, "", "invalid_client", "no key of that kid"},
		{"sub differs from iss", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "sub", "other")), nil
		}, "", "invalid_client", "sub"},
		{"iss of no client", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "iss", "ghost", "sub", "ghost")), nil
		}, "", "invalid_client", "unknown client"},
		{"client_id differs from iss", func() (string, map[string]string) {
			return sign(k.header(), claims()), map[string]string{"client_id": "other"}
		}, "", "invalid_client", "client_id"},
		{"aud the FHIR base", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "aud", e.base)), nil
		}, "", "invalid_client", "aud"},
		{"aud missing", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "aud", nil)), nil
		}, "", "invalid_client", "aud"},
		{"expired beyond the skew", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "exp", now.Add(-61*time.Second).Unix())), nil
		}, "", "invalid_client", "expired"},
		{"exp missing", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "exp", nil)), nil
		}, "", "invalid_client", "required claim"},
		{"exp more than 5 minutes ahead", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "exp", now.Add(10*time.Minute).Unix())), nil
		}, "", "invalid_client", "5 minutes"},
		{"jti missing", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "jti", nil)), nil
		}, "", "invalid_client", "required claim"},
		{"jti replayed", func() (string, map[string]string) {
			return replayed, nil
		}, "", "invalid_client", "jti already used"},
		{"nbf in the future", func() (string, map[string]string) {
			return sign(k.header(), with(claims(), "nbf", now.Add(3*time.Minute).Unix())), nil
		}, "", "invalid_client", "not yet valid"},
		{"JSON serialization", func() (string, map[string]string) {
			p := strings.Split(sign(k.header(), claims()), ".")
			b, _ := json.Marshal(map[string]any{"protected": p[0], "payload": p[1], "signature": p[2]})
			return string(b), nil
		}, "", "invalid_client", "malformed"},
		{"duplicate header member", func() (string, map[string]string) {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES384","kid":"main","typ":"JWT","alg":"none"}`))
			p := strings.Split(sign(k.header(), claims()), ".")
			return h + "." + p[1] + "." + p[2], nil
		}, "", "invalid_client", "malformed"},
		{"wrong client_assertion_type", func() (string, map[string]string) {
			return sign(k.header(), claims()), map[string]string{"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}
		}, "", "invalid_client", "client_assertion_type"},
		{"assertion and Basic at once", func() (string, map[string]string) {
			return sign(k.header(), claims()), nil
		}, "webapp:" + secret, "invalid_request", "more than one"},
		{"client_credentials by a confidential client", func() (string, map[string]string) {
			return "", map[string]string{"client_assertion": "", "client_assertion_type": ""}
		}, "webapp:" + secret, "unauthorized_client", "backend"},
		{"scope the client may not have", func() (string, map[string]string) {
			return sign(k.header(), claims()), map[string]string{"scope": "system/Patient.rs"}
		}, "", "invalid_scope", "none of the scopes"},
		{"patient scope asked by a backend", func() (string, map[string]string) {
			return sign(k.header(), claims()), map[string]string{"scope": "patient/Observation.rs"}
		}, "", "invalid_scope", "none of the scopes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertion, extra := tc.form()
			form := backendForm(assertion, "")
			for k, v := range extra {
				if v == "" {
					form.Del(k)
				} else {
					form.Set(k, v)
				}
			}
			a := e.post("/auth/token", form, tc.basic)
			if a.str("error") != tc.wantError || !strings.Contains(a.str("error_description"), tc.wantIn) {
				t.Fatalf("got %d %s, want %s (%s)", a.status, a.raw, tc.wantError, tc.wantIn)
			}
			if tc.wantError == "invalid_client" && a.status != 401 {
				t.Errorf("status %d, want 401", a.status)
			}
			if a.body["access_token"] != nil {
				t.Errorf("a token was issued")
			}
		})
	}
	if n := evilServer.count(); n != 0 {
		t.Errorf("a URL named in a token was fetched %d times", n)
	}
}

var _ = jwk.NewSet
