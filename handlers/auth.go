package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// Authenticator is the authorization server as the resource server sees
// it; *auth.Server is one. Config.Auth nil turns protection off.
type Authenticator interface {
	// Verify checks a bearer access token: its principal, or a
	// *auth.TokenError when the token is refused (bad, expired, revoked).
	Verify(ctx context.Context, token string) (*auth.Principal, error)
	// Register mounts the authorization server's endpoints (/auth/*,
	// /.well-known/openid-configuration) on e; they are not protected by
	// the FHIR API's token check.
	Register(e *echo.Echo, basePath string)
	// SMARTConfiguration is the discovery document served at
	// <base>/.well-known/smart-configuration (by the handlers) and the
	// source of the CapabilityStatement's oauth-uris.
	SMARTConfiguration() map[string]any
	// AllowedOrigin reports whether a browser page from origin may call
	// the FHIR API (CORS).
	AllowedOrigin(ctx context.Context, origin string) bool
}

var _ Authenticator = (*auth.Server)(nil)

const (
	realm = `Bearer realm="dccfhir"`
	// maxToken bounds the bearer value: the server's JWTs are far
	// smaller, and nothing longer is worth handing to the verifier.
	maxToken = 8 << 10
	// smartConfigPath is the discovery document under the FHIR base.
	smartConfigPath = "/.well-known/smart-configuration"
)

// The refusals that carry no detail are built once: the check runs on
// every request.
var (
	errNoToken   = fhir.Errorf(401, "login", "", "this endpoint needs an access token: send Authorization: Bearer <token>")
	errMalformed = fhir.Errorf(401, "login", "",
		"the Authorization header is not a well-formed bearer token (Bearer, one space, an RFC 6750 token of at most %d characters)", maxToken)
	// A token in the URL ends up in access logs, proxy logs and browser
	// history (RFC 6750 section 2.3 says so): it is refused outright, even
	// with a header beside it, so a client learns at once not to do it.
	errTokenInQuery = fhir.Errorf(400, "security", "",
		"an access token in the query string (access_token) is not accepted: URLs end up in logs; send it in the Authorization header")
	wwwMalformed    = realm + `, error="invalid_token", error_description="malformed bearer token"`
	wwwTokenInQuery = realm + `, error="invalid_request", error_description="access_token in the query string is not accepted"`
	wwwInsufficient = realm + `, error="insufficient_scope"`
)

// authenticate is the resource server: every request under the FHIR base,
// except the public routes (metadata, discovery, the authorization
// server's own), must carry a valid bearer token; the request then runs
// with the token's service.Access in its context, which the service asks
// before every interaction. Preflights from allowed origins never get
// here (cors answers them); any other OPTIONS is refused like a request.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if s.public[c.Path()] || !s.underBase(echo.GetPath(req)) {
			return next(c)
		}
		h := c.Response().Header()
		if strings.Contains(req.URL.RawQuery, "access_token") && c.QueryParams().Has("access_token") {
			s.metrics.refused(reasonTokenInQuery)
			h.Set("WWW-Authenticate", wwwTokenInQuery)
			return errTokenInQuery
		}
		token, ok := bearer(req.Header)
		switch {
		case token == "" && ok:
			s.metrics.refused(reasonNoToken)
			h.Set("WWW-Authenticate", realm)
			return errNoToken
		case !ok:
			s.metrics.refused(reasonInvalidToken)
			h.Set("WWW-Authenticate", wwwMalformed)
			return errMalformed
		}
		p, err := s.cfg.Auth.Verify(req.Context(), token)
		if err != nil {
			var te *auth.TokenError
			if !errors.As(err, &te) {
				return fmt.Errorf("token check: %w", err) // storage: a 500, logged
			}
			s.metrics.refused(reasonInvalidToken)
			h.Set("WWW-Authenticate", realm+`, error="invalid_token", error_description="`+quotable(te.Description)+`"`)
			return fhir.Errorf(401, "login", "", "the access token is refused: %s", te.Description)
		}
		if p == nil {
			return errors.New("token check: no principal and no error")
		}
		c.Set(keyPrincipal, p)
		a, err := s.access(c, p)
		if err != nil {
			return err
		}
		c.SetRequest(req.WithContext(service.WithAccess(req.Context(), a)))
		return next(c)
	}
}

// bearer reads the Authorization header: ("", true) when the request
// carries no bearer credentials at all (no header, or another scheme:
// RFC 6750 section 3.1 gives those no error code), (token, true) for a
// well-formed one, ("", false) for a malformed one. Strict and without
// allocation: the scheme case-insensitively, exactly one space, the
// b64token characters of RFC 6750 section 2.1, at most maxToken of them,
// one header only.
func bearer(h http.Header) (string, bool) {
	vs := h["Authorization"]
	switch len(vs) {
	case 0:
		return "", true
	case 1:
	default:
		return "", false
	}
	v := vs[0]
	scheme, cred := v, ""
	if i := strings.IndexByte(v, ' '); i >= 0 {
		scheme, cred = v[:i], v[i+1:]
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true // Basic, or anything else: not a bearer token
	}
	if cred == "" || len(cred) > maxToken || !b64token(cred) {
		return "", false
	}
	return cred, true
}

// b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(t string) bool {
	i := 0
	for ; i < len(t) && b64tokenChar[t[i]]; i++ {
	}
	if i == 0 {
		return false
	}
	for ; i < len(t); i++ {
		if t[i] != '=' {
			return false
		}
	}
	return true
}

// b64tokenChar is the first part's alphabet, as a table (a token is
// checked on every request).
var b64tokenChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// quotable keeps what an RFC 6750 error_description may hold (printable
// ASCII but '"' and '\'), so a verifier's message cannot break the header.
func quotable(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

// underBase reports whether a request path is the FHIR base or below it.
func (s *Server) underBase(p string) bool {
	b := s.base
	return b == "" || strings.HasPrefix(p, b) && (len(p) == len(b) || p[len(b)] == '/')
}

// insufficientScope marks a 403 forbidden answer of a protected request
// (the service's or an operation's scope check) as RFC 6750 wants it.
func (s *Server) insufficientScope(c echo.Context, fe *fhir.Error) {
	if s.cfg.Auth == nil || fe.Status != http.StatusForbidden || len(fe.Issues) == 0 || fe.Issues[0].Code != "forbidden" {
		return
	}
	if _, ok := c.Get(keyPrincipal).(*auth.Principal); !ok {
		return
	}
	s.metrics.refused(reasonInsufficientScope)
	c.Response().Header().Set("WWW-Authenticate", wwwInsufficient)
}

// denyAll is the access of a principal the verifier gave none: nothing.
type denyAll struct{}

func (denyAll) Grant(letter byte, typ string) (service.Grant, error) {
	return service.Grant{}, fhir.Errorf(403, "forbidden", "", "the access token grants no access to %s", typ)
}
