package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/store"
)

// The administration API the command-line tools use (dccfhir client,
// keys); the first-start bootstrap and dccfhir token are in bootstrap.go.

// ClientSpec is a client to register (dccfhir client add).
type ClientSpec struct {
	ID, Name, Kind string // Kind: public, confidential or backend
	RedirectURIs   []string
	JWKS           json.RawMessage // public keys (private_key_jwt)
	JWKSURL        string
	Scopes         string
	Trusted        bool
	Launch         bool
	Organization   string // Organization/ID
}

// AddClient registers a client; for a confidential client it returns the
// secret, shown once and stored hashed. It refuses: an id other than 1 to
// 64 of A-Z a-z 0-9 . _ - (starting alphanumeric), an unknown kind, a
// redirect URI that is not absolute https (http only on a loopback
// address) or has a fragment, an app (public, confidential) without a
// redirect URI, a backend client without exactly one of JWKS and JWKS URL
// (keys public, each with a unique kid, RSA of 2048 bits or more or EC
// P-256/P-384, alg when given one of RS384 ES384 RS256 ES256 fitting the
// key), keys on a client that is not a backend, --launch on a client that
// is not a backend, no scopes or scopes that do not parse, an id already
// registered.
func (r *Registry) AddClient(ctx context.Context, spec ClientSpec) (secret string, err error) {
	if err := checkClientSpec(&spec); err != nil {
		return "", err
	}
	c := &Client{
		ID: spec.ID, Name: spec.Name, Kind: spec.Kind, RedirectURIs: spec.RedirectURIs,
		JWKS: spec.JWKS, JWKSURL: spec.JWKSURL, Scopes: spec.Scopes, Trusted: spec.Trusted,
		Launch: spec.Launch, Organization: spec.Organization, Created: r.now().UTC(),
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if c.Kind == "confidential" {
		secret = RandomToken()
		if c.SecretHash, err = HashSecret(secret); err != nil {
			return "", err
		}
	}
	err = r.put(ctx, KindClient, c.ID, c, time.Time{}, true)
	if errors.Is(err, store.ErrConflict) {
		return "", fmt.Errorf("client %s is already registered", c.ID)
	} else if err != nil {
		return "", err
	}
	return secret, nil
}

func checkClientSpec(spec *ClientSpec) error {
	if !validClientID(spec.ID) {
		return fmt.Errorf("client id %q: 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", spec.ID)
	}
	switch spec.Kind {
	case "public", "confidential":
		if len(spec.RedirectURIs) == 0 {
			return fmt.Errorf("a %s client needs a redirect URI", spec.Kind)
		}
		if len(spec.JWKS) > 0 || spec.JWKSURL != "" {
			return errors.New("keys (JWKS, JWKS URL) are for backend clients")
		}
		if spec.Launch {
			return errors.New("--launch is for backend clients (establishment systems)")
		}
	case "backend":
		if (len(spec.JWKS) > 0) == (spec.JWKSURL != "") {
			return errors.New("a backend client needs a JWKS or a JWKS URL (one of them)")
		}
		if spec.JWKSURL != "" {
			if err := checkFetchURL(spec.JWKSURL); err != nil {
				return fmt.Errorf("JWKS URL: %w", err)
			}
		}
		if len(spec.JWKS) > 0 {
			if err := checkClientJWKS(spec.JWKS); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("client kind %q: public, confidential or backend", spec.Kind)
	}
	seen := map[string]bool{}
	for _, u := range spec.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
		if seen[u] {
			return fmt.Errorf("redirect URI %s given twice", u)
		}
		seen[u] = true
	}
	if strings.TrimSpace(spec.Scopes) == "" {
		return errors.New("scopes required: the most the client may be granted (e.g. system/Patient.rs)")
	}
	if _, bad := scope.Parse(spec.Scopes); len(bad) > 0 {
		return fmt.Errorf("scopes not understood: %s", strings.Join(bad, " "))
	}
	if o := spec.Organization; o != "" {
		id, ok := strings.CutPrefix(o, "Organization/")
		if !ok || !validResourceID(id) {
			return fmt.Errorf("organization %q: Organization/ID expected", o)
		}
	}
	return nil
}

func validClientID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i, r := range id {
		alnum := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '.' && r != '_' && r != '-') {
			return false
		}
	}
	return true
}

// validResourceID is a FHIR id: 1 to 64 of A-Z a-z 0-9 - .
func validResourceID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// checkRedirectURI: absolute, https (http on a loopback address), no
// user, no fragment (RFC 6749 section 3.1.2).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q: an absolute URL without user or fragment is required", raw)
	}
	if u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("redirect URI %q: https required (http only on a loopback address)", raw)
}

// checkClientJWKS checks a registered key set: public keys only, each with
// a unique kid, of a type the accepted algorithms verify.
func checkClientJWKS(raw json.RawMessage) error {
	set, err := jwk.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS: %w", err)
	}
	if set.Len() == 0 {
		return errors.New("JWKS: no key")
	}
	kids := map[string]bool{}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid := k.KeyID()
		if kid == "" {
			return errors.New("JWKS: every key needs a kid")
		}
		if kids[kid] {
			return fmt.Errorf("JWKS: kid %s used twice", kid)
		}
		kids[kid] = true
		if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
			return fmt.Errorf("JWKS: key %s is not a public key (register the public half only)", kid)
		}
		if a := k.Algorithm().String(); a != "" {
			alg, ok := assertionAlgs[a]
			if !ok {
				return fmt.Errorf("JWKS: key %s: alg %s not accepted (%s)", kid, a, strings.Join(assertionAlgNames, ", "))
			}
			if err := fitsAlg(k, alg); err != nil {
				return fmt.Errorf("JWKS: key %s: %w", kid, err)
			}
			continue
		}
		if err := fitsAnyAlg(k); err != nil {
			return fmt.Errorf("JWKS: key %s: %w", kid, err)
		}
	}
	return nil
}

// fitsAnyAlg checks that some accepted algorithm can use k.
func fitsAnyAlg(k jwk.Key) error {
	var last error
	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS384, jwa.ES384, jwa.ES256} {
		if last = fitsAlg(k, alg); last == nil {
			return nil
		}
	}
	return errors.New("an RSA key of 2048 bits or more, or an EC key on P-256 or P-384, is required")
}

// Clients lists the registered clients by id.
func (r *Registry) Clients(ctx context.Context) ([]*Client, error) {
	recs, err := r.Store.ListRecords(ctx, KindClient)
	if err != nil {
		return nil, err
	}
	out := make([]*Client, 0, len(recs))
	for _, rec := range recs {
		c := new(Client)
		if err := json.Unmarshal(rec.Value, c); err != nil {
			return nil, fmt.Errorf("auth record %s/%s: %w", KindClient, rec.Key, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// RemoveClient unregisters a client: its tokens stop working at once
// (every token check looks its client up), and a client registered later
// under the same id does not inherit them (they were issued before it).
// ErrUnknown when there is no such client.
func (r *Registry) RemoveClient(ctx context.Context, id string) error {
	_, err := r.Client(ctx, id)
	if err != nil && !errors.Is(err, ErrUnknown) {
		return err
	}
	if err == nil {
		if err := r.Store.DeleteRecord(ctx, KindClient, id); err != nil {
			return err
		}
	}
	// Bumped even when the client is gone: a retry after a failed bump
	// must still reach the token checks.
	if cerr := r.changed(ctx); cerr != nil {
		return cerr
	}
	return err
}
