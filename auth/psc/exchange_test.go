package psc_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/auth/psc"
	"github.com/dccfhir/dccfhir/auth/psc/psctest"
)

// clock is a movable clock shared by the provider and the relying party.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const redirectURL = "https://dcc.example.fr/auth/psc/callback"

type rig struct {
	t     *testing.T
	p     *psctest.Provider
	rp    *psc.Provider
	clock *clock
}

// setup starts a provider behaving as b and a relying party configured
// for it (edited by edit).
func setup(t *testing.T, b psctest.Behaviour, edit func(*psc.Config)) *rig {
	t.Helper()
	c := &clock{t: time.Now()}
	p := psctest.Start(t, psctest.Options{RedirectURIs: []string{redirectURL}, Now: c.now})
	p.Set(b)
	cfg := psc.Config{DiscoveryURL: p.DiscoveryURL, ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: redirectURL, Now: c.now}
	if edit != nil {
		edit(&cfg)
	}
	rp, err := psc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, p: p, rp: rp, clock: c}
}

func s256(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize runs the browser's part: the authorization request, and the
// provider's redirect back; it returns the redirect's query.
func (r *rig) authorize(state, nonce, verifier string) url.Values {
	r.t.Helper()
	resp, err := noFollow.Get(r.rp.AuthURL(state, nonce, verifier))
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		r.t.Fatalf("authorize: %d", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), redirectURL+"?") {
		r.t.Fatalf("authorize redirected to %q", resp.Header.Get("Location"))
	}
	if back.Query().Get("state") != state {
		r.t.Fatalf("state came back as %q", back.Query().Get("state"))
	}
	return back.Query()
}

// login is a whole login: authorize, then Exchange; it also returns the code.
func (r *rig) login() (*psc.Identity, string, error) {
	r.t.Helper()
	state, nonce, verifier := random(), random(), random()
	code := r.authorize(state, nonce, verifier).Get("code")
	id, err := r.rp.Exchange(context.Background(), code, verifier, nonce)
	return id, code, err
}

func TestAuthURL(t *testing.T) {
	r := setup(t, psctest.Behaviour{}, nil)
	r.authorize("s-1", "n-1", "the-verifier-of-this-login-0123456789abcdef")
	q := r.p.LastAuthorize()
	want := map[string]string{
		"response_type":         "code",
		"client_id":             r.p.ClientID,
		"redirect_uri":          redirectURL,
		"scope":                 "openid scope_all",
		"acr_values":            "eidas1",
		"state":                 "s-1",
		"nonce":                 "n-1",
		"code_challenge_method": "S256",
		"code_challenge":        s256("the-verifier-of-this-login-0123456789abcdef"),
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestExchange runs a login against each way the provider can answer:
// every misbehaviour is refused for its own reason, the rest accepted.
func TestExchange(t *testing.T) {
	cases := []struct {
		name string
		b    psctest.Behaviour
		edit func(*psc.Config)
		// userinfo replaces the provider's claims
		userinfo func(map[string]any)
		want     error // nil: accepted
		step     string
	}{
		{name: "behaving (RS256, JSON userinfo)"},
		{name: "acr eidas3 (card login)", b: psctest.Behaviour{ACR: "eidas3"}},
		{name: "HS256 signed with the client secret", b: psctest.Behaviour{Alg: "HS256"}},
		{name: "userinfo as a JWT", b: psctest.Behaviour{UserinfoJWT: true}},
		{name: "userinfo as an HS256 JWT", b: psctest.Behaviour{UserinfoJWT: true, Alg: "HS256"}},
		{name: "several audiences, azp the client", b: psctest.Behaviour{Audience: []string{"dccfhir", "other"}}},
		{name: "expired within the skew", b: psctest.Behaviour{ExpiresIn: -30 * time.Second}},
		{name: "SubjectRefPro as a JSON string", userinfo: func(c map[string]any) {
			b, _ := json.Marshal(c["SubjectRefPro"])
			c["SubjectRefPro"] = string(b)
		}},

		{name: "wrong nonce", b: psctest.Behaviour{WrongNonce: true}, want: psc.ErrNonce, step: "id_token"},
		{name: "wrong audience", b: psctest.Behaviour{Audience: []string{"someone-else"}, AZP: "-"}, want: psc.ErrAudience, step: "id_token"},
		{name: "azp another client", b: psctest.Behaviour{AZP: "someone-else"}, want: psc.ErrAudience, step: "id_token"},
		{name: "several audiences, no azp", b: psctest.Behaviour{Audience: []string{"dccfhir", "other"}, AZP: "-"}, want: psc.ErrAudience, step: "id_token"},
		{name: "wrong issuer", b: psctest.Behaviour{Issuer: "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"}, want: psc.ErrIssuer, step: "id_token"},
		{name: "expired", b: psctest.Behaviour{ExpiresIn: -5 * time.Minute}, want: psc.ErrExpired, step: "id_token"},
		{name: "expired past the skew", b: psctest.Behaviour{ExpiresIn: -61 * time.Second}, want: psc.ErrExpired, step: "id_token"},
		{name: "no exp", b: psctest.Behaviour{OmitExp: true}, want: psc.ErrClaims, step: "id_token"},
		{name: "no iat", b: psctest.Behaviour{OmitIat: true}, want: psc.ErrClaims, step: "id_token"},
		{name: "unknown kid", b: psctest.Behaviour{UnknownKid: true}, want: psc.ErrUnknownKey, step: "id_token"},
		{name: "alg none", b: psctest.Behaviour{Alg: "none"}, want: psc.ErrAlgorithm, step: "id_token"},
		{name: "HS256 with a wrong secret", b: psctest.Behaviour{Alg: "HS256", HMACSecret: "not-the-client-secret"}, want: psc.ErrSignature, step: "id_token"},
		{name: "HS384 with the client secret", b: psctest.Behaviour{Alg: "HS384"}, want: psc.ErrAlgorithm, step: "id_token"},
		{name: "RS512 header on the RS256 key", b: psctest.Behaviour{Alg: "RS512"}, want: psc.ErrAlgorithm, step: "id_token"},
		{name: "acr outside the set", b: psctest.Behaviour{ACR: "eidas0"}, want: psc.ErrACR, step: "id_token"},
		{name: "no acr", b: psctest.Behaviour{ACR: "-"}, want: psc.ErrACR, step: "id_token"},
		{name: "acr below a configured set", edit: func(c *psc.Config) { c.ACR = []string{"eidas3"} }, want: psc.ErrACR, step: "id_token"},
		{name: "userinfo sub mismatch", b: psctest.Behaviour{UserinfoSub: "f:someone-else"}, want: psc.ErrSubject, step: "userinfo"},
		{name: "userinfo JWT with a wrong secret", b: psctest.Behaviour{UserinfoJWT: true, UserinfoAlg: "HS256", UserinfoHMACSecret: "nope"}, want: psc.ErrSignature, step: "userinfo"},
		{name: "userinfo JWT alg none", b: psctest.Behaviour{UserinfoJWT: true, UserinfoAlg: "none"}, want: psc.ErrAlgorithm, step: "userinfo"},
		{name: "userinfo JWT of another issuer", b: psctest.Behaviour{UserinfoJWT: true, UserinfoIssuer: "https://elsewhere.example/realm"}, want: psc.ErrIssuer, step: "userinfo"},
		{name: "userinfo JWT for another client", b: psctest.Behaviour{UserinfoJWT: true, UserinfoAudience: "another-client"}, want: psc.ErrAudience, step: "userinfo"},
		{name: "userinfo JWT unknown kid", b: psctest.Behaviour{UserinfoJWT: true, UserinfoUnknownKid: true}, want: psc.ErrUnknownKey, step: "userinfo"},
		{name: "no SubjectNameID", userinfo: func(c map[string]any) { delete(c, "SubjectNameID") }, want: psc.ErrClaims, step: "userinfo"},
		{name: "SubjectNameID with a comma", userinfo: func(c map[string]any) { c["SubjectNameID"] = "899700218896,8" }, want: psc.ErrClaims, step: "userinfo"},
		{name: "wrong client secret", edit: func(c *psc.Config) { c.ClientSecret = "not-it" }, want: psc.ErrProvider, step: "token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := setup(t, tc.b, tc.edit)
			if tc.userinfo != nil {
				c := psctest.Sandbox()
				tc.userinfo(c)
				r.p.SetUserinfo(c)
			}
			id, code, err := r.login()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				checkIdentity(t, id, tc.b.ACR)
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %v", tc.want)
			}
			var re *psc.RefusedError
			if !errors.As(err, &re) || !errors.Is(err, tc.want) || re.Step != tc.step {
				t.Fatalf("error %v, want %v at %s", err, tc.want, tc.step)
			}
			for _, secret := range []string{r.p.LastIDToken(), code, r.p.ClientSecret} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("the error carries a secret: %v", err)
				}
			}
		})
	}
}

func checkIdentity(t *testing.T, id *psc.Identity, acr string) {
	t.Helper()
	if acr == "" {
		acr = "eidas1"
	}
	if id.NationalID != "899700218896" || id.Family != "MARTIN" || id.Given != "Camille" || id.ACR != acr ||
		id.Subject != "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700218896" {
		t.Errorf("identity %+v", id)
	}
	if len(id.Exercices) != 1 || id.Exercices[0].CodeProfession != "10" || len(id.Exercices[0].Activities) != 1 {
		t.Fatalf("exercices %+v", id.Exercices)
	}
	if a := id.Exercices[0].Activities[0]; a.NumeroFinessSite != "750000018" || a.RaisonSocialeSite != "CENTRE HOSPITALIER DE TEST" {
		t.Errorf("activity %+v", a)
	}
}

// A rotated key is fetched once; a kid nobody publishes costs at most
// one key-set fetch a minute.
func TestKeyRotation(t *testing.T) {
	r := setup(t, psctest.Behaviour{}, nil)
	if _, _, err := r.login(); err != nil {
		t.Fatal(err)
	}
	if n := r.p.JWKSRequests(); n != 1 {
		t.Fatalf("%d key set fetches after the first login", n)
	}
	r.p.RotateKey(t)
	if _, _, err := r.login(); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := r.p.JWKSRequests(); n != 2 {
		t.Fatalf("%d key set fetches after a rotation", n)
	}
	r.p.Set(psctest.Behaviour{UnknownKid: true})
	for range 5 {
		if _, _, err := r.login(); !errors.Is(err, psc.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := r.p.JWKSRequests(); n != 2 {
		t.Fatalf("%d key set fetches after unknown kids within the minute", n)
	}
	r.clock.advance(61 * time.Second)
	if _, _, err := r.login(); !errors.Is(err, psc.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v", err)
	}
	if n := r.p.JWKSRequests(); n != 3 {
		t.Fatalf("%d key set fetches a minute later", n)
	}
}

// The code is redeemed at most once, with its verifier.
func TestCodeRedemption(t *testing.T) {
	r := setup(t, psctest.Behaviour{}, nil)
	state, nonce, verifier := random(), random(), random()
	code := r.authorize(state, nonce, verifier).Get("code")
	if _, err := r.rp.Exchange(context.Background(), code, "another-verifier-0123456789abcdefghijklmnop", nonce); !errors.Is(err, psc.ErrProvider) {
		t.Fatalf("wrong verifier: %v", err)
	}
	code = r.authorize(state, nonce, verifier).Get("code")
	if _, err := r.rp.Exchange(context.Background(), code, verifier, nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := r.rp.Exchange(context.Background(), code, verifier, nonce); !errors.Is(err, psc.ErrProvider) {
		t.Fatalf("replayed code: %v", err)
	}
	if _, err := r.rp.Exchange(context.Background(), "", verifier, nonce); !errors.Is(err, psc.ErrMalformed) {
		t.Fatalf("no code: %v", err)
	}
}

func TestUserinfoBounded(t *testing.T) {
	r := setup(t, psctest.Behaviour{HugeUserinfo: true}, nil)
	_, _, err := r.login()
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a userinfo over 1 MiB: %v", err)
	}
}

// New refuses a provider whose URLs are not https (but on loopback) or
// whose discovery document is not its own.
func TestNewRefuses(t *testing.T) {
	cases := []struct {
		name, want string
		doc        func(map[string]any)
		edit       func(*psc.Config)
	}{
		{name: "token endpoint over http", want: "token_endpoint", doc: func(d map[string]any) { d["token_endpoint"] = "http://psc.example.org/token" }},
		{name: "jwks over http", want: "jwks_uri", doc: func(d map[string]any) { d["jwks_uri"] = "http://psc.example.org/certs" }},
		{name: "authorization endpoint over http", want: "authorization_endpoint", doc: func(d map[string]any) { d["authorization_endpoint"] = "http://wallet.example.org/auth" }},
		{name: "userinfo missing", want: "no userinfo_endpoint", doc: func(d map[string]any) { delete(d, "userinfo_endpoint") }},
		{name: "another issuer", want: "not the prefix", doc: func(d map[string]any) { d["issuer"] = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet" }},
		{name: "discovery over http", want: "discovery URL", edit: func(c *psc.Config) {
			c.DiscoveryURL = "http://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
		}},
		{name: "discovery on localhost by name", want: "discovery URL", edit: func(c *psc.Config) {
			c.DiscoveryURL = strings.Replace(c.DiscoveryURL, "127.0.0.1", "localhost", 1)
		}},
		{name: "no client secret", want: "client secret", edit: func(c *psc.Config) { c.ClientSecret = "" }},
		{name: "no redirect URL", want: "redirect URL", edit: func(c *psc.Config) { c.RedirectURL = "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := psctest.Start(t, psctest.Options{})
			p.Set(psctest.Behaviour{Discovery: tc.doc})
			cfg := psc.Config{DiscoveryURL: p.DiscoveryURL, ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: redirectURL}
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			_, err := psc.New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one about %s", err, tc.want)
			}
		})
	}
}
