package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/dccfhir/dccfhir/store"
)

// How a client proves who it is at the token, introspection and
// revocation endpoints.
type authMethod string

const (
	authNone  authMethod = "none"                // a public client: client_id alone
	authBasic authMethod = "client_secret_basic" // a confidential client
	authJWT   authMethod = "private_key_jwt"     // a backend client (RFC 7523)
)

// assertionType is the only client_assertion_type (RFC 7523 section 2.2).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionAhead is how far in the future a client assertion's exp may
// be (SMART Backend Services: five minutes), plus the clock skew.
const maxAssertionAhead = 5*time.Minute + clockSkew

// assertionAlgs are the algorithms a client assertion may be signed with:
// RS384 and ES384 as SMART requires, and RS256 and ES256, which many
// clients use. Never HMAC (a public key is no secret), never none.
var assertionAlgs = map[string]jwa.SignatureAlgorithm{
	"RS384": jwa.RS384, "ES384": jwa.ES384, "RS256": jwa.RS256, "ES256": jwa.ES256,
}

// assertionAlgNames is assertionAlgs in the order discovery lists them.
var assertionAlgNames = []string{"RS384", "ES384", "RS256", "ES256"}

// credentials is what a request's Authorization header says of its client.
type credentials struct {
	basic      bool // HTTP Basic was sent
	id, secret string
	// other is an Authorization header that is not Basic.
	other bool
}

func credentialsOf(r *http.Request) credentials {
	h := r.Header.Get("Authorization")
	if h == "" {
		return credentials{}
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		return credentials{other: true}
	}
	return credentials{basic: true, id: id, secret: secret}
}

func invalidClient(desc string) error {
	return &TokenError{Code: "invalid_client", Description: desc}
}

// authenticateClient authenticates the caller: HTTP Basic for a
// confidential client, a client assertion for a backend client, client_id
// alone for a public client; exactly one method, the one the client is
// registered for.
func (s *Server) authenticateClient(ctx context.Context, cr credentials, form url.Values) (*Client, authMethod, error) {
	hasAssertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	switch {
	case cr.other:
		return nil, "", invalidClient("unsupported Authorization scheme (HTTP Basic, a client assertion or client_id)")
	case form.Has("client_secret"):
		return nil, "", invalidClient("client_secret_post is not supported: send the secret with HTTP Basic")
	case cr.basic && hasAssertion:
		return nil, "", &TokenError{Code: "invalid_request", Description: "more than one client authentication method"}
	case cr.basic:
		return s.basicClient(ctx, cr, form.Get("client_id"))
	case hasAssertion:
		if form.Get("client_assertion_type") != assertionType {
			return nil, "", invalidClient("client_assertion_type must be " + assertionType)
		}
		cl, err := s.tokens.verifyAssertion(ctx, form.Get("client_assertion"), form.Get("client_id"))
		return cl, authJWT, err
	}
	id := form.Get("client_id")
	if id == "" {
		return nil, "", invalidClient("client authentication required")
	}
	cl, err := s.reg.Client(ctx, id)
	if errors.Is(err, ErrUnknown) {
		return nil, "", invalidClient("unknown client")
	} else if err != nil {
		return nil, "", err
	}
	if cl.Kind != "public" {
		return nil, "", invalidClient("this client must authenticate (" + string(methodOf(cl)) + ")")
	}
	return cl, authNone, nil
}

// methodOf is the authentication method a client is registered for.
func methodOf(cl *Client) authMethod {
	switch {
	case cl.Kind == "confidential":
		return authBasic
	case cl.Kind == "backend":
		return authJWT
	}
	return authNone
}

func (s *Server) basicClient(ctx context.Context, cr credentials, formID string) (*Client, authMethod, error) {
	// RFC 6749 section 2.3.1: both are form-encoded before Basic.
	id, err1 := url.QueryUnescape(cr.id)
	secret, err2 := url.QueryUnescape(cr.secret)
	if err1 != nil || err2 != nil || id == "" {
		return nil, "", invalidClient("malformed HTTP Basic credentials")
	}
	if formID != "" && formID != id {
		return nil, "", invalidClient("client_id differs from the authenticated client")
	}
	cl, err := s.reg.Client(ctx, id)
	if errors.Is(err, ErrUnknown) {
		return nil, "", invalidClient("unknown client or wrong secret")
	} else if err != nil {
		return nil, "", err
	}
	if methodOf(cl) != authBasic || cl.SecretHash == "" || !CheckSecret(cl.SecretHash, secret) {
		return nil, "", invalidClient("unknown client or wrong secret")
	}
	return cl, authBasic, nil
}

// verifyAssertion authenticates a backend client by its client assertion
// (RFC 7523 and SMART Backend Services): header alg one of assertionAlgs,
// kid required, typ JWT, a jku only when it is the client's registered
// JWKS URL (and then never fetched because it is named: the registered
// URL is), no key carried in the header (jwk, x5u, x5c are refused);
// iss = sub = a registered backend client; aud the token endpoint; exp
// required and at most 5 minutes ahead; jti required and never accepted
// twice; the key the single one of kid in the client's registered JWKS or
// JWKS URL, of a type fitting alg.
func (t *tokenSide) verifyAssertion(ctx context.Context, assertion, formID string) (*Client, error) {
	if assertion == "" {
		return nil, invalidClient("client_assertion missing")
	}
	h, err := parseHeader(assertion)
	if err != nil {
		return nil, invalidClient("malformed client assertion")
	}
	for _, n := range h.Names {
		switch n {
		case "alg", "kid", "typ", "jku", "x5t", "x5t#S256":
		case "jwk", "x5u", "x5c":
			return nil, invalidClient("a key named in the assertion header (" + n + ") is never used")
		default:
			return nil, invalidClient("assertion header member " + n + " not accepted")
		}
	}
	alg, ok := assertionAlgs[h.Alg]
	switch {
	case !ok:
		return nil, invalidClient("assertion algorithm not accepted (" + strings.Join(assertionAlgNames, ", ") + ")")
	case h.Kid == "":
		return nil, invalidClient("assertion header kid required")
	case !strings.EqualFold(h.Typ, "JWT"):
		return nil, invalidClient("assertion header typ JWT required")
	}
	iss, err := unverifiedIssuer(assertion)
	if err != nil {
		return nil, invalidClient("malformed client assertion")
	}
	if formID != "" && formID != iss {
		return nil, invalidClient("client_id differs from the assertion's iss")
	}
	cl, err := t.s.reg.Client(ctx, iss)
	if errors.Is(err, ErrUnknown) {
		return nil, invalidClient("unknown client")
	} else if err != nil {
		return nil, err
	}
	if methodOf(cl) != authJWT || (len(cl.JWKS) == 0 && cl.JWKSURL == "") {
		return nil, invalidClient("this client does not authenticate with private_key_jwt")
	}
	if h.Jku != "" && h.Jku != cl.JWKSURL {
		return nil, invalidClient("jku is not the client's registered JWKS URL")
	}
	key, err := t.clientKey(ctx, cl, h.Kid, alg)
	if err != nil {
		return nil, invalidClient(err.Error())
	}
	cfg := &t.s.cfg
	tok, err := jwt.Parse([]byte(assertion),
		jwt.WithKey(alg, key),
		jwt.WithIssuer(cl.ID),
		jwt.WithSubject(cl.ID),
		jwt.WithAudience(t.tokenURL),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithAcceptableSkew(clockSkew),
		jwt.WithClock(jwt.ClockFunc(cfg.Now)),
	)
	if err != nil {
		return nil, invalidClient("client assertion: " + assertionProblem(err))
	}
	exp := tok.Expiration()
	if exp.After(cfg.Now().Add(maxAssertionAhead)) {
		return nil, invalidClient("client assertion exp more than 5 minutes ahead")
	}
	jti := tok.JwtID()
	if jti == "" || len(jti) > 256 {
		return nil, invalidClient("client assertion jti empty or too long")
	}
	err = t.s.reg.put(ctx, KindJTI, cl.ID+" "+jti, struct{}{}, exp.Add(clockSkew), true)
	if errors.Is(err, store.ErrConflict) {
		return nil, invalidClient("client assertion jti already used")
	} else if err != nil {
		return nil, err
	}
	return cl, nil
}

func assertionProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return "aud must be the token endpoint URL"
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return "iss must be the client id"
	case jwt.IsValidationError(err) && strings.Contains(err.Error(), `"sub" not satisfied`):
		return "sub must be the client id"
	}
	return jwtProblem(err)
}

// unverifiedIssuer reads the iss of a compact JWT before it is verified:
// it only chooses whose keys verify it.
func unverifiedIssuer(token string) (string, error) {
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Iss == "" {
		return "", errors.New("no iss")
	}
	return c.Iss, nil
}

// clientKey is the single key of the client's (registered or fetched)
// set with that kid and a type fitting alg.
func (t *tokenSide) clientKey(ctx context.Context, cl *Client, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	var set jwk.Set
	var err error
	if len(cl.JWKS) > 0 {
		set, err = jwk.Parse(cl.JWKS)
	} else {
		set, err = t.jwks.keys(ctx, cl.JWKSURL, kid)
	}
	if err != nil {
		return nil, errors.New("the client's keys could not be read: " + err.Error())
	}
	var found jwk.Key
	n := 0
	for i := range set.Len() {
		k, _ := set.Key(i)
		if k.KeyID() != kid {
			continue
		}
		n++
		if fitsAlg(k, alg) == nil {
			found = k
		}
	}
	switch {
	case n == 0:
		return nil, errors.New("no key of that kid in the client's keys")
	case n > 1:
		return nil, errors.New("several keys of that kid in the client's keys")
	case found == nil:
		return nil, errors.New("the key of that kid does not fit the algorithm")
	}
	return found, nil
}

// fitsAlg checks that k may verify alg: its type and curve or size, and
// its alg, use and key_ops when it states them.
func fitsAlg(k jwk.Key, alg jwa.SignatureAlgorithm) error {
	if a := k.Algorithm().String(); a != "" && a != alg.String() {
		return errors.New("key alg " + a + " is not " + alg.String())
	}
	if u := k.KeyUsage(); u != "" && u != jwk.ForSignature.String() {
		return errors.New("key use is not sig")
	}
	if ops := k.KeyOps(); len(ops) > 0 {
		ok := false
		for _, op := range ops {
			ok = ok || op == jwk.KeyOpVerify
		}
		if !ok {
			return errors.New("key_ops do not include verify")
		}
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return err
	}
	switch alg {
	case jwa.RS256, jwa.RS384:
		var pub *rsa.PublicKey
		switch r := raw.(type) {
		case *rsa.PublicKey:
			pub = r
		case *rsa.PrivateKey:
			pub = &r.PublicKey
		}
		if pub == nil || pub.N.BitLen() < 2048 {
			return errors.New("an RSA key of at least 2048 bits is required")
		}
	case jwa.ES256, jwa.ES384:
		var pub *ecdsa.PublicKey
		switch r := raw.(type) {
		case *ecdsa.PublicKey:
			pub = r
		case *ecdsa.PrivateKey:
			pub = &r.PublicKey
		}
		want := elliptic.P256()
		if alg == jwa.ES384 {
			want = elliptic.P384()
		}
		if pub == nil || pub.Curve != want {
			return errors.New("an EC key on " + want.Params().Name + " is required")
		}
	default:
		return errors.New("algorithm not accepted")
	}
	return nil
}
