package auth

import "github.com/labstack/echo/v4"

// Placeholder: the Pro Santé Connect login routes (/auth/psc/start,
// /auth/psc/callback) land with issue 9 (owned by the psc helper).
func (s *Server) registerPSCRoutes(e *echo.Echo) {}
