package handlers

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
)

// Validator is what $validate needs: every issue of a resource, warnings
// included, against its claimed and required profiles plus extra ones.
type Validator interface {
	Validate(typ string, res map[string]any, extra ...string) []fhir.Issue
}

// validateOp answers $validate at type level (POST Type/$validate) and
// instance level (GET/POST Type/id/$validate), with the profile and mode
// parameters. The operation succeeds (200) whatever the verdict: the
// OperationOutcome carries it.
func (s *Server) validateOp(c echo.Context) error {
	if s.cfg.Validator == nil {
		return fhir.Errorf(501, "not-supported", "", "$validate is not configured on this server")
	}
	typ, id := c.Param("type"), c.Param("id")
	if !fhir.KnownType(typ) {
		return fhir.Errorf(404, "not-supported", "", "unknown resource type %q", typ)
	}
	// Validating needs a scope of any letter on the type and nothing more:
	// it stores nothing and returns no stored data (the instance form reads
	// the stored resource through the service, which checks read).
	if err := allowAny(c.Request().Context(), "$validate", typ, "cruds"); err != nil {
		return err
	}
	profile, mode := c.QueryParam("profile"), c.QueryParam("mode")
	var res map[string]any
	if c.Request().ContentLength != 0 && c.Request().Method != "GET" {
		body, err := s.readBody(c)
		if err != nil {
			return err
		}
		in, ferr := fhir.Decode(body)
		if ferr != nil {
			return ferr
		}
		if in["resourceType"] == "Parameters" && typ != "Parameters" {
			params, _ := in["parameter"].([]any)
			for _, p := range params {
				pm, _ := p.(map[string]any)
				switch pm["name"] {
				case "resource":
					res, _ = pm["resource"].(map[string]any)
				case "profile":
					for _, k := range []string{"valueUri", "valueCanonical", "valueString"} {
						if v, ok := pm[k].(string); ok {
							profile = v
						}
					}
				case "mode":
					if v, ok := pm["valueCode"].(string); ok {
						mode = v
					}
				}
			}
			if res == nil && mode != "delete" {
				return fhir.Errorf(400, "required", "Parameters.parameter", "$validate needs a resource parameter")
			}
		} else {
			res = in
		}
	}
	switch mode {
	case "", "create", "update", "delete":
	default:
		return fhir.Errorf(400, "invalid", "", "mode must be create, update or delete, not %q", mode)
	}
	ctx := c.Request().Context()
	if res == nil { // instance level without a body: validate what is stored
		if id == "" {
			return fhir.Errorf(400, "required", "", "$validate needs a resource in the body")
		}
		cur, err := s.svc.Read(ctx, typ, id)
		if err != nil {
			return err
		}
		if mode == "delete" {
			return s.writeJSON(c, 200, fhir.InfoOutcome(typ+"/"+id+" may be deleted"))
		}
		in, err := fhir.DecodeStored(cur.JSON)
		if err != nil {
			return err
		}
		res = in
	}
	if rt, _ := res["resourceType"].(string); rt != typ {
		return fhir.Errorf(400, "invalid", "resourceType", "resourceType %q does not match %s/$validate", rt, typ)
	}
	var issues []fhir.Issue
	rid, _ := res["id"].(string)
	if mode == "update" {
		if rid == "" {
			issues = append(issues, fhir.Issue{Severity: "error", Code: "required", Diagnostics: "an update needs the resource id", Expression: []string{typ + ".id"}})
		} else if id != "" && rid != id {
			issues = append(issues, fhir.Issue{Severity: "error", Code: "invalid", Diagnostics: "the id in the body does not match the URL", Expression: []string{typ + ".id"}})
		}
	}
	if rid == "" { // a create: the server would assign the id
		res["id"] = "validate"
	}
	var extra []string
	if profile != "" {
		extra = strings.Split(profile, ",")
	}
	issues = append(issues, s.cfg.Validator.Validate(typ, res, extra...)...)
	if len(issues) == 0 {
		return s.writeJSON(c, 200, fhir.InfoOutcome("no issues detected"))
	}
	return s.writeJSON(c, 200, fhir.Outcome(issues))
}
