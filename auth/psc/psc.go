// Package psc is dccfhir's OpenID Connect relying party for Pro Santé
// Connect, the French national authentication of health professionals:
// the authorization request (code flow, PKCE S256, state and nonce), the
// code exchange, the ID token and userinfo checks, and the professional
// they prove (Identity), which Link turns into the Practitioner, its
// Organizations and PractitionerRoles.
//
// It is written on the standard library's net/http client and jwx v2
// rather than on an OIDC library: discovery and the code flow are a few
// requests, and Pro Santé Connect needs control an OIDC library hides —
// its discovery document sits at a non-standard path
// (…/realms/esante-wallet/.well-known/wallet-openid-configuration), its
// connector signs ID tokens HS256 with the client secret (accepted here
// for this provider's ID tokens and userinfo only, a code path of its own,
// never the server's access tokens), its userinfo may be a signed JWT,
// and every answer must be bounded in size and time.
//
// Files: psc.go (Config, Provider, the authorization request), fetch.go
// (bounded requests, URL rules), discovery.go, keys.go (the provider's
// JWKS), verify.go (JWS and ID token checks), exchange.go (token endpoint
// and userinfo), identity.go (the claims), errors.go, link.go (the FHIR
// side).
package psc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Config is a Pro Santé Connect client registration.
type Config struct {
	// DiscoveryURL is the provider's discovery document, configured whole
	// (PSC: https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration).
	DiscoveryURL string
	// ClientID and ClientSecret authenticate the server at the token
	// endpoint (client_secret_basic); the secret also verifies HS256 ID tokens.
	ClientID, ClientSecret string
	// RedirectURL is the server's callback (…/auth/psc/callback).
	RedirectURL string
	// ACR is the set of acr values accepted in ID tokens (default eidas1,
	// eidas2, eidas3: PSC answers eidas3 to a card login although eidas1
	// is asked).
	ACR []string
	// HTTPClient talks to the provider (nil: a client with a 5 s timeout).
	// Redirects are never followed, whatever the client says.
	HTTPClient *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DefaultACR is the acr set accepted when Config.ACR is empty.
var DefaultACR = []string{"eidas1", "eidas2", "eidas3"}

// Requested authorization parameters: PSC knows one scope set and one
// level to ask for.
const (
	Scope     = "openid scope_all"
	ACRValues = "eidas1"
)

// Provider is a configured Pro Santé Connect: its discovery document,
// fetched once by New, and its signing keys, fetched when first needed.
// It is safe for concurrent use.
type Provider struct {
	cfg    Config
	client *http.Client
	meta   discovery
	acr    map[string]bool
	keys   keyCache
}

// Check reports what makes the configuration unusable, without asking
// the provider anything (New checks it too).
func (c Config) Check() error {
	if err := checkProviderURL(c.DiscoveryURL); err != nil {
		return fmt.Errorf("psc: discovery URL: %w", err)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return errors.New("psc: a client id and a client secret are required")
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("psc: the redirect URL must be an absolute http(s) URL")
	}
	return nil
}

// New checks the configuration, fetches the discovery document and
// checks the endpoints it names: every provider URL must be https, except
// on a loopback address (tests).
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if len(cfg.ACR) == 0 {
		cfg.ACR = DefaultACR
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Provider{cfg: cfg, client: noRedirects(cfg.HTTPClient), acr: map[string]bool{}}
	for _, a := range cfg.ACR {
		p.acr[a] = true
	}
	meta, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	p.meta = meta
	return p, nil
}

// Issuer is the provider's issuer, as its discovery document names it.
func (p *Provider) Issuer() string { return p.meta.Issuer }

// AuthURL is where the browser goes to log in: the authorization code
// flow with scope openid scope_all, acr_values eidas1, state, nonce and
// the S256 challenge of verifier (RFC 7636).
func (p *Provider) AuthURL(state, nonce, verifier string) string {
	u, _ := url.Parse(p.meta.AuthorizationEndpoint) // checked by New
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", p.cfg.ClientID)
	q.Set("redirect_uri", p.cfg.RedirectURL)
	q.Set("scope", Scope)
	q.Set("acr_values", ACRValues)
	q.Set("state", state)
	q.Set("nonce", nonce)
	q.Set("code_challenge", challenge(verifier))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String()
}

// challenge is the S256 PKCE challenge of a verifier.
func challenge(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}
