package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/store"
)

// KindPending is an authorize request of a logged-in browser between its
// arrival and its code: the id travels in the pages' hidden input
// "pending", the request itself stays here, bound to the browser session
// that made it. Before login the request is not stored: the id is the
// request itself, sealed (sealedPending + seal.go), bound to the
// pre-login session; the login stores it.
const KindPending = "auth.pending" // Key: Digest(id); Value: pendingRequest; Expires: 10 min

const (
	sealedPending  = "p."
	purposePending = "pending"
	// maxPendingID bounds a pending id (a sealed request with the longest
	// state and nonce allowed is below 12 KiB).
	maxPendingID = 16 << 10
	pendingTTL   = 10 * time.Minute
	codeTTL      = 60 * time.Second
	maxState     = 4096 // bytes
	maxNonce     = 512
)

type pendingRequest struct {
	ClientID    string `json:"clientId"`
	RedirectURI string `json:"redirectUri"`
	// State is given back byte for byte ([]byte: JSON would mend invalid UTF-8).
	State    []byte `json:"state,omitempty"`
	HasState bool   `json:"hasState,omitempty"`
	// Challenge is the S256 PKCE challenge.
	Challenge string `json:"challenge"`
	Scope     string `json:"scope"` // granted
	Nonce     string `json:"nonce,omitempty"`
	// Context is the EHR launch's, or the patient picked.
	Context
	// PickPatient: a standalone launch/patient, the picker comes after login.
	PickPatient bool `json:"pickPatient,omitempty"`
	// NoPrompt: prompt=none, an error rather than any page.
	NoPrompt bool `json:"noPrompt,omitempty"`
	// Session is the Digest of the browser session it belongs to.
	Session string `json:"session"`
}

// authorizeParams are the parameters that must not be repeated (RFC 6749
// section 3.1).
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "aud", "code_challenge", "code_challenge_method", "launch", "nonce", "prompt", "idp"}

// authorizePost is POST /auth/authorize (SMART's authorize-post): the
// parameters come in the body; the browser is sent on to the GET form
// with the same parameters, a top-level navigation that carries the
// SameSite=Lax session cookie the cross-site POST did not.
func (w *browserSide) authorizePost(c echo.Context) error {
	form, ok, err := w.postForm(c)
	if !ok {
		return err
	}
	return c.Redirect(http.StatusSeeOther, w.authURL("authorize")+"?"+form.Encode())
}

// authorize is GET /auth/authorize: the request is checked, kept as a
// pending request, and the browser goes on to login (or Pro Santé Connect,
// with idp=psc), or, with a live session, to the picker, the consent page
// or the code. While client_id or redirect_uri is wrong nothing is
// redirected (an error page); after that, every refusal goes back to the
// redirect URI (RFC 6749 section 4.1.2.1).
func (w *browserSide) authorize(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.Request().URL.Query()
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return w.problem(c, http.StatusBadRequest, "Paramètre "+k+" répété : la demande de l'application est invalide.")
		}
	}
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	if clientID == "" {
		return w.problem(c, http.StatusBadRequest, "La demande de l'application ne dit pas qui elle est (client_id manquant).")
	}
	client, err := w.s.reg.Client(ctx, clientID)
	if errors.Is(err, ErrUnknown) {
		return w.problem(c, http.StatusBadRequest, "Cette application n'est pas enregistrée sur ce serveur (client_id inconnu).")
	}
	if err != nil {
		return w.internal(c, "client", err)
	}
	if client.Kind == "backend" {
		return w.problem(c, http.StatusBadRequest, "Ce client est un système (backend services) : il ne passe pas par une connexion.")
	}
	if redirect == "" || !slices.Contains(client.RedirectURIs, redirect) {
		return w.problem(c, http.StatusBadRequest, "L'adresse de retour (redirect_uri) n'est pas celle enregistrée pour cette application.")
	}

	p := &pendingRequest{ClientID: client.ID, RedirectURI: redirect}
	if vs, ok := q["state"]; ok {
		p.State, p.HasState = []byte(vs[0]), true
	}
	back := func(code, desc string) error { return w.redirectError(c, p, code, desc) }
	for _, k := range authorizeParams {
		if len(q[k]) > 1 {
			return back("invalid_request", k+" is given more than once")
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return back("invalid_request", "response_type is required (code)")
	case rt != "code":
		return back("unsupported_response_type", "only response_type=code is supported")
	}
	switch aud := q.Get("aud"); {
	case aud == "":
		return back("invalid_request", "aud is required: the FHIR base URL the app will call")
	case strings.TrimSuffix(aud, "/") != w.s.cfg.BaseURL:
		return back("invalid_request", "aud is not this server's FHIR base URL")
	}
	switch challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method"); {
	case challenge == "":
		return back("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
	case method != "S256":
		return back("invalid_request", "code_challenge_method must be S256 (plain is refused)")
	case !validChallenge(challenge):
		return back("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
	default:
		p.Challenge = challenge
	}
	if len(p.State) > maxState {
		return back("invalid_request", "state is longer than 4096 bytes")
	}
	if p.Nonce = q.Get("nonce"); len(p.Nonce) > maxNonce {
		return back("invalid_request", "nonce is longer than 512 bytes")
	}
	asked, _ := scope.Parse(q.Get("scope"))
	allowed, _ := scope.Parse(client.Scopes)
	granted := scope.Narrow(asked, allowed)
	if len(granted.Clinical) == 0 && len(granted.Other) == 0 {
		return back("invalid_scope", "none of the scopes asked is registered for this client")
	}
	p.Scope = granted.String()
	prompt := strings.Fields(q.Get("prompt"))
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return back("invalid_request", "prompt=none cannot be combined with other values")
	}
	p.NoPrompt = slices.Contains(prompt, "none")
	idp := q.Get("idp")
	switch {
	case idp == "psc" && w.s.cfg.PSC == nil:
		return back("invalid_request", "idp=psc: Pro Sante Connect is not configured on this server")
	case idp != "" && idp != "psc":
		return back("invalid_request", "unknown idp (psc is the only one)")
	}
	pick := granted.Has("launch/patient")
	if pick && !canPick(granted) {
		return back("invalid_scope", "launch/patient needs a user/ scope that reads Patient: the patient picker searches with it")
	}
	if launch := q.Get("launch"); launch != "" {
		if !granted.Has("launch") {
			return back("invalid_scope", "launch is given but the launch scope is not granted")
		}
		var l Launch
		if _, err := w.take(ctx, KindLaunch, Digest(launch), &l); errors.Is(err, store.ErrNotFound) {
			return back("invalid_request", "launch is unknown, expired or already used")
		} else if err != nil {
			return w.internal(c, "launch", err)
		}
		p.Context = l.Context
		p.NeedPatientBanner = true
	}
	p.PickPatient = pick && p.Patient == ""

	sess, err := w.ensureSession(c)
	if err != nil {
		return w.internal(c, "session", err)
	}
	p.Session = sess.key
	if p.NoPrompt && !sess.loggedIn() {
		return back("login_required", "the user is not logged in")
	}
	id, err := w.keepPending(ctx, sess, p)
	if err != nil {
		return w.internal(c, "pending request", err)
	}
	switch {
	case sess.loggedIn() && !slices.Contains(prompt, "login"):
		return w.proceed(c, sess, id, p)
	case idp == "psc":
		return c.Redirect(http.StatusSeeOther, w.authURL("psc/start")+"?"+url.Values{"pending": {id}}.Encode())
	}
	return w.loginPage(c, sess, id, client, "")
}

// keepPending is the id of p for the next page: before login, p itself,
// sealed (nothing stored for an anonymous browser); after, the key of
// its record.
func (w *browserSide) keepPending(ctx context.Context, sess *webSession, p *pendingRequest) (string, error) {
	if !sess.loggedIn() {
		sealed, err := w.s.seal.seal(purposePending, p, w.now().Add(pendingTTL))
		return sealedPending + sealed, err
	}
	id := RandomToken()
	return id, w.save(ctx, KindPending, Digest(id), p, w.now().Add(pendingTTL), true)
}

// validChallenge: an S256 challenge is 32 bytes, base64url without padding.
func validChallenge(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// pendingOf reads the pending request id of the browser session sess
// (sealed before login, stored after) and its expiry; on failure it has
// answered (an error page: whatever is left of the request cannot be
// trusted to redirect) and ok is false.
func (w *browserSide) pendingOf(c echo.Context, sess *webSession, id string) (p *pendingRequest, expires time.Time, ok bool, err error) {
	gone := func() (*pendingRequest, time.Time, bool, error) {
		return nil, time.Time{}, false, w.problem(c, http.StatusBadRequest, "Cette demande a expiré ou n'est pas la vôtre.")
	}
	if sess == nil || id == "" || len(id) > maxPendingID {
		return gone()
	}
	p = new(pendingRequest)
	if sealed, isSealed := strings.CutPrefix(id, sealedPending); isSealed {
		if sess.loggedIn() { // a logged-in session's requests are stored
			return gone()
		}
		if expires, err = w.s.seal.open(purposePending, sealed, p); err != nil || !EqualConstant(p.Session, sess.key) {
			return gone()
		}
		return p, expires, true, nil
	}
	rec, err := w.load(c.Request().Context(), KindPending, Digest(id), p)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !EqualConstant(p.Session, sess.key)) {
		return gone()
	}
	if err != nil {
		return nil, time.Time{}, false, w.internal(c, "pending request", err)
	}
	return p, rec.Expires, true, nil
}

// pendingClient is the client of p, still registered.
func (w *browserSide) pendingClient(c echo.Context, p *pendingRequest) (*Client, bool, error) {
	client, err := w.s.reg.Client(c.Request().Context(), p.ClientID)
	if errors.Is(err, ErrUnknown) {
		return nil, false, w.problem(c, http.StatusBadRequest, "Cette application n'est plus enregistrée.")
	}
	if err != nil {
		return nil, false, w.internal(c, "client", err)
	}
	if client.Kind == "backend" || !slices.Contains(client.RedirectURIs, p.RedirectURI) {
		return nil, false, w.problem(c, http.StatusBadRequest, "Cette application n'est plus enregistrée ainsi.")
	}
	return client, true, nil
}

// proceed is the step after login: the picker when a patient is still to
// choose, the consent page for an app not marked trusted, else the code.
func (w *browserSide) proceed(c echo.Context, sess *webSession, id string, p *pendingRequest) error {
	client, ok, err := w.pendingClient(c, p)
	if !ok {
		return err
	}
	switch {
	case p.PickPatient && p.Patient == "":
		if p.NoPrompt {
			return w.finish(c, id, p, "interaction_required", "a patient must be chosen")
		}
		return w.pickerPage(c, http.StatusOK, sess, id, client, &view{})
	case !client.Trusted:
		if p.NoPrompt {
			return w.finish(c, id, p, "consent_required", "the user must approve this app")
		}
		return w.consentPage(c, sess, id, p, client)
	}
	return w.issueCode(c, sess, id)
}

// issueCode ends the pending request id with an authorization code: the
// Code record the token endpoint exchanges (once, within 60 s) and the
// redirect ?code=…&state=….
func (w *browserSide) issueCode(c echo.Context, sess *webSession, id string) error {
	ctx := c.Request().Context()
	p := new(pendingRequest)
	if _, err := w.take(ctx, KindPending, Digest(id), p); errors.Is(err, store.ErrNotFound) {
		return w.problem(c, http.StatusBadRequest, "Cette demande a expiré ou a déjà reçu sa réponse.")
	} else if err != nil {
		return w.internal(c, "pending request", err)
	}
	if !sess.loggedIn() || !EqualConstant(p.Session, sess.key) {
		return w.problem(c, http.StatusBadRequest, "Cette demande a expiré ou n'est pas la vôtre.")
	}
	now := w.now()
	code := RandomToken()
	rec := &Code{
		ClientID: p.ClientID, RedirectURI: p.RedirectURI, Challenge: p.Challenge, Scope: p.Scope,
		Username: sess.Username, Nonce: p.Nonce, Context: p.Context, Issued: now, AuthTime: sess.AuthTime,
	}
	if err := w.save(ctx, KindCode, Digest(code), rec, now.Add(codeTTL), true); err != nil {
		return w.internal(c, "code", err)
	}
	v := url.Values{"code": {code}}
	if p.HasState {
		v.Set("state", string(p.State))
	}
	return c.Redirect(http.StatusSeeOther, withQuery(p.RedirectURI, v))
}

// finish ends the pending request id with an error sent to the app.
func (w *browserSide) finish(c echo.Context, id string, p *pendingRequest, code, desc string) error {
	if err := w.s.cfg.Store.DeleteRecord(c.Request().Context(), KindPending, Digest(id)); err != nil {
		return w.internal(c, "pending request", err)
	}
	return w.redirectError(c, p, code, desc)
}

// redirectError sends the browser back to the app with an OAuth error
// (RFC 6749 section 4.1.2.1).
func (w *browserSide) redirectError(c echo.Context, p *pendingRequest, code, desc string) error {
	v := url.Values{"error": {code}, "error_description": {desc}}
	if p.HasState {
		v.Set("state", string(p.State))
	}
	return c.Redirect(http.StatusSeeOther, withQuery(p.RedirectURI, v))
}

// withQuery adds v to the query of uri (a registered redirect URI may
// have one of its own; a fragment is dropped).
func withQuery(uri string, v url.Values) string {
	base, _, _ := strings.Cut(uri, "#")
	switch {
	case !strings.Contains(base, "?"):
		base += "?"
	case !strings.HasSuffix(base, "?") && !strings.HasSuffix(base, "&"):
		base += "&"
	}
	return base + v.Encode()
}
