package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/terminology"
)

// opInput reads an operation's inputs: the query string, plus a Parameters
// body on POST.
func (s *Server) opInput(c echo.Context) (map[string]any, error) {
	if c.Request().Method != http.MethodPost || c.Request().ContentLength == 0 {
		return nil, nil
	}
	body, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	in, ferr := fhir.Decode(body)
	if ferr != nil {
		return nil, ferr
	}
	return in, nil
}

// storedResource is the resource of an instance-level operation
// (ValueSet/{id}/$expand), or nil at type level.
func (s *Server) storedResource(c echo.Context, typ string) (map[string]any, error) {
	id := c.Param("id")
	if id == "" {
		return nil, nil
	}
	r, err := s.svc.Read(c.Request().Context(), typ, id)
	if err != nil {
		return nil, err
	}
	res, err := fhir.DecodeStored(r.JSON)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Server) terminologyReady() error {
	if s.cfg.Terminology == nil {
		return fhir.Errorf(501, "not-supported", "", "terminology operations are not configured on this server")
	}
	return nil
}

func (s *Server) writeTree(c echo.Context, v map[string]any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.writeJSON(c, 200, b)
}

// expand is ValueSet/$expand and ValueSet/{id}/$expand.
func (s *Server) expand(c echo.Context) error {
	if err := allowAny(c.Request().Context(), "$expand", "ValueSet", "rs"); err != nil {
		return err
	}
	if err := s.terminologyReady(); err != nil {
		return err
	}
	body, err := s.opInput(c)
	if err != nil {
		return err
	}
	req, err := terminology.ParseExpand(c.QueryParams(), body)
	if err != nil {
		return err
	}
	if vs, err := s.storedResource(c, "ValueSet"); err != nil {
		return err
	} else if vs != nil {
		req.ValueSet = vs
	}
	out, err := terminology.Expand(s.cfg.Terminology, req)
	if err != nil {
		return err
	}
	return s.writeTree(c, out)
}

// validateCode is ValueSet/$validate-code and CodeSystem/$validate-code
// (type and instance level).
func (s *Server) validateCode(c echo.Context) error {
	if err := s.terminologyReady(); err != nil {
		return err
	}
	typ := c.Param("type")
	if typ != "ValueSet" && typ != "CodeSystem" {
		return fhir.Errorf(404, "not-supported", "", "$validate-code is defined on ValueSet and CodeSystem, not %s", typ)
	}
	if err := allowAny(c.Request().Context(), "$validate-code", typ, "rs"); err != nil {
		return err
	}
	body, err := s.opInput(c)
	if err != nil {
		return err
	}
	req, err := terminology.ParseValidateCode(c.QueryParams(), body, typ == "CodeSystem")
	if err != nil {
		return err
	}
	if r, err := s.storedResource(c, typ); err != nil {
		return err
	} else if r != nil {
		req.Resource = r
	}
	var out map[string]any
	if typ == "CodeSystem" {
		out, err = terminology.ValidateCodeSystemCode(s.cfg.Terminology, req)
	} else {
		out, err = terminology.ValidateCode(s.cfg.Terminology, req)
	}
	if err != nil {
		return err
	}
	return s.writeTree(c, out)
}

// lookup is CodeSystem/$lookup.
func (s *Server) lookup(c echo.Context) error {
	if err := allowAny(c.Request().Context(), "$lookup", "CodeSystem", "rs"); err != nil {
		return err
	}
	if err := s.terminologyReady(); err != nil {
		return err
	}
	body, err := s.opInput(c)
	if err != nil {
		return err
	}
	req, err := terminology.ParseLookup(c.QueryParams(), body)
	if err != nil {
		return err
	}
	out, err := terminology.Lookup(s.cfg.Terminology, req)
	if err != nil {
		return err
	}
	return s.writeTree(c, out)
}
