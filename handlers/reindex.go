package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// reindex starts an asynchronous $reindex (POST [base]/$reindex?type=A,B or
// POST [base]/Type/$reindex) and answers 202 with the status URL in
// Content-Location, per the FHIR asynchronous request pattern.
func (s *Server) reindex(c echo.Context) error {
	// StartReindex checks the caller too; checking here first refuses
	// before the body is read.
	if err := service.MayReindex(c.Request().Context()); err != nil {
		return err
	}
	types := service.ParseTypes(c.QueryParam("type"))
	if t := c.Param("type"); t != "" {
		types = []string{t}
	} else if c.Request().ContentLength > 0 {
		body, err := s.readBody(c)
		if err != nil {
			return err
		}
		in, ferr := fhir.Decode(body)
		if ferr != nil {
			return ferr
		}
		params, _ := in["parameter"].([]any)
		for _, p := range params {
			pm, _ := p.(map[string]any)
			if pm["name"] == "type" {
				for _, k := range []string{"valueCode", "valueString"} {
					if v, ok := pm[k].(string); ok {
						types = append(types, service.ParseTypes(v)...)
					}
				}
			}
		}
	}
	j, err := s.svc.StartReindex(c.Request().Context(), types)
	if err != nil {
		return err
	}
	status := s.cfg.BaseURL + "/$reindex/" + j.ID
	c.Response().Header().Set("Content-Location", status)
	return s.writeJSON(c, http.StatusAccepted, fhir.InfoOutcome("reindex started; poll "+status))
}

// reindexStatus reports a $reindex job: 202 with X-Progress while it runs,
// 200 with the counts when done (500-class outcome if it failed).
func (s *Server) reindexStatus(c echo.Context) error {
	if err := service.MayReindex(c.Request().Context()); err != nil {
		return err
	}
	j, ok := s.svc.Job(c.Param("job"))
	if !ok {
		return fhir.Errorf(404, "not-found", "", "no $reindex job %q (jobs do not survive a restart)", c.Param("job"))
	}
	done, skipped := j.Done.Load(), j.Skipped.Load()
	progress := strconv.FormatInt(done, 10) + " reindexed, " + strconv.FormatInt(skipped, 10) + " skipped (changed meanwhile)"
	end, failure := j.Finished()
	if end.IsZero() {
		c.Response().Header().Set("X-Progress", progress)
		return s.writeJSON(c, http.StatusAccepted, fhir.InfoOutcome("in progress: "+progress))
	}
	if failure != "" {
		return s.writeJSON(c, 200, fhir.Outcome([]fhir.Issue{{Severity: "error", Code: "exception", Diagnostics: "reindex failed after " + progress + ": " + failure}}))
	}
	return s.writeJSON(c, 200, fhir.InfoOutcome("complete: "+progress+" over "+strings.Join(shorten(j.Types), ", ")))
}

func shorten(ts []string) []string {
	if len(ts) > 5 {
		return []string{strconv.Itoa(len(ts)) + " types"}
	}
	return ts
}
