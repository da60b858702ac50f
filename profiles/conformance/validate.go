package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/fhirpath"
	"github.com/dccfhir/dccfhir/fhir/model"
)

// Validate checks res against the profile profileURL ("|version" allowed)
// and returns the issues found, with FHIRPath locations such as
// "Patient.identifier[1]" or "Patient.extension('http://…')". Only what the
// profile adds to the base resource definition is checked. An unknown
// profile is one error issue.
func (s *Set) Validate(res map[string]any, profileURL string) []fhir.Issue {
	p := s.plan(profileURL)
	if p == nil {
		return []fhir.Issue{{Severity: "error", Code: "not-supported", Diagnostics: fmt.Sprintf("profile %s is not known to this server", profileURL)}}
	}
	rt, _ := res["resourceType"].(string)
	if p.err != nil {
		return []fhir.Issue{{Severity: "error", Code: "exception", Diagnostics: fmt.Sprintf("profile %s cannot be used: %v", profileURL, p.err), Expression: []string{rt}}}
	}
	if p.sd.Type != rt {
		return []fhir.Issue{{Severity: "error", Code: "invalid", Diagnostics: fmt.Sprintf("profile %s is for %s, not %s", profileURL, p.sd.Type, rt), Expression: []string{rt}}}
	}
	v := vctx{s: s, res: res}
	root := &loc{disp: rt, idx: -1}
	v.value(item{val: res, typ: rt}, p.root, root, true)
	return dedupe(v.issues)
}

// ValidateClaimed validates res against every profile in meta.profile; a
// claimed profile that is not loaded is an error, since the server cannot
// vouch for a conformance it does not know.
func (s *Set) ValidateClaimed(res map[string]any) []fhir.Issue {
	meta, _ := res["meta"].(map[string]any)
	profs, _ := meta["profile"].([]any)
	rt, _ := res["resourceType"].(string)
	var out []fhir.Issue
	for i, p := range profs {
		u, _ := p.(string)
		if u == "" {
			continue
		}
		if !s.Has(u) {
			out = append(out, fhir.Issue{Severity: "error", Code: "not-supported",
				Diagnostics: fmt.Sprintf("claimed profile %s is not known to this server", u),
				Expression:  []string{rt + ".meta.profile[" + strconv.Itoa(i) + "]"}})
			continue
		}
		out = append(out, s.Validate(res, u)...)
	}
	return out
}

// HasErrors reports whether issues hold an error or fatal issue.
func HasErrors(issues []fhir.Issue) bool {
	for _, i := range issues {
		if i.Severity == "error" || i.Severity == "fatal" {
			return true
		}
	}
	return false
}

// loc is a location in the resource, kept as a chain and rendered only when
// an issue needs it.
type loc struct {
	parent *loc
	key    string // JSON key ("valueCoding")
	disp   string // FHIRPath segment ("value.ofType(Coding)", "extension('u')")
	idx    int    // array index, -1 for a single value
}

func (l *loc) String() string {
	if l.parent == nil {
		return l.disp
	}
	var b strings.Builder
	l.render(&b)
	return b.String()
}

func (l *loc) render(b *strings.Builder) {
	if l.parent != nil {
		l.parent.render(b)
		b.WriteByte('.')
	}
	b.WriteString(l.disp)
	if l.idx >= 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(l.idx))
		b.WriteByte(']')
	}
}

// item is one value of an element in the instance.
type item struct {
	val any
	typ string // FHIR type ("Coding", "string"), "" when unknown
	key string // JSON key
	idx int
}

type vctx struct {
	s      *Set
	res    map[string]any
	issues []fhir.Issue
	depth  int
}

func (v *vctx) add(sev, code string, l *loc, format string, args ...any) {
	is := fhir.Issue{Severity: sev, Code: code, Diagnostics: fmt.Sprintf(format, args...)}
	if l != nil {
		is.Expression = []string{l.String()}
	}
	v.issues = append(v.issues, is)
}

func (v *vctx) errors() int {
	n := 0
	for _, i := range v.issues {
		if i.Severity == "error" {
			n++
		}
	}
	return n
}

// value checks one item against element n. noScan is set when another rule
// (a slice, the root) describes the item's content, so that its extensions
// are not looked for twice.
func (v *vctx) value(it item, n *node, l *loc, noScan bool) {
	if v.depth > 40 {
		return
	}
	v.depth++
	defer func() { v.depth-- }()
	if len(n.types) > 0 && it.typ != "" && n.choice {
		ok := false
		for _, t := range n.types {
			if t.code == it.typ || model.IsA(it.typ, t.code) {
				ok = true
				break
			}
		}
		if !ok {
			v.add("error", "structure", l, "type %s is not allowed here (allowed: %s)", it.typ, typeList(n.types))
			return
		}
	}
	if n.fixed != nil && !fhir.Equal(n.fixed, it.val) {
		v.add("error", "value", l, "value must be exactly %s", compact(n.fixed))
	}
	if n.pattern != nil && !matchPattern(n.pattern, it.val) {
		v.add("error", "value", l, "value must match the pattern %s", compact(n.pattern))
	}
	if n.maxLength > 0 {
		if s, ok := it.val.(string); ok && utf8.RuneCountInString(s) > n.maxLength {
			v.add("error", "too-long", l, "longer than %d characters", n.maxLength)
		}
	}
	if n.binding != nil {
		v.checkBinding(it, n.binding, l)
	}
	if len(n.targets) > 0 {
		v.checkTarget(it, n.targets, l)
	}
	for _, c := range n.constraints {
		v.checkConstraint(it, c, l)
	}
	obj, isObj := it.val.(map[string]any)
	if !isObj {
		return
	}
	if len(n.children) > 0 {
		v.object(obj, n, l)
	}
	profiled := false
	for _, t := range n.types {
		if len(t.plans) == 0 || (it.typ != "" && t.code != it.typ && len(n.types) > 1) {
			continue
		}
		profiled = true
		v.againstProfiles(obj, t, l)
	}
	if len(n.children) == 0 && !profiled && !noScan {
		v.scan(obj, l)
	}
}

// againstProfiles validates obj against a type's profiles: it must conform
// to one of them.
func (v *vctx) againstProfiles(obj map[string]any, t typeRule, l *loc) {
	var loaded []*plan
	for i, p := range t.plans {
		if p == nil || p.root == nil {
			v.add("warning", "not-supported", l, "profile %s is not loaded; conformance to it is not checked", t.profiles[i])
			continue
		}
		loaded = append(loaded, p)
	}
	if len(loaded) == 1 {
		v.object(obj, loaded[0].root, l)
		v.constraintsOf(obj, loaded[0].root, l, t.code)
		return
	}
	var first []fhir.Issue
	for i, p := range loaded {
		sub := vctx{s: v.s, res: v.res, depth: v.depth}
		sub.object(obj, p.root, l)
		sub.constraintsOf(obj, p.root, l, t.code)
		if sub.errors() == 0 {
			v.issues = append(v.issues, sub.issues...)
			return
		}
		if i == 0 {
			first = sub.issues
		}
	}
	v.issues = append(v.issues, first...)
}

// constraintsOf evaluates a profile root's own invariants and value rules on
// obj (object only walks children).
func (v *vctx) constraintsOf(obj map[string]any, root *node, l *loc, typ string) {
	for _, c := range root.constraints {
		v.checkConstraint(item{val: obj, typ: typ}, c, l)
	}
}

// object checks the children of n against the members of obj.
func (v *vctx) object(obj map[string]any, n *node, l *loc) {
	var buf [8]item
	for _, c := range n.children {
		items := collect(obj, c, buf[:0])
		v.element(items, c, l)
	}
}

// collect gathers the instance values of element c in obj.
func collect(obj map[string]any, c *node, out []item) []item {
	if c.choice {
		for k, val := range obj {
			if len(k) <= len(c.baseName) || !strings.HasPrefix(k, c.baseName) {
				continue
			}
			suffix := k[len(c.baseName):]
			if suffix[0] < 'A' || suffix[0] > 'Z' {
				continue
			}
			typ, ok := c.choiceKeys[k]
			if !ok {
				typ = suffix
				if lower := strings.ToLower(suffix[:1]) + suffix[1:]; model.IsPrimitive(lower) {
					typ = lower
				}
			}
			var ext any
			if model.IsPrimitive(typ) {
				ext = obj["_"+k]
			}
			out = appendValues(out, val, ext, typ, k)
		}
		return out
	}
	val, ok := obj[c.name]
	ext := obj[c.extKey]
	if !ok && ext == nil {
		return out
	}
	return appendValues(out, val, ext, c.fpType, c.name)
}

func appendValues(out []item, val, ext any, typ, key string) []item {
	if arr, ok := val.([]any); ok {
		for i, x := range arr {
			out = append(out, item{val: x, typ: typ, key: key, idx: i})
		}
		return out
	}
	if val == nil {
		if earr, ok := ext.([]any); ok {
			for i := range earr {
				out = append(out, item{typ: typ, key: key, idx: i})
			}
			return out
		}
		if ext != nil {
			return append(out, item{typ: typ, key: key, idx: -1})
		}
		return out
	}
	return append(out, item{val: val, typ: typ, key: key, idx: -1})
}

func itemLoc(parent *loc, c *node, it item) loc {
	disp := c.name
	if c.choice {
		disp = c.baseName + ".ofType(" + it.typ + ")"
	}
	if (c.name == "extension" || c.name == "modifierExtension") && it.val != nil {
		if m, ok := it.val.(map[string]any); ok {
			if u := str(m["url"]); u != "" {
				return loc{parent: parent, key: it.key, disp: c.name + "('" + u + "')", idx: -1}
			}
		}
	}
	return loc{parent: parent, key: it.key, disp: disp, idx: it.idx}
}

// element checks the values of one element: cardinality, slices, and each value.
func (v *vctx) element(items []item, c *node, parent *loc) {
	if c.checkMin && len(items) < c.min {
		v.add("error", "required", &loc{parent: parent, key: c.name, disp: elemDisp(c), idx: -1},
			"%s: minimum required = %d, but only found %d", c.id, c.min, len(items))
	}
	if c.checkMax && len(items) > c.max {
		v.add("error", "structure", &loc{parent: parent, key: c.name, disp: elemDisp(c), idx: -1},
			"%s: maximum allowed = %d, but found %d", c.id, c.max, len(items))
	}
	if len(items) == 0 {
		if c.slicing != nil {
			v.sliceCounts(c, nil, parent)
		}
		return
	}
	isExt := c.name == "extension" || c.name == "modifierExtension"
	var assigned []int
	if c.slicing != nil && len(c.slicing.slices) > 0 {
		assigned = v.assign(items, c, parent)
	}
	for i, it := range items {
		l := itemLoc(parent, c, it)
		inSlice := assigned != nil && assigned[i] >= 0
		if !isExt {
			v.value(it, c, &l, inSlice)
		}
		if inSlice {
			v.value(it, c.slicing.slices[assigned[i]], &l, false)
		} else if isExt {
			v.extensionByURL(it, &l)
		}
	}
}

func elemDisp(c *node) string {
	if c.choice {
		return c.baseName
	}
	return c.name
}

// assign puts each item in the slice it matches (-1 for none) and checks the
// slice cardinalities and the slicing rules.
func (v *vctx) assign(items []item, c *node, parent *loc) []int {
	sl := c.slicing
	assigned := make([]int, len(items))
	lastMatched := -1
	undecided := false
	for i, it := range items {
		assigned[i] = -1
		for j, s := range sl.slices {
			m := v.matches(it, s)
			if m == memberYes {
				assigned[i] = j
				lastMatched = i
				break
			}
			if m == memberUnknown {
				assigned[i] = -2
			}
		}
		if assigned[i] == -2 {
			undecided = true
			il := itemLoc(parent, c, it)
			v.add("warning", "not-supported", &il, "%s: cannot tell which slice this is (the value sets that tell the slices apart are not loaded)", c.id)
		}
	}
	for i, a := range assigned {
		if a >= 0 || a == -2 {
			continue
		}
		il := itemLoc(parent, c, items[i])
		switch sl.rules {
		case "closed":
			v.add("error", "structure", &il, "%s: does not match any slice of the closed slicing (slices: %s)", c.id, sliceNames(sl))
		case "openAtEnd":
			if i < lastMatched {
				v.add("error", "structure", &il, "%s: unmatched items must come after the slices (openAtEnd)", c.id)
			}
		}
	}
	if !undecided {
		v.sliceCounts(c, assigned, parent)
	}
	return assigned
}

func (v *vctx) sliceCounts(c *node, assigned []int, parent *loc) {
	for j, s := range c.slicing.slices {
		n := 0
		for _, a := range assigned {
			if a == j {
				n++
			}
		}
		l := &loc{parent: parent, key: c.name, disp: elemDisp(c), idx: -1}
		if n < s.min {
			v.add("error", "required", l, "%s: slice %s requires at least %d, found %d", c.id, s.sliceName, s.min, n)
		}
		if s.max >= 0 && n > s.max {
			v.add("error", "structure", l, "%s: slice %s allows at most %d, found %d", c.id, s.sliceName, s.max, n)
		}
	}
}

func sliceNames(sl *slicingRule) string {
	var names []string
	for _, s := range sl.slices {
		names = append(names, s.sliceName)
	}
	return strings.Join(names, ", ")
}

// matches reports whether it belongs to slice s (memberUnknown when the
// slice is told apart by a value set that cannot be checked here).
func (v *vctx) matches(it item, s *node) membership {
	res := memberYes
	for _, d := range s.discs {
		switch d.kind {
		case discType:
			typ := it.typ
			if len(d.segs) == 1 && d.segs[0] == "resource" {
				m, _ := it.val.(map[string]any)
				r, _ := m["resource"].(map[string]any)
				typ = str(r["resourceType"])
			}
			ok := false
			for _, t := range d.types {
				if t == typ {
					ok = true
				}
			}
			if !ok {
				return memberNo
			}
		case discBinding:
			got := navigate(it.val, d.segs)
			best := memberNo
			for _, g := range got {
				var m membership
				switch x := g.(type) {
				case string:
					m = d.binding.exp.contains("", x)
				case map[string]any:
					if cs, ok := x["coding"].([]any); ok {
						for _, c := range cs {
							cm, _ := c.(map[string]any)
							r := d.binding.exp.contains(str(cm["system"]), str(cm["code"]))
							if r == memberYes {
								m = memberYes
								break
							}
							if r == memberUnknown {
								m = memberUnknown
							}
						}
					} else {
						m = d.binding.exp.contains(str(x["system"]), str(x["code"]))
					}
				}
				if m == memberYes {
					best = memberYes
					break
				}
				if m == memberUnknown {
					best = memberUnknown
				}
			}
			if best == memberNo {
				return memberNo
			}
			if best == memberUnknown {
				res = memberUnknown
			}
		case discValue:
			got := navigate(it.val, d.segs)
			for _, want := range d.expected {
				found := false
				for _, g := range got {
					if (d.exact && fhir.Equal(want, g)) || (!d.exact && matchPattern(want, g)) {
						found = true
						break
					}
				}
				if !found {
					return memberNo
				}
			}
		default:
			sub := vctx{s: v.s, res: v.res, depth: v.depth}
			sub.value(it, s, &loc{disp: "x", idx: -1}, false)
			if sub.errors() > 0 {
				return memberNo
			}
		}
	}
	return res
}

// extensionByURL validates an extension no slice claimed against the
// definition its url names, when loaded.
func (v *vctx) extensionByURL(it item, l *loc) {
	m, ok := it.val.(map[string]any)
	if !ok {
		return
	}
	u := str(m["url"])
	if u == "" {
		return
	}
	p := v.s.plan(u)
	if p == nil || p.root == nil {
		if strings.Contains(u, ":") {
			v.add("warning", "extension", l, "unknown extension %s: its definition is not loaded, so it is not checked", u)
		} else {
			v.add("warning", "extension", l, "extension %s is not defined here", u)
		}
		return
	}
	if p.sd.Type != "Extension" {
		v.add("error", "structure", l, "%s is not an extension definition", u)
		return
	}
	v.object(m, p.root, l)
	v.constraintsOf(m, p.root, l, "Extension")
}

// scan looks for extensions inside a value the profile does not describe
// further, so every extension is checked against its definition.
func (v *vctx) scan(obj map[string]any, l *loc) {
	for k, val := range obj {
		if k == "resourceType" || k == "text" || k == "contained" {
			continue
		}
		if k == "extension" || k == "modifierExtension" {
			arr, _ := val.([]any)
			for i, x := range arr {
				it := item{val: x, typ: "Extension", key: k, idx: i}
				il := itemLoc(l, &node{name: k}, it)
				v.extensionByURL(it, &il)
			}
			continue
		}
		key := strings.TrimPrefix(k, "_")
		switch x := val.(type) {
		case map[string]any:
			v.scan(x, &loc{parent: l, key: key, disp: key, idx: -1})
		case []any:
			for i, e := range x {
				if m, ok := e.(map[string]any); ok {
					v.scan(m, &loc{parent: l, key: key, disp: key, idx: i})
				}
			}
		}
	}
}

func (v *vctx) checkBinding(it item, b *bindingRule, l *loc) {
	type code struct{ system, code string }
	var codes []code
	switch x := it.val.(type) {
	case string:
		codes = append(codes, code{"", x})
	case map[string]any:
		if cs, ok := x["coding"].([]any); ok {
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				codes = append(codes, code{str(cm["system"]), str(cm["code"])})
			}
		} else if c := str(x["code"]); c != "" {
			codes = append(codes, code{str(x["system"]), c})
		} else {
			if _, isCC := x["text"]; isCC && b.strength == "required" {
				v.add("error", "code-invalid", l, "no code from the required value set %s", b.valueSet)
			}
			return
		}
	default:
		return
	}
	if len(codes) == 0 {
		return
	}
	unknown := false
	for _, c := range codes {
		switch b.exp.contains(c.system, c.code) {
		case memberYes:
			return
		case memberUnknown:
			unknown = true
		}
	}
	if unknown {
		if b.exp.missing {
			v.add("warning", "not-supported", l, "cannot check binding: value set %s is not loaded", b.valueSet)
		} else {
			v.add("warning", "not-supported", l, "cannot check binding: value set %s draws on a code system that is not loaded", b.valueSet)
		}
		return
	}
	sev := "error"
	if b.strength == "extensible" {
		sev = "warning"
	}
	c := codes[0]
	v.add(sev, "code-invalid", l, "code %s is not in the %s value set %s", strings.TrimPrefix(c.system+"#"+c.code, "#"), b.strength, b.valueSet)
}

func (v *vctx) checkTarget(it item, targets []string, l *loc) {
	m, ok := it.val.(map[string]any)
	if !ok {
		return
	}
	ref := str(m["reference"])
	typ := str(m["type"])
	if typ == "" && ref != "" && !strings.HasPrefix(ref, "#") && !strings.HasPrefix(ref, "urn:") {
		parts := strings.Split(strings.TrimSuffix(ref, "/"), "/")
		for i := len(parts) - 2; i >= 0; i-- {
			if model.IsResource(parts[i]) {
				typ = parts[i]
				break
			}
		}
	}
	if typ == "" {
		return
	}
	for _, t := range targets {
		if t == "" || t == typ || t == "Resource" {
			return
		}
	}
	v.add("error", "structure", l, "reference to a %s, allowed targets: %s", typ, strings.Join(targets, ", "))
}

func (v *vctx) checkConstraint(it item, c *constraintRule, l *loc) {
	if c.expr == nil {
		v.add("warning", "not-supported", l, "invariant %s of %s not checked: %s", c.key, c.src, c.bad)
		return
	}
	// No Path: an invariant needs values, not locations, and paths allocate.
	focus := fhirpath.Node{Value: it.val, Type: it.typ}
	out, err := c.expr.EvaluateNode(focus, v.res, nil)
	if err != nil {
		v.add("warning", "not-supported", l, "invariant %s of %s could not be evaluated: %v", c.key, c.src, err)
		return
	}
	if len(out) == 1 {
		if b, ok := out[0].Value.(bool); ok && !b {
			sev := c.severity
			if sev != "warning" && sev != "information" {
				sev = "error"
			}
			v.add(sev, "invariant", l, "constraint %s failed: %s", c.key, c.human)
		}
	}
}

func typeList(ts []typeRule) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.code)
	}
	return strings.Join(out, ", ")
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// matchPattern is the pattern[x] rule: every member the pattern has must be
// in the value with a matching value, and every pattern array item must match
// some item of the value array.
func matchPattern(p, v any) bool {
	switch x := p.(type) {
	case map[string]any:
		y, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k, pv := range x {
			if !matchPattern(pv, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := v.([]any)
		if !ok {
			// A single value against a one-item pattern list.
			return len(x) == 1 && matchPattern(x[0], v)
		}
		for _, pi := range x {
			found := false
			for _, vi := range y {
				if matchPattern(pi, vi) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	case json.Number:
		return numEqual(x, v)
	default:
		return p == v
	}
}

func numEqual(a json.Number, b any) bool {
	bn, ok := b.(json.Number)
	if !ok {
		return false
	}
	if a == bn {
		return true
	}
	af, err1 := a.Float64()
	bf, err2 := bn.Float64()
	return err1 == nil && err2 == nil && af == bf
}

// dedupe drops repeated issues: an element reached both through a profile's
// own tree and through a type profile reports a failure once.
func dedupe(issues []fhir.Issue) []fhir.Issue {
	if len(issues) < 2 {
		return issues
	}
	out := issues[:0]
next:
	for _, i := range issues {
		for _, o := range out {
			if o.Severity == i.Severity && o.Diagnostics == i.Diagnostics && slices.Equal(o.Expression, i.Expression) {
				continue next
			}
		}
		out = append(out, i)
	}
	return out
}
