package handlers

import (
	"github.com/labstack/echo/v4"
)

func (s *Server) search(c echo.Context) error { return s.runSearch(c, "", "", c.Param("type")) }

func (s *Server) searchSystem(c echo.Context) error { return s.runSearch(c, "", "", "") }

// searchCompartment answers Patient/123/Observation and Patient/123/*.
func (s *Server) searchCompartment(c echo.Context) error {
	return s.runSearch(c, c.Param("type"), c.Param("id"), c.Param("compartment"))
}

// runSearch answers a search with a searchset Bundle (searchsetBundle).
func (s *Server) runSearch(c echo.Context, comp, compID, typ string) error {
	params, err := s.queryValues(c)
	if err != nil {
		return err
	}
	resp, err := s.svc.SearchCompartment(c.Request().Context(), comp, compID, typ, params, prefer(c, "handling") == "strict")
	if err != nil {
		return err
	}
	body, err := s.searchsetBundle(comp, compID, typ, resp)
	if err != nil {
		return err
	}
	return s.writeJSON(c, 200, body)
}
