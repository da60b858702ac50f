package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
)

// launchTTL is how long an EHR launch context may wait for its app.
const launchTTL = 5 * time.Minute

// launchRequest is POST /auth/launch's body.
type launchRequest struct {
	// Patient is "Patient/ID" or an identifier "system|value" (the INS)
	// that exactly one Patient carries.
	Patient   string `json:"patient"`
	Encounter string `json:"encounter,omitempty"` // "Encounter/ID", of that patient
	// NeedPatientBanner (default true) tells the app whether it must show
	// the patient; an EHR that shows it already sends false.
	NeedPatientBanner *bool `json:"need_patient_banner,omitempty"`
}

// launchEndpoint is POST /auth/launch: an establishment system (a backend
// client registered with --launch, by its backend-services access token)
// creates an EHR launch context and gets {"launch": "…"}, single use, for
// 5 minutes. Errors are OAuth-style JSON {"error","error_description"}, as
// on every /auth endpoint: 401 invalid_token (with WWW-Authenticate
// Bearer), 403 insufficient_scope (not a launching client), 400
// invalid_request (malformed body, an identifier matching several
// patients, an encounter of another patient), 404 invalid_request (no
// such patient or encounter), 413 and 415 invalid_request (body over
// 64 KiB, not application/json).
func (s *Server) launchEndpoint(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := s.bearer(ctx, c.Request())
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.Code == "invalid_token" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="dccfhir", error="invalid_token"`)
		}
		return s.oauthFail(c, err)
	}
	cl, err := s.reg.Client(ctx, p.ClientID)
	if err != nil && !errors.Is(err, ErrUnknown) {
		return s.oauthFail(c, err)
	}
	if cl == nil || p.Username != "" || cl.Kind != "backend" || !cl.Launch {
		return s.oauthFail(c, &TokenError{Code: "insufficient_scope", Status: http.StatusForbidden,
			Description: "only a backend client registered with --launch, by its own token, creates launch contexts"})
	}
	req, err := readLaunch(c)
	if err != nil {
		return s.oauthFail(c, err)
	}
	lc, err := s.resolveLaunch(ctx, req)
	if err != nil {
		return s.oauthFail(c, err)
	}
	id := RandomToken()
	if err := s.reg.put(ctx, KindLaunch, Digest(id), &Launch{ClientID: cl.ID, Context: *lc}, s.cfg.Now().Add(launchTTL), true); err != nil {
		return s.oauthFail(c, err)
	}
	return writeNoStore(c, http.StatusOK, map[string]string{"launch": id})
}

// bearer verifies the request's bearer access token.
func (s *Server) bearer(ctx context.Context, r *http.Request) (*Principal, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, invalidToken("a bearer access token is required")
	}
	return s.Verify(ctx, strings.TrimSpace(token))
}

func badLaunch(status int, desc string) error {
	return &TokenError{Code: "invalid_request", Description: desc, Status: status}
}

func readLaunch(c echo.Context) (*launchRequest, error) {
	r := c.Request()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, badLaunch(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAuthBody+1))
	if err != nil {
		return nil, badLaunch(http.StatusBadRequest, "reading the body failed")
	}
	if len(body) > maxAuthBody {
		return nil, badLaunch(http.StatusRequestEntityTooLarge, "body over 64 KiB")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	req := new(launchRequest)
	if err := dec.Decode(req); err != nil || dec.More() {
		return nil, badLaunch(http.StatusBadRequest, `the body must be {"patient": "Patient/ID" or "system|value", "encounter": "Encounter/ID"}`)
	}
	return req, nil
}

// resolveLaunch finds the launch's patient (and encounter, which must be
// the patient's): the server's own lookup, not limited by the caller's
// scopes.
func (s *Server) resolveLaunch(ctx context.Context, req *launchRequest) (*Context, error) {
	svc := s.cfg.Service
	if svc == nil {
		return nil, errors.New("auth: launch needs the FHIR service")
	}
	lc := &Context{NeedPatientBanner: req.NeedPatientBanner == nil || *req.NeedPatientBanner}
	switch id, isRef := strings.CutPrefix(req.Patient, "Patient/"); {
	case isRef:
		if !fhir.ValidID(id) {
			return nil, badLaunch(http.StatusBadRequest, "patient: Patient/ID or system|value expected")
		}
		if _, err := svc.Read(ctx, "Patient", id); err != nil {
			return nil, notFound(err, "no such patient")
		}
		lc.Patient = id
	case strings.Contains(req.Patient, "|") && !strings.HasPrefix(req.Patient, "|") && !strings.HasSuffix(req.Patient, "|"):
		resp, err := svc.Search(ctx, "Patient", url.Values{"identifier": {req.Patient}, "_count": {"2"}}, false)
		if err != nil {
			return nil, notFound(err, "no such patient")
		}
		switch len(resp.Result.Resources) {
		case 0:
			return nil, badLaunch(http.StatusNotFound, "no patient carries that identifier")
		case 1:
			lc.Patient = resp.Result.Resources[0].ID
		default:
			return nil, badLaunch(http.StatusBadRequest, "several patients carry that identifier")
		}
	default:
		return nil, badLaunch(http.StatusBadRequest, "patient: Patient/ID or system|value expected")
	}
	if req.Encounter == "" {
		return lc, nil
	}
	id, ok := strings.CutPrefix(req.Encounter, "Encounter/")
	if !ok || !fhir.ValidID(id) {
		return nil, badLaunch(http.StatusBadRequest, "encounter: Encounter/ID expected")
	}
	res, err := svc.Read(ctx, "Encounter", id)
	if err != nil {
		return nil, notFound(err, "no such encounter")
	}
	var enc struct {
		Subject struct {
			Reference string `json:"reference"`
		} `json:"subject"`
	}
	_ = json.Unmarshal(res.JSON, &enc)
	if ref := enc.Subject.Reference; ref != "Patient/"+lc.Patient && ref != s.cfg.BaseURL+"/Patient/"+lc.Patient {
		return nil, badLaunch(http.StatusBadRequest, "the encounter is not the patient's")
	}
	lc.Encounter = id
	return lc, nil
}

// notFound maps a read's 404 or 410 to the launch's 404; anything else
// the service says is passed on as a failure.
func notFound(err error, desc string) error {
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Status >= 400 && fe.Status < 500 {
		if fe.Status == http.StatusNotFound || fe.Status == http.StatusGone {
			return badLaunch(http.StatusNotFound, desc)
		}
		return badLaunch(http.StatusBadRequest, fe.Error())
	}
	return err
}
