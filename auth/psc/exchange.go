package psc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Exchange redeems the authorization code of a login (with its PKCE
// verifier) at the token endpoint, verifies the ID token against the
// login's nonce, reads the userinfo with the access token and returns the
// professional. A *RefusedError says which answer failed which check; any
// other error is the provider unreachable or failing.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (*Identity, error) {
	if code == "" || verifier == "" || nonce == "" {
		return nil, refused("token", ErrMalformed, "a code, a verifier and a nonce are required")
	}
	tok, err := p.redeem(ctx, code, verifier)
	if err != nil {
		return nil, err
	}
	id, err := p.verifyIDToken(ctx, tok.IDToken, nonce)
	if err != nil {
		return nil, err
	}
	ui, err := p.userinfo(ctx, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	return identity(id, ui)
}

// tokenAnswer is the token endpoint's success answer (the parts used).
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	IDToken     string `json:"id_token"`
}

// oauthError is an error answer of the token or userinfo endpoint.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// redeem posts the code (client_secret_basic: RFC 6749 section 2.3.1,
// id and secret form-encoded before the Basic encoding).
func (p *Provider) redeem(ctx context.Context, code, verifier string) (*tokenAnswer, error) {
	const step = "token"
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {p.cfg.RedirectURL},
		"code_verifier": {verifier},
	}
	req, err := http.NewRequest(http.MethodPost, p.meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("psc: token endpoint: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	a, err := p.do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("psc: token endpoint: %w", err)
	}
	switch {
	case a.status == http.StatusOK:
	case a.status == http.StatusBadRequest || a.status == http.StatusUnauthorized:
		var oe oauthError
		_ = json.Unmarshal(a.body, &oe)
		return nil, refused(step, ErrProvider, describe(a.status, oe))
	default:
		return nil, fmt.Errorf("psc: token endpoint answered %d", a.status)
	}
	var t tokenAnswer
	if err := json.Unmarshal(a.body, &t); err != nil {
		return nil, refused(step, ErrMalformed, "the token answer is not JSON")
	}
	if !strings.EqualFold(t.TokenType, "Bearer") || t.AccessToken == "" {
		return nil, refused(step, ErrMalformed, fmt.Sprintf("no bearer access token (token_type %q)", printable(t.TokenType)))
	}
	if t.IDToken == "" {
		return nil, refused(step, ErrMalformed, "no id_token")
	}
	return &t, nil
}

func describe(status int, oe oauthError) string {
	s := fmt.Sprintf("status %d", status)
	if oe.Error != "" {
		s += ", " + printable(oe.Error)
	}
	if oe.Description != "" {
		s += ": " + printable(oe.Description)
	}
	return s
}

// userinfo reads the professional's claims with the access token: JSON,
// or a JWT signed like the ID token (application/jwt), whose iss and aud,
// when present, must be the issuer and include the client (OpenID Connect
// Core 5.3.2). Encrypted userinfo (JWE) is refused.
func (p *Provider) userinfo(ctx context.Context, accessToken string) (*userinfo, error) {
	const step = "userinfo"
	req, err := http.NewRequest(http.MethodGet, p.meta.UserinfoEndpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("psc: userinfo: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json, application/jwt")
	a, err := p.do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("psc: userinfo: %w", err)
	}
	switch a.status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		var oe oauthError
		_ = json.Unmarshal(a.body, &oe)
		return nil, refused(step, ErrProvider, describe(a.status, oe))
	default:
		return nil, fmt.Errorf("psc: userinfo answered %d", a.status)
	}
	body := a.body
	switch a.contentType {
	case "application/json":
	case "application/jwt":
		tok, err := p.parseSigned(ctx, step, string(bytes.TrimSpace(a.body)))
		if err != nil {
			return nil, err
		}
		if iss := tok.Issuer(); iss != "" && iss != p.meta.Issuer {
			return nil, refused(step, ErrIssuer, fmt.Sprintf("iss %q", printable(iss)))
		}
		if aud := tok.Audience(); len(aud) > 0 && !slices.Contains(aud, p.cfg.ClientID) {
			return nil, refused(step, ErrAudience, "the client is not in aud")
		}
		if body, err = json.Marshal(tok); err != nil {
			return nil, refused(step, ErrMalformed, "the userinfo claims do not encode")
		}
	default:
		return nil, refused(step, ErrMalformed, fmt.Sprintf("content type %q", printable(a.contentType)))
	}
	var ui userinfo
	if err := json.Unmarshal(body, &ui); err != nil {
		return nil, refused(step, ErrMalformed, "the userinfo is not a JSON object")
	}
	return &ui, nil
}
