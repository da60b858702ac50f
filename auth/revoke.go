package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/store"
)

// revokeEndpoint is POST /auth/revoke (RFC 7009): the caller authenticates
// as a client (a public client with its client_id). Revoking a token —
// access or refresh — revokes its family: every token of the same
// authorization (RFC 7009 section 2.1 allows it for an access token, and
// an app that gives one up gives up the authorization). The answer is 200
// whatever the token: unknown, expired, already revoked, or another
// client's (which is left alone).
func (s *Server) revokeEndpoint(c echo.Context) error {
	ctx := c.Request().Context()
	form, err := readForm(c)
	if err != nil {
		return s.oauthFail(c, err)
	}
	caller, _, err := s.authenticateClient(ctx, credentialsOf(c.Request()), form)
	if err != nil {
		return s.oauthFail(c, err)
	}
	token := form.Get("token")
	if token == "" {
		return s.oauthFail(c, &TokenError{Code: "invalid_request", Description: "token missing"})
	}
	if err := s.revoke(ctx, caller, token); err != nil {
		return s.oauthFail(c, err)
	}
	return writeNoStore(c, http.StatusOK, struct{}{})
}

func (s *Server) revoke(ctx context.Context, caller *Client, token string) error {
	t := &s.tokens
	var te *TokenError
	if isJWT(token) {
		v, err := t.check(ctx, token)
		if errors.As(err, &te) {
			// An expired access token still names a family whose refresh
			// token may live on: verify it (signature, issuer, audience)
			// as at its issue time, and revoke that family.
			iat, ok := unverifiedIssuedAt(token)
			if !ok {
				return nil
			}
			if v, err = t.verifyAccessAt(ctx, token, func() time.Time { return iat }); err != nil {
				return nil
			}
		} else if err != nil {
			return err
		}
		if !mayDescribe(caller, v.p.ClientID) {
			return nil
		}
		until := v.until
		if v.p.Username != "" {
			until = t.userFamilyEnd()
		}
		return t.revokeFamily(ctx, v.family, until)
	}
	rec, err := s.reg.Store.GetRecord(ctx, KindRefresh, Digest(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	var rg refreshGrant
	if err := json.Unmarshal(rec.Value, &rg); err != nil {
		return err
	}
	if !mayDescribe(caller, rg.ClientID) {
		return nil
	}
	return t.revokeFamily(ctx, rg.Family, t.userFamilyEnd())
}

// unverifiedIssuedAt reads a JWT's iat without verifying anything: only to
// set the clock verifyAccessAt then checks the signed token against.
func unverifiedIssuedAt(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		IAT int64 `json:"iat"`
	}
	if json.Unmarshal(b, &c) != nil || c.IAT <= 0 {
		return time.Time{}, false
	}
	return time.Unix(c.IAT, 0), true
}
