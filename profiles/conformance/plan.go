package conformance

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/fhirpath"
	"github.com/dccfhir/dccfhir/fhir/model"
)

// plan is a profile compiled for validation.
type plan struct {
	url  string
	sd   *StructureDefinition
	root *node
	// err is set when the profile could not be compiled (no snapshot, base
	// missing); validating against it then yields one error.
	err error
}

// node is the validation rule of one element definition, with its children
// and slices.
type node struct {
	id, name string // name is the last path segment ("value[x]")
	choice   bool
	baseName string // name without [x]
	extKey   string // "_name", the JSON key of a primitive's id and extensions
	// choiceKeys maps the JSON names of the allowed types of a choice
	// element to the type ("valueCoding" → "Coding").
	choiceKeys map[string]string
	sliceName  string

	min, max           int // max -1 for *
	checkMin, checkMax bool

	types []typeRule
	// fpType is the FHIR type of a value of a single-typed element, backbone
	// elements named by their base path ("Observation.component") as
	// FHIRPath's model knows them.
	fpType string

	fixed, pattern any

	binding     *bindingRule
	maxLength   int
	constraints []*constraintRule
	targets     []string // allowed reference target types, when narrowed

	children []*node
	slicing  *slicingRule

	// slice-only: how an instance item is recognised as this slice.
	discs []discMatch
	// contentRef names the element whose children this one reuses.
	contentRef string
}

type typeRule struct {
	code     string
	profiles []string
	plans    []*plan
}

type bindingRule struct {
	strength string
	valueSet string
	exp      *expansion
}

type constraintRule struct {
	key, severity, human, src string
	expr                      *fhirpath.Expression
	bad                       string // compile error, reported as a warning
}

type slicingRule struct {
	discriminators []discriminator
	rules          string // open, closed, openAtEnd
	ordered        bool
	slices         []*node
}

type discriminator struct {
	typ  string // value, pattern, type, profile, exists
	path string
	segs []string
}

// discMatch is one discriminator resolved for one slice.
type discMatch struct {
	kind     uint8 // discValue, discType, discFallback
	segs     []string
	expected []any
	exact    bool
	types    []string
	binding  *bindingRule
}

const (
	discValue uint8 = iota
	discType
	discBinding
	discFallback
)

// planLocked returns the compiled plan for url (nil if the definition is not
// loaded), compiling it and the profiles it references once.
func (s *Set) planLocked(url string) *plan {
	if p, ok := s.plans[url]; ok {
		return p
	}
	sd := s.sdLocked(url)
	if sd == nil {
		s.plans[url] = nil
		return nil
	}
	if p, ok := s.plans[sd.URL]; ok && p != nil {
		s.plans[url] = p
		return p
	}
	p := &plan{url: sd.URL, sd: sd}
	s.plans[url] = p
	s.plans[sd.URL] = p
	if err := s.ensureSnapshot(sd, 0); err != nil {
		p.err = err
		s.problem("%v", err)
		return p
	}
	p.root, p.err = s.compile(sd)
	if p.err != nil {
		s.problem("%s: %v", sd.URL, p.err)
	}
	return p
}

// plan is planLocked for callers without the lock.
func (s *Set) plan(url string) *plan {
	s.mu.RLock()
	p, ok := s.plans[url]
	s.mu.RUnlock()
	if ok {
		return p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.planLocked(url)
}

// Compile compiles every loaded non-base profile now rather than on first
// use, and returns the problems found (as Problems does).
func (s *Set) Compile() []string {
	for _, u := range s.Profiles() {
		s.plan(u)
	}
	return s.Problems()
}

// compile builds the node tree of a snapshot.
func (s *Set) compile(sd *StructureDefinition) (*node, error) {
	if len(sd.Snapshot) == 0 {
		return nil, fmt.Errorf("empty snapshot")
	}
	byID := make(map[string]*node, len(sd.Snapshot))
	var root *node
	for _, e := range sd.Snapshot {
		id := str(e["id"])
		if id == "" {
			id = str(e["path"])
			if sn := str(e["sliceName"]); sn != "" {
				id += ":" + sn
			}
		}
		n := s.compileElement(sd, e, id)
		byID[id] = n
		if root == nil {
			root = n
			continue
		}
		parentID, last := splitID(id)
		if name, _, isSlice := strings.Cut(last, ":"); isSlice {
			sliced := name
			if parentID != "" {
				sliced = parentID + "." + name
			}
			// Re-slices ("a:b/c") hang off their parent slice.
			if i := strings.LastIndexByte(last, '/'); i >= 0 {
				sliced = joinID(parentID, last[:i])
			}
			owner := byID[sliced]
			if owner == nil {
				continue
			}
			if owner.slicing == nil {
				// Slices without a slicing entry: assume by value of url for
				// extensions, else match by validation.
				owner.slicing = &slicingRule{rules: "open"}
				if owner.name == "extension" || owner.name == "modifierExtension" {
					owner.slicing.discriminators = []discriminator{{typ: "value", path: "url", segs: []string{"url"}}}
				}
			}
			owner.slicing.slices = append(owner.slicing.slices, n)
			continue
		}
		parent := byID[parentID]
		if parent == nil {
			continue
		}
		parent.children = append(parent.children, n)
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	// Second pass: resolve contentReference, type profiles and slice discriminators.
	for _, n := range byID {
		if n.contentRef != "" {
			if ref := byID[strings.TrimPrefix(n.contentRef, "#")]; ref != nil {
				n.children = ref.children
			}
		}
	}
	for _, n := range byID {
		for i := range n.types {
			for _, pu := range n.types[i].profiles {
				// Profiles naming the base type itself add nothing.
				if isBaseType(pu) {
					continue
				}
				n.types[i].plans = append(n.types[i].plans, s.planLocked(pu))
			}
		}
	}
	for _, n := range byID {
		if n.slicing == nil {
			continue
		}
		for _, sl := range n.slicing.slices {
			sl.discs = s.resolveDiscs(n, sl)
		}
	}
	return root, nil
}

func joinID(parent, last string) string {
	if parent == "" {
		return last
	}
	return parent + "." + last
}

func (s *Set) compileElement(sd *StructureDefinition, e map[string]any, id string) *node {
	path := str(e["path"])
	n := &node{id: id, sliceName: str(e["sliceName"])}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		n.name = path[i+1:]
	} else {
		n.name = path
	}
	n.choice = strings.HasSuffix(n.name, "[x]")
	n.baseName = strings.TrimSuffix(n.name, "[x]")
	n.extKey = "_" + n.name
	n.contentRef = str(e["contentReference"])
	n.min = intOf(e["min"], 0)
	n.max = maxOf(e["max"])
	bm, bmax := 0, -1
	var baseEl map[string]any
	if b, ok := e["base"].(map[string]any); ok {
		bm, bmax = intOf(b["min"], 0), maxOf(b["max"])
		baseEl = base.elems[str(b["path"])]
	} else {
		bm, bmax = -1, -2 // unknown base: check everything
	}
	if n.sliceName != "" || baseEl == nil {
		n.checkMin, n.checkMax = n.min > 0, n.max >= 0
	} else {
		n.checkMin = n.min > bm
		n.checkMax = n.max >= 0 && (bmax < 0 || n.max < bmax)
	}
	if ts, ok := e["type"].([]any); ok {
		for _, t := range ts {
			tm, _ := t.(map[string]any)
			tr := typeRule{code: typeCode(tm)}
			tr.profiles = append(tr.profiles, anyStrings(tm["profile"])...)
			n.types = append(n.types, tr)
			if tps := anyStrings(tm["targetProfile"]); len(tps) > 0 && !sameTargets(tps, baseEl) {
				for _, tp := range tps {
					n.targets = append(n.targets, s.targetType(tp))
				}
			}
		}
	}
	if n.choice {
		n.choiceKeys = make(map[string]string, len(n.types))
		for _, t := range n.types {
			if t.code != "" {
				n.choiceKeys[n.baseName+strings.ToUpper(t.code[:1])+t.code[1:]] = t.code
			}
		}
	}
	if len(n.types) == 1 {
		n.fpType = n.types[0].code
		if n.fpType == "BackboneElement" || n.fpType == "Element" {
			if b, ok := e["base"].(map[string]any); ok && model.Lookup(str(b["path"])) != nil {
				n.fpType = str(b["path"])
			} else if model.Lookup(path) != nil {
				n.fpType = path
			}
		}
	}
	for k, v := range e {
		if strings.HasPrefix(k, "fixed") && len(k) > 5 {
			n.fixed = v
		} else if strings.HasPrefix(k, "pattern") && len(k) > 7 {
			n.pattern = v
		}
	}
	n.maxLength = intOf(e["maxLength"], 0)
	if b, ok := e["binding"].(map[string]any); ok {
		strength, vs := str(b["strength"]), str(b["valueSet"])
		if (strength == "required" || strength == "extensible") && vs != "" && !sameBinding(b, baseEl) {
			n.binding = &bindingRule{strength: strength, valueSet: vs, exp: s.expand(vs, 0)}
		}
	}
	if cs, ok := e["constraint"].([]any); ok {
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			key := str(cm["key"])
			expr := str(cm["expression"])
			if expr == "" || base.keys[key] {
				continue
			}
			cr := &constraintRule{key: key, severity: str(cm["severity"]), human: str(cm["human"]), src: sd.URL}
			x, err := fhirpath.Compile(expr)
			if err != nil {
				cr.bad = err.Error()
				s.problem("%s: invariant %s: %v", sd.URL, key, err)
			} else {
				cr.expr = x
			}
			n.constraints = append(n.constraints, cr)
		}
	}
	if sl, ok := e["slicing"].(map[string]any); ok {
		r := &slicingRule{rules: str(sl["rules"])}
		r.ordered, _ = sl["ordered"].(bool)
		ds, _ := sl["discriminator"].([]any)
		for _, d := range ds {
			dm, _ := d.(map[string]any)
			p := str(dm["path"])
			r.discriminators = append(r.discriminators, discriminator{typ: str(dm["type"]), path: p, segs: splitPath(p)})
		}
		n.slicing = r
	}
	return n
}

// typeCode is the type code, mapping the FHIRPath system types used for
// primitive values (id, url, ...) to the FHIR type they stand for.
func typeCode(t map[string]any) string {
	code := str(t["code"])
	if strings.HasPrefix(code, "http://hl7.org/fhirpath/System.") {
		exts, _ := t["extension"].([]any)
		for _, x := range exts {
			xm, _ := x.(map[string]any)
			if v := str(xm["valueUrl"]); v != "" {
				return v
			}
		}
		return "string"
	}
	return code
}

// targetType is the resource type a targetProfile constrains to.
func (s *Set) targetType(url string) string {
	if sd := s.sdLocked(url); sd != nil && sd.Type != "" {
		return sd.Type
	}
	u, _, _ := strings.Cut(url, "|")
	if i := strings.LastIndexByte(u, '/'); i >= 0 && model.IsResource(u[i+1:]) {
		return u[i+1:]
	}
	return "" // unknown: any type accepted
}

// sameTargets reports whether an element allows the same reference targets
// as the base element (so base validation already checks them).
func sameTargets(tps []string, baseEl map[string]any) bool {
	if baseEl == nil {
		return false
	}
	want := map[string]bool{}
	ts, _ := baseEl["type"].([]any)
	for _, t := range ts {
		tm, _ := t.(map[string]any)
		for _, p := range anyStrings(tm["targetProfile"]) {
			want[unversioned(p)] = true
		}
	}
	got := map[string]bool{}
	for _, p := range tps {
		if !want[unversioned(p)] {
			return false
		}
		got[unversioned(p)] = true
	}
	return len(got) == len(want)
}

// sameBinding reports whether a binding is the base element's own.
func sameBinding(b, baseEl map[string]any) bool {
	if baseEl == nil {
		return false
	}
	bb, ok := baseEl["binding"].(map[string]any)
	if !ok {
		return false
	}
	return str(bb["strength"]) == str(b["strength"]) && unversioned(str(bb["valueSet"])) == unversioned(str(b["valueSet"]))
}

func unversioned(u string) string { u, _, _ = strings.Cut(u, "|"); return u }

func anyStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func intOf(v any, def int) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	case interface{ String() string }:
		if i, err := strconv.Atoi(x.String()); err == nil {
			return i
		}
	}
	return def
}

func maxOf(v any) int {
	s := str(v)
	if s == "" || s == "*" {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return i
}

// splitPath splits a discriminator path at dots outside parentheses and
// quotes ("extension('http://a.b/c').value" → two segments).
func splitPath(p string) []string {
	var out []string
	depth, quote, start := 0, false, 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\'':
			quote = !quote
		case quote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '.' && depth == 0:
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// extArg returns the url of an "extension('url')" segment.
func extArg(seg string) (string, bool) {
	inner, ok := strings.CutPrefix(seg, "extension(")
	if !ok {
		return "", false
	}
	inner = strings.TrimSuffix(inner, ")")
	return strings.Trim(inner, `'"`), true
}

// resolveDiscs works out, for one slice, the value each discriminator
// expects, from the fixed/pattern values in the slice's subtree (or the
// extension profile the slice is typed with). What cannot be worked out
// falls back to matching by validating the item against the slice.
func (s *Set) resolveDiscs(owner, sl *node) []discMatch {
	var out []discMatch
	for _, d := range owner.slicing.discriminators {
		switch d.typ {
		case "value", "pattern":
			vals, exact, ok := s.expectedAt(sl, d.segs, 0)
			if !ok {
				// Slices told apart by their value sets (FR Core's qualification codings).
				if t := nodeAt(sl, d.segs); t != nil && t.binding != nil {
					out = append(out, discMatch{kind: discBinding, segs: d.segs, binding: t.binding})
					continue
				}
				return []discMatch{{kind: discFallback}}
			}
			out = append(out, discMatch{kind: discValue, segs: d.segs, expected: vals, exact: exact})
		case "type":
			if len(d.segs) == 1 && (d.segs[0] == "$this" || d.segs[0] == "resource") && len(sl.types) > 0 {
				dm := discMatch{kind: discType, segs: d.segs}
				for _, t := range sl.types {
					dm.types = append(dm.types, t.code)
				}
				out = append(out, dm)
				continue
			}
			return []discMatch{{kind: discFallback}}
		default:
			return []discMatch{{kind: discFallback}}
		}
	}
	if len(out) == 0 {
		return []discMatch{{kind: discFallback}}
	}
	return out
}

func (s *Set) expectedAt(n *node, segs []string, depth int) ([]any, bool, bool) {
	if depth > 8 {
		return nil, false, false
	}
	if len(segs) > 0 && segs[0] == "$this" {
		segs = segs[1:]
	}
	if n.fixed != nil || n.pattern != nil {
		v, exact := n.pattern, false
		if n.fixed != nil {
			v, exact = n.fixed, true
		}
		vals := navigate(v, segs)
		return vals, exact, len(vals) > 0
	}
	if len(segs) == 0 {
		return nil, false, false
	}
	seg := segs[0]
	if u, ok := extArg(seg); ok {
		if ext := n.child("extension"); ext != nil && ext.slicing != nil {
			for _, sub := range ext.slicing.slices {
				if extURL(sub) == u {
					return s.expectedAt(sub, segs[1:], depth+1)
				}
			}
		}
		return nil, false, false
	}
	if seg == "url" && len(segs) == 1 {
		if u := extURL(n); u != "" {
			return []any{u}, true, true
		}
	}
	if c := n.child(seg); c != nil {
		return s.expectedAt(c, segs[1:], depth+1)
	}
	// A sliced element: the values its required slices fix.
	if n.slicing != nil {
		var vals []any
		exact := true
		for _, sl := range n.slicing.slices {
			if sl.min < 1 {
				continue
			}
			v, ex, ok := s.expectedAt(sl, segs, depth+1)
			if !ok {
				return nil, false, false
			}
			vals = append(vals, v...)
			exact = exact && ex
		}
		if len(vals) > 0 {
			return vals, exact, true
		}
	}
	// Not expanded here: look into the type's profile.
	for _, t := range n.types {
		for _, p := range t.plans {
			if p != nil && p.root != nil {
				if v, ex, ok := s.expectedAt(p.root, segs, depth+1); ok {
					return v, ex, ok
				}
			}
		}
	}
	return nil, false, false
}

// extURL is the url an extension slice stands for: its fixed url child, or
// the canonical of the extension profile it is typed with.
func extURL(n *node) string {
	if u := n.child("url"); u != nil {
		if s, ok := u.fixed.(string); ok {
			return s
		}
	}
	for _, t := range n.types {
		if t.code == "Extension" && len(t.profiles) > 0 {
			return unversioned(t.profiles[0])
		}
	}
	return ""
}

func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name || (c.choice && c.baseName == name) {
			return c
		}
	}
	return nil
}

// navigate follows segs through a JSON value, flattening arrays; a "value"
// step on an extension picks its value[x].
func navigate(v any, segs []string) []any {
	cur := []any{v}
	for _, seg := range segs {
		if seg == "$this" {
			continue
		}
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			if u, ok := extArg(seg); ok {
				exts, _ := m["extension"].([]any)
				for _, x := range exts {
					if xm, ok := x.(map[string]any); ok && str(xm["url"]) == u {
						next = append(next, xm)
					}
				}
				continue
			}
			val, ok := m[seg]
			if !ok {
				val = choiceValue(m, seg)
			}
			switch a := val.(type) {
			case nil:
			case []any:
				next = append(next, a...)
			default:
				next = append(next, a)
			}
		}
		cur = next
	}
	return cur
}

// choiceValue finds name[x] in m (valueCoding for "value").
func choiceValue(m map[string]any, name string) any {
	for k, v := range m {
		if len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' {
			return v
		}
	}
	return nil
}

// nodeAt follows plain child steps from n.
func nodeAt(n *node, segs []string) *node {
	for _, seg := range segs {
		if seg == "$this" {
			continue
		}
		if n = n.child(seg); n == nil {
			return nil
		}
	}
	return n
}
