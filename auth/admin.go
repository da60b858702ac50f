package auth

import (
	"context"
	"encoding/json"
	"errors"
)

// Placeholders for the administration API the command-line tools use
// (dccfhir client, keys, token, the first-start bootstrap); the token side
// of issue 9 fills them in.

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
// secret, shown once and stored hashed.
func (r *Registry) AddClient(ctx context.Context, spec ClientSpec) (secret string, err error) {
	return "", errors.New("not yet")
}

// Clients lists the registered clients by id.
func (r *Registry) Clients(ctx context.Context) ([]*Client, error) { return nil, errors.New("not yet") }

// RemoveClient unregisters a client: its tokens stop working at once.
func (r *Registry) RemoveClient(ctx context.Context, id string) error { return errors.New("not yet") }

// RotateKeys makes a new signing key, the one new tokens are signed with;
// the previous ones stay published until the tokens they signed expire.
func RotateKeys(ctx context.Context, r *Registry) (kid string, err error) {
	return "", errors.New("not yet")
}

// AdminCredentials is the content of admin-credentials.json.
type AdminCredentials struct {
	Username string          `json:"username"`
	Password string          `json:"password"`
	ClientID string          `json:"client_id"`
	Key      json.RawMessage `json:"private_key"` // admin-cli's private JWK
	BaseURL  string          `json:"base_url"`
}

// Bootstrap, on a store with no account and no client, creates the
// administrator (account admin, a random password) and the backend client
// admin-cli (system/*.cruds, a new key pair), and writes their credentials
// to dir/admin-credentials.json (mode 0600). It returns the file's path,
// or "" when the store already had accounts or clients.
func Bootstrap(ctx context.Context, r *Registry, dir, baseURL string) (path string, err error) {
	return "", errors.New("not yet")
}

// TokenRequest asks IssueToken for an access token as a backend client.
type TokenRequest struct {
	ClientID string
	Key      json.RawMessage // the client's private JWK
	Scope    string          // "" : everything the client is registered for
	BaseURL  string          // "" : the base URL the server recorded
}

// IssueToken runs the client-credentials grant in process (the client
// authenticated by its private key, as at the token endpoint) and returns
// the access token: dccfhir token.
func IssueToken(ctx context.Context, r *Registry, req TokenRequest) (string, error) {
	return "", errors.New("not yet")
}
