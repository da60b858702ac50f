package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/dccfhir/dccfhir/store"
)

// AdminCredentials is the content of admin-credentials.json.
type AdminCredentials struct {
	Username string          `json:"username"`
	Password string          `json:"password"`
	ClientID string          `json:"client_id"`
	Key      json.RawMessage `json:"private_key"` // admin-cli's private JWK
	BaseURL  string          `json:"base_url"`
}

// AdminCredentialsFile is the name of the bootstrap's credentials file.
const AdminCredentialsFile = "admin-credentials.json"

// Bootstrap, on a store with no account and no client, creates the
// administrator (account admin, a random password, role admin, no
// Practitioner) and the backend client admin-cli (system/*.cruds, a new
// ES384 key pair whose public half is registered), and writes their
// credentials to dir/admin-credentials.json (mode 0600). It returns the
// file's path, or "" when the store already had accounts or clients.
// Log the path, never the file's content.
func Bootstrap(ctx context.Context, r *Registry, dir, baseURL string) (path string, err error) {
	for _, kind := range []string{KindClient, KindUser} {
		recs, err := r.Store.ListRecords(ctx, kind)
		if err != nil {
			return "", err
		}
		if len(recs) > 0 {
			return "", nil
		}
	}
	priv, pub, err := newClientKey()
	if err != nil {
		return "", err
	}
	password := RandomToken()
	hash, err := HashSecret(password)
	if err != nil {
		return "", err
	}
	now := r.now().UTC()
	// The client first, created only if absent: of two processes starting
	// at once, one bootstraps.
	cl := &Client{ID: adminClientID, Name: "dccfhir administration", Kind: "backend", JWKS: pub, Scopes: "system/*.cruds", Created: now}
	if err := r.put(ctx, KindClient, cl.ID, cl, time.Time{}, true); errors.Is(err, store.ErrConflict) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	undo := func(err error) (string, error) {
		_ = r.Store.DeleteRecord(ctx, KindClient, cl.ID)
		_ = r.Store.DeleteRecord(ctx, KindUser, "admin")
		return "", err
	}
	if err := r.PutUser(ctx, &User{Username: "admin", PasswordHash: hash, Roles: []string{"admin"}, Created: now}); err != nil {
		return undo(err)
	}
	b, err := json.MarshalIndent(&AdminCredentials{Username: "admin", Password: password, ClientID: cl.ID, Key: priv, BaseURL: baseURL}, "", "  ")
	if err != nil {
		return undo(err)
	}
	path = filepath.Join(dir, AdminCredentialsFile)
	if err := writePrivate(path, append(b, '\n')); err != nil {
		return undo(err)
	}
	return path, nil
}

// writePrivate writes a file only its owner may read, replacing it.
func writePrivate(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".admin-credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// newClientKey makes an ES384 key pair for a backend client: the private
// JWK and the public JWKS, kid the RFC 7638 thumbprint.
func newClientKey() (priv, pubSet json.RawMessage, err error) {
	raw, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, nil, err
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, nil, err
	}
	for name, v := range map[string]any{jwk.KeyIDKey: base64.RawURLEncoding.EncodeToString(tp), jwk.AlgorithmKey: jwa.ES384, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := k.Set(name, v); err != nil {
			return nil, nil, err
		}
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, nil, err
	}
	if priv, err = json.Marshal(k); err != nil {
		return nil, nil, err
	}
	pubSet, err = json.Marshal(set)
	return priv, pubSet, err
}

// TokenRequest asks IssueToken for an access token as a backend client.
type TokenRequest struct {
	ClientID string
	Key      json.RawMessage // the client's private JWK
	Scope    string          // "" : everything the client is registered for
	BaseURL  string          // "" : the base URL the server recorded
}

// IssueToken runs the client-credentials grant in process — a client
// assertion signed with req.Key, then the very grant code of the token
// endpoint — and returns the access token (dccfhir token). The token's
// issuer, audience and lifetime are those the server recorded when it
// started on this storage (req.BaseURL overrides the base URL); its keys
// are the server's, from the same storage.
func IssueToken(ctx context.Context, r *Registry, req TokenRequest) (string, error) {
	rec, err := loadServerRecord(ctx, r)
	if err != nil {
		return "", err
	}
	base := strings.TrimRight(req.BaseURL, "/")
	issuer := IssuerOf(base)
	if base == "" || base == rec.BaseURL {
		base, issuer = rec.BaseURL, rec.Issuer
	}
	if base == "" {
		return "", errors.New("the server never started on this storage: give its base URL")
	}
	cfg := Config{
		BaseURL: base, Issuer: issuer,
		TokenTTLBackend: time.Duration(rec.TokenTTLBackend) * time.Second,
		TokenTTLUser:    time.Duration(rec.TokenTTLUser) * time.Second,
		HTTPClient:      &http.Client{Timeout: jwksTimeout},
		Logger:          slog.New(slog.DiscardHandler), // errors are returned; the tool prints the token alone
		Now:             r.now,
	}
	if cfg.TokenTTLBackend <= 0 {
		cfg.TokenTTLBackend = 5 * time.Minute
	}
	if cfg.TokenTTLUser <= 0 {
		cfg.TokenTTLUser = time.Hour
	}
	s := &Server{cfg: cfg, reg: r}
	if err := s.tokens.prepare(ctx, s); err != nil {
		return "", err
	}
	key, err := jwk.ParseKey(req.Key)
	if err != nil {
		return "", fmt.Errorf("the client key: %w", err)
	}
	assertion, err := ClientAssertion(key, req.ClientID, s.tokens.tokenURL, cfg.Now())
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {assertionType},
		"client_assertion":      {assertion},
	}
	if req.Scope != "" {
		form.Set("scope", req.Scope)
	}
	resp, err := s.grant(ctx, credentials{}, form)
	if err != nil {
		return "", err
	}
	return resp.AccessToken, nil
}

// ClientAssertion is a backend client's authentication JWT (RFC 7523, SMART
// Backend Services) signed with its private key: iss = sub = clientID, aud
// the token endpoint, a minute of life, a fresh jti; header typ JWT, the
// key's kid, its alg (else ES384 or RS384 by key type).
func ClientAssertion(key jwk.Key, clientID, tokenURL string, now time.Time) (string, error) {
	if priv, err := jwk.IsPrivateKey(key); err != nil || !priv {
		return "", errors.New("a private key is required")
	}
	alg := key.Algorithm()
	if alg.String() == "" {
		alg = jwa.RS384
		if key.KeyType() == "EC" {
			alg = jwa.ES384
		}
	}
	tok, err := jwt.NewBuilder().Issuer(clientID).Subject(clientID).Audience([]string{tokenURL}).
		IssuedAt(now).Expiration(now.Add(time.Minute)).JwtID(newID()).Build()
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	b, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	return string(b), err
}
