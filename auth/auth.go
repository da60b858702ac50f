// Package auth is dccfhir's OAuth 2 / SMART App Launch 2.2 authorization
// server and the resource server's token check: registered clients and
// professionals' accounts, the server's signing keys, the grants
// (authorization code with PKCE, refresh, client credentials with
// private_key_jwt), introspection and revocation, EHR launch contexts, the
// login and consent pages, password reset, and the federation with Pro
// Santé Connect (auth/psc). The scope language is auth/scope.
//
// Everything it keeps is a store.Record in the deployment's own storage
// (the kinds below), so the command-line tools (dccfhir client, user,
// keys, token) work on the same state while the server runs, and a token
// check sees a removed client or a revoked token at once.
//
// Files: auth.go (the shared types), registry.go (records), keys.go and
// tokens.go (signing, verification), epoch.go (what a token check watches),
// token.go (the token endpoint and its grants), clientauth.go and jwks.go
// (client authentication, client key sets), introspect.go, revoke.go,
// discovery.go, launch.go, admin.go and bootstrap.go (the tools' API);
// authorize.go,
// login.go, consent.go, session.go, users.go, passwords.go, reset.go,
// mail.go (the browser side).
package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
)

// Record kinds.
const (
	KindClient  = "auth.client"  // Key: client id; Value: Client
	KindUser    = "auth.user"    // Key: username; Value: User
	KindKey     = "auth.key"     // Key: kid; Value: the server's signing key (private JWK + dates)
	KindCode    = "auth.code"    // Key: sha256 of the code; Value: Code; Expires: 60 s
	KindLaunch  = "auth.launch"  // Key: sha256 of the launch id; Value: Launch; Expires: 5 min
	KindRevoked = "auth.revoked" // Key: a token family (every access token has one); Expires: the latest expiry it covers
	KindConfig  = "auth.config"  // Key: "server"; Value: what the tools need to know of the server (base URL)
	KindRefresh = "auth.refresh" // Key: sha256 of the refresh token; Value: its grant (family, client, user, scope, context)
	KindUsed    = "auth.used"    // Key: "code:" or "refresh:" + sha256 of a used value; Value: its family (replays revoke it)
	KindJTI     = "auth.jti"     // Key: client id + " " + jti of an accepted client assertion; Expires: the assertion's exp + skew
)

// Config is the authorization server's deployment.
type Config struct {
	// Store holds every record.
	Store store.Store
	// Service resolves and writes the FHIR side: Practitioners and
	// PractitionerRoles of Pro Santé Connect logins, launch patients.
	Service *service.Service
	// BaseURL is the FHIR base (https://host/fhir): the access tokens'
	// audience and the aud an authorize request must name.
	BaseURL string
	// Issuer is the server's own URL (BaseURL without its FHIR path);
	// endpoints live under Issuer + "/auth/".
	Issuer string
	// TokenTTLBackend and TokenTTLUser are the access tokens' lifetimes
	// (defaults 5 minutes and 1 hour).
	TokenTTLBackend, TokenTTLUser time.Duration
	// SecureCookies marks cookies Secure (the server is reached over TLS).
	SecureCookies bool
	// PSC configures the Pro Santé Connect federation (nil: not offered).
	PSC *PSCConfig
	// SMTPURL (smtp://host:port) and SMTPFrom send password-reset mail
	// ("" : reset mail cannot be sent and the reset page says so).
	SMTPURL, SMTPFrom string
	// HTTPClient fetches client JWKS URLs and talks to Pro Santé Connect
	// (nil: a client with the 5 s timeout).
	HTTPClient *http.Client
	// Narrow narrows a professional's scopes as the FHIR API narrows them
	// (the access gate: care circle, profession, consent), for what the
	// authorization server itself shows of patients — the patient picker
	// of a standalone launch. nil: the scopes alone.
	Narrow func(ctx context.Context, scopes service.Access, u *User) (service.Access, error)
	Logger *slog.Logger
	// Now is the clock (tests move it).
	Now func() time.Time
}

// PSCConfig is the Pro Santé Connect client registration.
type PSCConfig struct {
	// DiscoveryURL is the provider's discovery document, configured whole
	// (…/realms/esante-wallet/.well-known/wallet-openid-configuration).
	DiscoveryURL           string
	ClientID, ClientSecret string
	// ACR is the set of acr values accepted in ID tokens (default eidas1,eidas2,eidas3).
	ACR []string
}

// Client is a registered application or system.
type Client struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is "public", "confidential" or "backend".
	Kind         string   `json:"kind"`
	RedirectURIs []string `json:"redirectUris,omitempty"`
	// JWKS (a public key set) or JWKSURL authenticate private_key_jwt.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURL string          `json:"jwksUrl,omitempty"`
	// SecretHash is a confidential client's secret, argon2id-hashed.
	SecretHash string `json:"secretHash,omitempty"`
	// Scopes is the most it may be granted.
	Scopes string `json:"scopes"`
	// Trusted apps get no consent page.
	Trusted bool `json:"trusted,omitempty"`
	// Launch lets a backend client create EHR launch contexts.
	Launch bool `json:"launch,omitempty"`
	// Organization is the establishment or laboratory it acts for (Organization/ID).
	Organization string    `json:"organization,omitempty"`
	Created      time.Time `json:"created"`
}

// User is a professional's account.
type User struct {
	Username string `json:"username"`
	// Practitioner is the professional (Practitioner/ID); fhirUser is its URL.
	Practitioner string `json:"practitioner,omitempty"`
	// PasswordHash is argon2id; "" for an account that logs in through Pro Santé Connect only.
	PasswordHash string   `json:"passwordHash,omitempty"`
	Roles        []string `json:"roles,omitempty"` // admin, auditor, observatory
	Email        string   `json:"email,omitempty"`
	// NationalID is the idNatPs a Pro Santé Connect login matched.
	NationalID string    `json:"nationalId,omitempty"`
	Disabled   bool      `json:"disabled,omitempty"`
	Created    time.Time `json:"created"`
}

// Code is what an authorization code stands for until the token endpoint
// exchanges it (once, within 60 s, for the same client and redirect URI,
// with the verifier of Challenge).
type Code struct {
	ClientID    string `json:"clientId"`
	RedirectURI string `json:"redirectUri"`
	Challenge   string `json:"challenge"` // S256 PKCE challenge
	Scope       string `json:"scope"`     // granted
	Username    string `json:"username"`
	Nonce       string `json:"nonce,omitempty"`
	Context
	Issued time.Time `json:"issued"`
	// AuthTime is when the user authenticated (the ID token's auth_time;
	// zero: Issued is taken).
	AuthTime time.Time `json:"authTime,omitempty"`
}

// Context is the launch context a user token carries.
type Context struct {
	Patient           string           `json:"patient,omitempty"`   // id
	Encounter         string           `json:"encounter,omitempty"` // id
	FHIRContext       []map[string]any `json:"fhirContext,omitempty"`
	NeedPatientBanner bool             `json:"need_patient_banner,omitempty"`
}

// Launch is an EHR launch context an establishment system created
// (POST /auth/launch), used once by the app's authorize request.
type Launch struct {
	ClientID string `json:"clientId"` // the system that created it
	Context
}

// Principal is the proven caller of a FHIR request: what a valid access
// token says. It is the service.Access of the request (Access). One
// Principal serves every request of its token: read only.
type Principal struct {
	TokenID  string // jti
	ClientID string
	Subject  string // the username, or the client id for a backend token
	Username string // "" for a backend token
	FHIRUser string // the Practitioner's URL, "" when none
	Scope    string // granted, as in the token
	Context
	Expires time.Time
	// Access is what the granted scopes allow, in the launch context.
	Access service.Access
	// Roles are the user's account roles (admin, auditor, observatory)
	// and Organization the client's (Organization/ID, its registration's
	// --organization), as the records said at the token's last live check.
	Roles        []string
	Organization string
}
