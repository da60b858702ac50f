package auth

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth/psc"
	"github.com/dccfhir/dccfhir/store"
)

// A Pro Santé Connect login: the login page sends the browser to
// /auth/psc/start?pending=ID (authorize?…&idp=psc redirects there),
// which keeps the login (state, nonce, PKCE verifier, pending request)
// sealed in the cookie dcc_psc — nothing is stored before the login — and
// redirects to the provider; the provider sends it back to
// /auth/psc/callback?code&state, which opens the cookie (once: it is
// cleared), checks the state, has auth/psc exchange the code and prove the
// professional, links the Practitioner, its Organizations and
// PractitionerRoles (psc.Link), finds or creates the account and resumes
// the pending authorize request (completeLogin).

const (
	pscLoginTTL = 10 * time.Minute
	// pscCookie holds the login between start and callback, sealed: a
	// callback URL replayed in another browser (login CSRF) is refused
	// before anything is exchanged.
	pscCookie  = "dcc_psc"
	purposePSC = "psc"
	// maxPSCCookie is the longest cookie value browsers are sure to keep;
	// a request whose sealed login is longer (an app's state of several
	// KiB) is refused with a page saying so.
	maxPSCCookie = 3800
	// pscUserPrefix + idNatPs is the account of a Pro Santé Connect login.
	pscUserPrefix = "psc-"
	maxPSCState   = 512 // bytes of the provider's state
)

type pscLogin struct {
	State    string `json:"state"` // Digest of the state sent to the provider
	Pending  string `json:"pending"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

// pscSide is the Server's Pro Santé Connect provider, built at the first
// login (its discovery document is fetched then, not at server start, so
// a provider down at start does not stop the server; a failed build is
// tried again at the next login).
type pscSide struct {
	mu       sync.Mutex
	provider *psc.Provider
}

func (s *Server) pscConfig() psc.Config {
	c := s.cfg.PSC
	return psc.Config{
		DiscoveryURL: c.DiscoveryURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RedirectURL: s.cfg.Issuer + "/auth/psc/callback",
		ACR:         c.ACR, HTTPClient: s.cfg.HTTPClient, Now: s.cfg.Now,
	}
}

func (s *Server) pscProvider(ctx context.Context) (*psc.Provider, error) {
	ps := &s.psc
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.provider == nil {
		p, err := psc.New(ctx, s.pscConfig())
		if err != nil {
			return nil, err
		}
		ps.provider = p
	}
	return ps.provider, nil
}

// registerPSCRoutes mounts /auth/psc/start and /auth/psc/callback when
// Pro Santé Connect is configured; a configuration psc refuses (a provider
// URL not https…) is logged now, and every login then answers that Pro
// Santé Connect is unavailable.
func (s *Server) registerPSCRoutes(e *echo.Echo) {
	if s.cfg.PSC == nil {
		return
	}
	if err := s.pscConfig().Check(); err != nil {
		s.cfg.Logger.Error("Pro Santé Connect is misconfigured: its logins will fail", "error", err)
	}
	e.GET("/auth/psc/start", s.pscStart, s.web.pageHeaders)
	e.GET("/auth/psc/callback", s.pscCallback, s.web.pageHeaders)
}

// pscStart is GET /auth/psc/start?pending=ID: the browser goes to Pro
// Santé Connect for its pending request, which must be its session's.
func (s *Server) pscStart(c echo.Context) error {
	ctx := c.Request().Context()
	pending := c.QueryParam("pending")
	if pending == "" || len(pending) > maxPendingID {
		return pscPage(c, http.StatusBadRequest, "La demande de connexion est incomplète.")
	}
	p, err := s.pscProvider(ctx)
	if err != nil {
		s.cfg.Logger.Error("Pro Santé Connect unavailable", "error", err)
		return pscPage(c, http.StatusServiceUnavailable, "Pro Santé Connect est indisponible ; réessayez plus tard.")
	}
	sess, err := s.web.session(c)
	if err != nil {
		return s.pscInternal(c, "session", err)
	}
	if _, _, ok, err := s.web.pendingOf(c, sess, pending); !ok {
		return err
	}
	state := RandomToken()
	login := pscLogin{State: Digest(state), Pending: pending, Nonce: RandomToken(), Verifier: RandomToken()}
	sealed, err := s.seal.seal(purposePSC, login, s.cfg.Now().Add(pscLoginTTL))
	if err != nil {
		return s.pscInternal(c, "sealing the login", err)
	}
	if len(sealed) > maxPSCCookie {
		return pscPage(c, http.StatusBadRequest, "La demande de l'application est trop longue pour une connexion Pro Santé Connect (son paramètre state dépasse quelques centaines d'octets).")
	}
	c.SetCookie(&http.Cookie{
		Name: pscCookie, Value: sealed, Path: s.pscCookiePath(), MaxAge: int(pscLoginTTL / time.Second),
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	return c.Redirect(http.StatusSeeOther, p.AuthURL(state, login.Nonce, login.Verifier))
}

// pscProviderError is the error code of a provider's error redirect, when it
// is one (RFC 6749 section 4.1.2.1: ASCII, no quotes or backslashes).
var pscProviderError = regexp.MustCompile(`^[a-z_]{1,64}$`)

// pscCallback is GET /auth/psc/callback?code&state (or ?error&state).
func (s *Server) pscCallback(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	state := q.Get("state")
	if state == "" || len(state) > maxPSCState {
		return pscPage(c, http.StatusBadRequest, "Cette connexion Pro Santé Connect est inconnue, expirée ou déjà utilisée.")
	}
	c.SetCookie(&http.Cookie{Name: pscCookie, Path: s.pscCookiePath(), MaxAge: -1, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	ck, err := c.Cookie(pscCookie)
	if err != nil {
		return pscPage(c, http.StatusBadRequest, "Cette connexion Pro Santé Connect est inconnue, expirée, déjà utilisée ou commencée dans un autre navigateur.")
	}
	login := new(pscLogin)
	if _, err := s.seal.open(purposePSC, ck.Value, login); err != nil {
		return pscPage(c, http.StatusBadRequest, "Cette connexion Pro Santé Connect est inconnue ou expirée.")
	}
	if !EqualConstant(Digest(state), login.State) {
		return pscPage(c, http.StatusBadRequest, "Cette connexion Pro Santé Connect a été commencée dans un autre navigateur.")
	}
	if e := q.Get("error"); e != "" {
		if !pscProviderError.MatchString(e) {
			e = "erreur"
		}
		return pscPage(c, http.StatusForbidden, "Pro Santé Connect n'a pas authentifié le professionnel ("+e+").")
	}
	p, err := s.pscProvider(ctx)
	if err != nil {
		s.cfg.Logger.Error("Pro Santé Connect unavailable", "error", err)
		return pscPage(c, http.StatusServiceUnavailable, "Pro Santé Connect est indisponible ; réessayez plus tard.")
	}
	id, err := p.Exchange(ctx, q.Get("code"), login.Verifier, login.Nonce)
	var refused *psc.RefusedError
	switch {
	case errors.As(err, &refused):
		s.cfg.Logger.Warn("Pro Santé Connect login refused", "step", refused.Step, "reason", refused.Reason.Error(), "detail", refused.Detail)
		return pscPage(c, http.StatusForbidden, "La connexion Pro Santé Connect est refusée : "+refused.Step+" ("+refused.Reason.Error()+").")
	case err != nil:
		s.cfg.Logger.Error("Pro Santé Connect login failed", "error", err)
		return pscPage(c, http.StatusBadGateway, "Pro Santé Connect n'a pas pu être joint ; réessayez plus tard.")
	}
	if s.cfg.Service == nil {
		return s.pscInternal(c, "linking the professional", errors.New("no FHIR service configured"))
	}
	practitioner, err := psc.Link(ctx, s.cfg.Service, id)
	if err != nil {
		return s.pscInternal(c, "linking the professional", err)
	}
	username, err := s.pscAccount(ctx, id, practitioner)
	if errors.Is(err, errPSCAccount) {
		s.cfg.Logger.Warn("Pro Santé Connect login refused", "username", username, "reason", err.Error())
		return pscPage(c, http.StatusForbidden, "Ce compte est désactivé ou n'est pas celui de ce professionnel.")
	}
	if err != nil {
		return s.pscInternal(c, "the account", err)
	}
	s.cfg.Logger.Info("Pro Santé Connect login", "username", username, "practitioner", practitioner, "acr", id.ACR)
	return s.completeLogin(c, username, login.Pending)
}

// errPSCAccount is an account a Pro Santé Connect login may not use.
var errPSCAccount = errors.New("account disabled or of another professional")

// pscAccount is the account of a proven professional: psc-<idNatPs>,
// created at the first login (no password, linked to the Practitioner);
// an account an administrator made under that name beforehand (to give it
// roles) is adopted. The account follows the Practitioner Link found.
func (s *Server) pscAccount(ctx context.Context, id *psc.Identity, practitioner string) (string, error) {
	username := pscUserPrefix + id.NationalID
	u, err := s.reg.User(ctx, username)
	if errors.Is(err, ErrUnknown) {
		u = &User{Username: username, Practitioner: practitioner, NationalID: id.NationalID, Created: s.cfg.Now().UTC()}
		err = s.reg.put(ctx, KindUser, username, u, time.Time{}, true)
		if errors.Is(err, store.ErrConflict) { // a concurrent first login made it
			u, err = s.reg.User(ctx, username)
		}
	}
	if err != nil {
		return username, err
	}
	if u.Disabled || (u.NationalID != "" && u.NationalID != id.NationalID) {
		return username, errPSCAccount
	}
	if u.NationalID != id.NationalID || u.Practitioner != practitioner {
		u.NationalID, u.Practitioner = id.NationalID, practitioner
		if err := s.reg.PutUser(ctx, u); err != nil {
			return username, err
		}
	}
	return username, nil
}

// pscCookiePath is /auth/psc below the issuer's path.
func (s *Server) pscCookiePath() string {
	u, err := url.Parse(s.cfg.Issuer)
	if err != nil {
		return "/auth/psc"
	}
	return strings.TrimRight(u.Path, "/") + "/auth/psc"
}

func (s *Server) pscInternal(c echo.Context, what string, err error) error {
	s.cfg.Logger.Error("Pro Santé Connect login: "+what, "error", err)
	return pscPage(c, http.StatusInternalServerError, "Le serveur n'a pas pu terminer la connexion ; réessayez plus tard.")
}

// pscErrorPage is the page of a refused or failed login: a message, no
// token, code or secret.
var pscErrorPage = template.Must(template.New("psc").Parse(`<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>Pro Santé Connect · dccfhir</title></head>
<body>
<h1>Connexion Pro Santé Connect impossible</h1>
<p role="alert">{{.}}</p>
<p>Revenez à l'application et recommencez.</p>
</body>
</html>
`))

func pscPage(c echo.Context, status int, msg string) error {
	var b bytes.Buffer
	if err := pscErrorPage.Execute(&b, msg); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}
