// Package handlers is the HTTP face of dccfhir: routing, content
// negotiation, FHIR headers (ETag, Location, Prefer, conditionals),
// OperationOutcome errors, logs and metrics. It turns requests into calls on
// the service and service results into FHIR responses, nothing more.
package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/access"
	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/conformance"
	"github.com/dccfhir/dccfhir/service"
)

// Config is what the HTTP layer needs to know of its deployment.
type Config struct {
	// BaseURL is the FHIR base the server is reached at (e.g. http://host:8080/fhir).
	BaseURL string
	// MaxBodyBytes is the request size limit (413 beyond it).
	MaxBodyBytes int64
	// ConditionalDeleteMultiple lets a conditional delete remove every match
	// (else more than one match is a 412).
	ConditionalDeleteMultiple bool
	Logger                    *slog.Logger
	// Validator answers $validate (nil: not offered).
	Validator Validator
	// Terminology holds the code systems and value sets of $expand,
	// $validate-code and $lookup (nil: not offered).
	Terminology *conformance.Set
	// Ready reports whether storage answers, for /readyz.
	Ready func(ctx context.Context) error
	// Auth is the authorization server (an *auth.Server): with it every
	// request under the base but GET metadata and the SMART discovery
	// document needs a valid bearer token, its endpoints are mounted, and
	// CORS and the CapabilityStatement follow it. nil: protection off.
	Auth Authenticator
	// Gate narrows each token's scopes to the care circle, profession and
	// consent of the professional behind it, and opens one patient by
	// break-the-glass (access.Gate); nil: the scopes alone (tests of the
	// scopes). Used only with Auth.
	Gate *access.Gate
	// Audit, when set, records every request to the FHIR base and /auth as
	// an AuditEvent (audit.go); nil: no trail.
	Audit *audit.Writer
	// SeparateMetrics leaves /metrics off this handler, for a caller that
	// serves MetricsHandler on a listener of its own (--metrics-listen).
	SeparateMetrics bool
}

// Server is the HTTP handler and holds the routes' dependencies.
type Server struct {
	svc     *service.Service
	cfg     Config
	e       *echo.Echo
	metrics *metrics
	// metricsHandler serves the metrics, on /metrics or elsewhere.
	metricsHandler http.Handler
	// base is the FHIR base's path ("/fhir").
	base string
	// public holds the route paths (as c.Path() gives them) that need no
	// token: /healthz, /readyz, /metrics, metadata, the discovery
	// document, and the authorization server's own endpoints.
	public map[string]bool
	// anyOrigin holds the public documents every origin may read (CORS).
	anyOrigin map[string]bool
	// notFHIR holds the routes whose answers are not FHIR (the
	// authorization server's and the discovery document): no FHIR
	// content negotiation there.
	notFHIR map[string]bool
	// capBody caches the CapabilityStatement for the registry generation
	// capGen: a new SearchParameter rebuilds it.
	capMu   sync.Mutex
	capBody []byte
	capGen  uint64
}

// New builds the HTTP handler: the FHIR API under the base path, plus
// /healthz, /readyz, /metrics (unless cfg.SeparateMetrics) and, with
// cfg.Auth, the authorization server's endpoints.
func New(svc *service.Service, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Server{svc: svc, cfg: cfg, metrics: newMetrics(cfg.Auth != nil), base: basePath(cfg.BaseURL),
		public: map[string]bool{}, anyOrigin: map[string]bool{}, notFHIR: map[string]bool{}}
	s.metricsHandler = s.metrics.handler()
	e := echo.New()
	s.e = e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	if cfg.Audit != nil { // outside every middleware: it records the final answer
		e.Pre(s.auditTrail)
	}
	// The token check comes before anything looks at the request's body
	// or format; CORS before it, to answer preflights (which carry no token).
	e.Use(s.requestContext, s.recoverPanic, s.cors)
	if cfg.Auth != nil {
		e.Use(s.authenticate)
	}
	e.Use(s.limitBody, s.negotiate)

	e.GET("/healthz", func(c echo.Context) error { return c.String(200, "ok") })
	e.GET("/readyz", func(c echo.Context) error {
		if cfg.Ready != nil {
			if err := cfg.Ready(c.Request().Context()); err != nil {
				return c.String(503, "storage unavailable: "+err.Error())
			}
		}
		return c.String(200, "ready")
	})
	s.public["/healthz"], s.public["/readyz"] = true, true
	if !cfg.SeparateMetrics {
		e.GET("/metrics", echo.WrapHandler(s.metricsHandler))
		s.public["/metrics"] = true
	}
	s.public[s.base+"/metadata"], s.anyOrigin[s.base+"/metadata"] = true, true
	if cfg.Auth != nil {
		s.mountAuth()
	}
	s.routes(e.Group(s.base))
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// mountAuth mounts the authorization server's endpoints and the SMART
// discovery document, all public. The document is served here, from
// SMARTConfiguration, in one place: registered after Register, this route
// is the one that answers even if Register mounted one too.
func (s *Server) mountAuth() {
	before := map[string]bool{}
	for _, r := range s.e.Routes() {
		before[r.Method+" "+r.Path] = true
	}
	s.cfg.Auth.Register(s.e, s.base)
	for _, r := range s.e.Routes() {
		if before[r.Method+" "+r.Path] {
			continue
		}
		s.public[r.Path], s.notFHIR[r.Path] = true, true
		if strings.Contains(r.Path, "/.well-known/") {
			s.anyOrigin[r.Path] = true
		}
	}
	p := s.base + smartConfigPath
	s.public[p], s.notFHIR[p], s.anyOrigin[p] = true, true, true
	s.e.GET(p, s.smartConfiguration)
}

// smartConfiguration answers the SMART discovery document, application/json
// whatever Accept says (SMART App Launch 2.2, conformance).
func (s *Server) smartConfiguration(c echo.Context) error {
	doc := s.cfg.Auth.SMARTConfiguration()
	if doc == nil {
		doc = map[string]any{}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

// basePath is the path part of the base URL ("/fhir").
func basePath(base string) string {
	if i := strings.Index(base, "://"); i >= 0 {
		base = base[i+3:]
		if j := strings.IndexByte(base, '/'); j >= 0 {
			return base[j:]
		}
		return ""
	}
	return base
}

const (
	keyInteraction = "interaction"
	keyType        = "rtype"
	keyLogger      = "logger"
	keyLinger      = "linger"
	keyPrincipal   = "principal"
)

// requestContext gives each request an id (kept from X-Request-Id when the
// client sent one), a logger carrying it, an access log line and metrics.
func (s *Server) requestContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		rid := req.Header.Get("X-Request-Id")
		if rid == "" || len(rid) > 128 {
			rid = uuid.NewString()
		}
		c.Response().Header().Set("X-Request-Id", rid)
		log := s.cfg.Logger.With("request_id", rid)
		c.Set(keyLogger, log)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		inter, _ := c.Get(keyInteraction).(string)
		typ, _ := c.Get(keyType).(string)
		if inter != "" {
			s.metrics.observe(inter, typ, status, time.Since(start))
		}
		lvl := slog.LevelInfo
		if status >= 500 {
			lvl = slog.LevelError
		}
		// The line never carries a header (Authorization) or the query
		// string: both may hold secrets or patient data.
		client := ""
		if p, ok := c.Get(keyPrincipal).(*auth.Principal); ok {
			client = p.ClientID
		}
		log.Log(req.Context(), lvl, "request", "method", req.Method, "path", req.URL.Path, "status", status,
			"interaction", inter, "type", typ, "client", client, "duration_ms", float64(time.Since(start).Microseconds())/1000, "bytes", c.Response().Size)
		if c.Get(keyLinger) != nil {
			linger(c)
		}
		return nil
	}
}

// Bounds of the lingering close after a 413: how much of the refused body
// is read and thrown away, and for how long at most.
const (
	lingerBytes = 64 << 20
	lingerTime  = 10 * time.Second
)

// limitBody answers 413 from Content-Length alone, before anything reads
// the body (a chunked body gets its 413 from readBody when it crosses the
// limit).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if n := req.ContentLength; n > s.cfg.MaxBodyBytes {
			// A client waiting for a 100 Continue sends no body after a final answer.
			drain := !strings.EqualFold(req.Header.Get("Expect"), "100-continue")
			return s.tooLarge(c, drain, fmt.Sprintf("the request body (Content-Length %d) exceeds the limit of %d bytes", n, s.cfg.MaxBodyBytes))
		}
		return next(c)
	}
}

// tooLarge is the 413 of a body over the limit. The connection closes after
// it (what is left of the body is not a next request), lingering first when
// drain is set (the client is sending the body).
func (s *Server) tooLarge(c echo.Context, drain bool, msg string) error {
	c.Response().Header().Set("Connection", "close")
	if drain {
		c.Set(keyLinger, true)
	}
	return fhir.Errorf(413, "too-costly", "", "%s", msg)
}

// linger flushes the answer, then reads and discards the rest of the
// request body, within lingerBytes and lingerTime, before the connection
// closes. A client that writes its whole body before reading (Python
// urllib, many SDKs) would otherwise be reset: closing a socket with unread
// data sends a TCP RST, which fails its write and drops our 413 from its
// receive buffer. With the body consumed the close is clean and the client
// reads the answer (the staged close of RFC 9112 section 9.6).
func linger(c echo.Context) {
	rc := http.NewResponseController(c.Response())
	if rc.Flush() != nil || rc.SetReadDeadline(time.Now().Add(lingerTime)) != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, c.Request().Body, lingerBytes)
}

// recoverPanic turns a panic in a handler into the 500 OperationOutcome of
// any internal error (logged with its stack, counted, the connection kept)
// rather than a dropped connection with no answer and no access log line.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler { // net/http's way to abort a response: let it through
					panic(r)
				}
				logger(c).Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				s.metrics.panics.Inc()
				if c.Response().Committed {
					// part of the answer is out: abort the connection so the
					// client sees a broken response, not a short complete one
					panic(http.ErrAbortHandler)
				}
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

func logger(c echo.Context) *slog.Logger {
	if l, ok := c.Get(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// negotiate enforces the formats the server speaks: JSON in and out. XML is
// refused with 406 (Accept or _format) or 415 (Content-Type) and an
// OperationOutcome that says so.
func (s *Server) negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.notFHIR[c.Path()] {
			return next(c)
		}
		req := c.Request()
		if f := c.QueryParam("_format"); f != "" && !jsonFormat(f) {
			return fhir.Errorf(406, "not-supported", "", "_format=%s is not available: this server speaks JSON (application/fhir+json)", f)
		}
		if a := req.Header.Get("Accept"); a != "" && !acceptsJSON(a) {
			return fhir.Errorf(406, "not-supported", "", "cannot answer in %q: this server speaks JSON (application/fhir+json)", a)
		}
		if req.ContentLength != 0 && (req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch) {
			ct := mediaType(req.Header.Get("Content-Type"))
			switch {
			case ct == "" || ct == "application/fhir+json" || ct == "application/json" || ct == "application/json-patch+json" || ct == "application/x-www-form-urlencoded":
			case strings.Contains(ct, "xml"):
				return fhir.Errorf(415, "not-supported", "", "XML (%s) is not accepted: send application/fhir+json", ct)
			default:
				return fhir.Errorf(415, "not-supported", "", "Content-Type %q is not accepted: send application/fhir+json", ct)
			}
		}
		return next(c)
	}
}

func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

func jsonFormat(f string) bool {
	switch mediaType(f) {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return true
	}
	return false
}

// acceptsJSON reports whether an Accept header allows a JSON answer.
func acceptsJSON(a string) bool {
	for _, part := range strings.Split(a, ",") {
		mt := mediaType(part)
		if mt == "*/*" || mt == "application/*" || strings.Contains(mt, "json") || mt == "text/plain" {
			return true
		}
	}
	return false
}

// readBody reads the request body within the size limit (413 past it).
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	r := http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.MaxBodyBytes)
	b, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, s.tooLarge(c, true, fmt.Sprintf("the request body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes))
		}
		return nil, fhir.Errorf(400, "structure", "", "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fhir.Errorf(400, "required", "", "the request has no body")
	}
	return b, nil
}

// errorHandler renders every error as an OperationOutcome with its status.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var fe *fhir.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &fe):
		s.insufficientScope(c, fe)
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
		code := "processing"
		switch he.Code {
		case 404:
			code, msg = "not-found", "no such endpoint: "+c.Request().Method+" "+c.Request().URL.Path
		case 405:
			code, msg = "not-supported", c.Request().Method+" is not allowed on "+c.Request().URL.Path
		case 413:
			code = "too-costly"
		}
		fe = fhir.Errorf(he.Code, code, "", "%s", msg)
	default:
		logger(c).Error("internal error", "err", err)
		s.metrics.storageErrors.Inc()
		fe = fhir.Errorf(500, "exception", "", "internal error; the request id is %s", c.Response().Header().Get("X-Request-Id"))
	}
	_ = s.writeJSON(c, fe.Status, fhir.Outcome(fe.Issues))
}

// writeJSON sends a FHIR JSON body, pretty-printed under _pretty=true.
func (s *Server) writeJSON(c echo.Context, status int, body []byte) error {
	if c.QueryParam("_pretty") == "true" {
		var b bytes.Buffer
		if json.Indent(&b, body, "", "  ") == nil {
			body = b.Bytes()
		}
	}
	ct := "application/fhir+json; charset=utf-8"
	if a := c.Request().Header.Get("Accept"); strings.Contains(a, "application/json") && !strings.Contains(a, "fhir+json") {
		ct = "application/json; charset=utf-8"
	}
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set("Content-Type", ct)
		c.Response().WriteHeader(status)
		return nil
	}
	return c.Blob(status, ct, body)
}
