package auth

import (
	"context"
	"errors"

	"github.com/labstack/echo/v4"
)

// Placeholder: the token side lands with issue 9.

type tokenSide struct{}

func (t *tokenSide) init(ctx context.Context, s *Server) error { return nil }

func (s *Server) registerTokenRoutes(e *echo.Echo, basePath string) {}

// Verify checks a bearer access token and returns its principal, or a
// *TokenError (invalid_token) saying why it is refused.
func (s *Server) Verify(ctx context.Context, token string) (*Principal, error) {
	return nil, &TokenError{Code: "invalid_token", Description: "not yet"}
}

// SMARTConfiguration is the discovery document of
// /fhir/.well-known/smart-configuration.
func (s *Server) SMARTConfiguration() map[string]any { return nil }

// AllowedOrigin reports whether a browser page from origin may call the
// FHIR API and the token endpoint (an origin of a registered redirect URI).
func (s *Server) AllowedOrigin(ctx context.Context, origin string) bool { return false }

var _ = errors.New
