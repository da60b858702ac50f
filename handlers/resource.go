package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
)

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// setVersionHeaders sets ETag and Last-Modified for a stored version.
func setVersionHeaders(c echo.Context, r *store.Resource) {
	h := c.Response().Header()
	h.Set("ETag", etag(r.Version))
	h.Set("Last-Modified", r.LastUpdated.UTC().Format(http.TimeFormat))
}

func (s *Server) location(r *store.Resource) string {
	return s.cfg.BaseURL + "/" + r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.Version, 10)
}

// renderResource applies the _summary/_elements of params to a stored
// resource.
func renderResource(r *store.Resource, params url.Values) ([]byte, error) {
	summary := params.Get("_summary")
	var elements []string
	if v := params.Get("_elements"); v != "" {
		elements = strings.Split(v, ",")
	}
	switch summary {
	case "", "true", "false", "text", "data":
	default:
		return nil, fhir.Errorf(400, "invalid", "", "_summary=%s is not one of true, text, data, false here", summary)
	}
	return fhir.Summarize(r.Type, r.JSON, summary, elements)
}

func (s *Server) read(c echo.Context) error {
	r, err := s.svc.Read(c.Request().Context(), c.Param("type"), c.Param("id"))
	if err != nil {
		if r != nil { // 410 carries the tombstone's version
			setVersionHeaders(c, r)
		}
		return err
	}
	setVersionHeaders(c, r)
	s.notePatientsOf(c, r)
	if notModified(c, r) {
		return c.NoContent(http.StatusNotModified)
	}
	body, err := renderResource(r, c.QueryParams())
	if err != nil {
		return err
	}
	return s.writeJSON(c, 200, body)
}

// notModified applies If-None-Match and If-Modified-Since to a read.
func notModified(c echo.Context, r *store.Resource) bool {
	h := c.Request().Header
	var since time.Time
	if ims := h.Get("If-Modified-Since"); ims != "" {
		since, _ = http.ParseTime(ims) // an invalid date is ignored
	}
	return unchanged(r, h.Get("If-None-Match"), since, time.Second)
}

// unchanged reports whether a reader holding the versions of ifNoneMatch
// (ETags, or *), or a copy as of since (zero: none), already has r;
// If-None-Match wins when present. since has the given precision (a second
// for an HTTP date), to which the version's instant is truncated.
func unchanged(r *store.Resource, ifNoneMatch string, since time.Time, precision time.Duration) bool {
	if ifNoneMatch != "" {
		for _, t := range strings.Split(ifNoneMatch, ",") {
			if v, ok := service.ParseETag(t); (ok && v == r.Version) || strings.TrimSpace(t) == "*" {
				return true
			}
		}
		return false
	}
	if !since.IsZero() {
		return !r.LastUpdated.Truncate(precision).After(since)
	}
	return false
}

func (s *Server) vread(c echo.Context) error {
	r, err := s.svc.VRead(c.Request().Context(), c.Param("type"), c.Param("id"), c.Param("vid"))
	if err != nil {
		if r != nil {
			setVersionHeaders(c, r)
		}
		return err
	}
	setVersionHeaders(c, r)
	s.notePatientsOf(c, r)
	body, err := renderResource(r, c.QueryParams())
	if err != nil {
		return err
	}
	return s.writeJSON(c, 200, body)
}

func preconditions(c echo.Context) service.Preconditions {
	h := c.Request().Header
	return service.Preconditions{
		IfMatch:        h.Get("If-Match"),
		IfNoneMatchAny: strings.TrimSpace(h.Get("If-None-Match")) == "*",
		IfNoneExist:    h.Get("If-None-Exist"),
	}
}

func (s *Server) create(c echo.Context) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	res, err := s.svc.Create(c.Request().Context(), c.Param("type"), body, preconditions(c))
	if err != nil {
		return err
	}
	return s.respondWrite(c, res)
}

func (s *Server) update(c echo.Context) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	res, err := s.svc.Update(c.Request().Context(), c.Param("type"), c.Param("id"), body, preconditions(c))
	if err != nil {
		return err
	}
	return s.respondWrite(c, res)
}

// rawQuery is the criteria of a conditional interaction, without the
// parameters that only shape the response.
func rawQuery(c echo.Context) (string, error) {
	v := url.Values{} // a copy: Echo's cached QueryParams still shape the response
	for k, vs := range c.QueryParams() {
		switch k {
		case "_format", "_pretty", "_summary", "_elements":
		default:
			v[k] = vs
		}
	}
	if len(v) == 0 {
		return "", fhir.Errorf(400, "required", "", "%s on a type needs search criteria (Type?param=value)", c.Request().Method)
	}
	return v.Encode(), nil
}

func (s *Server) conditionalUpdate(c echo.Context) error {
	q, err := rawQuery(c)
	if err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	res, err := s.svc.ConditionalUpdate(c.Request().Context(), c.Param("type"), q, body, preconditions(c))
	if err != nil {
		return err
	}
	return s.respondWrite(c, res)
}

func (s *Server) delete(c echo.Context) error {
	res, err := s.svc.Delete(c.Request().Context(), c.Param("type"), c.Param("id"), preconditions(c))
	if err != nil {
		return err
	}
	return s.respondDelete(c, res)
}

func (s *Server) conditionalDelete(c echo.Context) error {
	q, err := rawQuery(c)
	if err != nil {
		return err
	}
	res, err := s.svc.ConditionalDelete(c.Request().Context(), c.Param("type"), q, s.cfg.ConditionalDeleteMultiple)
	if err != nil {
		return err
	}
	return s.respondDelete(c, res)
}

func (s *Server) respondDelete(c echo.Context, res *service.Result) error {
	if res.Resource != nil && res.Resource.Deleted {
		setVersionHeaders(c, res.Resource)
	}
	if prefer(c, "return") == "OperationOutcome" || len(res.Outcome) > 0 {
		issues := res.Outcome
		if len(issues) == 0 {
			issues = []fhir.Issue{{Severity: "information", Code: "informational", Diagnostics: "deleted"}}
		}
		return s.writeJSON(c, 200, fhir.Outcome(issues))
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) patch(c echo.Context) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	ct := mediaType(c.Request().Header.Get("Content-Type"))
	res, err := s.svc.Patch(c.Request().Context(), c.Param("type"), c.Param("id"), ct, body, preconditions(c))
	if err != nil {
		return err
	}
	return s.respondWrite(c, res)
}

func (s *Server) conditionalPatch(c echo.Context) error {
	q, err := rawQuery(c)
	if err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	ct := mediaType(c.Request().Header.Get("Content-Type"))
	res, err := s.svc.ConditionalPatch(c.Request().Context(), c.Param("type"), q, ct, body, preconditions(c))
	if err != nil {
		return err
	}
	return s.respondWrite(c, res)
}

// prefer returns one token of the Prefer header (e.g. return, handling).
func prefer(c echo.Context, key string) string {
	for _, h := range c.Request().Header.Values("Prefer") {
		for _, part := range strings.Split(h, ";") {
			for _, kv := range strings.Split(part, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if ok && strings.EqualFold(k, key) {
					return strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
		}
	}
	return ""
}

// respondWrite answers a create/update/patch with the FHIR headers and the
// body Prefer asks for (the resource by default; with OperationOutcome,
// what happened and the warnings validation found). A resource the
// caller may not read (service.Result.Withheld) is never the body: the
// answer is the OperationOutcome saying so.
func (s *Server) respondWrite(c echo.Context, res *service.Result) error {
	r := res.Resource
	setVersionHeaders(c, r)
	if res.Status == 201 || c.Request().Method == http.MethodPut || c.Request().Method == http.MethodPatch {
		c.Response().Header().Set("Location", s.location(r))
	}
	ret := prefer(c, "return")
	if res.Withheld && ret != "minimal" {
		ret = "OperationOutcome"
	}
	switch ret {
	case "minimal":
		return c.NoContent(res.Status)
	case "OperationOutcome":
		msg := "ok"
		switch res.Status {
		case 201:
			msg = "created " + r.Type + "/" + r.ID
		case 200:
			msg = "version " + strconv.FormatInt(r.Version, 10) + " of " + r.Type + "/" + r.ID
		}
		issues := append([]fhir.Issue{{Severity: "information", Code: "informational", Diagnostics: msg}}, res.Outcome...)
		return s.writeJSON(c, res.Status, fhir.Outcome(issues))
	}
	body, err := renderResource(r, c.QueryParams())
	if err != nil {
		return err
	}
	return s.writeJSON(c, res.Status, body)
}

// queryValues merges URL query and, for POST _search, the form body.
func (s *Server) queryValues(c echo.Context) (url.Values, error) {
	v := c.QueryParams()
	if c.Request().Method == http.MethodPost {
		body, err := s.readBodyAllowEmpty(c)
		if err != nil {
			return nil, err
		}
		if mediaType(c.Request().Header.Get("Content-Type")) != "application/x-www-form-urlencoded" && len(body) > 0 {
			return nil, fhir.Errorf(415, "not-supported", "", "_search by POST takes application/x-www-form-urlencoded")
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fhir.Errorf(400, "invalid", "", "form body: %v", err)
		}
		for k, vs := range form {
			v[k] = append(v[k], vs...)
		}
	}
	return v, nil
}

func (s *Server) readBodyAllowEmpty(c echo.Context) ([]byte, error) {
	if c.Request().ContentLength == 0 {
		return nil, nil
	}
	b, err := s.readBody(c)
	if fe, ok := err.(*fhir.Error); ok && fe.Status == 400 && fe.Issues[0].Code == "required" {
		return nil, nil
	}
	return b, err
}
