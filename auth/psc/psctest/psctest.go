// Package psctest is a small OpenID Connect provider shaped like Pro Santé
// Connect, started in the test process on 127.0.0.1: the non-standard
// discovery path, an authorize endpoint that logs the configured
// professional in at once (no page), a token endpoint with
// client_secret_basic and PKCE, the JWKS and a userinfo in JSON or as a
// signed JWT, with claims shaped like the sandbox's. Behaviour makes it
// misbehave in the ways a relying party must notice.
package psctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Realm is the path of PSC's realm; the discovery document sits at
// Realm + DiscoveryPath, as in production and in the sandbox.
const (
	Realm         = "/auth/realms/esante-wallet"
	DiscoveryPath = "/.well-known/wallet-openid-configuration"
)

// Options configure a provider.
type Options struct {
	// ClientID and ClientSecret are the registered client (defaults
	// "dccfhir" and a random secret).
	ClientID, ClientSecret string
	// RedirectURIs are the registered redirect URIs (empty: any).
	RedirectURIs []string
	// Now is the provider's clock (nil: time.Now).
	Now func() time.Time
}

// Behaviour is how the provider answers; the zero value is Pro Santé
// Connect behaving.
type Behaviour struct {
	// Alg signs the ID token (and a JWT userinfo): "" or "RS256" with
	// the published key, "HS256" with HMACSecret (default: the client
	// secret), "none", or any other jwa name (with the RSA key, or the
	// HMAC secret for HS384/HS512).
	Alg        string
	HMACSecret string
	// UnknownKid signs with a key the JWKS does not publish.
	UnknownKid bool
	// Issuer replaces the ID token's iss; Audience its aud; AZP its azp
	// ("-": none).
	Issuer   string
	Audience []string
	AZP      string
	// WrongNonce puts another nonce in the ID token.
	WrongNonce bool
	// ExpiresIn is the ID token's exp from now (0: 5 minutes; negative:
	// expired); OmitExp and OmitIat leave exp and iat out.
	ExpiresIn        time.Duration
	OmitExp, OmitIat bool
	// ACR is the acr of the ID token ("" : eidas1; "-": none).
	ACR string
	// UserinfoSub replaces the userinfo's sub.
	UserinfoSub string
	// UserinfoJWT answers the userinfo as a signed JWT (application/jwt),
	// signed as the ID token unless UserinfoAlg, UserinfoHMACSecret or
	// UserinfoUnknownKid say otherwise.
	UserinfoJWT                     bool
	UserinfoAlg, UserinfoHMACSecret string
	UserinfoUnknownKid              bool
	// UserinfoIssuer and UserinfoAudience replace the JWT userinfo's iss
	// and aud.
	UserinfoIssuer, UserinfoAudience string
	// HugeUserinfo pads the userinfo past 1 MiB.
	HugeUserinfo bool
	// DenyLogin makes authorize redirect back with error=access_denied.
	DenyLogin bool
	// Discovery edits the discovery document before it is served.
	Discovery func(doc map[string]any)
}

// Provider is a running provider.
type Provider struct {
	// Issuer is the realm's URL; DiscoveryURL its discovery document.
	Issuer, DiscoveryURL   string
	ClientID, ClientSecret string

	srv      *httptest.Server
	redirect []string
	now      func() time.Time

	mu          sync.Mutex
	b           Behaviour
	claims      map[string]any
	key, stray  jwk.Key // the published signing key, and one never published
	enc         jwk.Key // an encryption key, published as Keycloak does
	codes       map[string]*grant
	tokens      map[string]*grant
	jwksHits    int
	lastIDToken string
	lastAuth    url.Values
}

// grant is what a code and then an access token stand for.
type grant struct {
	nonce, challenge, redirect string
	claims                     map[string]any
}

// Start starts a provider logging in Sandbox() until SetUserinfo says
// otherwise; it stops with the test.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	p := &Provider{ClientID: opts.ClientID, ClientSecret: opts.ClientSecret, redirect: opts.RedirectURIs, now: opts.Now,
		claims: Sandbox(), codes: map[string]*grant{}, tokens: map[string]*grant{}}
	if p.ClientID == "" {
		p.ClientID = "dccfhir"
	}
	if p.ClientSecret == "" {
		p.ClientSecret = random()
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.key = rsaKey(t, "psc-sig-1", jwa.RS256, jwk.ForSignature)
	p.stray = rsaKey(t, "psc-sig-stray", jwa.RS256, jwk.ForSignature)
	p.enc = rsaKey(t, "psc-enc-1", jwa.RSA_OAEP, jwk.ForEncryption)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Realm+DiscoveryPath, p.discovery)
	mux.HandleFunc("GET "+Realm+"/protocol/openid-connect/auth", p.authorize)
	mux.HandleFunc("POST "+Realm+"/protocol/openid-connect/token", p.token)
	mux.HandleFunc("GET "+Realm+"/protocol/openid-connect/certs", p.jwks)
	mux.HandleFunc("GET "+Realm+"/protocol/openid-connect/userinfo", p.userinfo)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.Issuer = p.srv.URL + Realm
	p.DiscoveryURL = p.Issuer + DiscoveryPath
	return p
}

// Sandbox is a userinfo shaped like the sandbox's (BAS): a doctor
// (codeProfession 10) with idNatPs 899700218896 exercising at one FINESS
// site.
func Sandbox() map[string]any {
	return map[string]any{
		"sub":                     "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700218896",
		"SubjectNameID":           "899700218896",
		"preferred_username":      "899700218896",
		"given_name":              "Camille",
		"family_name":             "MARTIN",
		"codeCivilite":            "DR",
		"SubjectOrganization":     "CENTRE HOSPITALIER DE TEST",
		"SubjectOrganizationID":   "1750000018",
		"SubjectRole":             []any{"10^1.2.250.1.213.1.1.5.5"},
		"Secteur_Activite":        "SA01^1.2.250.1.71.4.2.4",
		"Palier_Authentification": "APPPRIP3^1.2.250.1.213.1.5.1.1.1",
		"otherIds":                []any{map[string]any{"identifiant": "99700218896", "origine": "RPPS", "qualite": 1}},
		"SubjectRefPro": map[string]any{"exercices": []any{map[string]any{
			"codeProfession":               "10",
			"codeCategorieProfessionnelle": "C",
			"nomDexercice":                 "MARTIN",
			"prenomDexercice":              "Camille",
			"activities": []any{map[string]any{
				"codeModeExercice":                   "S",
				"codeSecteurDactivite":               "SA01",
				"numeroFinessSite":                   "750000018",
				"numeroFinessetablissementJuridique": "750000010",
				"raisonSocialeSite":                  "CENTRE HOSPITALIER DE TEST",
				"codePostal":                         "75013",
			}},
		}}},
	}
}

// Set replaces the behaviour (the zero value: behaving).
func (p *Provider) Set(b Behaviour) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.b = b
}

// SetUserinfo replaces the claims of the professional the next login
// proves.
func (p *Provider) SetUserinfo(claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims = claims
}

// RotateKey replaces the published signing key by a new one.
func (p *Provider) RotateKey(t testing.TB) {
	k := rsaKey(t, "psc-sig-"+random()[:8], jwa.RS256, jwk.ForSignature)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key = k
}

// JWKSRequests is how many times the key set was fetched.
func (p *Provider) JWKSRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jwksHits
}

// LastIDToken is the last ID token issued (to check it appears nowhere).
func (p *Provider) LastIDToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastIDToken
}

// LastAuthorize is the query of the last authorization request.
func (p *Provider) LastAuthorize() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastAuth
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	oidc := p.Issuer + "/protocol/openid-connect"
	doc := map[string]any{
		"issuer":                                p.Issuer,
		"authorization_endpoint":                oidc + "/auth",
		"token_endpoint":                        oidc + "/token",
		"userinfo_endpoint":                     oidc + "/userinfo",
		"jwks_uri":                              oidc + "/certs",
		"end_session_endpoint":                  oidc + "/logout",
		"introspection_endpoint":                oidc + "/token/introspect",
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256", "HS256"},
		"userinfo_signing_alg_values_supported": []string{"RS256", "HS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"code_challenge_methods_supported":      []string{"S256"},
		"acr_values_supported":                  []string{"eidas1", "eidas2", "eidas3"},
		"scopes_supported":                      []string{"openid", "scope_all"},
	}
	p.mu.Lock()
	edit := p.b.Discovery
	p.mu.Unlock()
	if edit != nil {
		edit(doc)
	}
	writeJSON(w, 200, doc)
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.lastAuth = q
	b := p.b
	claims := maps.Clone(p.claims)
	p.mu.Unlock()
	scopes := strings.Fields(q.Get("scope"))
	switch {
	case q.Get("client_id") != p.ClientID:
		http.Error(w, "unknown client_id", 400)
		return
	case len(p.redirect) > 0 && !slices.Contains(p.redirect, q.Get("redirect_uri")):
		http.Error(w, "redirect_uri not registered", 400)
		return
	case q.Get("redirect_uri") == "":
		http.Error(w, "no redirect_uri", 400)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", 400)
		return
	case !slices.Contains(scopes, "openid") || !slices.Contains(scopes, "scope_all"):
		http.Error(w, "scope must hold openid and scope_all", 400)
		return
	case q.Get("acr_values") == "", q.Get("state") == "", q.Get("nonce") == "":
		http.Error(w, "acr_values, state and nonce are required", 400)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE S256 is required", 400)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", 400)
		return
	}
	rq := back.Query()
	rq.Set("state", q.Get("state"))
	if b.DenyLogin {
		rq.Set("error", "access_denied")
		rq.Set("error_description", "the user cancelled")
	} else {
		code := random()
		p.mu.Lock()
		p.codes[code] = &grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), claims: claims}
		p.mu.Unlock()
		rq.Set("code", code)
		rq.Set("session_state", random())
	}
	back.RawQuery = rq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || id != p.ClientID || secret != p.ClientSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "client_secret_basic required"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	f := r.PostForm
	p.mu.Lock()
	g := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code"))
	b := p.b
	p.mu.Unlock()
	if g == nil || g.redirect != f.Get("redirect_uri") || challenge(f.Get("code_verifier")) != g.challenge {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Code not valid"})
		return
	}
	idt, err := p.idToken(b, g)
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": "server_error", "error_description": err.Error()})
		return
	}
	at := random()
	p.mu.Lock()
	p.tokens[at] = g
	p.lastIDToken = idt
	p.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": 120,
		"refresh_token": random(), "refresh_expires_in": 1800,
		"id_token": idt, "scope": "openid scope_all", "session_state": random(),
	})
}

func (p *Provider) idToken(b Behaviour, g *grant) (string, error) {
	now := p.now()
	c := map[string]any{
		"iss":                p.Issuer,
		"sub":                g.claims["sub"],
		"aud":                []string{p.ClientID},
		"iat":                now.Unix(),
		"auth_time":          now.Unix(),
		"nonce":              g.nonce,
		"acr":                "eidas1",
		"azp":                p.ClientID,
		"typ":                "ID",
		"preferred_username": g.claims["preferred_username"],
		"given_name":         g.claims["given_name"],
		"family_name":        g.claims["family_name"],
		"session_state":      random(),
	}
	exp := 5 * time.Minute
	if b.ExpiresIn != 0 {
		exp = b.ExpiresIn
	}
	c["exp"] = now.Add(exp).Unix()
	if b.OmitExp {
		delete(c, "exp")
	}
	if b.OmitIat {
		delete(c, "iat")
	}
	if b.Issuer != "" {
		c["iss"] = b.Issuer
	}
	if b.Audience != nil {
		c["aud"] = b.Audience
	}
	switch b.AZP {
	case "":
	case "-":
		delete(c, "azp")
	default:
		c["azp"] = b.AZP
	}
	if b.WrongNonce {
		c["nonce"] = random()
	}
	switch b.ACR {
	case "":
	case "-":
		delete(c, "acr")
	default:
		c["acr"] = b.ACR
	}
	return p.sign(b, c)
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	g := p.tokens[at]
	b := p.b
	p.mu.Unlock()
	if !ok || g == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, 401, map[string]string{"error": "invalid_token"})
		return
	}
	c := maps.Clone(g.claims)
	if b.UserinfoSub != "" {
		c["sub"] = b.UserinfoSub
	}
	if b.HugeUserinfo {
		c["padding"] = strings.Repeat("x", 1<<20)
	}
	if !b.UserinfoJWT {
		writeJSON(w, 200, c)
		return
	}
	c["iss"], c["aud"] = p.Issuer, p.ClientID
	if b.UserinfoIssuer != "" {
		c["iss"] = b.UserinfoIssuer
	}
	if b.UserinfoAudience != "" {
		c["aud"] = b.UserinfoAudience
	}
	if b.UserinfoAlg != "" {
		b.Alg = b.UserinfoAlg
	}
	if b.UserinfoHMACSecret != "" {
		b.HMACSecret = b.UserinfoHMACSecret
	}
	b.UnknownKid = b.UnknownKid || b.UserinfoUnknownKid
	s, err := p.sign(b, c)
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": "server_error", "error_description": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Write([]byte(s))
}

// sign makes a JWT of claims as b says.
func (p *Provider) sign(b Behaviour, claims map[string]any) (string, error) {
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			return "", fmt.Errorf("claim %s: %w", k, err)
		}
	}
	p.mu.Lock()
	key := p.key
	if b.UnknownKid {
		key = p.stray
	}
	p.mu.Unlock()
	var opt jwt.SignEncryptParseOption
	switch b.Alg {
	case "", "RS256":
		opt = jwt.WithKey(jwa.RS256, key)
	case "none":
		s, err := jwt.Sign(tok, jwt.WithInsecureNoSignature())
		return string(s), err
	case "HS256", "HS384", "HS512":
		secret := b.HMACSecret
		if secret == "" {
			secret = p.ClientSecret
		}
		opt = jwt.WithKey(jwa.SignatureAlgorithm(b.Alg), []byte(secret))
	default:
		opt = jwt.WithKey(jwa.SignatureAlgorithm(b.Alg), key)
	}
	s, err := jwt.Sign(tok, opt)
	return string(s), err
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.jwksHits++
	keys := []jwk.Key{p.key, p.enc}
	p.mu.Unlock()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicKey()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		set.AddKey(pub)
	}
	writeJSON(w, 200, set)
}

func rsaKey(t testing.TB, kid string, alg jwa.KeyAlgorithm, use jwk.KeyUsageType) jwk.Key {
	t.Helper()
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: use} {
		if err := k.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func challenge(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
