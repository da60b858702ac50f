package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/store"
)

// Self-service password reset: GET /auth/password-reset is a form with
// input username; its POST answers the same page whatever happened, and
// in the background (so that the time taken says nothing either), when
// the account exists, is enabled, logs in by password and has an e-mail
// address (its own, else its Practitioner's e-mail telecom, read now),
// mails a link Issuer/auth/password-reset/confirm?token=… valid 30
// minutes. That page asks the new password (input password) and its POST
// sets it once the policy passes, using up the link, clearing the
// lockout; sessions and tokens stay as they are. A link dies when used,
// after 30 minutes, and when the password changes by any other way.
// One mail per account per 5 minutes, so the form cannot flood a mailbox.
const (
	KindReset     = "auth.reset"     // Key: Digest(token); Value: resetLink; Expires: 30 min
	KindResetSent = "auth.resetsent" // Key: username; Expires: 5 min after a mail was sent

	ResetLinkTTL  = 30 * time.Minute
	resetThrottle = 5 * time.Minute
)

type resetLink struct {
	Username string `json:"username"`
	// Password is the Digest of the password hash when the link was made.
	Password string    `json:"password"`
	Issued   time.Time `json:"issued"`
}

// resetForm is GET /auth/password-reset.
func (w *browserSide) resetForm(c echo.Context) error {
	sess, err := w.ensureSession(c)
	if err != nil {
		return w.internal(c, "session", err)
	}
	return w.render(c, http.StatusOK, "reset", &view{Title: "Mot de passe oublié", CSRF: sess.CSRF, NoMail: w.s.cfg.SMTPURL == ""})
}

// resetRequest is POST /auth/password-reset.
func (w *browserSide) resetRequest(c echo.Context) error {
	form, _, ok, err := w.formSession(c)
	if !ok {
		return err
	}
	if username := normalizeUsername(form.Get("username")); w.s.cfg.SMTPURL != "" && ValidUsername(username) {
		w.startResetMail(username)
	}
	return w.render(c, http.StatusOK, "reset_sent", &view{Title: "Demande enregistrée"})
}

// startResetMail sends username's reset mail, if there is one to send,
// in the background; at most 4 at a time (more are dropped, logged).
func (w *browserSide) startResetMail(username string) {
	select {
	case w.mailSlots <- struct{}{}:
	default:
		w.s.cfg.Logger.Warn("password reset: too many mails being sent, request dropped")
		return
	}
	w.mailing.Add(1)
	go func() {
		defer w.mailing.Done()
		defer func() { <-w.mailSlots }()
		ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
		defer cancel()
		if err := w.sendReset(ctx, username); err != nil {
			w.s.cfg.Logger.Error("password reset mail", "username", username, "error", err)
		}
	}()
}

// sendReset makes a reset link for username and mails it, when the
// account may have one.
func (w *browserSide) sendReset(ctx context.Context, username string) error {
	u, err := w.s.reg.User(ctx, username)
	if errors.Is(err, ErrUnknown) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.Disabled || u.PasswordHash == "" {
		return nil // a Pro Santé Connect-only account gets no password this way
	}
	to := u.Email
	if to == "" {
		if to, err = w.practitionerEmail(ctx, u.Practitioner); err != nil {
			return err
		}
	}
	if to == "" {
		w.s.cfg.Logger.Info("password reset: the account has no e-mail address", "username", username)
		return nil
	}
	if _, err := w.load(ctx, KindResetSent, username, nil); err == nil {
		return nil // one was sent a moment ago
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := w.now()
	if err := w.save(ctx, KindResetSent, username, struct{}{}, now.Add(resetThrottle), false); err != nil {
		return err
	}
	token := RandomToken()
	link := &resetLink{Username: username, Password: Digest(u.PasswordHash), Issued: now}
	if err := w.save(ctx, KindReset, Digest(token), link, now.Add(ResetLinkTTL), true); err != nil {
		return err
	}
	body := "Bonjour,\n\n" +
		"Un nouveau mot de passe a été demandé pour le compte " + username + " du dossier communicant de cancérologie.\n" +
		"Pour le choisir, ouvrez ce lien dans les 30 minutes (il ne sert qu'une fois) :\n\n" +
		w.authURL("password-reset/confirm") + "?" + url.Values{"token": {token}}.Encode() + "\n\n" +
		"Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste le même.\n"
	return w.sendMail(ctx, mailMessage{To: to, Subject: "Réinitialisation de votre mot de passe", Body: body})
}

// practitionerEmail is the e-mail telecom of the Practitioner ref
// (Practitioner/ID), "" when it has none: a work address first.
func (w *browserSide) practitionerEmail(ctx context.Context, ref string) (string, error) {
	id, ok := strings.CutPrefix(ref, "Practitioner/")
	if !ok || w.s.cfg.Service == nil {
		return "", nil
	}
	res, err := w.s.cfg.Service.Read(ctx, "Practitioner", id)
	if err != nil {
		return "", nil // gone or deleted: no address
	}
	var pr struct {
		Telecom []struct {
			System, Value, Use string
		} `json:"telecom"`
	}
	if json.Unmarshal(res.JSON, &pr) != nil {
		return "", nil
	}
	best := ""
	for _, t := range pr.Telecom {
		if t.System != "email" {
			continue
		}
		if a, err := mailAddress(t.Value); err == nil && a != "" {
			if t.Use == "work" {
				return a, nil
			}
			if best == "" {
				best = a
			}
		}
	}
	return best, nil
}

// link returns the live reset link token, nil when it is not one (absent,
// used, expired, or the password changed since).
func (w *browserSide) link(ctx context.Context, token string) (*resetLink, error) {
	if token == "" || len(token) > 128 {
		return nil, nil
	}
	l := new(resetLink)
	if _, err := w.load(ctx, KindReset, Digest(token), l); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	u, err := w.s.reg.User(ctx, l.Username)
	if errors.Is(err, ErrUnknown) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled || !EqualConstant(Digest(u.PasswordHash), l.Password) {
		return nil, nil
	}
	return l, nil
}

const linkInvalid = "Ce lien n'est plus valable : il a déjà servi, il date de plus de 30 minutes, ou le mot de passe a changé depuis. Faites une nouvelle demande."

// confirmForm is GET /auth/password-reset/confirm?token=….
func (w *browserSide) confirmForm(c echo.Context) error {
	token := c.QueryParam("token")
	l, err := w.link(c.Request().Context(), token)
	if err != nil {
		return w.internal(c, "reset link", err)
	}
	if l == nil {
		return w.problem(c, http.StatusBadRequest, linkInvalid)
	}
	sess, err := w.ensureSession(c)
	if err != nil {
		return w.internal(c, "session", err)
	}
	return w.render(c, http.StatusOK, "confirm", &view{Title: "Nouveau mot de passe", CSRF: sess.CSRF, Token: token})
}

// confirm is POST /auth/password-reset/confirm: token, password.
func (w *browserSide) confirm(c echo.Context) error {
	form, sess, ok, err := w.formSession(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	token := form.Get("token")
	l, err := w.link(ctx, token)
	if err != nil {
		return w.internal(c, "reset link", err)
	}
	if l == nil {
		return w.problem(c, http.StatusBadRequest, linkInvalid)
	}
	password := form.Get("password")
	if err := CheckPassword(password, l.Username); err != nil {
		return w.render(c, http.StatusBadRequest, "confirm", &view{Title: "Nouveau mot de passe", CSRF: sess.CSRF, Token: token, Error: policyMessage(err)})
	}
	if _, err := w.take(ctx, KindReset, Digest(token), nil); errors.Is(err, store.ErrNotFound) {
		return w.problem(c, http.StatusBadRequest, linkInvalid)
	} else if err != nil {
		return w.internal(c, "reset link", err)
	}
	if err := w.s.reg.SetPassword(ctx, l.Username, password); err != nil {
		return w.internal(c, "set password", err)
	}
	if err := w.clearFailures(ctx, l.Username); err != nil {
		return w.internal(c, "lockout", err)
	}
	return w.render(c, http.StatusOK, "done", &view{Title: "Mot de passe changé", Message: "Votre nouveau mot de passe est enregistré. Revenez à l'application pour vous connecter."})
}
