package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/store"
)

// Access tokens are RFC 9068 JWTs: header typ at+jwt, alg RS256, kid;
// claims iss, aud (the FHIR base), sub (the username, or the client id of
// a backend token), username (a user token's, = sub), client_id, scope,
// exp, iat, jti, family (the
// authorization they come from: a code and its refresh chain, or the
// token itself for a backend token; revocation is by family), fhirUser,
// and the launch context (patient, encounter, fhirContext,
// need_patient_banner).
const (
	accessTokenType = "at+jwt"
	claimClientID   = "client_id"
	claimScope      = "scope"
	claimFamily     = "family"
	claimUsername   = "username" // a user token's account (= sub); absent from a backend token, whose sub is its client
	claimFHIRUser   = "fhirUser"
	claimPatient    = "patient"
	claimEncounter  = "encounter"
	claimFHIRCtx    = "fhirContext"
	claimBanner     = "need_patient_banner"
	// claimClientReg is the registration of the client the token was
	// issued to (its Created instant, in microseconds): a client removed
	// and registered again under the same id does not inherit the tokens
	// of the first, even within the same second as iat.
	claimClientReg = "client_reg"
	// maxTokenBytes bounds a bearer token or assertion before any parsing.
	maxTokenBytes = 16 << 10
)

// newID is a random identifier (jti, family): 128 bits, base64url.
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// grant is what one access token is issued for.
type grant struct {
	ClientID string
	Username string // "" for a backend token
	FHIRUser string
	Scope    string
	Family   string
	// ClientReg is the client's registration (Client.Created).
	ClientReg time.Time
	Context
	TTL time.Duration
}

// subject is the token's sub: the user, or the client itself.
func (g *grant) subject() string {
	if g.Username != "" {
		return g.Username
	}
	return g.ClientID
}

// accessToken signs an access token for g.
func (t *tokenSide) accessToken(ctx context.Context, g *grant) (token string, exp time.Time, err error) {
	now := t.s.cfg.Now()
	exp = now.Add(g.TTL)
	b := jwt.NewBuilder().
		Issuer(t.s.cfg.Issuer).
		Audience([]string{t.s.cfg.BaseURL}).
		Subject(g.subject()).
		IssuedAt(now).
		Expiration(exp).
		JwtID(newID()).
		Claim(claimClientID, g.ClientID).
		Claim(claimScope, g.Scope).
		Claim(claimFamily, g.Family).
		Claim(claimClientReg, strconv.FormatInt(g.ClientReg.UnixMicro(), 10))
	if g.Username != "" {
		b = b.Claim(claimUsername, g.Username)
	}
	if g.FHIRUser != "" {
		b = b.Claim(claimFHIRUser, g.FHIRUser)
	}
	if g.Patient != "" {
		b = b.Claim(claimPatient, g.Patient)
	}
	if g.Encounter != "" {
		b = b.Claim(claimEncounter, g.Encounter)
	}
	if len(g.FHIRContext) > 0 {
		b = b.Claim(claimFHIRCtx, g.FHIRContext)
	}
	if g.NeedPatientBanner {
		b = b.Claim(claimBanner, true)
	}
	tok, err := b.Build()
	if err != nil {
		return "", exp, err
	}
	s, err := t.sign(ctx, tok, accessTokenType)
	return s, exp, err
}

// idToken is the OpenID Connect ID token of a user grant.
type idToken struct {
	ClientID, Username, Nonce string
	FHIRUser                  string // absolute URL, "" when none or not asked
	AuthTime                  time.Time
}

func (t *tokenSide) idToken(ctx context.Context, in *idToken) (string, error) {
	now := t.s.cfg.Now()
	b := jwt.NewBuilder().
		Issuer(t.s.cfg.Issuer).
		Audience([]string{in.ClientID}).
		Subject(in.Username).
		IssuedAt(now).
		Expiration(now.Add(t.s.cfg.TokenTTLUser)).
		Claim("azp", in.ClientID)
	if !in.AuthTime.IsZero() {
		b = b.Claim("auth_time", in.AuthTime.Unix())
	}
	if in.Nonce != "" {
		b = b.Claim("nonce", in.Nonce)
	}
	if in.FHIRUser != "" {
		b = b.Claim(claimFHIRUser, in.FHIRUser)
	}
	tok, err := b.Build()
	if err != nil {
		return "", err
	}
	return t.sign(ctx, tok, "JWT")
}

// sign signs with the newest key, header typ as given and the key's kid.
func (t *tokenSide) sign(ctx context.Context, tok jwt.Token, typ string) (string, error) {
	ring := t.keys.current(ctx)
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return "", err
	}
	b, err := jwt.Sign(tok, jwt.WithKey(signingAlg, ring.signer, jws.WithProtectedHeaders(hdr)))
	return string(b), err
}

func invalidToken(desc string) error {
	return &TokenError{Code: "invalid_token", Description: desc}
}

// Verify checks a bearer access token and returns its principal, or a
// *TokenError (invalid_token) saying why it is refused; any other error is
// a failure of the storage.
//
// The signature and claims are checked once per token (then cached until
// it expires): only the server's own keys and algorithm, its issuer, the
// FHIR base as audience, exp, iat and jti required, 60 s of clock skew,
// header typ at+jwt (an ID token or a client assertion is not an access
// token). What may change while a token lives — its family revoked, its
// client removed, its user disabled — is checked again whenever the epoch
// (epoch.go) has moved since the token's last check: one record read per
// call while nothing changes, so a change from another process takes
// effect at the next request.
func (s *Server) Verify(ctx context.Context, token string) (*Principal, error) {
	v, err := s.tokens.check(ctx, token)
	if err != nil {
		return nil, err
	}
	return v.state.Load().p, nil // shared by every request with this token: read only
}

// check is Verify's work, giving the whole verified token.
func (t *tokenSide) check(ctx context.Context, token string) (*verifiedToken, error) {
	if token == "" || len(token) > maxTokenBytes {
		return nil, invalidToken("malformed token")
	}
	v := t.verified.get(token)
	if v == nil {
		var err error
		if v, err = t.verifyAccess(ctx, token); err != nil {
			return nil, err
		}
		t.verified.put(strings.Clone(token), v)
	}
	// The epoch first: a change made during the live check below bumps it
	// after, and the next call checks again.
	epoch, err := t.epoch(ctx)
	if err != nil {
		return nil, err
	}
	if st := v.state.Load(); st != nil && st.epoch == epoch {
		if st.err != nil {
			return nil, st.err
		}
		return v, nil
	}
	p := v.p
	err = t.live(ctx, v.family, v.issued, v.clientReg, &p)
	var te *TokenError
	if err != nil && !errors.As(err, &te) {
		return nil, err // a storage failure: nothing learnt
	}
	v.state.Store(&liveState{epoch: epoch, err: err, p: &p})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// verifiedToken is a token whose signature and claims were checked.
type verifiedToken struct {
	p      Principal
	family string
	issued time.Time
	// clientReg is the client registration it was issued under (claimClientReg).
	clientReg int64
	until     time.Time // exp + skew: refused from then on
	// state is the last live check (epoch.go).
	state atomic.Pointer[liveState]
}

// verifyAccess checks signature and claims (the part that never changes).
func (t *tokenSide) verifyAccess(ctx context.Context, token string) (*verifiedToken, error) {
	return t.verifyAccessAt(ctx, token, false)
}

// verifyAccessAt is verifyAccess, with the times checked as at the token's
// own issue when asIssued: revocation takes an expired token so, that
// revoking it still ends its family (its refresh token). The signature,
// issuer and audience are checked all the same.
func (t *tokenSide) verifyAccessAt(ctx context.Context, token string, asIssued bool) (*verifiedToken, error) {
	h, err := parseHeader(token)
	if err != nil {
		return nil, invalidToken("malformed token")
	}
	switch {
	case !strings.EqualFold(h.Typ, accessTokenType) && !strings.EqualFold(h.Typ, "application/"+accessTokenType):
		return nil, invalidToken("not an access token (typ " + accessTokenType + " required)")
	case h.Alg != signingAlg.String():
		return nil, invalidToken("algorithm not accepted")
	case h.Kid == "":
		return nil, invalidToken("no key id")
	case len(h.Names) != 3:
		return nil, invalidToken("unexpected header members")
	}
	cfg := &t.s.cfg
	ring := t.keys.lookup(ctx, h.Kid)
	if ring == nil {
		return nil, invalidToken("unknown signing key")
	}
	// The signature first, the claims after (jwt.Validate): the clock of
	// the claims' check may be the token's own iat, read once it is signed.
	tok, err := jwt.Parse([]byte(token), jwt.WithKeySet(ring.public), jwt.WithValidate(false))
	if err != nil {
		return nil, invalidToken(jwtProblem(err))
	}
	clock := cfg.Now
	if iat := tok.IssuedAt(); asIssued {
		clock = func() time.Time { return iat }
	}
	if err := jwt.Validate(tok,
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.BaseURL),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithAcceptableSkew(clockSkew),
		jwt.WithClock(jwt.ClockFunc(clock)),
	); err != nil {
		return nil, invalidToken(jwtProblem(err))
	}
	claims := tok.PrivateClaims()
	str := func(name string) string { s, _ := claims[name].(string); return s }
	v := &verifiedToken{
		p: Principal{
			TokenID:  tok.JwtID(),
			ClientID: str(claimClientID),
			Subject:  tok.Subject(),
			FHIRUser: str(claimFHIRUser),
			Scope:    str(claimScope),
			Context: Context{
				Patient:   str(claimPatient),
				Encounter: str(claimEncounter),
			},
			Expires: tok.Expiration(),
		},
		family: str(claimFamily),
		issued: tok.IssuedAt(),
		until:  tok.Expiration().Add(clockSkew),
	}
	v.p.Username = str(claimUsername)
	reg, regErr := strconv.ParseInt(str(claimClientReg), 10, 64)
	v.clientReg = reg
	switch {
	case v.p.ClientID == "" || v.p.Subject == "" || v.family == "" || regErr != nil:
		return nil, invalidToken("incomplete token")
	case v.p.Username == "" && v.p.Subject != v.p.ClientID:
		return nil, invalidToken("a backend token's sub must be its client")
	case v.p.Username != "" && v.p.Subject != v.p.Username:
		return nil, invalidToken("a user token's sub must be its username")
	}
	if b, ok := claims[claimBanner].(bool); ok {
		v.p.NeedPatientBanner = b
	}
	if list, ok := claims[claimFHIRCtx].([]any); ok {
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				v.p.FHIRContext = append(v.p.FHIRContext, m)
			}
		}
	}
	set, _ := scope.Parse(v.p.Scope)
	v.p.Access = set.Access(v.p.Patient)
	return v, nil
}

// jwtProblem says what jwx refused, without echoing the token.
func jwtProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return "token expired"
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return "wrong audience"
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return "not yet valid"
	case errors.Is(err, jwt.ErrRequiredClaim()):
		return "a required claim is missing"
	case jwt.IsValidationError(err):
		return "claims not valid"
	}
	return "signature not valid"
}

// live checks what may change while a token lives: its family not
// revoked, its client registered (and not registered anew, under the same
// id, after the token was issued), its user registered and enabled.
//
// clientReg, when not 0, is the client registration the token names
// (claimClientReg), compared exactly; in any case the client must have
// been registered before issued (to the second).
//
// It sets p's Roles and Organization from the records it reads.
func (t *tokenSide) live(ctx context.Context, family string, issued time.Time, clientReg int64, p *Principal) error {
	clientID, username := p.ClientID, p.Username
	recs := t.s.reg.Store
	_, err := recs.GetRecord(ctx, KindRevoked, family)
	switch {
	case err == nil:
		return invalidToken("token revoked")
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	rec, err := recs.GetRecord(ctx, KindClient, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return invalidToken("client no longer registered")
	} else if err != nil {
		return err
	}
	client, err := t.clientCreated.get(clientID, rec.Value, func(b []byte) (clientStanding, error) {
		var c clientStanding
		err := json.Unmarshal(b, &c)
		return c, err
	})
	created := client.Created
	switch {
	case err != nil, clientReg != 0 && created.UnixMicro() != clientReg, issued.Before(created.Truncate(time.Second)):
		return invalidToken("client no longer registered")
	}
	p.Organization = client.Organization
	if username == "" {
		return nil
	}
	if rec, err = recs.GetRecord(ctx, KindUser, username); errors.Is(err, store.ErrNotFound) {
		return invalidToken("account no longer registered")
	} else if err != nil {
		return err
	}
	user, err := t.userDisabled.get(username, rec.Value, func(b []byte) (userStanding, error) {
		var u userStanding
		err := json.Unmarshal(b, &u)
		return u, err
	})
	if err != nil || user.Disabled {
		return invalidToken("account disabled")
	}
	p.Roles = user.Roles
	return nil
}

// clientStanding is what the live check reads of a client's record.
type clientStanding struct {
	Created      time.Time `json:"created"`
	Organization string    `json:"organization"`
}

// userStanding is what the live check reads of a user's record.
type userStanding struct {
	Disabled bool     `json:"disabled"`
	Roles    []string `json:"roles"`
}

// recordMemo keeps what was decoded from a record while its bytes stay the
// same: the per-request lookups compare bytes instead of decoding JSON.
type recordMemo[T any] struct {
	mu sync.RWMutex
	m  map[string]memoEntry[T]
}

type memoEntry[T any] struct {
	raw []byte
	v   T
}

// recordMemoMax bounds a memo (its keys are the clients and users of
// verified tokens; past it, it starts afresh).
const recordMemoMax = 10000

func (m *recordMemo[T]) get(key string, raw []byte, decode func([]byte) (T, error)) (T, error) {
	m.mu.RLock()
	e, ok := m.m[key]
	m.mu.RUnlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.v, nil
	}
	v, err := decode(raw)
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= recordMemoMax {
		m.m = map[string]memoEntry[T]{}
	}
	m.m[key] = memoEntry[T]{raw: bytes.Clone(raw), v: v}
	m.mu.Unlock()
	return v, nil
}

// verifyCache holds verified tokens by their value (the map compares it
// whole; hashing it is cheaper than a SHA-256), until they expire, so jwx
// runs once per token and not on every request. At most verifyCacheMax
// tokens of at most maxTokenBytes each.
type verifyCache struct {
	mu  sync.RWMutex
	m   map[string]*verifiedToken
	now func() time.Time
}

// verifyCacheMax bounds the cache: past it, expired entries go first,
// then arbitrary ones (they are verified again when next seen).
const verifyCacheMax = 10000

func (c *verifyCache) init(now func() time.Time) {
	c.m = make(map[string]*verifiedToken)
	c.now = now
}

func (c *verifyCache) get(key string) *verifiedToken {
	c.mu.RLock()
	v := c.m[key]
	c.mu.RUnlock()
	if v == nil || !c.now().Before(v.until) {
		return nil
	}
	return v
}

func (c *verifyCache) put(key string, v *verifiedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= verifyCacheMax {
		now := c.now()
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < verifyCacheMax*7/8 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = v
}

// jwsHeader is the protected header of a compact JWS, read before any
// verification to choose the key and refuse what is never accepted.
type jwsHeader struct {
	Alg, Kid, Typ, Jku string
	// Names is every member present.
	Names []string
}

// parseHeader reads a compact JWS's protected header strictly: three
// base64url parts, a JSON object without duplicate members, alg, kid, typ
// and jku strings when present. (jwt.Parse also takes the JSON
// serialization; a bearer value is always compact.)
func parseHeader(token string) (*jwsHeader, error) {
	if len(token) > maxTokenBytes || strings.Count(token, ".") != 2 {
		return nil, errors.New("not a compact JWS")
	}
	for _, r := range token {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return nil, errors.New("not a compact JWS")
		}
	}
	raw, err := base64.RawURLEncoding.DecodeString(token[:strings.IndexByte(token, '.')])
	if err != nil {
		return nil, err
	}
	members, err := jsonObject(raw)
	if err != nil {
		return nil, err
	}
	h := &jwsHeader{}
	for name, v := range members {
		h.Names = append(h.Names, name)
		var dst *string
		switch name {
		case "alg":
			dst = &h.Alg
		case "kid":
			dst = &h.Kid
		case "typ":
			dst = &h.Typ
		case "jku":
			dst = &h.Jku
		default:
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, errors.New("header member " + name + " is not a string")
		}
	}
	return h, nil
}

// jsonObject decodes a JSON object into its members, refusing duplicates
// (two parsers could each take a different one).
func jsonObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		if _, dup := out[name]; dup {
			return nil, errors.New("duplicate member " + name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return out, nil
}
