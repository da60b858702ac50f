package terminology

import (
	"slices"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/conformance"
)

// LookupRequest is the input of CodeSystem/$lookup.
type LookupRequest struct {
	System, Version, Code string
	// Properties restricts the properties returned; empty means all.
	Properties []string
}

// Lookup answers CodeSystem/$lookup with a Parameters resource: name (the
// code system's), version, display, designation (language, use, value) and
// property (code, value) for each property of the concept, plus the
// computed ones: parent and child (one each per related code, wherever the
// hierarchy is known, from nesting or properties), inactive, and definition
// when the code system has it. 404 (not-found) for an unknown code system,
// version or code.
func Lookup(set *conformance.Set, req LookupRequest) (map[string]any, error) {
	if req.System == "" || req.Code == "" {
		return nil, fhir.Errorf(400, "required", "", "$lookup needs a system and a code (or a coding)")
	}
	cs := codeSystemOf(set, req.System, req.Version)
	if cs == nil {
		return nil, unknownCodeSystem(set, req.System, req.Version)
	}
	c := cs.find(req.Code)
	if c == nil {
		return nil, fhir.Errorf(404, "not-found", "", "the code '%s' is not in code system %s", req.Code, cs.URL)
	}
	name := cs.Name
	if name == "" {
		name = cs.Title
	}
	if name == "" {
		name = cs.URL
	}
	out := []any{param("name", "String", name)}
	if cs.Version != "" {
		out = append(out, param("version", "String", cs.Version))
	}
	display := c.Display
	if display == "" {
		display = c.Code
	}
	out = append(out, param("display", "String", display))
	for _, d := range c.Designations {
		dm, _ := d.(map[string]any)
		var parts []any
		if l := str(dm["language"]); l != "" {
			parts = append(parts, param("language", "Code", l))
		}
		if u, ok := dm["use"].(map[string]any); ok {
			parts = append(parts, param("use", "Coding", u))
		}
		parts = append(parts, param("value", "String", str(dm["value"])))
		out = append(out, map[string]any{"name": "designation", "part": parts})
	}
	want := func(p string) bool { return len(req.Properties) == 0 || slices.Contains(req.Properties, p) }
	for _, p := range c.Properties {
		pm, _ := p.(map[string]any)
		code := str(pm["code"])
		if !want(code) || code == "parent" || code == "child" {
			continue // parent and child are listed from the index below
		}
		parts := []any{param("code", "Code", code)}
		for k, v := range pm {
			if strings.HasPrefix(k, "value") {
				parts = append(parts, map[string]any{"name": "value", k: v})
			}
		}
		out = append(out, map[string]any{"name": "property", "part": parts})
	}
	codeProp := func(name, value string) map[string]any {
		return map[string]any{"name": "property", "part": []any{param("code", "Code", name), param("value", "Code", value)}}
	}
	if want("parent") {
		for _, p := range c.Parents {
			out = append(out, codeProp("parent", p.Code))
		}
	}
	if want("child") {
		for _, k := range c.Children {
			out = append(out, codeProp("child", k.Code))
		}
	}
	if want("inactive") {
		out = append(out, map[string]any{"name": "property", "part": []any{param("code", "Code", "inactive"), param("value", "Boolean", c.Inactive)}})
	}
	if want("definition") && c.Definition != "" {
		out = append(out, map[string]any{"name": "property", "part": []any{param("code", "Code", "definition"), param("value", "String", c.Definition)}})
	}
	return parameters(out), nil
}
