package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/store"
)

const (
	// maxAuthBody bounds the body of every auth endpoint.
	maxAuthBody = 64 << 10
	// Refresh tokens: offline_access ones live 30 days from each rotation;
	// online_access ones 12 hours from the login, however often rotated
	// (the user is taken to be online no longer than a working day).
	refreshTTLOffline = 30 * 24 * time.Hour
	refreshTTLOnline  = 12 * time.Hour
	// usedTTL is how long a used code is remembered, so that a replay
	// revokes what it gave.
	usedTTL = 24 * time.Hour
	// adminClientID is the bootstrap client, which may introspect and
	// revoke any token.
	adminClientID = "admin-cli"
)

// tokenResponse is the token endpoint's answer (RFC 6749 section 5.1 and
// SMART App Launch's launch context).
type tokenResponse struct {
	AccessToken       string           `json:"access_token"`
	TokenType         string           `json:"token_type"`
	ExpiresIn         int64            `json:"expires_in"`
	Scope             string           `json:"scope"`
	RefreshToken      string           `json:"refresh_token,omitempty"`
	IDToken           string           `json:"id_token,omitempty"`
	Patient           string           `json:"patient,omitempty"`
	Encounter         string           `json:"encounter,omitempty"`
	FHIRContext       []map[string]any `json:"fhirContext,omitempty"`
	NeedPatientBanner *bool            `json:"need_patient_banner,omitempty"`
	FHIRUser          string           `json:"fhirUser,omitempty"`
}

// refreshGrant is a KindRefresh record: what a refresh token stands for.
type refreshGrant struct {
	Family   string `json:"family"`
	ClientID string `json:"clientId"`
	Username string `json:"username"`
	// Scope is the scope of the authorization (a refresh may ask for less).
	Scope string `json:"scope"`
	Context
	AuthTime time.Time `json:"authTime"`
	// Online: an online_access token, which ends OnlineUntil.
	Online bool `json:"online,omitempty"`
}

// usedMarker is a KindUsed record: a code or refresh token already used,
// and the family of what it gave.
type usedMarker struct {
	Family string `json:"family"`
}

// tokenEndpoint is POST /auth/token.
func (s *Server) tokenEndpoint(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return s.oauthFail(c, err)
	}
	audit.NoteClient(c.Request().Context(), form.Get("client_id"))
	resp, err := s.grant(c.Request().Context(), credentialsOf(c.Request()), form)
	if err != nil {
		return s.oauthFail(c, err)
	}
	return writeNoStore(c, http.StatusOK, resp)
}

// grant authenticates the client and runs the grant of form: the token
// endpoint's work, which IssueToken runs in process too.
func (s *Server) grant(ctx context.Context, cr credentials, form url.Values) (*tokenResponse, error) {
	gt := form.Get("grant_type")
	switch gt {
	case "authorization_code", "refresh_token", "client_credentials":
	case "":
		return nil, &TokenError{Code: "invalid_request", Description: "grant_type missing"}
	default:
		return nil, &TokenError{Code: "unsupported_grant_type", Description: "grant_type must be authorization_code, refresh_token or client_credentials"}
	}
	cl, method, err := s.authenticateClient(ctx, cr, form)
	if err != nil {
		s.logRefusal(gt, form.Get("client_id"), err)
		return nil, err
	}
	var resp *tokenResponse
	switch gt {
	case "authorization_code":
		resp, err = s.codeGrant(ctx, cl, form)
	case "refresh_token":
		resp, err = s.refreshGrant(ctx, cl, form)
	default:
		resp, err = s.clientCredentials(ctx, cl, method, form)
	}
	if err != nil {
		s.logRefusal(gt, cl.ID, err)
		return nil, err
	}
	s.cfg.Logger.Info("auth: token issued", "grant_type", gt, "client_id", cl.ID, "scope", resp.Scope)
	return resp, nil
}

// logRefusal logs a refused token request: the grant, the client and the
// OAuth error, never a value of the request.
func (s *Server) logRefusal(grant, clientID string, err error) {
	var te *TokenError
	if errors.As(err, &te) {
		s.cfg.Logger.Info("auth: token request refused", "grant_type", grant, "client_id", clientID, "error", te.Code, "reason", te.Description)
	}
}

func invalidGrant(desc string) error {
	return &TokenError{Code: "invalid_grant", Description: desc}
}

// codeGrant exchanges an authorization code: single use (a second use
// revokes what the first gave), for the client it was issued to, the same
// redirect_uri, and the PKCE verifier of its S256 challenge.
func (s *Server) codeGrant(ctx context.Context, cl *Client, form url.Values) (*tokenResponse, error) {
	code, redirect, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	switch {
	case code == "":
		return nil, &TokenError{Code: "invalid_request", Description: "code missing"}
	case redirect == "":
		return nil, &TokenError{Code: "invalid_request", Description: "redirect_uri missing"}
	case !validVerifier(verifier):
		return nil, &TokenError{Code: "invalid_request", Description: "code_verifier missing or malformed (43 to 128 characters of A-Z a-z 0-9 - . _ ~)"}
	}
	t := &s.tokens
	now := s.cfg.Now()
	digest := Digest(code)
	family := newID()
	// The marker first: of two uses of one code, exactly one creates it,
	// and the other learns the family to revoke.
	usedKey := "code:" + digest
	err := s.reg.put(ctx, KindUsed, usedKey, &usedMarker{Family: family}, now.Add(usedTTL), true)
	if errors.Is(err, store.ErrConflict) {
		if err := t.revokeUsed(ctx, usedKey); err != nil {
			return nil, err
		}
		return nil, invalidGrant("authorization code already used: the tokens it gave are revoked")
	} else if err != nil {
		return nil, err
	}
	rec, err := s.reg.Store.TakeRecord(ctx, KindCode, digest)
	if errors.Is(err, store.ErrNotFound) {
		_ = s.reg.Store.DeleteRecord(ctx, KindUsed, usedKey)
		return nil, invalidGrant("unknown or expired authorization code")
	} else if err != nil {
		return nil, err
	}
	var ac Code
	if err := json.Unmarshal(rec.Value, &ac); err != nil {
		return nil, err
	}
	switch {
	case !ac.Issued.IsZero() && now.After(ac.Issued.Add(time.Minute)):
		return nil, invalidGrant("expired authorization code")
	case ac.ClientID != cl.ID, ac.Issued.Before(cl.Created):
		return nil, invalidGrant("authorization code issued to another client")
	case ac.RedirectURI != redirect:
		return nil, invalidGrant("redirect_uri differs from the authorization request's")
	case ac.Challenge == "" || !EqualConstant(s256(verifier), ac.Challenge):
		return nil, invalidGrant("code_verifier does not match the code_challenge (S256)")
	}
	authTime := ac.AuthTime
	if authTime.IsZero() {
		authTime = ac.Issued
	}
	if authTime.IsZero() {
		authTime = now
	}
	return s.userTokens(ctx, cl, &refreshGrant{
		Family: family, ClientID: cl.ID, Username: ac.Username, Scope: ac.Scope, Context: ac.Context, AuthTime: authTime,
	}, ac.Scope, ac.Nonce, true)
}

// validVerifier: RFC 7636 section 4.1.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~') {
			return false
		}
	}
	return true
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// refreshGrant exchanges a refresh token (rotated: the one presented is
// used up, a new one returned; presenting a used one revokes its family).
func (s *Server) refreshGrant(ctx context.Context, cl *Client, form url.Values) (*tokenResponse, error) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, &TokenError{Code: "invalid_request", Description: "refresh_token missing"}
	}
	t := &s.tokens
	digest := Digest(rt)
	rec, err := s.reg.Store.GetRecord(ctx, KindRefresh, digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidGrant("unknown or expired refresh token")
	} else if err != nil {
		return nil, err
	}
	var rg refreshGrant
	if err := json.Unmarshal(rec.Value, &rg); err != nil {
		return nil, err
	}
	if rg.ClientID != cl.ID {
		return nil, invalidGrant("refresh token issued to another client")
	}
	if err := t.live(ctx, rg.Family, rg.AuthTime, 0, &Principal{ClientID: rg.ClientID, Username: rg.Username}); err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return nil, invalidGrant(te.Description)
		}
		return nil, err
	}
	granted := rg.Scope
	if asked := form.Get("scope"); asked != "" {
		if !within(asked, rg.Scope) {
			return nil, &TokenError{Code: "invalid_scope", Description: "a refresh may ask only for scopes of the original grant"}
		}
		granted = asked
	}
	// Used now: of two presentations, exactly one gets here first.
	usedKey := "refresh:" + digest
	err = s.reg.put(ctx, KindUsed, usedKey, &usedMarker{Family: rg.Family}, rec.Expires, true)
	if errors.Is(err, store.ErrConflict) {
		if err := t.revokeFamily(ctx, rg.Family, t.userFamilyEnd()); err != nil {
			return nil, err
		}
		return nil, invalidGrant("refresh token already used: the authorization is revoked")
	} else if err != nil {
		return nil, err
	}
	return s.userTokens(ctx, cl, &rg, granted, "", false)
}

// within reports whether every scope of asked is one of orig's (as
// written, or narrowed from one of them).
func within(asked, orig string) bool {
	o, _ := scope.Parse(orig)
	a, bad := scope.Parse(asked)
	if len(bad) > 0 {
		return false
	}
	for _, c := range a.Clinical {
		one := scope.Set{Clinical: []scope.Clinical{c}}
		if n := scope.Narrow(one, o); len(n.Clinical) != 1 || n.String() != one.String() {
			return false
		}
	}
	for _, name := range a.Other {
		if !o.Has(name) {
			return false
		}
	}
	return true
}

// userTokens issues the tokens of a user grant: the access token, a
// refresh token when offline_access or online_access is granted, an ID
// token when openid is.
func (s *Server) userTokens(ctx context.Context, cl *Client, rg *refreshGrant, asked, nonce string, first bool) (*tokenResponse, error) {
	t := &s.tokens
	if rg.Username == "" {
		return nil, invalidGrant("no account in the authorization")
	}
	u, err := s.reg.User(ctx, rg.Username)
	if errors.Is(err, ErrUnknown) {
		return nil, invalidGrant("account no longer registered")
	} else if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, invalidGrant("account disabled")
	}
	a, _ := scope.Parse(asked)
	allowed, _ := scope.Parse(cl.Scopes)
	granted := scope.Narrow(a, allowed)
	fhirUser := ""
	if u.Practitioner != "" {
		fhirUser = s.cfg.BaseURL + "/" + u.Practitioner
	}
	g := &grant{
		ClientID: cl.ID, Username: u.Username, FHIRUser: fhirUser, Scope: granted.String(),
		Family: rg.Family, ClientReg: cl.Created, Context: rg.Context, TTL: s.cfg.TokenTTLUser,
	}
	at, exp, err := t.accessToken(ctx, g)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(s.cfg.Now()) / time.Second), Scope: g.Scope,
		Patient: rg.Patient, Encounter: rg.Encounter, FHIRContext: rg.FHIRContext,
	}
	if rg.Patient != "" {
		banner := rg.NeedPatientBanner
		resp.NeedPatientBanner = &banner
	}
	if granted.Has("fhirUser") {
		resp.FHIRUser = fhirUser
	}
	if granted.Has("openid") {
		id := &idToken{ClientID: cl.ID, Username: u.Username, Nonce: nonce, AuthTime: rg.AuthTime}
		if granted.Has("fhirUser") {
			id.FHIRUser = fhirUser
		}
		if resp.IDToken, err = t.idToken(ctx, id); err != nil {
			return nil, err
		}
	}
	offline, online := granted.Has("offline_access"), granted.Has("online_access")
	if first {
		rg.Online = online && !offline
	}
	if offline || online || !first {
		if resp.RefreshToken, err = t.refreshToken(ctx, rg); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// refreshToken stores a new refresh token of rg's family.
func (t *tokenSide) refreshToken(ctx context.Context, rg *refreshGrant) (string, error) {
	now := t.s.cfg.Now()
	exp := now.Add(refreshTTLOffline)
	if rg.Online {
		exp = rg.AuthTime.Add(refreshTTLOnline)
		if !exp.After(now) {
			return "", nil
		}
	}
	rt := RandomToken()
	return rt, t.s.reg.put(ctx, KindRefresh, Digest(rt), rg, exp, true)
}

// clientCredentials is SMART Backend Services: a backend client, by
// private_key_jwt, gets at most the system/ scopes registered for it.
func (s *Server) clientCredentials(ctx context.Context, cl *Client, method authMethod, form url.Values) (*tokenResponse, error) {
	if cl.Kind != "backend" || method != authJWT {
		return nil, &TokenError{Code: "unauthorized_client", Description: "client_credentials is for backend clients authenticated by private_key_jwt"}
	}
	asked := form.Get("scope")
	if asked == "" {
		asked = cl.Scopes
	}
	a, _ := scope.Parse(asked)
	allowed, _ := scope.Parse(cl.Scopes)
	var granted scope.Set
	for _, c := range scope.Narrow(a, allowed).Clinical {
		if c.Context == "system" {
			granted.Clinical = append(granted.Clinical, c)
		}
	}
	if len(granted.Clinical) == 0 {
		return nil, &TokenError{Code: "invalid_scope", Description: "none of the scopes asked for may be granted to this client"}
	}
	g := &grant{ClientID: cl.ID, ClientReg: cl.Created, Scope: granted.String(), Family: newID(), TTL: s.cfg.TokenTTLBackend}
	at, exp, err := s.tokens.accessToken(ctx, g)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(s.cfg.Now()) / time.Second), Scope: g.Scope}, nil
}

// userFamilyEnd is when every token of a user family issued until now has
// expired: how long its revocation must be kept.
func (t *tokenSide) userFamilyEnd() time.Time {
	return t.s.cfg.Now().Add(refreshTTLOffline + t.s.cfg.TokenTTLUser + clockSkew)
}

// revokeFamily revokes every token of a family, until its last expires.
func (t *tokenSide) revokeFamily(ctx context.Context, family string, until time.Time) error {
	return t.s.reg.put(ctx, KindRevoked, family, map[string]any{"revoked": t.s.cfg.Now().UTC()}, until, false)
}

// revokeUsed revokes the family a used-value marker names.
func (t *tokenSide) revokeUsed(ctx context.Context, usedKey string) error {
	var m usedMarker
	if err := t.s.reg.get(ctx, KindUsed, usedKey, &m); errors.Is(err, ErrUnknown) {
		return nil
	} else if err != nil {
		return err
	}
	return t.revokeFamily(ctx, m.Family, t.userFamilyEnd())
}

// readForm reads an auth endpoint's body: application/x-www-form-urlencoded
// only, at most 64 KiB, each parameter at most once (RFC 6749 section 3.2).
// Parameters in the query string are not read.
func readForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &TokenError{Code: "invalid_request", Description: "the body must be application/x-www-form-urlencoded"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAuthBody+1))
	if err != nil {
		return nil, &TokenError{Code: "invalid_request", Description: "reading the body failed"}
	}
	if len(body) > maxAuthBody {
		return nil, &TokenError{Code: "invalid_request", Description: "body over 64 KiB", Status: http.StatusRequestEntityTooLarge}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &TokenError{Code: "invalid_request", Description: "malformed form body"}
	}
	for name, v := range form {
		if len(v) > 1 {
			return nil, &TokenError{Code: "invalid_request", Description: "parameter " + name + " repeated"}
		}
	}
	return form, nil
}

// writeNoStore answers JSON that no cache may keep (tokens, their
// descriptions, errors of the auth endpoints).
func writeNoStore(c echo.Context, status int, v any) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(status, v)
}

// oauthError is the JSON of an OAuth error (RFC 6749 section 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// oauthFail answers err: a *TokenError as itself, anything else (a storage
// failure) as a 500 server_error, logged without the request's values.
func (s *Server) oauthFail(c echo.Context, err error) error {
	var te *TokenError
	if !errors.As(err, &te) {
		s.cfg.Logger.Error("auth: endpoint failed", "path", c.Path(), "error", err)
		return writeNoStore(c, http.StatusInternalServerError, &oauthError{Error: "server_error", Description: "the server failed; try again"})
	}
	if te.Code == "invalid_client" && credentialsOf(c.Request()).basic {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="dccfhir"`)
	}
	return writeNoStore(c, te.HTTPStatus(), &oauthError{Error: te.Code, Description: oauthText(te.Description)})
}

// oauthText is s in the characters RFC 6749 (section 5.2) allows in an
// error_description: printable ASCII but " and \.
func oauthText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
