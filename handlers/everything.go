package handlers

import (
	"github.com/labstack/echo/v4"
)

// everything answers Patient/[id]/$everything (GET, or POST with a form
// body) with a searchset Bundle whose links are those of the compartment
// search Patient/[id]/* it is.
func (s *Server) everything(c echo.Context) error {
	params, err := s.queryValues(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	resp, err := s.svc.Everything(c.Request().Context(), id, params)
	if err != nil {
		return err
	}
	body, err := s.searchsetBundle("Patient", id, "*", resp)
	if err != nil {
		return err
	}
	return s.writeJSON(c, 200, body)
}
