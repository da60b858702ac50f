package handlers

import (
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// history answers instance, type and system history.
func (s *Server) history(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	params := c.QueryParams()
	page, err := s.svc.History(c.Request().Context(), typ, id, params)
	if err != nil {
		return err
	}
	links := []link{{"self", s.selfURL(c, params)}}
	if page.Next != "" {
		next := url.Values{}
		for k, v := range params {
			next[k] = v
		}
		next.Set(service.PageParam, page.Next)
		links = append(links, link{"next", s.pathURL(c) + "?" + next.Encode()})
	}
	w := newBundle("history", page.Total, links)
	for _, v := range page.Versions {
		ms := []fhir.Member{{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + v.Type + "/" + v.ID)}}
		if !v.Deleted {
			ms = append(ms, fhir.Member{Key: "resource", Value: v.JSON})
		}
		reqURL := v.Type + "/" + v.ID
		if v.Method == "POST" {
			reqURL = v.Type
		}
		ms = append(ms, fhir.Member{Key: "request", Value: fhir.Object([]fhir.Member{{Key: "method", Value: jsonStr(v.Method)}, {Key: "url", Value: jsonStr(reqURL)}})})
		status := 200
		switch {
		case v.Deleted:
			status = 204
		case v.Version == 1 || v.Method == "POST":
			status = 201
		}
		ms = append(ms, fhir.Member{Key: "response", Value: response(status, v, "", nil)})
		w.entry(ms...)
	}
	return s.writeJSON(c, 200, w.bytes())
}

// pathURL is the absolute URL of the request path (no query).
func (s *Server) pathURL(c echo.Context) string {
	p := c.Request().URL.Path
	bp := basePath(s.cfg.BaseURL)
	if len(p) >= len(bp) {
		p = p[len(bp):]
	}
	return s.cfg.BaseURL + p
}

func (s *Server) selfURL(c echo.Context, params url.Values) string {
	if len(params) == 0 {
		return s.pathURL(c)
	}
	return s.pathURL(c) + "?" + params.Encode()
}
