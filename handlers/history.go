package handlers

import (
	"github.com/labstack/echo/v4"
)

// history answers instance, type and system history.
func (s *Server) history(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	params := c.QueryParams()
	page, err := s.svc.History(c.Request().Context(), typ, id, params)
	if err != nil {
		return err
	}
	return s.writeJSON(c, 200, s.historyBundle(typ, id, params, page))
}
