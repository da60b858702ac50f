package auth

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Server is the authorization server and token checker of one deployment.
// Its token side (keys, grants, introspection, revocation, launch) and its
// browser side (authorize, login, consent, reset, Pro Santé Connect) are
// kept in tokenSide and browserSide.
type Server struct {
	cfg    Config
	reg    *Registry
	tokens tokenSide
	web    browserSide
	psc    pscSide // pscflow.go
	seal   *sealer // seal.go
}

// New loads (or, on first start, makes) the server's keys and prepares
// the endpoints.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenTTLBackend <= 0 {
		cfg.TokenTTLBackend = 5 * time.Minute
	}
	if cfg.TokenTTLUser <= 0 {
		cfg.TokenTTLUser = time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Issuer == "" {
		cfg.Issuer = IssuerOf(cfg.BaseURL)
	}
	s := &Server{cfg: cfg, reg: &Registry{Store: cfg.Store, Now: cfg.Now}}
	var err error
	if s.seal, err = loadSealer(ctx, cfg.Store, cfg.Now); err != nil {
		return nil, err
	}
	if err := s.tokens.init(ctx, s); err != nil {
		return nil, err
	}
	if err := s.web.init(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// IssuerOf is the server's own URL for a FHIR base: the base without its
// last path segment (https://host/fhir → https://host).
func IssuerOf(base string) string {
	base = strings.TrimRight(base, "/")
	if i := strings.LastIndexByte(base, '/'); i > len("https://") {
		return base[:i]
	}
	return base
}

// Register mounts the endpoints: /auth/*, /.well-known/openid-configuration
// and the FHIR base's /.well-known/smart-configuration.
func (s *Server) Register(e *echo.Echo, basePath string) {
	s.registerTokenRoutes(e, basePath)
	s.registerBrowserRoutes(e)
}

// Registry is the auth records of one store.
func (s *Server) Registry() *Registry { return s.reg }
