// Package fhirpath evaluates FHIRPath expressions on resources decoded into
// the generic tree of fhir.Decode. It is our own implementation because the
// server needs what off-the-shelf engines do not give: the FHIR type of every
// result (typed through package model, so choice elements, ofType/as/is and
// contained resources work), the location of every result in the tree (for
// FHIRPath Patch), and offline resolve() for search parameter extraction.
package fhirpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// Node is one item of a FHIRPath result collection.
type Node struct {
	// Value is the generic-tree value (map[string]any for complex types,
	// string/json.Number/bool for primitives, nil for a primitive that only
	// has extensions) or, for computed results, a Go value: bool, int64
	// (Integer), float64 (Decimal), string, Temporal or Quantity.
	Value any
	// Type is the FHIR type name when known ("HumanName", "dateTime",
	// "Patient", "Patient.contact" for backbones) or a System type
	// ("System.String", "System.Integer", ...) for literals and computed values.
	Type string
	// Path locates the value from the root (nil for computed values).
	Path []Step
	// ext is the "_name" companion object of a primitive (its id and extensions).
	ext map[string]any
}

// Step is one step of a Node's location: an object key, and the index into
// that key's array (-1 when the key holds a single value).
type Step struct {
	Key   string
	Index int
}

// Env carries what an evaluation needs beyond the resource. Every field is
// optional; a nil *Env is fine.
type Env struct {
	// Vars are the %name constants: each a Node, a []Node, or a plain
	// value (string, bool, int, float64, map[string]any ...).
	Vars map[string]any
	// Resource is %resource when it is not the evaluation root (e.g. the
	// root is an element inside it); RootResource is %rootResource.
	Resource     map[string]any
	RootResource map[string]any
	// Now fixes now()/today()/timeOfDay() (default: the clock, read once per evaluation).
	Now time.Time
	// Resolve, if set, is asked by resolve() first; otherwise references
	// resolve to contained resources or to stubs typed from the reference.
	Resolve func(reference string) map[string]any
	// Trace receives trace() output; nil discards it.
	Trace func(name string, nodes []Node)
}

// Expression is a compiled FHIRPath expression. It is immutable and safe
// for concurrent use.
type Expression struct {
	src  string
	tree *ast
}

// Compile parses expr once so it can be evaluated many times.
func Compile(expr string) (*Expression, error) {
	t, err := parse(expr)
	if err != nil {
		return nil, fmt.Errorf("fhirpath: %s: %w", expr, err)
	}
	return &Expression{src: expr, tree: t}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics otherwise.
func MustCompile(expr string) *Expression {
	e, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the source of the expression.
func (e *Expression) String() string { return e.src }

// Evaluate runs the expression with root (a resource in the generic tree) as
// the context, %context and %resource.
func (e *Expression) Evaluate(root map[string]any, env *Env) ([]Node, error) {
	rt, _ := root["resourceType"].(string)
	return e.EvaluateNode(Node{Value: root, Type: rt, Path: rootPath}, root, env)
}

// EvaluateNode runs the expression with focus as the context (for example an
// element an invariant is defined on), resource being %resource.
func (e *Expression) EvaluateNode(focus Node, resource map[string]any, env *Env) ([]Node, error) {
	if env == nil {
		env = &noEnv
	}
	st := &evalState{evalCtx: evalCtx{env: env, context: focus}, frame: frame{this: focus, index: -1}}
	st.focus[0] = focus
	c := &st.evalCtx
	if env.Resource != nil {
		resource = env.Resource
	}
	if resource != nil {
		rt, _ := resource["resourceType"].(string)
		c.resource = Node{Value: resource, Type: rt, Path: rootPath}
	} else {
		c.resource = focus
	}
	c.rootResource = c.resource
	if env.RootResource != nil {
		rt, _ := env.RootResource["resourceType"].(string)
		c.rootResource = Node{Value: env.RootResource, Type: rt}
	}
	res, err := c.eval(e.tree, st.focus[:], &st.frame)
	if len(res) == 1 && cap(res) == 1 {
		// Possibly a shared literal or boolean collection: give the caller its own.
		res = []Node{res[0]}
	}
	return res, err
}

// evalState holds everything one evaluation allocates up front, in one allocation.
type evalState struct {
	evalCtx
	frame frame
	focus [1]Node
}

var noEnv Env

// rootPath is the (empty, non-nil) location of the root.
var rootPath = []Step{}

// evalCtx is the per-evaluation state.
type evalCtx struct {
	env          *Env
	context      Node
	resource     Node
	rootResource Node
	now          time.Time
	err          error // set by navigation errors
	// work adds up the steps of the evaluation, the items they produce,
	// the bytes of the strings they compute and the comparisons of the
	// set operations, against maxWork.
	work int
}

// Bounds of one evaluation. The expressions of R4, of the profiles and of
// search extraction stay far under them even on large resources (the
// bundle invariants of an 11 MB Synthea Bundle take 263,000 units of
// work, 40 times less); an expression written by a client (FHIRPath Patch, a custom
// SearchParameter) that doubles a collection or a string at every step,
// nests descendants() in descendants() or unions large collections ends
// with errTooCostly, in about a second, instead of taking the server's
// memory or a core for good.
const (
	// maxWork bounds the work units of one evaluation (about a second).
	maxWork = 10_000_000
	// maxItems bounds one collection (2 million nodes are 128 MB).
	maxItems = 2_000_000
	// maxString bounds one computed string, in bytes.
	maxString = 16 << 20
)

// errTooCostly is the error of an evaluation over one of the bounds.
var errTooCostly = errors.New("the expression takes too much work to evaluate (see fhirpath.maxWork, maxItems, maxString)")

// spend charges n units of work, failing past maxWork.
func (c *evalCtx) spend(n int) error {
	if c.work += n; c.work > maxWork || n > maxWork {
		return errTooCostly
	}
	return nil
}

// eval evaluates n on focus, charging the step, the items it produced and
// a computed string's bytes.
func (c *evalCtx) eval(n *ast, focus []Node, fr *frame) ([]Node, error) {
	res, err := c.evalNode(n, focus, fr)
	if err != nil {
		return res, err
	}
	w := 1 + len(res)
	if len(res) == 1 && res[0].Type == "System.String" {
		if s, ok := res[0].Value.(string); ok {
			if len(s) > maxString {
				return nil, errTooCostly
			}
			w += len(s)
		}
	}
	if len(res) > maxItems {
		return nil, errTooCostly
	}
	if err := c.spend(w); err != nil {
		return nil, err
	}
	return res, nil
}

// frame holds $this, $index and $total while a function iterates.
type frame struct {
	this  Node
	index int
	total []Node
}

func (c *evalCtx) clock() time.Time {
	if c.now.IsZero() {
		c.now = c.env.Now
		if c.now.IsZero() {
			c.now = time.Now()
		}
	}
	return c.now
}

func (c *evalCtx) evalNode(n *ast, focus []Node, fr *frame) ([]Node, error) {
	switch n.op {
	case opLiteral:
		return n.litColl, nil
	case opEmpty:
		return nil, nil
	case opIdent:
		var out []Node
		if n.typ != "" {
			// A leading type name ("Patient.name") selects the focus items of that type.
			for _, f := range focus {
				if f.Type != "" && (f.Type == n.typ || model.IsA(f.Type, n.typ)) {
					out = append(out, f)
				}
			}
			return out, nil
		}
		for _, f := range focus {
			out = c.child(f, n.name, out)
		}
		return out, c.err
	case opFunc:
		return n.fn.fn(c, focus, n.args, fr)
	case opDot:
		left, err := c.eval(n.args[0], focus, fr)
		if err != nil {
			return nil, err
		}
		r := n.args[1]
		if r.op == opIdent {
			var out []Node
			for _, f := range left {
				out = c.child(f, r.name, out)
			}
			return out, c.err
		}
		return c.eval(r, left, fr)
	case opIndex:
		left, err := c.eval(n.args[0], focus, fr)
		if err != nil {
			return nil, err
		}
		idx, err := c.evalArg(n.args[1], fr)
		if err != nil {
			return nil, err
		}
		i, ok, err := intOf(idx)
		if err != nil || !ok {
			return nil, err
		}
		if i < 0 || int(i) >= len(left) {
			return nil, nil
		}
		return left[i : i+1], nil
	case opNeg:
		x, err := c.eval(n.args[0], focus, fr)
		if err != nil || len(x) == 0 {
			return nil, err
		}
		if len(x) > 1 {
			return nil, fmt.Errorf("unary minus on a collection of %d items", len(x))
		}
		v, _ := sysValue(x[0])
		if js, ok := x[0].Value.(json.Number); ok {
			if _, isDec := v.(float64); isDec {
				// Negate in text so the decimal keeps its precision.
				s := string(js)
				if t, neg := strings.CutPrefix(s, "-"); neg {
					s = t
				} else if strings.Trim(s, "0.") != "" {
					s = "-" + s
				}
				return []Node{{Value: json.Number(s), Type: "System.Decimal"}}, nil
			}
		}
		switch v := v.(type) {
		case int64:
			return []Node{intNode(-v)}, nil
		case float64:
			return []Node{decNode(-v)}, nil
		case Quantity:
			v.Value = -v.Value
			return []Node{{Value: v, Type: "System.Quantity"}}, nil
		}
		return nil, fmt.Errorf("cannot negate %s", x[0].Type)
	case opBinary:
		return c.binary(n, focus, fr)
	case opIs, opAs:
		x, err := c.eval(n.args[0], focus, fr)
		if err != nil {
			return nil, err
		}
		if n.op == opIs {
			if len(x) == 0 {
				return nil, nil
			}
			if len(x) > 1 {
				return nil, fmt.Errorf("'is' on a collection of %d items", len(x))
			}
			return []Node{boolNode(typeMatches(x[0], n.typ))}, nil
		}
		return ofType(x, n.typ), nil
	case opThis:
		return []Node{fr.this}, nil
	case opIndexVar:
		return []Node{intNode(int64(fr.index))}, nil
	case opTotal:
		return fr.total, nil
	case opVar:
		return c.variable(n.name)
	}
	return nil, fmt.Errorf("bad expression node %d", n.op)
}

// evalArg evaluates a non-lambda function argument against $this.
func (c *evalCtx) evalArg(a *ast, fr *frame) ([]Node, error) {
	return c.eval(a, []Node{fr.this}, fr)
}

func (c *evalCtx) variable(name string) ([]Node, error) {
	switch name {
	case "context":
		return []Node{c.context}, nil
	case "resource":
		return []Node{c.resource}, nil
	case "rootResource":
		return []Node{c.rootResource}, nil
	case "ucum":
		return []Node{strNode("http://unitsofmeasure.org")}, nil
	case "sct":
		return []Node{strNode("http://snomed.info/sct")}, nil
	case "loinc":
		return []Node{strNode("http://loinc.org")}, nil
	}
	if v, ok := c.env.Vars[name]; ok {
		return toNodes(v), nil
	}
	if s, ok := strings.CutPrefix(name, "vs-"); ok {
		return []Node{strNode("http://hl7.org/fhir/ValueSet/" + s)}, nil
	}
	if s, ok := strings.CutPrefix(name, "ext-"); ok {
		return []Node{strNode("http://hl7.org/fhir/StructureDefinition/" + s)}, nil
	}
	return nil, fmt.Errorf("unknown variable %%%s", name)
}

// toNodes turns a variable's value into a collection.
func toNodes(v any) []Node {
	switch x := v.(type) {
	case nil:
		return nil
	case Node:
		return []Node{x}
	case []Node:
		return x
	case string:
		return []Node{strNode(x)}
	case bool:
		return []Node{boolNode(x)}
	case int:
		return []Node{intNode(int64(x))}
	case int64:
		return []Node{intNode(x)}
	case float64:
		return []Node{decNode(x)}
	case map[string]any:
		rt, _ := x["resourceType"].(string)
		return []Node{{Value: x, Type: rt}}
	case []any:
		var out []Node
		for _, e := range x {
			out = append(out, toNodes(e)...)
		}
		return out
	}
	return []Node{{Value: v}}
}

func strNode(s string) Node { return Node{Value: s, Type: "System.String"} }
func boolNode(b bool) Node  { return Node{Value: b, Type: "System.Boolean"} }
func intNode(i int64) Node  { return Node{Value: i, Type: "System.Integer"} }
func decNode(f float64) Node {
	return Node{Value: json.Number(formatDecimal(f)), Type: "System.Decimal"}
}

// single returns a shared one-boolean collection; its capacity is 1 so
// appending to it copies.
func single(b bool) []Node {
	if b {
		return trueColl[:1:1]
	}
	return falseColl[:1:1]
}

var trueColl, falseColl = []Node{boolNode(true)}, []Node{boolNode(false)}

func appendPath(p []Step, s Step) []Step {
	if p == nil {
		return nil
	}
	out := make([]Step, len(p)+1)
	copy(out, p)
	out[len(p)] = s
	return out
}

// child appends the children called name of n to out.
func (c *evalCtx) child(n Node, name string, out []Node) []Node {
	m, ok := n.Value.(map[string]any)
	if !ok {
		// A primitive: only its id and extensions, from the _name companion.
		if n.ext != nil && (name == "extension" || name == "id") {
			et := "Extension"
			if name == "id" {
				et = "string"
			}
			var p []Step
			if len(n.Path) > 0 {
				p = append([]Step(nil), n.Path...)
				p[len(p)-1].Key = "_" + p[len(p)-1].Key
			}
			return addValues(out, n.ext[name], et, nil, p, name)
		}
		return out
	}
	if t := model.Lookup(n.Type); t != nil {
		if e := t.Element(name); e != nil {
			if e.Choice && len(e.Types) > 1 {
				for _, ty := range e.Types {
					key := e.JSONName(ty)
					if _, ok := m[key]; ok || m["_"+key] != nil {
						return addKey(out, m, key, ty, n.Path)
					}
				}
				return out
			}
			key := name
			if e.Choice {
				if name != e.BaseName() && c.err == nil {
					c.err = fmt.Errorf("%s is not a FHIRPath element name: use %s.ofType(%s)", name, e.BaseName(), e.Types[0])
				}
				key = e.JSONName(e.Types[0])
			}
			ty := ""
			if len(e.Types) > 0 {
				ty = e.Types[0]
			}
			return addKey(out, m, key, ty, n.Path)
		}
		if t.Kind != model.KindPrimitive {
			return out // not an element of this type
		}
	}
	if _, ok := m[name]; ok || m["_"+name] != nil {
		return addKey(out, m, name, "", n.Path)
	}
	// Untyped choice: valueString etc.
	for k := range m {
		if len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' {
			ty := k[len(name):]
			if lt := strings.ToLower(ty[:1]) + ty[1:]; model.IsPrimitive(lt) {
				ty = lt
			} else if model.Lookup(ty) == nil {
				continue
			}
			return addKey(out, m, k, ty, n.Path)
		}
	}
	return out
}

// addKey appends the value(s) under key (merged with _key) typed ty.
func addKey(out []Node, m map[string]any, key, ty string, parent []Step) []Node {
	var ext any
	if e, ok := m["_"+key]; ok {
		ext = e
	}
	return addValues(out, m[key], ty, ext, parent, key)
}

func addValues(out []Node, v any, ty string, ext any, parent []Step, key string) []Node {
	switch x := v.(type) {
	case nil:
		if ext == nil {
			return out
		}
		if ea, ok := ext.([]any); ok {
			for i, e := range ea {
				em, _ := e.(map[string]any)
				if em != nil {
					out = append(out, Node{Type: ty, Path: appendPath(parent, Step{key, i}), ext: em})
				}
			}
			return out
		}
		em, _ := ext.(map[string]any)
		return append(out, Node{Type: ty, Path: appendPath(parent, Step{key, -1}), ext: em})
	case []any:
		ea, _ := ext.([]any)
		for i := range max(len(x), len(ea)) {
			var e any
			var em map[string]any
			if i < len(x) {
				e = x[i]
			}
			if i < len(ea) {
				em, _ = ea[i].(map[string]any)
			}
			if e == nil && em == nil {
				continue
			}
			out = append(out, Node{Value: e, Type: nodeType(e, ty), Path: appendPath(parent, Step{key, i}), ext: em})
		}
		return out
	default:
		em, _ := ext.(map[string]any)
		return append(out, Node{Value: v, Type: nodeType(v, ty), Path: appendPath(parent, Step{key, -1}), ext: em})
	}
}

// nodeType types resources by their resourceType.
func nodeType(v any, ty string) string {
	if m, ok := v.(map[string]any); ok && (ty == "" || ty == "Resource" || ty == "DomainResource" || model.IsResource(ty)) {
		if rt, ok := m["resourceType"].(string); ok {
			return rt
		}
	}
	return ty
}

// children returns all child nodes of n in definition (or key) order.
func (c *evalCtx) children(n Node, out []Node) []Node {
	m, ok := n.Value.(map[string]any)
	if !ok {
		if n.ext != nil {
			out = c.child(n, "id", out)
			out = c.child(n, "extension", out)
		}
		return out
	}
	if t := model.Lookup(n.Type); t != nil {
		for i := range t.Elements {
			e := &t.Elements[i]
			out = c.child(n, e.BaseName(), out)
		}
		return out
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "resourceType" && !(strings.HasPrefix(k, "_") && m[k[1:]] != nil) {
			keys = append(keys, strings.TrimPrefix(k, "_"))
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = addKey(out, m, k, "", n.Path)
	}
	return out
}
