package validator

import (
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// refKind classifies a Reference.reference string.
type refKind uint8

const (
	refInvalid     refKind = iota
	refLocal               // #id, a contained resource (or "#", the container)
	refRelative            // Type/id[/_history/vid]
	refAbsolute            // scheme:..., urn:uuid: and urn:oid: included
	refConditional         // Type?criteria
)

// parseReference returns the kind of ref and, for relative and conditional
// references, the resource type it names.
func parseReference(ref string) (refKind, string) {
	if ref == "" || strings.ContainsAny(ref, " \t\r\n") {
		return refInvalid, ""
	}
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		if id == "" || validID(id) {
			return refLocal, ""
		}
		return refInvalid, ""
	}
	if strings.HasPrefix(ref, "urn:") {
		if strings.HasPrefix(ref, "urn:uuid:") && !validUUID(ref) || strings.HasPrefix(ref, "urn:oid:") && !validOID(ref) {
			return refInvalid, ""
		}
		return refAbsolute, ""
	}
	if i := strings.IndexAny(ref, ":/?"); i > 0 && ref[i] == ':' && schemeOK(ref[:i]) {
		return refAbsolute, ""
	}
	if typ, _, ok := strings.Cut(ref, "?"); ok {
		if isResourceType(typ) {
			return refConditional, typ
		}
		return refInvalid, ""
	}
	parts := strings.Split(ref, "/")
	switch {
	case len(parts) == 2 && isResourceType(parts[0]) && validID(parts[1]),
		len(parts) == 4 && isResourceType(parts[0]) && validID(parts[1]) && parts[2] == "_history" && validID(parts[3]):
		return refRelative, parts[0]
	}
	return refInvalid, ""
}

// schemeOK: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func schemeOK(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

func isResourceType(s string) bool {
	t := model.Lookup(s)
	return t != nil && t.Kind == model.KindResource && !t.Abstract && s == t.Name
}

// reference checks the syntax of Reference.reference.
func (w *walker) reference(m map[string]any) {
	ref, ok := m["reference"].(string)
	if !ok || ref == "" {
		return // type problems are reported by the element walk
	}
	kind, _ := parseReference(ref)
	if kind == refLocal {
		w.local = append(w.local, localRef{ref, w.inContained})
		if len(ref) > 1 && !w.hasContained(ref[1:]) {
			n := w.push("reference", -1)
			w.add("error", "invariant", "ref-1: %q refers to no contained resource", ref)
			w.path = w.path[:n]
		}
		return
	}
	switch {
	case kind == refInvalid:
		n := w.push("reference", -1)
		w.add("error", "value", "invalid reference %q: expected Type/id, an absolute URL, urn:uuid:, urn:oid: or #contained", ref)
		w.path = w.path[:n]
	case kind == refConditional && !w.inBundle:
		n := w.push("reference", -1)
		w.add("error", "value", "conditional reference %q is only allowed inside a Bundle, where it is resolved", ref)
		w.path = w.path[:n]
	}
}

// targets checks that a relative or conditional reference names a resource
// type the element allows (Reference(Patient|Group)).
func (w *walker) targets(f *field, m map[string]any) {
	ref, _ := m["reference"].(string)
	kind, typ := parseReference(ref)
	if kind != refRelative && kind != refConditional {
		return
	}
	for _, t := range f.targets {
		if t == typ || t == "Resource" || model.IsA(typ, t) {
			return
		}
	}
	n := w.push("reference", -1)
	w.add("error", "value", "reference %q points at a %s, but %s only allows %s", ref, typ, f.elem, strings.Join(f.targets, ", "))
	w.path = w.path[:n]
}

// hasContained reports whether the root resource (the container when
// walking a contained resource) has a contained resource with this id (ref-1).
func (w *walker) hasContained(id string) bool {
	root := w.env.RootResource
	if root == nil {
		root = w.env.Resource
	}
	cs, _ := root["contained"].([]any)
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["id"] == id {
			return true
		}
	}
	return false
}

// containedIndex is the index of the contained resource being entered,
// read back from the path ("...contained[3]").
func (w *walker) containedIndex() int {
	p := w.path
	j := len(p) - 1
	if j < 0 || p[j] != ']' {
		return -1
	}
	i := j - 1
	for i >= 0 && p[i] >= '0' && p[i] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(string(p[i+1 : j]))
	return n
}
