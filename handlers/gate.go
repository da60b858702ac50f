package handlers

import (
	"net/http"
	"net/url"
	"slices"
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
	ids, exact := namedPatients(req.URL.Query())
	if !exact || len(ids) != 1 {
		return ""
	}
	return ids[0]
}

// namedPatients are the ids of the patients a search's patient= and
// subject= parameters name (Patient/ID, an absolute URL ending so, or a
// bare id where the parameter targets Patient), each once; exact is false
// when a value names a list or something else (another type, an untyped
// subject, an invalid id), so that the ids are not all it asks for.
func namedPatients(q url.Values) (ids []string, exact bool) {
	exact = true
	for _, name := range []string{"patient", "subject", "subject:Patient", "patient:Patient"} {
		for _, v := range q[name] {
			for _, one := range strings.Split(v, ",") {
				id := one
				if i := strings.LastIndex(one, "Patient/"); i >= 0 {
					id = one[i+len("Patient/"):]
				} else if strings.Contains(one, "/") || name == "subject" {
					exact = false // a reference to another type, or not said to be a Patient
					continue
				}
				if !fhir.ValidID(id) {
					exact = false
					continue
				}
				if strings.Contains(v, ",") {
					exact = false
				}
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
	}
	return ids, exact
}
