package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/dccfhir/dccfhir/access"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/service"
)

// startAuth builds the authorization server of cfg.Auth over the App's
// store and service and, on a store with no account and no client yet,
// creates the administrator and writes its credentials to cfg.DataDir
// (logging the file's path, never what it holds).
func (a *App) startAuth(ctx context.Context, cfg Config, svc *service.Service, baseURL string, log *slog.Logger) error {
	if cfg.DataDir == "" {
		return errors.New("authentication on: no data folder for admin-credentials.json (--data-dir)")
	}
	ac := *cfg.Auth
	ac.Store, ac.Service, ac.BaseURL = a.Store, svc, baseURL
	if ac.Narrow == nil {
		g := a.gate
		ac.Narrow = func(ctx context.Context, scopes service.Access, u *auth.User) (service.Access, error) {
			acc, _, err := g.For(ctx, access.Caller{Scopes: scopes, Practitioner: u.Practitioner, User: true, Roles: u.Roles})
			return acc, err
		}
	}
	if ac.Logger == nil {
		ac.Logger = log
	}
	srv, err := auth.New(ctx, ac)
	if err != nil {
		return fmt.Errorf("authorization server: %w", err)
	}
	a.Auth = srv
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	path, err := auth.Bootstrap(ctx, srv.Registry(), cfg.DataDir, baseURL)
	if err != nil {
		return fmt.Errorf("creating the administrator: %w", err)
	}
	if path != "" {
		a.Credentials = path
		log.Info("first start: administrator created (account admin, backend client admin-cli); its credentials are in this file, readable by this user only: keep it safe, `dccfhir token` reads it",
			"path", path)
	}
	return nil
}

// protect hands the authorization server to the handlers, which then
// require a token on the FHIR API and mount the /auth endpoints.
func protect(hc *handlers.Config, srv *auth.Server) {
	hc.Auth = srv
}

// gate is the access gate over svc: the care-circle rules with policy
// (nil: the built-in one).
func gate(svc *service.Service, policy *access.Policy) *access.Gate {
	if policy == nil {
		policy = access.Default()
	}
	return &access.Gate{Circle: &access.Circle{Service: svc, Now: svc.Now}, Policy: policy}
}
