package patch

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/model"
)

// operation is one parsed "operation" parameter of a FHIRPath Patch.
type operation struct {
	n                  int // position in Parameters.parameter, for errors
	typ, path, name    string
	value              *valuePart
	index, source, dst int // -1 when absent
}

// valuePart is the "value" part: a typed value[x] (with its "_value[x]"
// primitive extensions), a resource, or an anonymous complex value given as
// nested parts.
type valuePart struct {
	typ   string // the value[x] type suffix ("Date", "CodeableConcept"), "" for parts
	v     any
	ext   any
	parts []any
}

func (o *operation) expr() string { return fmt.Sprintf("Parameters.parameter[%d]", o.n) }

func (o *operation) bad(format string, args ...any) *fhir.Error {
	return fhir.Errorf(400, "invalid", o.expr(), "FHIRPath Patch operation %d (%s %s): %s", o.n, o.typ, o.path, fmt.Sprintf(format, args...))
}

func (o *operation) fail(format string, args ...any) *fhir.Error {
	return fhir.Errorf(422, "processing", o.expr(), "FHIRPath Patch operation %d (%s %s): %s", o.n, o.typ, o.path, fmt.Sprintf(format, args...))
}

// ApplyFHIRPathPatch applies a FHIRPath Patch (a Parameters resource of
// "operation" parameters, FHIR R4 §2.21) to doc, a resource of type
// resourceType, and returns the patched copy; doc is never modified. Paths
// are evaluated with FHIRPath and the element model of fhir/model decides
// list versus single values and choice-type names. A malformed Parameters
// gives a 400 *fhir.Error, an operation that does not apply a 422, each
// naming the failing parameter as Parameters.parameter[n].
func ApplyFHIRPathPatch(resourceType string, doc map[string]any, params map[string]any) (map[string]any, error) {
	ops, err := parseOperations(params)
	if err != nil {
		return nil, err
	}
	out := deepCopy(doc).(map[string]any)
	for _, op := range ops {
		if err := op.apply(resourceType, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseOperations(params map[string]any) ([]*operation, error) {
	if rt, _ := params["resourceType"].(string); rt != "Parameters" {
		return nil, fhir.Errorf(400, "invalid", "", "a FHIRPath Patch must be a Parameters resource, not %q", params["resourceType"])
	}
	raw, ok := params["parameter"].([]any)
	if !ok && params["parameter"] != nil {
		return nil, fhir.Errorf(400, "invalid", "Parameters.parameter", "Parameters.parameter must be an array")
	}
	ops := make([]*operation, 0, len(raw))
	for n, p := range raw {
		op, err := parseOperation(n, p)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func parseOperation(n int, p any) (*operation, error) {
	op := &operation{n: n, index: -1, source: -1, dst: -1}
	pm, _ := p.(map[string]any)
	if pm == nil || pm["name"] != "operation" {
		return nil, op.bad("every parameter must be named \"operation\"")
	}
	parts, _ := pm["part"].([]any)
	seen := map[string]bool{}
	for _, x := range parts {
		part, _ := x.(map[string]any)
		name, _ := part["name"].(string)
		if seen[name] {
			return nil, op.bad("part %q given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "type":
			op.typ, err = partString(part, "valueCode")
		case "path":
			op.path, err = partString(part, "valueString")
		case "name":
			op.name, err = partString(part, "valueString")
		case "index":
			op.index, err = partInt(part)
		case "source":
			op.source, err = partInt(part)
		case "destination":
			op.dst, err = partInt(part)
		case "value":
			op.value, err = parseValue(part)
		default:
			err = fmt.Errorf("unknown part %q", name)
		}
		if err != nil {
			return nil, op.bad("%v", err)
		}
	}
	need := func(names ...string) error {
		for _, nm := range names {
			if !seen[nm] {
				return op.bad("missing part %q", nm)
			}
		}
		return nil
	}
	var err error
	switch op.typ {
	case "add":
		err = need("path", "name", "value")
	case "insert":
		err = need("path", "value", "index")
	case "delete":
		err = need("path")
	case "replace":
		err = need("path", "value")
	case "move":
		err = need("path", "source", "destination")
	case "":
		err = op.bad("missing part \"type\"")
	default:
		err = op.bad("unknown operation type %q", op.typ)
	}
	if err != nil {
		return nil, err
	}
	return op, nil
}

// partString reads the value of a part that must be a string-like
// primitive; want names the expected value[x] but any string one is taken.
func partString(part map[string]any, want string) (string, error) {
	for k, v := range part {
		if strings.HasPrefix(k, "value") && len(k) > 5 {
			if s, ok := v.(string); ok && s != "" {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("part %q needs a %s", part["name"], want)
}

func partInt(part map[string]any) (int, error) {
	for k, v := range part {
		if strings.HasPrefix(k, "value") && len(k) > 5 {
			var s string
			switch x := v.(type) {
			case json.Number:
				s = string(x)
			case float64:
				s = strconv.FormatFloat(x, 'f', -1, 64)
			}
			if i, err := strconv.Atoi(s); err == nil {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("part %q needs a valueInteger", part["name"])
}

func parseValue(part map[string]any) (*valuePart, error) {
	for k, v := range part {
		if strings.HasPrefix(k, "value") && len(k) > 5 && k[5] >= 'A' && k[5] <= 'Z' {
			return &valuePart{typ: k[5:], v: v, ext: part["_"+k]}, nil
		}
	}
	if r, ok := part["resource"].(map[string]any); ok {
		rt, _ := r["resourceType"].(string)
		return &valuePart{typ: rt, v: r}, nil
	}
	if ps, ok := part["part"].([]any); ok && len(ps) > 0 {
		return &valuePart{parts: ps}, nil
	}
	return nil, fmt.Errorf("part \"value\" has no value[x], resource or part")
}

// toJSON turns the value into the JSON of an element of type typeName
// (a model type or backbone path, "" when unknown): nested parts become an
// object whose members are arrays where the model says they repeat.
func (vp *valuePart) toJSON(typeName string) (v, ext any, err error) {
	if vp.parts == nil {
		return deepCopy(vp.v), deepCopy(vp.ext), nil
	}
	t := model.Lookup(typeName)
	obj := map[string]any{}
	for _, x := range vp.parts {
		p, _ := x.(map[string]any)
		name, _ := p["name"].(string)
		if name == "" {
			return nil, nil, fmt.Errorf("a nested value part has no name")
		}
		sub, err := parseValue(p)
		if err != nil {
			return nil, nil, fmt.Errorf("part %q: %v", name, err)
		}
		key, repeats, subType, err := member(t, name, sub.typ)
		if err != nil {
			return nil, nil, err
		}
		sv, sext, err := sub.toJSON(subType)
		if err != nil {
			return nil, nil, err
		}
		_, exists := obj[key]
		if exists && !repeats {
			if _, isArr := obj[key].([]any); !isArr && t != nil {
				return nil, nil, fmt.Errorf("%s.%s takes one value but is given several", typeName, name)
			}
			repeats = true // unknown model: repeated parts make a list
			if _, isArr := obj[key].([]any); !isArr {
				obj[key] = []any{obj[key]}
				if e, ok := obj["_"+key]; ok {
					obj["_"+key] = []any{e}
				}
			}
		}
		if repeats {
			a, _ := obj[key].([]any)
			insertAt(obj, key, len(a), sv, sext)
		} else {
			obj[key] = sv
			if sext != nil {
				obj["_"+key] = sext
			}
		}
	}
	return obj, nil, nil
}

// member resolves element name of type t for a value of type suffix typ:
// its JSON key (choice elements get the type appended), whether it is a list,
// and the type name of its content. t nil (unknown type) gives name as is.
func member(t *model.Type, name, typ string) (key string, repeats bool, typeName string, err error) {
	if t == nil {
		return name, false, "", nil
	}
	base := strings.TrimSuffix(name, "[x]")
	e := t.Element(base)
	if e == nil {
		return "", false, "", fmt.Errorf("%s has no element %q", t.Name, name)
	}
	key = e.Name
	if e.Choice {
		if typ == "" {
			if len(e.Types) != 1 {
				return "", false, "", fmt.Errorf("choice element %s needs a typed value", e.Path)
			}
			typ = e.Types[0]
		}
		key = e.JSONName(typ)
		if t.Element(key) == nil {
			return "", false, "", fmt.Errorf("%s does not allow type %s", e.Path, typ)
		}
		e = t.Element(key)
	}
	if len(e.Types) == 1 {
		typeName = e.Types[0]
	}
	return key, e.Repeats(), typeName, nil
}

// typeAt returns the model type name of the element reached by steps
// ("" when the model does not know it), following contained resources by
// their resourceType.
func typeAt(resourceType string, root map[string]any, steps []Step) string {
	name := resourceType
	var cur any = root
	for _, s := range steps {
		t := model.Lookup(name)
		if t == nil {
			return ""
		}
		e := t.Element(s.Key)
		if m, ok := cur.(map[string]any); ok {
			cur = m[s.Key]
			if a, ok := cur.([]any); ok && s.Index >= 0 && s.Index < len(a) {
				cur = a[s.Index]
			}
		}
		if e == nil || len(e.Types) != 1 {
			return ""
		}
		name = e.Types[0]
		if model.IsResource(name) {
			if m, ok := cur.(map[string]any); ok {
				if rt, ok := m["resourceType"].(string); ok {
					name = rt
				}
			}
		}
	}
	return name
}

func (op *operation) apply(resourceType string, doc map[string]any) error {
	hits, err := locate(op.path, doc)
	if err != nil {
		return op.bad("path: %v", err)
	}
	switch op.typ {
	case "add":
		return op.add(resourceType, doc, hits)
	case "replace":
		return op.replace(resourceType, doc, hits)
	case "delete":
		return op.delete(doc, hits)
	case "insert", "move":
		return op.listEdit(resourceType, doc, hits)
	}
	return op.bad("unknown operation type %q", op.typ)
}

func (op *operation) one(hits [][]Step) ([]Step, error) {
	switch len(hits) {
	case 0:
		return nil, op.fail("no content found at %s", op.path)
	case 1:
		return hits[0], nil
	}
	return nil, op.fail("%s matches %d elements, not one", op.path, len(hits))
}

func (op *operation) add(resourceType string, doc map[string]any, hits [][]Step) error {
	at, err := op.one(hits)
	if err != nil {
		return err
	}
	target := doc
	if len(at) > 0 {
		s, _ := resolve(doc, at)
		v, err := s.get()
		if err != nil {
			return op.fail("%v", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return op.fail("%s is a primitive; add to it is not supported", op.path)
		}
		target = m
	}
	key, repeats, typeName, err := member(model.Lookup(typeAt(resourceType, doc, at)), op.name, op.value.typ)
	if err != nil {
		return op.bad("%v", err)
	}
	v, ext, err := op.value.toJSON(typeName)
	if err != nil {
		return op.bad("value: %v", err)
	}
	existing, exists := target[key]
	if a, isArr := existing.([]any); isArr || (repeats && !exists) {
		insertAt(target, key, len(a), v, ext)
		return nil
	}
	if exists {
		return op.fail("%s already has a %s; use replace", op.path, key)
	}
	target[key] = v
	if ext != nil {
		target["_"+key] = ext
	}
	return nil
}

func (op *operation) replace(resourceType string, doc map[string]any, hits [][]Step) error {
	at, err := op.one(hits)
	if err != nil {
		return err
	}
	s, err := resolve(doc, at)
	if err != nil {
		return op.fail("cannot replace the whole resource")
	}
	parentType := model.Lookup(typeAt(resourceType, doc, at[:len(at)-1]))
	typeName := typeAt(resourceType, doc, at)
	// A choice element may change type (valueQuantity to valueString).
	if e := parentType.Element(s.key); e != nil && e.Choice && op.value.typ != "" {
		key := e.JSONName(op.value.typ)
		if !strings.EqualFold(key, s.key) {
			if parentType.Element(key) == nil || s.index >= 0 {
				return op.bad("%s does not allow type %s", e.Path, op.value.typ)
			}
			v, ext, err := op.value.toJSON(op.value.typ)
			if err != nil {
				return op.bad("value: %v", err)
			}
			s.remove()
			s.key = key
			s.set(v, ext)
			return nil
		}
	}
	v, ext, err := op.value.toJSON(typeName)
	if err != nil {
		return op.bad("value: %v", err)
	}
	s.set(v, ext)
	return nil
}

func (op *operation) delete(doc map[string]any, hits [][]Step) error {
	if len(hits) == 0 {
		return nil
	}
	at, err := op.one(hits)
	if err != nil {
		return err
	}
	s, err := resolve(doc, at)
	if err != nil {
		return op.fail("cannot delete the whole resource")
	}
	s.remove()
	prune(doc, at[:len(at)-1])
	return nil
}

// listOf finds the list the path names: every hit must be a member of the
// same array. An empty result is still a list when the path ends in a plain
// member name of a single element.
func (op *operation) listOf(doc map[string]any, hits [][]Step) (parent map[string]any, key string, steps []Step, err error) {
	if len(hits) == 0 {
		i := strings.LastIndexByte(op.path, '.')
		name := op.path[i+1:]
		if i > 0 && isName(name) {
			ph, lerr := locate(op.path[:i], doc)
			if lerr == nil && len(ph) == 1 {
				if len(ph[0]) == 0 {
					return doc, name, []Step{{name, -1}}, nil
				}
				s, _ := resolve(doc, ph[0])
				if v, _ := s.get(); v != nil {
					if m, ok := v.(map[string]any); ok {
						return m, name, appendStep(ph[0], Step{name, -1}), nil
					}
				}
			}
		}
		return nil, "", nil, op.fail("no list found at %s", op.path)
	}
	first := hits[0]
	for _, h := range hits {
		if len(h) == 0 || h[len(h)-1].Index < 0 || len(h) != len(first) || h[len(h)-1].Key != first[len(first)-1].Key || !sameSteps(h[:len(h)-1], first[:len(first)-1]) {
			return nil, "", nil, op.fail("%s does not select one list", op.path)
		}
	}
	s, _ := resolve(doc, first)
	return s.parent, s.key, first, nil
}

func (op *operation) listEdit(resourceType string, doc map[string]any, hits [][]Step) error {
	parent, key, steps, err := op.listOf(doc, hits)
	if err != nil {
		return err
	}
	a, _ := parent[key].([]any)
	if _, isScalar := parent[key]; isScalar && a == nil {
		return op.fail("%s is not a list", op.path)
	}
	if op.typ == "insert" {
		if op.index < 0 || op.index > len(a) {
			return op.fail("index %d is out of bounds (0..%d)", op.index, len(a))
		}
		typeName := typeAt(resourceType, doc, append(steps[:len(steps)-1:len(steps)-1], Step{key, -1}))
		v, ext, err := op.value.toJSON(typeName)
		if err != nil {
			return op.bad("value: %v", err)
		}
		insertAt(parent, key, op.index, v, ext)
		return nil
	}
	if op.source < 0 || op.source >= len(a) {
		return op.fail("source %d is out of bounds (0..%d)", op.source, len(a)-1)
	}
	if op.dst < 0 || op.dst >= len(a) {
		return op.fail("destination %d is out of bounds (0..%d)", op.dst, len(a)-1)
	}
	v, ext := slot{parent, key, op.source}.remove()
	insertAt(parent, key, op.dst, v, ext)
	return nil
}

func sameSteps(a, b []Step) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
