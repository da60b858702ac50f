package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
)

// keyAuditNote is the echo key of the request's *audit.Note (also in the
// request's context, for the layers that see no echo.Context).
const keyAuditNote = "audit.note"

// notePatient tells the audit trail that the request concerned patient
// (Patient/ID or ID): the access gate calls it with the patients whose
// compartment it opened, the handlers with those the path names.
func notePatient(c echo.Context, patient string) {
	if n, ok := c.Get(keyAuditNote).(*audit.Note); ok {
		n.Patient(patient)
	}
}

// notePatientsOf tells the audit trail the patients of a resource read
// (with the trail on: the compartment is computed again for it).
func (s *Server) notePatientsOf(c echo.Context, r *store.Resource) {
	if s.cfg.Audit == nil || r.Type == "Patient" { // a Patient: the path names it
		return
	}
	for _, p := range s.svc.PatientsOf(r) {
		notePatient(c, p)
	}
}

// noteBreakGlass tells the audit trail that the request was served as an
// emergency access (X-Break-Glass) with reason: the AuditEvent then carries
// purposeOfEvent and the user agent's purposeOfUse BTG (v3-ActReason)
// with the reason as text.
func noteBreakGlass(c echo.Context, reason string) {
	if n, ok := c.Get(keyAuditNote).(*audit.Note); ok {
		n.BreakGlass = reason
	}
}

// auditTrail records every request to the FHIR base and the authorization
// server as an AuditEvent before its answer leaves (installed with Pre,
// outside every other middleware, so the answer it sees is the final one,
// errors rendered). The answer is buffered; a write's event is written in
// the write's own transaction (the request's service.Trail), any other
// through the group-commit writer; if that fails the client gets a 503
// instead of an unrecorded answer.
func (s *Server) auditTrail(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		p := req.URL.Path
		if !s.underBase(p) && p != "/auth" && !strings.HasPrefix(p, "/auth/") {
			return next(c)
		}
		note := &audit.Note{}
		tr := &requestTrail{s: s, c: c}
		ctx := audit.WithNote(service.WithTrail(req.Context(), tr), note)
		c.SetRequest(req.WithContext(ctx))
		c.Set(keyAuditNote, note)
		res := c.Response()
		orig := res.Writer
		buf := &bufferedWriter{w: orig}
		res.Writer = buf
		defer func() {
			if r := recover(); r != nil {
				res.Writer = orig // a panic past recoverPanic: let net/http see it
				panic(r)
			}
		}()
		if err := next(c); err != nil {
			c.Error(err)
		}
		res.Writer = orig
		status := buf.status
		if status == 0 {
			status = http.StatusOK
		}
		// a batch's write entries were recorded in their transactions; the
		// batch itself (its read entries) is recorded here as well
		if batch, _ := c.Get(keyInteraction).(string); !tr.wrote || status >= 400 || batch == "batch" {
			ev := s.auditEvent(c, status, buf.body.Bytes())
			if err := s.cfg.Audit.Record(ctx, ev); err != nil {
				logger(c).Error("audit trail not written: the answer is replaced by a 503", "err", err, "status", status)
				s.auditUnavailable(orig)
				return nil
			}
		}
		if buf.status != 0 {
			orig.WriteHeader(buf.status)
		}
		_, _ = orig.Write(buf.body.Bytes())
		return nil
	}
}

// auditUnavailable answers 503 instead of an answer the trail could not
// record: the headers of that answer (ETag, Location...) go with it.
func (s *Server) auditUnavailable(w http.ResponseWriter) {
	h := w.Header()
	for _, k := range []string{"ETag", "Location", "Content-Location", "Last-Modified", "Content-Length", "Set-Cookie"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/fhir+json; charset=utf-8")
	h.Set("Retry-After", "1")
	fe := fhir.Errorf(http.StatusServiceUnavailable, "transient", "", "the audit trail cannot be written now: the request was not served; try again")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(fhir.Outcome(fe.Issues))
}

// bufferedWriter holds an answer until the trail recorded it. Header is
// the real writer's (the middlewares' headers are set once); Flush does
// nothing (a flush would send what must wait); Unwrap reaches the
// connection (read deadlines of the lingering close).
type bufferedWriter struct {
	w      http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.w.Header() }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) Flush()                      {}
func (b *bufferedWriter) Unwrap() http.ResponseWriter { return b.w }

// requestTrail is the request's service.Trail: a write records its event
// in its own transaction, with the versions it put.
type requestTrail struct {
	s *Server
	c echo.Context
	// wrote: an event was appended in a write's transaction. If that
	// transaction did not commit, the answer is a failure, and the
	// middleware records the failure.
	wrote bool
}

func (t *requestTrail) Wrote(ctx context.Context, tx store.Tx, written []*store.Resource) error {
	ev := t.s.auditEvent(t.c, 0, nil)
	ev.Resources = ev.Resources[:0]
	for _, r := range written {
		ref := r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.Version, 10)
		ev.Resources = append(ev.Resources, ref)
		ev.Patients = addPatients(ev.Patients, t.s.svc.PatientsOf(r)...)
	}
	if err := t.s.cfg.Audit.Append(ctx, tx, []*audit.Event{ev}); err != nil {
		logger(t.c).Error("audit trail not written: the write is refused", "err", err)
		return fhir.Errorf(http.StatusServiceUnavailable, "transient", "", "the audit trail cannot be written now: nothing was written; try again")
	}
	t.wrote = true
	return nil
}

// auditEvent describes the request of c answered with status and body.
func (s *Server) auditEvent(c echo.Context, status int, body []byte) *audit.Event {
	req := c.Request()
	ev := &audit.Event{Status: status, Recorded: time.Now(), Address: s.remoteIP(c),
		RequestID: c.Response().Header().Get("X-Request-Id")}
	if pr, ok := c.Get(keyPrincipal).(*auth.Principal); ok {
		ev.Username, ev.ClientID = pr.Username, pr.ClientID
		ev.Practitioner = s.localRef(pr.FHIRUser)
	}
	note, _ := c.Get(keyAuditNote).(*audit.Note)
	path := req.URL.Path
	if !s.underBase(path) {
		s.authEvent(c, ev, note)
	} else {
		s.restEvent(c, ev)
	}
	if note != nil {
		ev.Patients = addPatients(ev.Patients, note.Patients...)
		ev.BreakGlass = note.BreakGlass
	}
	if status >= 400 {
		ev.Failure = outcomeText(body)
	}
	return ev
}

// authEvent fills ev for a request to the authorization server: the
// login endpoints (password, Pro Santé Connect, token) are Login, the
// revocation Logout, the rest of the flow Authn.
func (s *Server) authEvent(c echo.Context, ev *audit.Event, note *audit.Note) {
	req := c.Request()
	path := req.URL.Path
	switch {
	case path == "/auth/login" || path == "/auth/token" || strings.HasPrefix(path, "/auth/psc/"):
		ev.Kind = audit.Login
	case path == "/auth/revoke":
		ev.Kind = audit.Logout
	default:
		ev.Kind = audit.Authn
	}
	if note != nil && note.Login != nil {
		ev.Username = note.Login.Username
		ev.Failed = !note.Login.OK
	}
	if ev.ClientID == "" && note != nil {
		ev.ClientID = note.Client
	}
	if ev.ClientID == "" {
		// what the handler already parsed: nothing is read again
		if id, _, ok := req.BasicAuth(); ok {
			ev.ClientID = id
		} else if req.PostForm != nil {
			ev.ClientID = req.PostForm.Get("client_id")
		}
		if ev.ClientID == "" {
			ev.ClientID = req.URL.Query().Get("client_id")
		}
	}
}

// interactionCode maps a route's interaction to its restful-interaction code.
var interactionCode = map[string]string{
	"search-compartment": "search-type", "validate": "operation", "expand": "operation", "validate-code": "operation",
	"lookup": "operation", "everything": "operation", "reindex": "operation",
}

// restEvent fills ev for a request to the FHIR API from its route and the
// answer's headers: the resource of an instance interaction, with the
// version the ETag or Location names; the patient a path names; the
// query of a search.
func (s *Server) restEvent(c echo.Context, ev *audit.Event) {
	req := c.Request()
	inter, _ := c.Get(keyInteraction).(string)
	if inter == "" { // refused before its handler (a token): the route says
		for _, r := range routeTable {
			if r.method == req.Method && s.base+r.path == c.Path() {
				inter = r.interaction
				break
			}
		}
	}
	if code, ok := interactionCode[inter]; ok {
		inter = code
	}
	ev.Kind, ev.Interaction = audit.Rest, inter
	typ, id := c.Param("type"), c.Param("id")
	if strings.HasPrefix(c.Path(), s.base+"/Patient/:id/") {
		typ = "Patient"
	}
	h := c.Response().Header()
	switch {
	case typ != "" && id != "":
		ref := typ + "/" + id
		if v := c.Param("vid"); v != "" {
			ref += "/_history/" + v
		} else if v, ok := etagVersion(h.Get("ETag")); ok && ev.Status < 400 {
			ref += "/_history/" + v
		}
		ev.Resources = []string{ref}
		if typ == "Patient" {
			ev.Patients = addPatients(ev.Patients, "Patient/"+id)
		}
	case ev.Status < 400 && h.Get("Location") != "":
		if ref := s.localRef(h.Get("Location")); ref != "" {
			ev.Resources = []string{ref}
			ev.Patients = addPatients(ev.Patients, audit.PatientOf(ref))
		}
	}
	if strings.HasPrefix(inter, "search") {
		ev.Search = true
		q := req.URL.RawQuery
		if req.Method == http.MethodPost && req.PostForm != nil {
			if f := req.PostForm.Encode(); f != "" {
				if q != "" {
					q += "&"
				}
				q += f
			}
		}
		vals, err := url.ParseQuery(q)
		switch { // a token is refused (400), and never kept: a token in the trail is a token for its readers
		case err != nil && strings.Contains(q, "access_token"):
			q = ""
		case vals.Has("access_token"):
			vals.Del("access_token")
			q = vals.Encode()
		}
		ev.Query = q
		if err == nil {
			ids, _ := namedPatients(vals)
			for _, one := range ids {
				ev.Patients = addPatients(ev.Patients, "Patient/"+one)
			}
			if typ == "Patient" && id == "" {
				for _, v := range vals["_id"] {
					for _, one := range strings.Split(v, ",") {
						ev.Patients = addPatients(ev.Patients, "Patient/"+one)
					}
				}
			}
		}
	}
}

// localRef is the Type/id[/_history/v] of a reference to this server (a
// full URL under the base, or already relative), "" for anything else.
func (s *Server) localRef(ref string) string {
	if ref == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(ref, s.cfg.BaseURL+"/"); ok {
		ref = rest
	} else if strings.Contains(ref, "://") {
		// another base (the fhirUser of a token issued for another
		// address of this server): keep its last Type/id
		parts := strings.Split(strings.TrimRight(ref, "/"), "/")
		if i := len(parts); i >= 2 {
			if i >= 4 && parts[i-2] == "_history" {
				return strings.Join(parts[i-4:], "/")
			}
			return parts[i-2] + "/" + parts[i-1]
		}
		return ""
	}
	if !strings.Contains(ref, "/") {
		return ""
	}
	return ref
}

// remoteIP is the client's address: the connection's peer (no forwarding
// header is trusted unless the server was given an IP extractor).
func (s *Server) remoteIP(c echo.Context) string {
	if s.e.IPExtractor != nil {
		return c.RealIP()
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// etagVersion reads W/"v".
func etagVersion(tag string) (string, bool) {
	v, ok := strings.CutPrefix(tag, `W/"`)
	if !ok || !strings.HasSuffix(v, `"`) || len(v) < 2 {
		return "", false
	}
	return v[:len(v)-1], true
}

// outcomeText is the diagnostics of an OperationOutcome answer (failures
// only: small bodies), "" when the body is not one.
func outcomeText(body []byte) string {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Diagnostics string `json:"diagnostics"`
			Details     struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return ""
	}
	var parts []string
	for _, i := range oo.Issue {
		if t := i.Diagnostics; t != "" {
			parts = append(parts, t)
		} else if i.Details.Text != "" {
			parts = append(parts, i.Details.Text)
		}
	}
	return strings.Join(parts, "; ")
}

// addPatients adds to list the patients of ps it does not hold ("" none).
func addPatients(list []string, ps ...string) []string {
	for _, p := range ps {
		if p != "" && !slices.Contains(list, p) {
			list = append(list, p)
		}
	}
	return list
}
