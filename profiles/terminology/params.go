package terminology

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
)

// The Parse functions read an operation's inputs from what the HTTP layer
// received: the query string (GET, or parameters on a POST's URL) and, for
// a POST, the Parameters resource of the body (nil for none); both may be
// given and are read together. They check types and the combinations the
// spec forbids and return 400 *fhir.Error; the url of the value set or code
// system is not required here, since an instance-level call
// (ValueSet/[id]/$expand) gets it from the stored resource: the operation
// functions answer 400 when it is still missing. Parameters this server
// does not use (displayLanguage, date, _format...) are ignored.

// input is one parameter: str is its primitive value, raw the complex one
// (a Coding, CodeableConcept or resource) when there is one.
type input struct {
	name string
	str  string
	raw  map[string]any
}

type inputs []input

func collect(q url.Values, body map[string]any) (inputs, error) {
	var in inputs
	for name, vals := range q {
		for _, v := range vals {
			in = append(in, input{name: name, str: v})
		}
	}
	if body == nil {
		return in, nil
	}
	if str(body["resourceType"]) != "Parameters" {
		return nil, fhir.Errorf(400, "invalid", "", "the body must be a Parameters resource, not %v", body["resourceType"])
	}
	ps, _ := body["parameter"].([]any)
	for i, p := range ps {
		pm, _ := p.(map[string]any)
		name := str(pm["name"])
		if name == "" {
			return nil, fhir.Errorf(400, "required", fmt.Sprintf("Parameters.parameter[%d]", i), "parameter without name")
		}
		it := input{name: name}
		if r, ok := pm["resource"].(map[string]any); ok {
			it.raw = r
		}
		for k, v := range pm {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			switch v := v.(type) {
			case string:
				it.str = v
			case bool:
				it.str = strconv.FormatBool(v)
			case json.Number:
				it.str = v.String()
			case float64:
				it.str = strconv.FormatFloat(v, 'f', -1, 64)
			case int:
				it.str = strconv.Itoa(v)
			case map[string]any:
				it.raw = v
			}
		}
		in = append(in, it)
	}
	return in, nil
}

func (in inputs) has(name string) bool {
	for _, i := range in {
		if i.name == name {
			return true
		}
	}
	return false
}

// one is the value of a single-valued parameter; repeating it with another
// value is an error.
func (in inputs) one(name string) (string, error) {
	var v string
	seen := false
	for _, i := range in {
		if i.name != name {
			continue
		}
		if seen && i.str != v {
			return "", fhir.Errorf(400, "invalid", "", "parameter %s is given more than once", name)
		}
		v, seen = i.str, true
	}
	return v, nil
}

func (in inputs) all(name string) []string {
	var out []string
	for _, i := range in {
		if i.name == name {
			for _, v := range strings.Split(i.str, ",") {
				if v = strings.TrimSpace(v); v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

func (in inputs) integer(name string, def int) (int, error) {
	s, err := in.one(name)
	if err != nil || s == "" {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fhir.Errorf(400, "invalid", "", "parameter %s must be a non-negative integer, not %q", name, s)
	}
	return n, nil
}

func (in inputs) boolean(name string) (bool, error) {
	s, err := in.one(name)
	if err != nil || s == "" {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		return false, fhir.Errorf(400, "invalid", "", "parameter %s must be true or false, not %q", name, s)
	}
	return b, nil
}

func (in inputs) resource(name, typ string) (map[string]any, error) {
	for _, i := range in {
		if i.name != name {
			continue
		}
		if i.raw == nil || str(i.raw["resourceType"]) != typ {
			return nil, fhir.Errorf(400, "invalid", "", "parameter %s must be a %s resource", name, typ)
		}
		return i.raw, nil
	}
	return nil, nil
}

// coding reads a Coding parameter; in a query string it is written
// system|code.
func (in inputs) coding(name string) (*Coding, error) {
	for _, i := range in {
		if i.name != name {
			continue
		}
		if i.raw != nil {
			c := codingOf(i.raw)
			return &c, nil
		}
		sys, code, ok := strings.Cut(i.str, "|")
		if !ok {
			sys, code = "", i.str
		}
		return &Coding{System: sys, Code: code}, nil
	}
	return nil, nil
}

func codingOf(m map[string]any) Coding {
	return Coding{System: str(m["system"]), Version: str(m["version"]), Code: str(m["code"]), Display: str(m["display"])}
}

// ParseExpand reads the inputs of ValueSet/$expand: url, valueSetVersion,
// valueSet, filter, count, offset, includeDesignations, includeDefinition,
// activeOnly.
func ParseExpand(q url.Values, body map[string]any) (ExpandRequest, error) {
	req := ExpandRequest{Count: -1}
	in, err := collect(q, body)
	if err != nil {
		return req, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"url", &req.URL}, {"valueSetVersion", &req.ValueSetVersion}, {"filter", &req.Filter}} {
		if *f.dst, err = in.one(f.name); err != nil {
			return req, err
		}
	}
	if req.ValueSet, err = in.resource("valueSet", "ValueSet"); err != nil {
		return req, err
	}
	if req.Count, err = in.integer("count", -1); err != nil {
		return req, err
	}
	if req.Offset, err = in.integer("offset", 0); err != nil {
		return req, err
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"includeDesignations", &req.IncludeDesignations}, {"includeDefinition", &req.IncludeDefinition}, {"activeOnly", &req.ActiveOnly}} {
		if *f.dst, err = in.boolean(f.name); err != nil {
			return req, err
		}
	}
	return req, nil
}

// ParseValidateCode reads the inputs of $validate-code; onCodeSystem
// selects the CodeSystem-level parameter names (url, version, codeSystem)
// instead of the ValueSet-level ones (url, valueSetVersion, valueSet,
// system, systemVersion). Exactly one of code, coding and codeableConcept
// is required.
func ParseValidateCode(q url.Values, body map[string]any, onCodeSystem bool) (ValidateRequest, error) {
	var req ValidateRequest
	in, err := collect(q, body)
	if err != nil {
		return req, err
	}
	if req.URL, err = in.one("url"); err != nil {
		return req, err
	}
	versionName, resName, resType := "valueSetVersion", "valueSet", "ValueSet"
	if onCodeSystem {
		versionName, resName, resType = "version", "codeSystem", "CodeSystem"
	}
	if req.Version, err = in.one(versionName); err != nil {
		return req, err
	}
	if req.Resource, err = in.resource(resName, resType); err != nil {
		return req, err
	}
	if req.Abstract, err = in.boolean("abstract"); err != nil {
		return req, err
	}
	n := 0
	for _, p := range []string{"code", "coding", "codeableConcept"} {
		if in.has(p) {
			n++
		}
	}
	if n != 1 {
		return req, fhir.Errorf(400, "required", "", "$validate-code needs exactly one of code, coding and codeableConcept")
	}
	switch {
	case in.has("code"):
		c := Coding{}
		for _, f := range []struct {
			name string
			dst  *string
		}{{"code", &c.Code}, {"display", &c.Display}, {"system", &c.System}, {"systemVersion", &c.Version}} {
			if *f.dst, err = in.one(f.name); err != nil {
				return req, err
			}
		}
		if onCodeSystem {
			if c.System == "" {
				c.System = req.URL
			}
			if c.Version == "" {
				c.Version = req.Version
			}
		}
		if c.Code == "" {
			return req, fhir.Errorf(400, "required", "", "parameter code is empty")
		}
		req.Codings = []Coding{c}
	case in.has("coding"):
		c, err := in.coding("coding")
		if err != nil {
			return req, err
		}
		if c.Code == "" {
			return req, fhir.Errorf(400, "required", "", "the coding has no code")
		}
		req.Codings = []Coding{*c}
	default:
		for _, i := range in {
			if i.name != "codeableConcept" {
				continue
			}
			if i.raw == nil {
				return req, fhir.Errorf(400, "invalid", "", "parameter codeableConcept must be a CodeableConcept (POST a Parameters resource)")
			}
			cs, _ := i.raw["coding"].([]any)
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				if co := codingOf(cm); co.Code != "" {
					req.Codings = append(req.Codings, co)
				}
			}
		}
		if len(req.Codings) == 0 {
			return req, fhir.Errorf(400, "required", "", "the codeableConcept has no coding with a code")
		}
		req.CodeableConcept = true
	}
	return req, nil
}

// ParseLookup reads the inputs of CodeSystem/$lookup: code and system (and
// version), or coding; property (repeatable, comma-separated allowed).
func ParseLookup(q url.Values, body map[string]any) (LookupRequest, error) {
	var req LookupRequest
	in, err := collect(q, body)
	if err != nil {
		return req, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"code", &req.Code}, {"system", &req.System}, {"version", &req.Version}} {
		if *f.dst, err = in.one(f.name); err != nil {
			return req, err
		}
	}
	c, err := in.coding("coding")
	if err != nil {
		return req, err
	}
	if c != nil {
		if req.Code != "" {
			return req, fhir.Errorf(400, "invalid", "", "$lookup takes code and system or coding, not both")
		}
		req.System, req.Code = c.System, c.Code
		if c.Version != "" {
			req.Version = c.Version
		}
	}
	if req.Code == "" {
		return req, fhir.Errorf(400, "required", "", "$lookup needs a code (with system) or a coding")
	}
	if req.System == "" {
		return req, fhir.Errorf(400, "required", "", "$lookup needs the system of code %q", req.Code)
	}
	req.Properties = in.all("property")
	return req, nil
}
