package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dccfhir/dccfhir/fhir/model"
)

type funcImpl func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error)

// funcDef is a FHIRPath function with its arity.
type funcDef struct {
	min, max int
	fn       funcImpl
}

var functions map[string]*funcDef

// Supported lists the names of the functions the evaluator implements.
func Supported() []string {
	out := make([]string, 0, len(functions))
	for k := range functions {
		out = append(out, k)
	}
	return out
}

func reg(name string, min, max int, fn funcImpl) { functions[name] = &funcDef{min, max, fn} }

// arg evaluates argument i against $this.
func (c *evalCtx) arg(args []*ast, i int, fr *frame) ([]Node, error) {
	if i >= len(args) {
		return nil, nil
	}
	return c.evalArg(args[i], fr)
}

// each evaluates a lambda argument for every item of focus.
// The frame and the one-item focus are reused across items: callbacks
// must copy what they keep (append does).
func (c *evalCtx) each(focus []Node, a *ast, fr *frame, fn func(i int, item Node, res []Node) (stop bool, err error)) error {
	f := &frame{total: fr.total}
	one := make([]Node, 1)
	for i, item := range focus {
		f.this, f.index = item, i
		one[0] = item
		res, err := c.eval(a, one[:1:1], f)
		if err != nil {
			return err
		}
		stop, err := fn(i, item, res)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// singleton returns the only item of focus, or ok=false when empty.
func singleton(focus []Node, fname string) (Node, bool, error) {
	switch len(focus) {
	case 0:
		return Node{}, false, nil
	case 1:
		return focus[0], true, nil
	}
	return Node{}, false, fmt.Errorf("%s() on a collection of %d items", fname, len(focus))
}

// strFunc wraps a function of the single input string.
func strFunc(name string, nargs int, f func(s string, args [][]Node) ([]Node, error)) {
	reg(name, nargs, nargs, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		n, ok, err := singleton(focus, name)
		if !ok || err != nil {
			return nil, err
		}
		s, isStr := n.Value.(string)
		if !isStr {
			return nil, fmt.Errorf("%s() on %s, not a string", name, typeName(n))
		}
		var av [][]Node
		for i := range args {
			v, err := c.arg(args, i, fr)
			if err != nil {
				return nil, err
			}
			av = append(av, v)
		}
		return f(s, av)
	})
}

// mathFunc wraps a function of the single input number.
func mathFunc(name string, f func(v any) (any, error)) {
	reg(name, 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		n, ok, err := singleton(focus, name)
		if !ok || err != nil {
			return nil, err
		}
		v, _ := sysValue(n)
		if q, isQ := v.(Quantity); isQ && name == "abs" {
			q.Value = math.Abs(q.Value)
			return []Node{{Value: q, Type: "System.Quantity"}}, nil
		}
		if !isNumber(v) {
			return nil, fmt.Errorf("%s() on %s, not a number", name, typeName(n))
		}
		r, err := f(v)
		if err != nil || r == nil {
			return nil, err
		}
		return []Node{valueNode(r)}, nil
	})
}

func valueNode(v any) Node {
	switch x := v.(type) {
	case int64:
		return intNode(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Node{}
		}
		return decNode(x)
	case bool:
		return boolNode(x)
	case string:
		return strNode(x)
	case Temporal:
		return Node{Value: x, Type: x.systemType()}
	case Quantity:
		return Node{Value: x, Type: "System.Quantity"}
	}
	return Node{Value: v}
}

var (
	htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	jsonEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\f", `\f`, "\b", `\b`)
)

var regexCache sync.Map

func compileRegex(p string) (*regexp.Regexp, error) {
	if r, ok := regexCache.Load(p); ok {
		return r.(*regexp.Regexp), nil
	}
	r, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	// Patterns can come from data or from clients (FHIRPath Patch): keep
	// the cache from growing without end.
	if regexCached.Add(1) <= maxCachedRegexps {
		regexCache.Store(p, r)
	}
	return r, nil
}

// maxCachedRegexps bounds the compiled patterns kept.
const maxCachedRegexps = 4096

var regexCached atomic.Int64

func init() {
	functions = map[string]*funcDef{}
	// Existence.
	reg("empty", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return single(len(focus) == 0), nil
	})
	reg("exists", 0, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(args) == 0 {
			return single(len(focus) > 0), nil
		}
		found := false
		err := c.each(focus, args[0], fr, func(_ int, _ Node, res []Node) (bool, error) {
			b, k, err := toBool(res)
			found = b && k
			return found, err
		})
		return single(found), err
	})
	reg("all", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		all := true
		err := c.each(focus, args[0], fr, func(_ int, _ Node, res []Node) (bool, error) {
			b, k, err := toBool(res)
			if !(b && k) {
				all = false
			}
			return !all, err
		})
		return single(all), err
	})
	boolAgg := func(name string, want bool, any bool) {
		reg(name, 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
			for _, n := range focus {
				b, ok := n.Value.(bool)
				if !ok {
					return nil, fmt.Errorf("%s() on a non-boolean", name)
				}
				if any && b == want {
					return single(true), nil
				}
				if !any && b != want {
					return single(false), nil
				}
			}
			return single(!any), nil
		})
	}
	boolAgg("allTrue", true, false)
	boolAgg("allFalse", false, false)
	boolAgg("anyTrue", true, true)
	boolAgg("anyFalse", false, true)
	reg("subsetOf", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		other, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		if err := c.spend(len(focus) * len(other)); err != nil {
			return nil, err
		}
		for _, n := range focus {
			if !contains(other, n) {
				return single(false), nil
			}
		}
		return single(true), nil
	})
	reg("supersetOf", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		other, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		if err := c.spend(len(focus) * len(other)); err != nil {
			return nil, err
		}
		for _, n := range other {
			if !contains(focus, n) {
				return single(false), nil
			}
		}
		return single(true), nil
	})
	reg("count", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return []Node{intNode(int64(len(focus)))}, nil
	})
	reg("distinct", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return c.union(focus, nil)
	})
	reg("isDistinct", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		u, err := c.union(focus, nil)
		if err != nil {
			return nil, err
		}
		return single(len(u) == len(focus)), nil
	})
	// Filtering and projection.
	reg("where", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		var out []Node
		err := c.each(focus, args[0], fr, func(_ int, item Node, res []Node) (bool, error) {
			b, k, err := toBool(res)
			if b && k {
				out = append(out, item)
			}
			return false, err
		})
		return out, err
	})
	reg("select", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		var out []Node
		err := c.each(focus, args[0], fr, func(_ int, _ Node, res []Node) (bool, error) {
			out = append(out, res...)
			return false, nil
		})
		return out, err
	})
	reg("repeat", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		var out []Node
		cur := focus
		for depth := 0; len(cur) > 0 && depth < 1000; depth++ {
			var next []Node
			err := c.each(cur, args[0], fr, func(_ int, _ Node, res []Node) (bool, error) {
				if err := c.spend(len(res) * len(out)); err != nil {
					return true, err
				}
				for _, r := range res {
					if !contains(out, r) {
						out = append(out, r)
						next = append(next, r)
					}
				}
				return false, nil
			})
			if err != nil {
				return nil, err
			}
			cur = next
		}
		return out, nil
	})
	reg("ofType", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return ofType(focus, args[0].lit.Value.(string)), nil
	})
	reg("as", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		// The function form follows the specification (one item at most);
		// the operator form stays lenient because R4 search parameters
		// apply it to repeating elements.
		if len(focus) > 1 {
			return nil, fmt.Errorf("as() on a collection of %d items: use ofType()", len(focus))
		}
		return ofType(focus, args[0].lit.Value.(string)), nil
	})
	reg("is", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		n, ok, err := singleton(focus, "is")
		if !ok || err != nil {
			return nil, err
		}
		return single(typeMatches(n, args[0].lit.Value.(string))), nil
	})
	// Subsetting.
	reg("single", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(focus) > 1 {
			return nil, fmt.Errorf("single() on %d items", len(focus))
		}
		return focus, nil
	})
	reg("first", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[:1], nil
	})
	reg("last", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[len(focus)-1:], nil
	})
	reg("tail", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[1:], nil
	})
	reg("skip", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		a, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		n, ok, err := intOf(a)
		if !ok || err != nil {
			return nil, err
		}
		if n <= 0 {
			return focus, nil
		}
		if int(n) >= len(focus) {
			return nil, nil
		}
		return focus[n:], nil
	})
	reg("take", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		a, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		n, ok, err := intOf(a)
		if !ok || err != nil || n <= 0 {
			return nil, err
		}
		if int(n) >= len(focus) {
			return focus, nil
		}
		return focus[:n], nil
	})
	reg("intersect", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		other, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		if err := c.spend(len(focus) * (len(other) + len(focus))); err != nil {
			return nil, err
		}
		var out []Node
		for _, n := range focus {
			if contains(other, n) && !contains(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	})
	reg("exclude", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		other, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		if err := c.spend(len(focus) * len(other)); err != nil {
			return nil, err
		}
		var out []Node
		for _, n := range focus {
			if !contains(other, n) {
				out = append(out, n)
			}
		}
		return out, nil
	})
	reg("union", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		other, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		return c.union(focus, other)
	})
	reg("combine", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		other, err := c.arg(args, 0, fr)
		return append(append([]Node(nil), focus...), other...), err
	})
	reg("iif", 2, 3, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(focus) > 1 {
			return nil, fmt.Errorf("iif() on %d items", len(focus))
		}
		f := fr
		if len(focus) == 1 {
			f = &frame{this: focus[0], index: fr.index, total: fr.total}
		}
		cond, err := c.evalArg(args[0], f)
		if err != nil {
			return nil, err
		}
		b, k, err := toBool(cond)
		if err != nil {
			return nil, err
		}
		if b && k {
			return c.evalArg(args[1], f)
		}
		if len(args) > 2 {
			return c.evalArg(args[2], f)
		}
		return nil, nil
	})
	reg("not", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		b, k, err := toBool(focus)
		if !k || err != nil {
			return nil, err
		}
		return single(!b), nil
	})
	reg("aggregate", 1, 2, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		total, err := c.arg(args, 1, fr)
		if err != nil {
			return nil, err
		}
		for i, item := range focus {
			f := &frame{this: item, index: i, total: total}
			total, err = c.eval(args[0], []Node{item}, f)
			if err != nil {
				return nil, err
			}
		}
		return total, nil
	})
	// Tree navigation.
	reg("children", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		var out []Node
		for _, n := range focus {
			out = c.children(n, out)
		}
		return out, nil
	})
	reg("descendants", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		var out []Node
		cur := focus
		for len(cur) > 0 {
			var next []Node
			for _, n := range cur {
				next = c.children(n, next)
			}
			// a node found costs a few steps more than one passed on
			if err := c.spend(3 * len(next)); err != nil {
				return nil, err
			}
			out = append(out, next...)
			cur = next
		}
		return out, nil
	})
	// Utility.
	reg("trace", 1, 2, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		name, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		if c.env.Trace != nil {
			s, _, _ := stringOf(name)
			shown := focus
			if len(args) > 1 {
				shown = nil
				err := c.each(focus, args[1], fr, func(_ int, _ Node, res []Node) (bool, error) {
					shown = append(shown, res...)
					return false, nil
				})
				if err != nil {
					return nil, err
				}
			}
			c.env.Trace(s, shown)
		}
		return focus, nil
	})
	reg("now", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return []Node{valueNode(Temporal{Kind: KindDateTime, T: c.clock(), Prec: precMilli, HasTZ: true})}, nil
	})
	reg("today", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		t := c.clock()
		return []Node{valueNode(Temporal{Kind: KindDate, T: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), Prec: precDay})}, nil
	})
	reg("timeOfDay", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		t := c.clock()
		return []Node{valueNode(Temporal{Kind: KindTime, T: time.Date(0, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6*1e6, time.UTC), Prec: precMilli})}, nil
	})
	// FHIR additions.
	reg("extension", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		u, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		url, ok, err := stringOf(u)
		if !ok || err != nil {
			return nil, err
		}
		var out []Node
		for _, n := range focus {
			for _, e := range c.child(n, "extension", nil) {
				if m, ok := e.Value.(map[string]any); ok && m["url"] == url {
					out = append(out, e)
				}
			}
		}
		return out, nil
	})
	reg("hasValue", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(focus) != 1 {
			return single(false), nil
		}
		_, isMap := focus[0].Value.(map[string]any)
		return single(focus[0].Value != nil && !isMap), nil
	})
	reg("getValue", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		if len(focus) != 1 {
			return nil, nil
		}
		if _, isMap := focus[0].Value.(map[string]any); isMap || focus[0].Value == nil {
			return nil, nil
		}
		v, _ := sysValue(focus[0])
		return []Node{valueNode(v)}, nil
	})
	reg("resolve", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		var out []Node
		for _, n := range focus {
			if r, ok := c.resolve(n); ok {
				out = append(out, r)
			}
		}
		return out, nil
	})
	reg("memberOf", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return nil, nil // no terminology service: unknown
	})
	reg("conformsTo", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		u, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		url, _, _ := stringOf(u)
		n, ok, err := singleton(focus, "conformsTo")
		if !ok || err != nil {
			return nil, err
		}
		if t, ok := strings.CutPrefix(url, "http://hl7.org/fhir/StructureDefinition/"); ok && model.Lookup(t) != nil {
			return single(model.IsA(n.Type, t)), nil
		}
		return nil, fmt.Errorf("conformsTo(%s): profile unknown", url)
	})
	reg("htmlChecks", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return single(true), nil
	})
	reg("checkModifiers", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return focus, nil
	})
	reg("type", 0, 0, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		var out []Node
		for _, n := range focus {
			ns, name := "FHIR", n.Type
			if s, ok := strings.CutPrefix(n.Type, "System."); ok {
				ns, name = "System", s
			}
			out = append(out, Node{Value: map[string]any{"namespace": ns, "name": name}, Type: "System.SimpleTypeInfo"})
		}
		return out, nil
	})
	registerConversions()
	registerStrings()
	registerMath()
}

// resolve finds the resource a Reference (or canonical/uri) points at: via
// Env.Resolve, the contained resources, or a stub typed by the reference.
func (c *evalCtx) resolve(n Node) (Node, bool) {
	var ref string
	switch v := n.Value.(type) {
	case map[string]any:
		ref, _ = v["reference"].(string)
	case string:
		ref = v
	}
	if ref == "" {
		return Node{}, false
	}
	if c.env.Resolve != nil {
		if r := c.env.Resolve(ref); r != nil {
			rt, _ := r["resourceType"].(string)
			return Node{Value: r, Type: rt}, true
		}
	}
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		if id == "" {
			return c.resource, true
		}
		for _, cn := range c.child(c.resource, "contained", nil) {
			if m, ok := cn.Value.(map[string]any); ok && m["id"] == id {
				return cn, true
			}
		}
		return Node{}, false
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) >= 4 && parts[len(parts)-2] == "_history" {
		parts = parts[:len(parts)-2]
	}
	if len(parts) >= 2 {
		t, id := parts[len(parts)-2], parts[len(parts)-1]
		if model.IsResource(t) && id != "" {
			return Node{Value: map[string]any{"resourceType": t, "id": id}, Type: t}, true
		}
	}
	return Node{}, false
}

var (
	intRe  = regexp.MustCompile(`^[+-]?\d+$`)
	decRe  = regexp.MustCompile(`^[+-]?\d+(\.\d+)?$`)
	qtyRe  = regexp.MustCompile(`^([+-]?\d+(?:\.\d+)?)\s*(?:'([^']+)'|([a-zA-Z]+))?$`)
	trueS  = map[string]bool{"true": true, "t": true, "yes": true, "y": true, "1": true, "1.0": true}
	falseS = map[string]bool{"false": true, "f": true, "no": true, "n": true, "0": true, "0.0": true}
)

// convert implements the toX conversions; ok is false when not convertible.
func convert(n Node, to string, unit string) (Node, bool) {
	v, okv := sysValue(n)
	if !okv {
		return Node{}, false
	}
	switch to {
	case "Boolean":
		switch x := v.(type) {
		case bool:
			return boolNode(x), true
		case int64:
			if x == 0 || x == 1 {
				return boolNode(x == 1), true
			}
		case float64:
			if x == 0 || x == 1 {
				return boolNode(x == 1), true
			}
		case string:
			l := strings.ToLower(x)
			if trueS[l] {
				return boolNode(true), true
			}
			if falseS[l] {
				return boolNode(false), true
			}
		}
	case "Integer":
		switch x := v.(type) {
		case int64:
			return intNode(x), true
		case bool:
			if x {
				return intNode(1), true
			}
			return intNode(0), true
		case string:
			if intRe.MatchString(x) {
				i, err := strconv.ParseInt(x, 10, 64)
				return intNode(i), err == nil
			}
		}
	case "Decimal":
		switch x := v.(type) {
		case int64:
			return decNode(float64(x)), true
		case float64:
			return decNode(x), true
		case bool:
			if x {
				return decNode(1), true
			}
			return decNode(0), true
		case string:
			if decRe.MatchString(x) {
				f, err := strconv.ParseFloat(x, 64)
				return decNode(f), err == nil
			}
		}
	case "String":
		switch x := v.(type) {
		case string:
			return strNode(x), true
		case bool:
			return strNode(strconv.FormatBool(x)), true
		case int64:
			return strNode(strconv.FormatInt(x, 10)), true
		case float64:
			if js, ok := n.Value.(json.Number); ok {
				return strNode(string(js)), true
			}
			return strNode(formatDecimal(x)), true
		case Temporal:
			if s, ok := n.Value.(string); ok {
				return strNode(s), true
			}
			return strNode(x.String()), true
		case Quantity:
			return strNode(x.String()), true
		}
	case "Quantity":
		var q Quantity
		switch x := v.(type) {
		case int64, float64:
			q = Quantity{Value: toFloat(x), Unit: "1"}
		case Quantity:
			q = x
		case bool:
			q = Quantity{Value: 0, Unit: "1"}
			if x {
				q.Value = 1
			}
		case string:
			m := qtyRe.FindStringSubmatch(strings.TrimSpace(x))
			if m == nil {
				return Node{}, false
			}
			f, _ := strconv.ParseFloat(m[1], 64)
			q = Quantity{Value: f, Unit: "1", text: m[1]}
			if m[2] != "" {
				q.Unit = m[2]
			} else if m[3] != "" {
				if calendarUnits[m[3]] == "" {
					return Node{}, false
				}
				q.Unit = m[3]
			}
		default:
			return Node{}, false
		}
		if unit != "" && unit != q.Unit {
			nq, ok1 := normQuantity(q)
			nu, ok2 := normQuantity(Quantity{Value: 1, Unit: unit})
			if !ok1 || !ok2 || nq.Unit != nu.Unit {
				return Node{}, false
			}
			q = Quantity{Value: nq.Value / nu.Value, Unit: unit}
		}
		return Node{Value: q, Type: "System.Quantity"}, true
	case "Date", "DateTime", "Time":
		var t Temporal
		switch x := v.(type) {
		case Temporal:
			t = x
		case string:
			var err error
			if to == "Time" {
				t, err = parseTime(x)
			} else {
				t, err = parseTemporal(x, false)
			}
			if err != nil {
				return Node{}, false
			}
		default:
			return Node{}, false
		}
		switch to {
		case "Time":
			if t.Kind != KindTime {
				return Node{}, false
			}
		case "Date":
			if t.Kind == KindTime {
				return Node{}, false
			}
			t.Kind = KindDate
			t.Prec = min(t.Prec, precDay)
			t.HasTZ = false
		case "DateTime":
			if t.Kind == KindTime {
				return Node{}, false
			}
			t.Kind = KindDateTime
		}
		return valueNode(t), true
	}
	return Node{}, false
}

func registerConversions() {
	for _, to := range []string{"Boolean", "Integer", "Decimal", "String", "Quantity", "Date", "DateTime", "Time"} {
		maxArgs := 0
		if to == "Quantity" {
			maxArgs = 1
		}
		reg("to"+to, 0, maxArgs, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
			n, ok, err := singleton(focus, "to"+to)
			if !ok || err != nil {
				return nil, err
			}
			unit := ""
			if len(args) > 0 {
				u, err := c.arg(args, 0, fr)
				if err != nil {
					return nil, err
				}
				unit, _, _ = stringOf(u)
			}
			if r, ok := convert(n, to, unit); ok {
				return []Node{r}, nil
			}
			return nil, nil
		})
		reg("convertsTo"+to, 0, maxArgs, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
			n, ok, err := singleton(focus, "convertsTo"+to)
			if !ok || err != nil {
				return nil, err
			}
			unit := ""
			if len(args) > 0 {
				u, err := c.arg(args, 0, fr)
				if err != nil {
					return nil, err
				}
				unit, _, _ = stringOf(u)
			}
			_, ok = convert(n, to, unit)
			return single(ok), nil
		})
	}
}

func registerStrings() {
	str1 := func(args [][]Node, i int) (string, bool, error) { return stringOf(args[i]) }
	strFunc("indexOf", 1, func(s string, a [][]Node) ([]Node, error) {
		sub, ok, err := str1(a, 0)
		if !ok || err != nil {
			return nil, err
		}
		i := strings.Index(s, sub)
		if i > 0 {
			i = utf8.RuneCountInString(s[:i])
		}
		return []Node{intNode(int64(i))}, nil
	})
	reg("substring", 1, 2, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		n, ok, err := singleton(focus, "substring")
		if !ok || err != nil {
			return nil, err
		}
		s, _ := n.Value.(string)
		r := []rune(s)
		a0, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		start, ok, err := intOf(a0)
		if !ok || err != nil || start < 0 || int(start) >= len(r) {
			return nil, err
		}
		end := int64(len(r))
		if len(args) > 1 {
			a1, err := c.arg(args, 1, fr)
			if err != nil {
				return nil, err
			}
			l, ok, err := intOf(a1)
			if err != nil {
				return nil, err
			}
			if ok {
				end = min(start+max(l, 0), end)
			}
		}
		return []Node{strNode(string(r[start:end]))}, nil
	})
	strBool := func(name string, f func(s, arg string) bool) {
		strFunc(name, 1, func(s string, a [][]Node) ([]Node, error) {
			x, ok, err := str1(a, 0)
			if !ok || err != nil {
				return nil, err
			}
			return single(f(s, x)), nil
		})
	}
	strBool("startsWith", strings.HasPrefix)
	strBool("endsWith", strings.HasSuffix)
	strBool("contains", strings.Contains)
	strBool("matches", func(s, p string) bool {
		r, err := compileRegex("(?s)" + p)
		return err == nil && r.MatchString(s)
	})
	strBool("matchesFull", func(s, p string) bool {
		r, err := compileRegex("(?s)^(?:" + p + ")$")
		return err == nil && r.MatchString(s)
	})
	strFunc("upper", 0, func(s string, _ [][]Node) ([]Node, error) { return []Node{strNode(strings.ToUpper(s))}, nil })
	strFunc("lower", 0, func(s string, _ [][]Node) ([]Node, error) { return []Node{strNode(strings.ToLower(s))}, nil })
	strFunc("trim", 0, func(s string, _ [][]Node) ([]Node, error) { return []Node{strNode(strings.TrimSpace(s))}, nil })
	strFunc("length", 0, func(s string, _ [][]Node) ([]Node, error) {
		return []Node{intNode(int64(utf8.RuneCountInString(s)))}, nil
	})
	strFunc("toChars", 0, func(s string, _ [][]Node) ([]Node, error) {
		if utf8.RuneCountInString(s) > maxItems {
			return nil, errTooCostly
		}
		var out []Node
		for _, r := range s {
			out = append(out, strNode(string(r)))
		}
		return out, nil
	})
	strFunc("replace", 2, func(s string, a [][]Node) ([]Node, error) {
		p, ok1, err := str1(a, 0)
		if err != nil {
			return nil, err
		}
		r, ok2, err := str1(a, 1)
		if !ok1 || !ok2 || err != nil {
			return nil, err
		}
		n := strings.Count(s, p) // for "", one more than the runes of s
		if len(r) > len(p) && n > (maxString-len(s))/(len(r)-len(p)) {
			return nil, errTooCostly
		}
		return []Node{strNode(strings.ReplaceAll(s, p, r))}, nil
	})
	strFunc("replaceMatches", 2, func(s string, a [][]Node) ([]Node, error) {
		p, ok1, err := str1(a, 0)
		if err != nil {
			return nil, err
		}
		r, ok2, err := str1(a, 1)
		if !ok1 || !ok2 || err != nil {
			return nil, err
		}
		if p == "" {
			return []Node{strNode(s)}, nil
		}
		re, err := compileRegex(p)
		if err != nil {
			return nil, err
		}
		// ReplaceAllString, with the output bounded as it grows: an empty
		// match and a long replacement would multiply s.
		ms := re.FindAllStringSubmatchIndex(s, maxItems+1)
		if len(ms) > maxItems {
			return nil, errTooCostly
		}
		var out []byte
		last := 0
		for _, m := range ms {
			out = append(out, s[last:m[0]]...)
			if out = re.ExpandString(out, r, s, m); len(out) > maxString {
				return nil, errTooCostly
			}
			last = m[1]
		}
		return []Node{strNode(string(append(out, s[last:]...)))}, nil
	})
	strFunc("split", 1, func(s string, a [][]Node) ([]Node, error) {
		sep, ok, err := str1(a, 0)
		if !ok || err != nil {
			return nil, err
		}
		if strings.Count(s, sep) >= maxItems {
			return nil, errTooCostly
		}
		var out []Node
		for _, p := range strings.Split(s, sep) {
			out = append(out, strNode(p))
		}
		return out, nil
	})
	reg("join", 0, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		a, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		sep, _, _ := stringOf(a)
		var parts []string
		size := 0
		for _, n := range focus {
			s, ok := n.Value.(string)
			if !ok {
				return nil, fmt.Errorf("join() on a non-string")
			}
			if size += len(s) + len(sep); size > maxString {
				return nil, errTooCostly
			}
			parts = append(parts, s)
		}
		return []Node{strNode(strings.Join(parts, sep))}, nil
	})
	strFunc("encode", 1, func(s string, a [][]Node) ([]Node, error) {
		f, ok, err := str1(a, 0)
		if !ok || err != nil {
			return nil, err
		}
		switch f {
		case "hex":
			return []Node{strNode(hex.EncodeToString([]byte(s)))}, nil
		case "base64":
			return []Node{strNode(base64.StdEncoding.EncodeToString([]byte(s)))}, nil
		case "urlbase64":
			return []Node{strNode(base64.URLEncoding.EncodeToString([]byte(s)))}, nil
		}
		return nil, fmt.Errorf("encode(%s) unsupported", f)
	})
	strFunc("decode", 1, func(s string, a [][]Node) ([]Node, error) {
		f, ok, err := str1(a, 0)
		if !ok || err != nil {
			return nil, err
		}
		var b []byte
		switch f {
		case "hex":
			b, err = hex.DecodeString(s)
		case "base64":
			b, err = base64.StdEncoding.DecodeString(s)
		case "urlbase64":
			b, err = base64.URLEncoding.DecodeString(s)
		default:
			return nil, fmt.Errorf("decode(%s) unsupported", f)
		}
		if err != nil {
			return nil, nil
		}
		return []Node{strNode(string(b))}, nil
	})
	strFunc("escape", 1, func(s string, a [][]Node) ([]Node, error) {
		f, ok, err := str1(a, 0)
		if !ok || err != nil {
			return nil, err
		}
		switch f {
		case "html":
			return []Node{strNode(htmlEscaper.Replace(s))}, nil
		case "json":
			return []Node{strNode(jsonEscaper.Replace(s))}, nil
		}
		return nil, fmt.Errorf("escape(%s) unsupported", f)
	})
	strFunc("unescape", 1, func(s string, a [][]Node) ([]Node, error) {
		f, ok, err := str1(a, 0)
		if !ok || err != nil {
			return nil, err
		}
		switch f {
		case "html":
			return []Node{strNode(html.UnescapeString(s))}, nil
		case "json":
			out, err := unescape(s)
			if err != nil {
				return nil, nil
			}
			return []Node{strNode(out)}, nil
		}
		return nil, fmt.Errorf("unescape(%s) unsupported", f)
	})
}

func registerMath() {
	mathFunc("abs", func(v any) (any, error) {
		if i, ok := v.(int64); ok {
			if i < 0 {
				return -i, nil
			}
			return i, nil
		}
		return math.Abs(v.(float64)), nil
	})
	mathFunc("ceiling", func(v any) (any, error) { return int64(math.Ceil(toFloat(v))), nil })
	mathFunc("floor", func(v any) (any, error) { return int64(math.Floor(toFloat(v))), nil })
	mathFunc("truncate", func(v any) (any, error) { return int64(math.Trunc(toFloat(v))), nil })
	mathFunc("exp", func(v any) (any, error) { return math.Exp(toFloat(v)), nil })
	mathFunc("ln", func(v any) (any, error) { return math.Log(toFloat(v)), nil })
	mathFunc("sqrt", func(v any) (any, error) {
		if toFloat(v) < 0 {
			return nil, nil
		}
		return math.Sqrt(toFloat(v)), nil
	})
	reg("log", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return numBinary(c, focus, args, fr, "log", func(x, b float64) any { return roundSig(math.Log(x) / math.Log(b)) })
	})
	reg("power", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		n, ok, err := singleton(focus, "power")
		if !ok || err != nil {
			return nil, err
		}
		a, err := c.arg(args, 0, fr)
		if err != nil || len(a) == 0 {
			return nil, err
		}
		x, _ := sysValue(n)
		y, _ := sysValue(a[0])
		if xi, ok := x.(int64); ok {
			if yi, ok := y.(int64); ok && yi >= 0 {
				// by squaring: the exponent can be 2^63 (the same wrapped
				// result as yi multiplications, in 63 steps)
				r := int64(1)
				for b := xi; yi > 0; yi >>= 1 {
					if yi&1 == 1 {
						r *= b
					}
					b *= b
				}
				return []Node{intNode(r)}, nil
			}
		}
		if !isNumber(x) || !isNumber(y) {
			return nil, fmt.Errorf("power() on non-numbers")
		}
		r := math.Pow(toFloat(x), toFloat(y))
		if math.IsNaN(r) {
			return nil, nil
		}
		return []Node{decNode(r)}, nil
	})
	reg("round", 0, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		n, ok, err := singleton(focus, "round")
		if !ok || err != nil {
			return nil, err
		}
		p := int64(0)
		if len(args) > 0 {
			a, err := c.arg(args, 0, fr)
			if err != nil {
				return nil, err
			}
			if p, _, err = intOf(a); err != nil {
				return nil, err
			}
			if p < 0 {
				return nil, fmt.Errorf("round() precision must be >= 0")
			}
		}
		v, _ := sysValue(n)
		if !isNumber(v) {
			return nil, fmt.Errorf("round() on a non-number")
		}
		pow := math.Pow10(int(p))
		return []Node{decNode(math.Round(toFloat(v)*pow) / pow)}, nil
	})
}

func numBinary(c *evalCtx, focus []Node, args []*ast, fr *frame, name string, f func(x, y float64) any) ([]Node, error) {
	n, ok, err := singleton(focus, name)
	if !ok || err != nil {
		return nil, err
	}
	a, err := c.arg(args, 0, fr)
	if err != nil || len(a) == 0 {
		return nil, err
	}
	x, _ := sysValue(n)
	y, _ := sysValue(a[0])
	if !isNumber(x) || !isNumber(y) {
		return nil, fmt.Errorf("%s() on non-numbers", name)
	}
	return []Node{valueNode(f(toFloat(x), toFloat(y)))}, nil
}
