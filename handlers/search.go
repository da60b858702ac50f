package handlers

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

func (s *Server) search(c echo.Context) error { return s.runSearch(c, "", "", c.Param("type")) }

func (s *Server) searchSystem(c echo.Context) error { return s.runSearch(c, "", "", "") }

// searchCompartment answers Patient/123/Observation and Patient/123/*.
func (s *Server) searchCompartment(c echo.Context) error {
	return s.runSearch(c, c.Param("type"), c.Param("id"), c.Param("compartment"))
}

// runSearch answers a search with a searchset Bundle whose self link shows
// the query as understood (ignored parameters left out) and whose next and
// previous links carry the engine's cursor.
func (s *Server) runSearch(c echo.Context, comp, compID, typ string) error {
	params, err := s.queryValues(c)
	if err != nil {
		return err
	}
	resp, err := s.svc.SearchCompartment(c.Request().Context(), comp, compID, typ, params, prefer(c, "handling") == "strict")
	if err != nil {
		return err
	}
	q, res := resp.Query, resp.Result
	base := s.cfg.BaseURL + "/"
	if comp != "" {
		base += comp + "/" + compID + "/"
		if typ == "" {
			typ = "*"
		}
	}
	if typ != "" {
		base += typ
	}
	enc := q
	if comp != "" { // the compartment is in the path, not in the query
		cq := *q
		cq.Where = q.Where[:len(q.Where)-1]
		if typ == "*" {
			cq.Types = nil
		}
		enc = &cq
	}
	self := enc.Encode(strings.TrimSuffix(typ, "*"))
	withPage := func(cursor string) string {
		u := base + "?" + self
		if self == "" {
			u = base + "?"
		} else {
			u += "&"
		}
		return u + service.PageParam + "=" + url.QueryEscape(cursor)
	}
	selfURL := base
	if self != "" {
		selfURL += "?" + self
	}
	if q.Page != "" {
		selfURL = withPage(q.Page)
	}
	links := []link{{"self", selfURL}}
	if res.Next != "" {
		links = append(links, link{"next", withPage(res.Next)})
	}
	if res.Prev != "" {
		links = append(links, link{"previous", withPage(res.Prev)})
	}
	w := newBundle("searchset", res.Total, links)
	if len(resp.Explain) > 0 { // __explain=true: the plan, first (as Blaze puts it)
		w.entry(fhir.Member{Key: "resource", Value: fhir.Outcome(resp.Explain)}, fhir.Member{Key: "search", Value: []byte(`{"mode":"outcome"}`)})
	}
	summary := q.Summary
	if summary == "count" {
		return s.writeJSON(c, 200, w.bytes())
	}
	for _, r := range res.Resources {
		body, err := fhir.Summarize(r.Type, r.JSON, summary, q.Elements)
		if err != nil {
			return err
		}
		w.entry(fhir.Member{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + r.Type + "/" + r.ID)},
			fhir.Member{Key: "resource", Value: body},
			fhir.Member{Key: "search", Value: []byte(`{"mode":"match"}`)})
	}
	for _, r := range res.Included {
		w.entry(fhir.Member{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + r.Type + "/" + r.ID)},
			fhir.Member{Key: "resource", Value: r.JSON},
			fhir.Member{Key: "search", Value: []byte(`{"mode":"include"}`)})
	}
	if len(resp.Ignored) > 0 {
		issues := make([]fhir.Issue, 0, len(resp.Ignored))
		for _, u := range resp.Ignored {
			issues = append(issues, fhir.Issue{Severity: "warning", Code: "not-supported", Diagnostics: "parameter " + u.Name + " was ignored: " + u.Reason})
		}
		w.entry(fhir.Member{Key: "resource", Value: fhir.Outcome(issues)}, fhir.Member{Key: "search", Value: []byte(`{"mode":"outcome"}`)})
	}
	return s.writeJSON(c, 200, w.bytes())
}
