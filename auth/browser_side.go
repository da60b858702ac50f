package auth

import (
	"context"

	"github.com/labstack/echo/v4"
)

// Placeholder: the browser side lands with issue 9.

type browserSide struct{}

func (w *browserSide) init(ctx context.Context, s *Server) error { return nil }

func (s *Server) registerBrowserRoutes(e *echo.Echo) {}
