package auth

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// Every form carries the session's CSRF token in the hidden input
// csrf_token; a POST is accepted only from a browser holding the session
// cookie and the token of that session, compared in constant time. The
// cookie is SameSite=Lax and the pages cannot be framed, so another site
// can neither send the cookie with a forged POST nor read the token.

// checkCSRF reports whether form carries sess's token.
func checkCSRF(sess *webSession, form url.Values) bool {
	return sess != nil && sess.CSRF != "" && EqualConstant(form.Get("csrf_token"), sess.CSRF)
}

// formSession reads a POSTed form and the session it must come from; on
// any failure it has answered and ok is false.
func (w *browserSide) formSession(c echo.Context) (form url.Values, sess *webSession, ok bool, err error) {
	form, ok, err = w.postForm(c)
	if !ok {
		return nil, nil, false, err
	}
	sess, err = w.session(c)
	if err != nil {
		return nil, nil, false, w.internal(c, "session", err)
	}
	if !checkCSRF(sess, form) {
		return nil, nil, false, w.problem(c, http.StatusForbidden, "Ce formulaire a expiré ou ne vient pas de ce serveur. Revenez à l'application et recommencez.")
	}
	return form, sess, true, nil
}
