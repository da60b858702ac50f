package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/store"
)

// KindSession is a browser's session: before login it only carries the
// CSRF token of the forms; a login replaces it by a new one (new cookie,
// new token: a session id planted before login is worth nothing after).
const KindSession = "auth.session" // Key: Digest(cookie); Value: webSession; Expires: 1 h before login, 8 h after

const (
	sessionCookie = "dcc_session"
	preLoginTTL   = time.Hour
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

// session returns the browser's live session, nil when it has none. A
// logged-in session whose account was disabled or removed is none.
func (w *browserSide) session(c echo.Context) (*webSession, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return nil, nil
	}
	ctx := c.Request().Context()
	sess := &webSession{key: Digest(ck.Value)}
	if _, err := w.load(ctx, KindSession, sess.key, sess); errors.Is(err, store.ErrNotFound) {
		return nil, nil
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
	return w.newSession(c, "")
}

// newSession starts a session for username ("" before login): a new
// cookie and a new CSRF token.
func (w *browserSide) newSession(c echo.Context, username string) (*webSession, error) {
	value := RandomToken()
	now := w.now()
	sess := &webSession{Username: username, CSRF: RandomToken(), key: Digest(value)}
	ttl := preLoginTTL
	if username != "" {
		sess.AuthTime, ttl = now, SessionTTL
	}
	if err := w.save(c.Request().Context(), KindSession, sess.key, sess, now.Add(ttl), true); err != nil {
		return nil, err
	}
	c.SetCookie(&http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     w.cookiePath(),
		HttpOnly: true,
		Secure:   w.s.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
	return sess, nil
}

// loginSession replaces the browser's session old (nil when none) by a logged-in one.
func (w *browserSide) loginSession(c echo.Context, old *webSession, username string) (*webSession, error) {
	sess, err := w.newSession(c, username)
	if err != nil {
		return nil, err
	}
	if old != nil {
		if err := w.s.cfg.Store.DeleteRecord(c.Request().Context(), KindSession, old.key); err != nil {
			return nil, err
		}
	}
	return sess, nil
}
