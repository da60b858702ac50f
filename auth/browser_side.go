package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/store"
)

// The browser side: the pages a person's browser goes through between an
// app's authorize request and the code it gets back (authorize.go,
// login.go, consent.go, picker.go), the session (session.go, csrf.go), the
// account rules (users.go, passwords.go, lockout.go) and the password
// reset by e-mail (reset.go, mail.go). Pages are html/template, embedded
// (pages.go, templates/); the state between two pages is records, never
// the process's memory, so any instance of the server answers the next
// page.

// maxFormBytes bounds every request body of the auth pages.
const maxFormBytes = 64 << 10

type browserSide struct {
	s     *Server
	pages *pageSet
	// dummyHash is checked when a login names no usable account, so that
	// every login attempt costs one argon2id whatever the account.
	dummyHash string
	// mailTLS, when set, is the base of the STARTTLS configuration
	// (its RootCAs): the tests trust their SMTP server's certificate.
	mailTLS *tls.Config
	// mailing counts the reset mails being sent; mailSlots bounds them.
	mailing   sync.WaitGroup
	mailSlots chan struct{}
}

func (w *browserSide) init(ctx context.Context, s *Server) error {
	w.s = s
	var err error
	if w.pages, err = loadPages(); err != nil {
		return err
	}
	if w.dummyHash, err = HashSecret(RandomToken()); err != nil {
		return err
	}
	w.mailSlots = make(chan struct{}, 4)
	return nil
}

func (s *Server) registerBrowserRoutes(e *echo.Echo) {
	w := &s.web
	page := w.pageHeaders
	e.GET("/auth/authorize", w.authorize, page)
	e.POST("/auth/authorize", w.authorizePost, page)
	e.POST("/auth/login", w.login, page)
	e.POST("/auth/consent", w.consent, page)
	e.POST("/auth/picker", w.picker, page)
	e.GET("/auth/password-reset", w.resetForm, page)
	e.POST("/auth/password-reset", w.resetRequest, page)
	e.GET("/auth/password-reset/confirm", w.confirmForm, page)
	e.POST("/auth/password-reset/confirm", w.confirm, page)
	s.registerPSCRoutes(e)
}

// pageHeaders is the middleware of every page: no caching (codes, CSRF
// tokens), no framing (clickjacking of the consent page), no Referer
// (the code and the reset token must not leak through it), no script,
// and bodies of at most 64 KiB.
func (w *browserSide) pageHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", w.pages.csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		req := c.Request()
		if req.ContentLength > maxFormBytes {
			return w.problem(c, http.StatusRequestEntityTooLarge, "La requête est trop grande.")
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
		}
		return next(c)
	}
}

// postForm reads a page's form body (application/x-www-form-urlencoded
// only); on failure it has answered and ok is false.
func (w *browserSide) postForm(c echo.Context) (form url.Values, ok bool, err error) {
	req := c.Request()
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, false, w.problem(c, http.StatusUnsupportedMediaType, "Le formulaire doit être envoyé en application/x-www-form-urlencoded.")
	}
	if err := req.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, false, w.problem(c, http.StatusRequestEntityTooLarge, "La requête est trop grande.")
		}
		return nil, false, w.problem(c, http.StatusBadRequest, "Le formulaire est illisible.")
	}
	return req.PostForm, true, nil
}

// problem answers an error page. Nothing of the request is echoed but
// through the escaping templates.
func (w *browserSide) problem(c echo.Context, status int, msg string) error {
	return w.render(c, status, "error", &view{Title: "Demande refusée", Error: msg})
}

// internal answers a failure of the server itself (storage): logged
// without anything secret, a 500 page.
func (w *browserSide) internal(c echo.Context, what string, err error) error {
	w.s.cfg.Logger.Error("auth page: "+what, "path", c.Request().URL.Path, "error", err)
	return w.render(c, http.StatusInternalServerError, "error", &view{Title: "Erreur du serveur", Error: "Le serveur n'a pas pu répondre ; réessayez plus tard."})
}

func (w *browserSide) now() time.Time { return w.s.cfg.Now() }

// Records with an expiry are checked against the server's clock too
// (cfg.Now): the store purges by its own, which tests do not move.

// load decodes the live record kind/key into v: store.ErrNotFound when
// absent or expired.
func (w *browserSide) load(ctx context.Context, kind, key string, v any) (*store.Record, error) {
	rec, err := w.s.cfg.Store.GetRecord(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	return rec, w.decode(rec, v)
}

// take is load that deletes the record: of two callers one gets it.
func (w *browserSide) take(ctx context.Context, kind, key string, v any) (*store.Record, error) {
	rec, err := w.s.cfg.Store.TakeRecord(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	return rec, w.decode(rec, v)
}

func (w *browserSide) decode(rec *store.Record, v any) error {
	if !w.live(rec) {
		return store.ErrNotFound
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(rec.Value, v); err != nil {
		return fmt.Errorf("auth record %s: %w", rec.Kind, err)
	}
	return nil
}

func (w *browserSide) live(rec *store.Record) bool {
	return rec.Expires.IsZero() || w.now().Before(rec.Expires)
}

// save stores v as kind/key until expires (replacing), or creates it
// (store.ErrConflict when a live one exists).
func (w *browserSide) save(ctx context.Context, kind, key string, v any, expires time.Time, create bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec := &store.Record{Kind: kind, Key: key, Value: b, Expires: expires}
	if create {
		return w.s.cfg.Store.CreateRecord(ctx, rec)
	}
	return w.s.cfg.Store.PutRecord(ctx, rec)
}

// authURL is an absolute URL of an auth endpoint (path below /auth/).
func (w *browserSide) authURL(path string) string { return w.s.cfg.Issuer + "/auth/" + path }

// cookiePath is /auth below the issuer's path (a server behind a proxy
// at https://host/dcc has its pages at /dcc/auth).
func (w *browserSide) cookiePath() string {
	u, err := url.Parse(w.s.cfg.Issuer)
	if err != nil {
		return "/auth"
	}
	return strings.TrimRight(u.Path, "/") + "/auth"
}
