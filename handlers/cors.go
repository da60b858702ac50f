package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// What a browser app may send and read (CORS).
const (
	corsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	corsHeaders = "Authorization, Accept, Content-Type, Prefer, If-Match, If-None-Match, If-None-Exist, If-Modified-Since, X-Request-Id"
	corsExpose  = "Location, Content-Location, ETag, Last-Modified, WWW-Authenticate, X-Request-Id, X-Progress"
	corsMaxAge  = "600"
)

// cors lets browser apps call the server from other origins:
//   - the public documents (metadata, the discovery documents) answer any
//     origin ("*": they carry nothing private, and SMART clients, Inferno
//     among them, read them before they have a token);
//   - the FHIR API answers the origins Auth.AllowedOrigin accepts (those
//     of registered redirect URIs), each echoed with Vary: Origin, and no
//     other: a refused origin gets no Access-Control-Allow-Origin at all;
//   - with protection off, the FHIR API answers no other origin: an
//     unprotected server would otherwise be readable by any web page its
//     user visits.
//
// No Access-Control-Allow-Credentials: the API takes bearer tokens, never
// cookies. The authorization server's other endpoints (/auth/*) set their
// own CORS headers. An allowed preflight is answered here (204), before
// the token check: browsers send no credentials on a preflight.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		path := c.Path()
		anyOrigin := s.anyOrigin[path]
		api := !anyOrigin && !s.public[path] && s.underBase(echo.GetPath(req))
		if !anyOrigin && !api {
			return next(c)
		}
		h := c.Response().Header()
		if api && s.cfg.Auth != nil {
			h.Add("Vary", "Origin")
		}
		origin := req.Header.Get("Origin")
		if origin == "" {
			return next(c)
		}
		switch {
		case anyOrigin:
			h.Set("Access-Control-Allow-Origin", "*")
		case s.cfg.Auth != nil && origin != "null" && s.cfg.Auth.AllowedOrigin(req.Context(), origin):
			h.Set("Access-Control-Allow-Origin", origin)
		default:
			return next(c)
		}
		if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			return c.NoContent(http.StatusNoContent)
		}
		h.Set("Access-Control-Expose-Headers", corsExpose)
		return next(c)
	}
}
