package auth

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
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
	caller, token, err := s.aboutToken(c)
	if err != nil {
		return s.oauthFail(c, err)
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
			if v, err = t.verifyAccessAt(ctx, token, true); err != nil {
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
	rg, _, err := t.refreshRecord(ctx, token)
	if errors.As(err, &te) {
		return nil
	} else if err != nil {
		return err
	}
	if !mayDescribe(caller, rg.ClientID) {
		return nil
	}
	return t.revokeFamily(ctx, rg.Family, t.userFamilyEnd())
}
