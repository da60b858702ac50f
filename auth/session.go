package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/store"
)

// KindSession is a browser's logged-in session. Before login a session is
// only its cookie (nothing stored, seal.go): its key is the cookie's
// Digest and its CSRF token is derived from the cookie by the seal key. A
// login replaces it by a stored one (new cookie, new token: a session id
// planted before login is worth nothing after).
const KindSession = "auth.session" // Key: Digest(cookie); Value: webSession; Expires: 8 h after login

const (
	sessionCookie = "dcc_session"
	// SessionTTL is how long a login lasts (a working day, not sliding):
	// within it, authorize requests do not ask the password again.
	SessionTTL = 8 * time.Hour
)

type webSession struct {
	Username string    `json:"username,omitempty"` // "" before login
	CSRF     string    `json:"csrf"`
	AuthTime time.Time `json:"authTime,omitzero"`
	key      string    // Digest of the cookie value (not stored)
}

func (s *webSession) loggedIn() bool { return s != nil && s.Username != "" }

// session returns the browser's live session, nil when it has no
// session cookie. A cookie without a live record is a pre-login session;
// a logged-in session whose account was disabled or removed is none.
func (w *browserSide) session(c echo.Context) (*webSession, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return nil, nil
	}
	ctx := c.Request().Context()
	sess := &webSession{key: Digest(ck.Value)}
	if _, err := w.load(ctx, KindSession, sess.key, sess); errors.Is(err, store.ErrNotFound) {
		return w.preLogin(ck.Value), nil
	} else if err != nil {
		return nil, err
	}
	if sess.Username != "" {
		u, err := w.s.reg.User(ctx, sess.Username)
		if errors.Is(err, ErrUnknown) || (err == nil && u.Disabled) {
			return nil, w.s.cfg.Store.DeleteRecord(ctx, KindSession, sess.key)
		}
		if err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// ensureSession returns the browser's session, or starts a pre-login one.
func (w *browserSide) ensureSession(c echo.Context) (*webSession, error) {
	sess, err := w.session(c)
	if sess != nil || err != nil {
		return sess, err
	}
	value := RandomToken()
	w.setSessionCookie(c, value)
	return w.preLogin(value), nil
}

// preLogin is the session of a cookie with no record: nothing stored, its
// CSRF token derived from the cookie.
func (w *browserSide) preLogin(cookie string) *webSession {
	return &webSession{CSRF: w.s.seal.derive("csrf", cookie), key: Digest(cookie)}
}

// newSession starts a logged-in session for username: a new cookie and a
// new CSRF token, stored.
func (w *browserSide) newSession(c echo.Context, username string) (*webSession, error) {
	value := RandomToken()
	now := w.now()
	sess := &webSession{Username: username, CSRF: RandomToken(), AuthTime: now, key: Digest(value)}
	if err := w.save(c.Request().Context(), KindSession, sess.key, sess, now.Add(SessionTTL), true); err != nil {
		return nil, err
	}
	w.setSessionCookie(c, value)
	return sess, nil
}

func (w *browserSide) setSessionCookie(c echo.Context, value string) {
	c.SetCookie(&http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     w.cookiePath(),
		HttpOnly: true,
		Secure:   w.s.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
}

// loginSession replaces the browser's session old (nil when none) by a logged-in one.
func (w *browserSide) loginSession(c echo.Context, old *webSession, username string) (*webSession, error) {
	sess, err := w.newSession(c, username)
	if err != nil {
		return nil, err
	}
	if old.loggedIn() { // a pre-login session has no record
		if err := w.s.cfg.Store.DeleteRecord(c.Request().Context(), KindSession, old.key); err != nil {
			return nil, err
		}
	}
	return sess, nil
}
