package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/store"
)

// introspectEndpoint is POST /auth/introspect (RFC 7662): the caller
// authenticates as a client, as at the token endpoint; a token is
// described only to the client it was issued to and to admin-cli, and is
// otherwise, like any token that is not valid, {"active":false}.
func (s *Server) introspectEndpoint(c echo.Context) error {
	ctx := c.Request().Context()
	caller, token, err := s.aboutToken(c)
	if err != nil {
		return s.oauthFail(c, err)
	}
	out, err := s.introspect(ctx, caller, token)
	if err != nil {
		return s.oauthFail(c, err)
	}
	return writeNoStore(c, http.StatusOK, out)
}

// aboutToken reads a request about a token (introspection, revocation):
// the calling client, authenticated as at the token endpoint, and the token.
func (s *Server) aboutToken(c echo.Context) (caller *Client, token string, err error) {
	form, err := readForm(c)
	if err != nil {
		return nil, "", err
	}
	if caller, _, err = s.authenticateClient(c.Request().Context(), credentialsOf(c.Request()), form); err != nil {
		return nil, "", err
	}
	if token = form.Get("token"); token == "" {
		return nil, "", &TokenError{Code: "invalid_request", Description: "token missing"}
	}
	return caller, token, nil
}

// mayDescribe: a token is the business of the client it was issued to and
// of the administrator's client.
func mayDescribe(caller *Client, clientID string) bool {
	return caller.ID == clientID || caller.ID == adminClientID
}

// isJWT tells an access token (a JWS) from a refresh token (one base64url
// value, no dots).
func isJWT(token string) bool { return strings.Contains(token, ".") }

func (s *Server) introspect(ctx context.Context, caller *Client, token string) (map[string]any, error) {
	inactive := map[string]any{"active": false}
	t := &s.tokens
	var te *TokenError
	if isJWT(token) {
		v, err := t.check(ctx, token)
		if errors.As(err, &te) {
			return inactive, nil
		} else if err != nil {
			return nil, err
		}
		if !mayDescribe(caller, v.p.ClientID) {
			return inactive, nil
		}
		p := &v.p
		out := map[string]any{
			"active": true, "token_type": "Bearer", "scope": p.Scope, "client_id": p.ClientID,
			"sub": p.Subject, "iss": s.cfg.Issuer, "aud": s.cfg.BaseURL,
			"exp": p.Expires.Unix(), "iat": v.issued.Unix(), "jti": p.TokenID,
		}
		if p.Username != "" {
			out["username"] = p.Username
		}
		if p.FHIRUser != "" {
			out["fhirUser"] = p.FHIRUser
		}
		if p.Patient != "" {
			out["patient"] = p.Patient
			out["need_patient_banner"] = p.NeedPatientBanner
		}
		if p.Encounter != "" {
			out["encounter"] = p.Encounter
		}
		if len(p.FHIRContext) > 0 {
			out["fhirContext"] = p.FHIRContext
		}
		return out, nil
	}
	rg, rec, err := t.liveRefresh(ctx, token)
	if errors.As(err, &te) {
		return inactive, nil
	} else if err != nil {
		return nil, err
	}
	if !mayDescribe(caller, rg.ClientID) {
		return inactive, nil
	}
	out := map[string]any{
		"active": true, "token_type": "refresh_token", "scope": rg.Scope, "client_id": rg.ClientID,
		"sub": rg.Username, "username": rg.Username, "iss": s.cfg.Issuer, "exp": rec.Expires.Unix(),
	}
	if rg.Patient != "" {
		out["patient"] = rg.Patient
	}
	if rg.Encounter != "" {
		out["encounter"] = rg.Encounter
	}
	return out, nil
}

// liveRefresh finds a refresh token that may still be used: stored, not
// used, its family not revoked, its client and user still registered. A
// *TokenError says why not.
func (t *tokenSide) liveRefresh(ctx context.Context, token string) (*refreshGrant, *store.Record, error) {
	rg, rec, err := t.refreshRecord(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if _, err := t.s.reg.Store.GetRecord(ctx, KindUsed, "refresh:"+rec.Key); err == nil {
		return rg, rec, invalidGrant("refresh token already used")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if err := t.live(ctx, rg.Family, rg.AuthTime, 0, &Principal{ClientID: rg.ClientID, Username: rg.Username}); err != nil {
		return rg, rec, err
	}
	return rg, rec, nil
}

// refreshRecord reads a refresh token's record, whatever its state (used
// or not): a *TokenError (invalid_grant) when there is none.
func (t *tokenSide) refreshRecord(ctx context.Context, token string) (*refreshGrant, *store.Record, error) {
	rec, err := t.s.reg.Store.GetRecord(ctx, KindRefresh, Digest(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, invalidGrant("unknown or expired refresh token")
	} else if err != nil {
		return nil, nil, err
	}
	rg := new(refreshGrant)
	if err := json.Unmarshal(rec.Value, rg); err != nil {
		return nil, nil, err
	}
	return rg, rec, nil
}
