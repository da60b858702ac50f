package auth

import (
	"context"

	"github.com/labstack/echo/v4"
)

// Placeholder: the browser side lands with issue 9.

type browserSide struct{}

func (w *browserSide) init(ctx context.Context, s *Server) error { return nil }

func (s *Server) registerBrowserRoutes(e *echo.Echo) {}

// completeLogin resumes the pending authorize request pending (its id, as
// the login page and /auth/psc/start?pending=… carry it) for username, now
// authenticated (by password or by Pro Santé Connect): it sets the
// session and goes on to consent or straight to the code redirect.
func (s *Server) completeLogin(c echo.Context, username, pending string) error {
	return echo.NewHTTPError(501, "not yet")
}
