package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/audit"
)

// loginFailed is the one answer to a wrong password, an unknown account,
// a disabled one, one without a password and a locked one.
const loginFailed = "Identifiant ou mot de passe incorrect. Après 5 échecs en 15 minutes, le compte est bloqué pendant 15 minutes."

// loginPage shows the login form of the pending request id.
func (w *browserSide) loginPage(c echo.Context, sess *webSession, id string, client *Client, errMsg string) error {
	return w.render(c, http.StatusOK, "login", &view{
		Title: "Connexion", CSRF: sess.CSRF, Pending: id, Client: clientName(client),
		PSC: w.s.cfg.PSC != nil, Error: errMsg,
	})
}

func clientName(c *Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// login is POST /auth/login: username and password for the pending request.
func (w *browserSide) login(c echo.Context) error {
	form, sess, ok, err := w.formSession(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	id := form.Get("pending")
	p, _, ok, err := w.pendingOf(c, sess, id)
	if !ok {
		return err
	}
	client, ok, err := w.pendingClient(c, p)
	if !ok {
		return err
	}
	username := normalizeUsername(form.Get("username"))
	good, err := w.checkLogin(ctx, username, form.Get("password"))
	if err != nil {
		return w.internal(c, "login", err)
	}
	audit.NoteLogin(ctx, username, good) // a refused password is a 200 page: the trail is told
	if !good {
		return w.loginPage(c, sess, id, client, loginFailed)
	}
	return w.s.completeLogin(c, username, id)
}

// normalizeUsername is what a login form's username is looked up as:
// usernames are lower case.
func normalizeUsername(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 256 {
		s = s[:256]
	}
	return s
}

// checkLogin reports whether password logs username in. Whatever the
// reason for a refusal, it costs the same: one argon2id (against a dummy
// hash when there is no usable account) and the same record operations.
func (w *browserSide) checkLogin(ctx context.Context, username, password string) (bool, error) {
	slot, err := w.beginAttempt(ctx, username)
	if err != nil {
		return false, err
	}
	var u *User
	if ValidUsername(username) {
		if u, err = w.s.reg.User(ctx, username); errors.Is(err, ErrUnknown) {
			u = nil
		} else if err != nil {
			return false, err
		}
	}
	hash := w.dummyHash
	usable := u != nil && !u.Disabled && u.PasswordHash != ""
	if usable {
		hash = u.PasswordHash
	}
	match := CheckSecret(hash, password)
	good := slot != 0 && usable && match
	if slot != 0 {
		if err := w.endAttempt(ctx, username, slot, good); err != nil {
			return false, err
		}
	}
	return good, nil
}

// completeLogin resumes the pending authorize request pending (its id, as
// the login page and /auth/psc/start?pending=… carry it) for username, now
// authenticated (by password or by Pro Santé Connect): it replaces the
// browser's session by a logged-in one and goes on to the patient picker,
// the consent page or straight to the code redirect. The pending request
// must belong to the browser's current session.
func (s *Server) completeLogin(c echo.Context, username, pending string) error {
	w := &s.web
	ctx := c.Request().Context()
	u, err := s.reg.User(ctx, username)
	audit.NoteLogin(ctx, username, err == nil && !u.Disabled)
	if errors.Is(err, ErrUnknown) || (err == nil && u.Disabled) {
		return w.problem(c, http.StatusForbidden, "Ce compte n'existe pas ou est désactivé.")
	}
	if err != nil {
		return w.internal(c, "login user", err)
	}
	old, err := w.session(c)
	if err != nil {
		return w.internal(c, "session", err)
	}
	p, expires, ok, err := w.pendingOf(c, old, pending)
	if !ok {
		return err
	}
	sess, err := w.loginSession(c, old, username)
	if err != nil {
		return w.internal(c, "session", err)
	}
	p.Session = sess.key
	create := strings.HasPrefix(pending, sealedPending) // stored from now on
	if create {
		pending = RandomToken()
	}
	if err := w.save(ctx, KindPending, Digest(pending), p, expires, create); err != nil {
		return w.internal(c, "pending request", err)
	}
	return w.proceed(c, sess, pending, p)
}
