package search

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// The fast path: nearly every R4 search expression is a union of typed
// paths with as()/ofType() casts and where(resolve() is T) or
// where(field='literal') filters. Those are compiled here, against the type
// model, into a few typed steps over the decoded JSON, so extraction on
// every write costs map lookups and no general FHIRPath machinery. Anything
// else goes to package fhirpath.

// node is a value of the decoded tree with its FHIR type and, for a code
// bound to a single-system value set, that code system.
type node struct {
	v   any
	t   string
	sys string
}

// fastExpr is a compiled union of paths.
type fastExpr struct {
	src      string
	branches [][]fop
	// types are the possible result types, for compiling composite components.
	types []string
}

type fopKind uint8

const (
	fopChild fopKind = iota // step into an element
	fopSelf                 // the focus itself (a branch that is only the type name)
	fopAs                   // keep nodes of types
	fopRefIs                // keep References to a resource of type lit
	fopEq                   // keep nodes whose primitive key equals lit
)

type fop struct {
	kind fopKind
	// child: candidates per input type; one is the fast case of a single input type.
	byType  map[string][]cand
	oneType string
	one     []cand
	// as: the allowed types.
	types []string
	// refIs / eq.
	key, lit string
}

// cand is one JSON key an element may appear under, with the FHIR type of
// the values there ("" for a resource, typed by its resourceType) and the
// code system of a code with a required single-system binding.
type cand struct {
	key, typ, sys string
}

var errNotFast = errors.New("not a simple path expression")

// compileFast compiles expr for focus nodes of the given types.
func compileFast(expr string, start []string) (*fastExpr, error) {
	branches, err := parsePaths(expr)
	if err != nil {
		return nil, err
	}
	fe := &fastExpr{src: expr}
	seen := map[string]bool{}
	for _, b := range branches {
		ops, types, err := typePath(b, start)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", expr, err)
		}
		fe.branches = append(fe.branches, ops)
		for _, t := range types {
			if !seen[t] {
				seen[t] = true
				fe.types = append(fe.types, t)
			}
		}
	}
	return fe, nil
}

// rawOp is a parsed path step before typing.
type rawOp struct {
	kind fopKind
	name string // child name, type name
	key  string
	lit  string
}

// parsePaths parses the restricted grammar:
//
//	expr   := path ('|' path)*
//	path   := prim ('.' step)* [ 'as' Type ]
//	prim   := '(' path ')' | name
//	step   := name | 'as(' Type ')' | 'ofType(' Type ')' |
//	          'where(resolve() is ' Type ')' | 'where(' name '=' 'literal' ')'
func parsePaths(expr string) ([][]rawOp, error) {
	l := &lexer{s: expr}
	var out [][]rawOp
	for {
		ops, err := l.path()
		if err != nil {
			return nil, err
		}
		out = append(out, ops)
		l.ws()
		if l.eof() {
			return out, nil
		}
		if !l.eat("|") {
			return nil, errNotFast
		}
	}
}

type lexer struct {
	s string
	i int
}

func (l *lexer) ws() {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t' || l.s[l.i] == '\n' || l.s[l.i] == '\r') {
		l.i++
	}
}

func (l *lexer) eof() bool { return l.i >= len(l.s) }

func (l *lexer) eat(tok string) bool {
	l.ws()
	if strings.HasPrefix(l.s[l.i:], tok) {
		l.i += len(tok)
		return true
	}
	return false
}

func (l *lexer) name() string {
	l.ws()
	st := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || l.i > st && c >= '0' && c <= '9' {
			l.i++
			continue
		}
		break
	}
	return l.s[st:l.i]
}

// word eats keyword w when it is followed by a non-name character.
func (l *lexer) word(w string) bool {
	save := l.i
	if l.name() == w {
		return true
	}
	l.i = save
	return false
}

func (l *lexer) path() ([]rawOp, error) {
	var ops []rawOp
	if l.eat("(") {
		inner, err := l.path()
		if err != nil {
			return nil, err
		}
		if !l.eat(")") {
			return nil, errNotFast
		}
		ops = inner
	} else {
		n := l.name()
		if n == "" {
			return nil, errNotFast
		}
		ops = append(ops, rawOp{kind: fopChild, name: n})
	}
	for l.eat(".") {
		n := l.name()
		switch {
		case n == "":
			return nil, errNotFast
		case (n == "as" || n == "ofType") && l.eat("("):
			t := l.name()
			if t == "" || !l.eat(")") {
				return nil, errNotFast
			}
			ops = append(ops, rawOp{kind: fopAs, name: t})
		case n == "where" && l.eat("("):
			save := l.i
			if l.word("resolve") && l.eat("(") && l.eat(")") && l.word("is") {
				t := l.name()
				if t == "" || !l.eat(")") {
					return nil, errNotFast
				}
				ops = append(ops, rawOp{kind: fopRefIs, name: t})
				continue
			}
			l.i = save
			k := l.name()
			if k == "" || !l.eat("=") || !l.eat("'") {
				return nil, errNotFast
			}
			end := strings.IndexByte(l.s[l.i:], '\'')
			if end < 0 {
				return nil, errNotFast
			}
			lit := l.s[l.i : l.i+end]
			if strings.ContainsRune(lit, '\\') {
				return nil, errNotFast
			}
			l.i += end + 1
			if !l.eat(")") {
				return nil, errNotFast
			}
			ops = append(ops, rawOp{kind: fopEq, key: k, lit: lit})
		default:
			l.ws()
			if l.i < len(l.s) && l.s[l.i] == '(' {
				return nil, errNotFast // another function
			}
			ops = append(ops, rawOp{kind: fopChild, name: n})
		}
	}
	if l.word("as") {
		t := l.name()
		if t == "" {
			return nil, errNotFast
		}
		ops = append(ops, rawOp{kind: fopAs, name: t})
	}
	l.ws()
	if !l.eof() && l.s[l.i] != '|' && l.s[l.i] != ')' {
		return nil, errNotFast
	}
	return ops, nil
}

// typePath resolves a parsed path against the model, starting from focus
// nodes of the start types, and returns its ops and result types.
func typePath(raw []rawOp, start []string) ([]fop, []string, error) {
	types := start
	var ops []fop
	for i, r := range raw {
		switch r.kind {
		case fopChild:
			if i == 0 && contains(start, r.name) || i == 0 && len(start) == 1 && model.IsA(start[0], r.name) && model.IsResource(r.name) {
				ops = append(ops, fop{kind: fopSelf})
				continue
			}
			op := fop{kind: fopChild, byType: map[string][]cand{}}
			var next []string
			for _, t := range types {
				if t == "" {
					return nil, nil, errNotFast // inside a resource of unknown type
				}
				e := model.Lookup(t).Element(r.name)
				if e == nil {
					continue
				}
				for _, ty := range e.Types {
					c := cand{key: e.JSONName(ty), typ: ty}
					if ty == "code" && e.Binding == "required" {
						vs, _, _ := strings.Cut(e.ValueSet, "|")
						c.sys = valueSetSystems[vs]
					}
					if model.IsResource(ty) && model.Lookup(ty).Abstract {
						c.typ = ""
					}
					op.byType[t] = append(op.byType[t], c)
					if !contains(next, c.typ) {
						next = append(next, c.typ)
					}
				}
			}
			if len(next) == 0 {
				return nil, nil, fmt.Errorf("no element %q on %s", r.name, strings.Join(types, ","))
			}
			if len(op.byType) == 1 {
				for t, cs := range op.byType {
					op.oneType, op.one, op.byType = t, cs, nil
				}
			}
			ops = append(ops, op)
			types = next
		case fopAs:
			if model.Lookup(r.name) == nil && !isFHIRPathSystemType(r.name) {
				return nil, nil, fmt.Errorf("unknown type %q", r.name)
			}
			// A cast picks the choice branch of exactly that type
			// ("ConceptMap.source as uri" is sourceUri, not sourceCanonical);
			// only when there is none do subtypes count (Age as Quantity).
			var keep []string
			for _, t := range types {
				if t == r.name {
					keep = append(keep, t)
				}
			}
			if len(keep) == 0 {
				for _, t := range types {
					if t != "" && model.IsA(t, r.name) || t == "" && model.IsResource(r.name) {
						keep = append(keep, t)
					}
				}
			}
			// Prune the preceding step's candidates instead of filtering at run time.
			if n := len(ops); n > 0 && ops[n-1].kind == fopChild && !contains(keep, "") {
				prev := &ops[n-1]
				prev.one = filterCands(prev.one, keep)
				for t, cs := range prev.byType {
					prev.byType[t] = filterCands(cs, keep)
				}
			} else {
				ops = append(ops, fop{kind: fopAs, types: []string{r.name}})
			}
			types = keep
		case fopRefIs:
			ops = append(ops, fop{kind: fopRefIs, lit: r.name})
		case fopEq:
			ops = append(ops, fop{kind: fopEq, key: r.key, lit: r.lit})
		}
	}
	return ops, types, nil
}

func isFHIRPathSystemType(n string) bool {
	switch n {
	case "String", "Boolean", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity":
		return true
	}
	return false
}

func filterCands(cs []cand, keep []string) []cand {
	var out []cand
	for _, c := range cs {
		if contains(keep, c.typ) {
			out = append(out, c)
		}
	}
	return out
}

// evalOps runs ops depth first from n, so no intermediate collections are built.
func evalOps(ops []fop, n node, root map[string]any, out []node) []node {
	if len(ops) == 0 {
		return append(out, n)
	}
	op := &ops[0]
	switch op.kind {
	case fopSelf:
		return evalOps(ops[1:], n, root, out)
	case fopChild:
		obj, ok := n.v.(map[string]any)
		if !ok {
			return out
		}
		cs := op.one
		if op.byType != nil || n.t != op.oneType {
			cs = op.byType[n.t]
		}
		for _, c := range cs {
			v, ok := obj[c.key]
			if !ok || v == nil {
				continue
			}
			if arr, ok := v.([]any); ok {
				for _, x := range arr {
					if x != nil {
						out = evalOps(ops[1:], typed(x, c.typ, c.sys), root, out)
					}
				}
			} else {
				out = evalOps(ops[1:], typed(v, c.typ, c.sys), root, out)
			}
		}
		return out
	case fopAs:
		for _, t := range op.types {
			if n.t != "" && model.IsA(n.t, t) {
				return evalOps(ops[1:], n, root, out)
			}
		}
		return out
	case fopRefIs:
		if t := refTargetType(n.v, root); t != "" && model.IsA(t, op.lit) {
			return evalOps(ops[1:], n, root, out)
		}
		return out
	case fopEq:
		if obj, ok := n.v.(map[string]any); ok {
			if s, ok := obj[op.key].(string); ok && s == op.lit {
				return evalOps(ops[1:], n, root, out)
			}
		}
		return out
	}
	return out
}

// typed gives a value its type; "" (a resource) is typed by resourceType.
func typed(v any, t, sys string) node {
	if t == "" {
		if m, ok := v.(map[string]any); ok {
			t, _ = m["resourceType"].(string)
		}
	}
	return node{v: v, t: t, sys: sys}
}

// refTargetType is the type of resource a Reference points to, as far as
// the reference itself tells: its literal (Type/id, an absolute URL ending in
// Type/id[/_history/v], or #id of a contained resource) or else its type.
func refTargetType(v any, root map[string]any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if ref, ok := obj["reference"].(string); ok && ref != "" {
		if id, ok := strings.CutPrefix(ref, "#"); ok {
			if c := containedByID(root, id); c != nil {
				t, _ := c["resourceType"].(string)
				return t
			}
			return ""
		}
		if t, _, _ := splitRef(ref); t != "" {
			return t
		}
	}
	if t, ok := obj["type"].(string); ok {
		t = strings.TrimPrefix(t, "http://hl7.org/fhir/StructureDefinition/")
		if model.IsResource(t) {
			return t
		}
	}
	return ""
}

func containedByID(root map[string]any, id string) map[string]any {
	cs, _ := root["contained"].([]any)
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["id"] == id {
			return m
		}
	}
	return nil
}

// splitRef finds Type/id at the end of a relative or absolute reference
// (ignoring a /_history/version suffix). Type is "" when there is none.
func splitRef(ref string) (typ, id, base string) {
	s := ref
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	j := strings.LastIndexByte(s, '/')
	if j <= 0 {
		return "", "", ""
	}
	id = s[j+1:]
	k := strings.LastIndexByte(s[:j], '/')
	typ = s[k+1 : j]
	if !model.IsResource(typ) || id == "" {
		return "", "", ""
	}
	return typ, id, s[:k+1]
}
