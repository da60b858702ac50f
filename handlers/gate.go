package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/access"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// breakGlassHeader carries a doctor's reason for opening a patient outside
// their care circle (access.Gate).
const breakGlassHeader = "X-Break-Glass"

// access is the service.Access of a verified token's request: the
// token's scopes, narrowed by the gate for a professional.
func (s *Server) access(c echo.Context, p *auth.Principal) (service.Access, error) {
	var a service.Access = denyAll{}
	if p.Access != nil { // nil would read as unrestricted: never for a caller
		a = p.Access
	}
	g := s.cfg.Gate
	if g == nil {
		return a, nil
	}
	req := c.Request()
	glass := req.Header.Get(breakGlassHeader)
	caller := access.Caller{
		Scopes:       a,
		Practitioner: p.FHIRUser,
		User:         p.Username != "",
		Roles:        p.Roles,
		Organization: p.Organization,
		BreakGlass:   glass,
	}
	if glass != "" {
		caller.Patient = requestPatient(strings.TrimPrefix(echo.GetPath(req), s.base), req)
	}
	a, reason, err := g.For(req.Context(), caller)
	if err != nil {
		return nil, err
	}
	if reason != "" { // the patient was opened by break-the-glass: the audit says so
		noteBreakGlass(c, reason)
		notePatient(c, caller.Patient)
	}
	return a, nil
}

// requestPatient is the one patient a request is about, "" when it names
// none or several: Patient/ID and what lies under it (its history,
// $everything, a compartment search Patient/ID/Type), or a search whose
// patient= or subject= names one Patient. path is below the FHIR base.
func requestPatient(path string, req *http.Request) string {
	if rest, ok := strings.CutPrefix(path, "/Patient/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		if fhir.ValidID(id) {
			return id
		}
		return ""
	}
	q := req.URL.Query()
	var found string
	for _, name := range []string{"patient", "subject", "subject:Patient", "patient:Patient"} {
		for _, v := range q[name] {
			if strings.Contains(v, ",") {
				return ""
			}
			id := v
			if i := strings.LastIndex(v, "Patient/"); i >= 0 {
				id = v[i+len("Patient/"):]
			} else if strings.Contains(v, "/") || name == "subject" {
				return "" // a reference to another type
			}
			if !fhir.ValidID(id) || found != "" && found != id {
				return ""
			}
			found = id
		}
	}
	return found
}
