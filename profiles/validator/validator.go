package validator

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/fhirpath"
	"github.com/dccfhir/dccfhir/fhir/model"
)

// Validator checks resources against the base R4 specification. Build it
// once with New: everything (type tables, value sets, FHIRPath invariants)
// is compiled then, and a Validator is immutable afterwards, so one value
// is shared by every request.
type Validator struct {
	types map[string]*ctype
	// entryResource is Bundle.entry.resource, below which conditional
	// references are tolerated.
	entryResource *field
	valueSets     map[string]*valueSet
	// Invariants lists every error-severity invariant of the R4 snapshots
	// with what the validator does with it (see docs/validation.md).
	invariants []InvariantStatus
	pool       sync.Pool
}

// InvariantStatus records how one R4 invariant is handled, so the
// documentation and tests can show exactly what is and is not enforced.
type InvariantStatus struct {
	Key, Owner, Severity, Expression string
	// Mode is "fhirpath" (compiled and evaluated), "native" (enforced by Go
	// code with the same meaning) or "skipped".
	Mode string
	// Reason explains a native or skipped invariant.
	Reason string
}

// ctype is one model type prepared for validation.
type ctype struct {
	name     string
	kind     model.Kind
	abstract bool
	prim     prim
	fields   map[string]*field // by JSON key, choice variants included
	required []*field          // min ≥ 1 (the first variant for choices)
	inv      []*invariant      // invariants on objects of this type
	isRef    bool              // Reference: check the reference syntax
	isExt    bool              // Extension: url and value xor extension
	isCoding bool
	isBundle bool
	isCC     bool // CodeableConcept
	nChoices int
}

// field is one JSON property of a ctype.
type field struct {
	name     string // JSON key: "birthDate", "valueQuantity"
	elem     string // FHIRPath name: "birthDate", "value"
	ofType   string // for choice variants: the type for .ofType()
	typ      *ctype // nil for Resource-typed elements (typed by resourceType)
	resource bool
	repeats  bool
	min, max int
	choice   int // 1-based index of the choice element, 0 when not a choice
	vs       *valueSet
	vsURL    string
	targets  []string
	inv      []*invariant // element-level invariants
}

// invariant is a compiled FHIRPath constraint.
type invariant struct {
	key, human, severity string
	expr                 *fhirpath.Expression
	// guard, when set, is an element whose absence makes the invariant
	// trivially true, so it is not evaluated then.
	guard string
}

// invariantGuards: dom-2..dom-5 only constrain contained resources; their
// expressions are true without any, and dom-3 is costly (it scans every
// descendant of the resource), so they run only when contained is present.
var invariantGuards = map[string]string{"dom-2": "contained", "dom-3": "contained", "dom-4": "contained", "dom-5": "contained"}

// valueSet holds the codes of one required value set.
type valueSet struct {
	url      string
	any      map[string]struct{}            // every code, whatever the system
	bySystem map[string]map[string]struct{} // codes per system
}

// nativeInvariants are enforced by the walker itself: they hold on every
// element, so running them through FHIRPath would dominate the cost.
var nativeInvariants = map[string]string{
	"ele-1": "checked while walking: no empty objects, arrays or strings, and a primitive extension object needs content",
	"ext-1": "checked on every Extension while walking",
	"bdl-7": "checked natively on every Bundle with a hash set: the engine's isDistinct() is quadratic (100 ms on a 3,400-entry Synthea bundle)",
	"ref-1": "checked on every Reference while walking: a #id reference must name a contained resource of the root resource",
	"dom-3": "checked after walking a resource, from the local (#) references collected on the way: the FHIRPath form rescans all descendants once per contained resource (milliseconds on a Synthea claim)",
}

// skipReasons are invariants that cannot be evaluated faithfully offline.
func skipReason(key, expr string) string {
	switch {
	case strings.Contains(expr, "htmlChecks("):
		return "htmlChecks() needs an XHTML checker; the validator only checks that the narrative is an XHTML div"
	case strings.Contains(expr, "memberOf("):
		return "memberOf() needs a terminology service"
	case strings.Contains(expr, "resolve()"):
		return "resolve() needs the referenced resources, which are not available while validating one resource"
	case strings.Contains(expr, "conformsTo("):
		return "conformsTo() needs profile validation"
	}
	return ""
}

// New builds a Validator from the generated tables. It panics if the
// tables are inconsistent with the model, which a test catches.
func New() *Validator {
	v := &Validator{types: map[string]*ctype{}, valueSets: map[string]*valueSet{}}
	for url, systems := range requiredValueSets {
		vs := &valueSet{url: url, any: map[string]struct{}{}, bySystem: map[string]map[string]struct{}{}}
		for _, s := range systems {
			set := map[string]struct{}{}
			for _, c := range strings.Fields(s.Codes) {
				set[c] = struct{}{}
				vs.any[c] = struct{}{}
			}
			vs.bySystem[s.System] = set
		}
		v.valueSets[url] = vs
	}
	for _, n := range model.Names() {
		v.ctypeOf(n)
	}
	for _, a := range []string{"SimpleQuantity", "MoneyQuantity"} {
		v.ctypeOf(a)
	}
	v.entryResource = v.types["Bundle.entry"].fields["resource"]
	elemInv := map[string][]*invariant{}
	for _, d := range invariantDefs {
		st := InvariantStatus{Key: d.Key, Owner: d.Owner, Severity: d.Severity, Expression: d.Expr}
		if d.Severity != "error" {
			continue
		}
		if r, ok := nativeInvariants[d.Key]; ok {
			st.Mode, st.Reason = "native", r
		} else if r := skipReason(d.Key, d.Expr); r != "" {
			st.Mode, st.Reason = "skipped", r
		} else if x, err := fhirpath.Compile(rewrite(d.Key, d.Expr)); err != nil {
			st.Mode, st.Reason = "skipped", "the FHIRPath engine cannot compile it: "+err.Error()
		} else if r := brokenInvariants[d.Key]; r != "" {
			st.Mode, st.Reason = "skipped", r
		} else {
			st.Mode = "fhirpath"
			if r, ok := rewrittenInvariants[d.Key]; ok {
				st.Reason = fmt.Sprintf("evaluated with %q in place of %q (the published expression rejects valid data)", r[1], r[0])
			}
			in := &invariant{key: d.Key, human: d.Human, severity: d.Severity, expr: x, guard: invariantGuards[d.Key]}
			if d.Element {
				elemInv[d.Owner] = append(elemInv[d.Owner], in)
			} else if t := v.types[d.Owner]; t != nil {
				t.inv = append(t.inv, in)
			} else {
				st.Mode, st.Reason = "skipped", "owner "+d.Owner+" is not in the type model"
			}
		}
		v.invariants = append(v.invariants, st)
	}
	for _, t := range v.types {
		for _, f := range t.fields {
			if f.inv == nil {
				f.inv = elemInv[t.name+"."+f.elem+choiceSuffix(f)]
			}
		}
	}
	v.pool.New = func() any { return &walker{v: v, path: make([]byte, 0, 128)} }
	return v
}

// rewrite applies rewrittenInvariants.
func rewrite(key, expr string) string {
	if r, ok := rewrittenInvariants[key]; ok {
		return strings.ReplaceAll(expr, r[0], r[1])
	}
	return expr
}

func choiceSuffix(f *field) string {
	if f.choice > 0 {
		return "[x]"
	}
	return ""
}

// rewrittenInvariants maps invariants whose published expression the
// FHIRPath engine reads more strictly than the specification intends to a
// corrected expression: que-7 tests "answer is Boolean" (System.Boolean),
// which a FHIR boolean (answerBoolean) is not for a strict engine, so the
// valid example Questionnaire-bb would fail.
// dom-3 applies as() to all descendants at once, which FHIRPath defines
// as an error on a collection of more than one item, so it is evaluated
// with ofType(), its evident intent.
var rewrittenInvariants = map[string][2]string{
	"que-7": {"answer is Boolean", "answer is boolean"},
	"dom-3": {"descendants().as(", "descendants().ofType("},
}

// brokenInvariants are R4 invariants whose published expression is wrong
// (it fails on conformant content, the official examples included), with
// the reason; they are listed in docs/validation.md as skipped.
var brokenInvariants = map[string]string{}

// ctypeOf returns (building on first use) the prepared form of type name.
func (v *Validator) ctypeOf(name string) *ctype {
	if t := v.types[name]; t != nil {
		return t
	}
	mt := model.Lookup(name)
	if mt == nil {
		return nil
	}
	t := &ctype{name: name, kind: mt.Kind, abstract: mt.Abstract, fields: map[string]*field{}}
	v.types[name] = t
	if mt.Kind == model.KindPrimitive {
		t.prim = primByName[name]
	}
	switch mt.Name {
	case "Reference":
		t.isRef = true
	case "Extension":
		t.isExt = true
	case "Coding":
		t.isCoding = true
	case "Bundle":
		t.isBundle = true
	case "CodeableConcept":
		t.isCC = true
	}
	for i := range mt.Elements {
		e := &mt.Elements[i]
		if mt.Kind == model.KindPrimitive && e.Name != "id" && e.Name != "extension" {
			continue
		}
		choice := 0
		if e.Choice {
			t.nChoices++
			choice = t.nChoices
		}
		for j, ty := range e.Types {
			f := &field{elem: e.BaseName(), repeats: e.Repeats(), min: e.Min, max: e.Max, choice: choice}
			f.name = e.Name
			if e.Choice {
				f.name = e.JSONName(ty)
				f.ofType = ty
			}
			if e.Targets != nil {
				f.targets = e.Targets[j]
			}
			if e.Binding == "required" && e.ValueSet != "" {
				f.vsURL, _, _ = strings.Cut(e.ValueSet, "|")
				f.vs = v.valueSets[f.vsURL]
			}
			if ty == "Resource" {
				f.resource = true // contained, Bundle.entry.resource, Parameters.parameter.resource
			} else {
				f.typ = v.ctypeOf(ty)
				if f.typ == nil {
					panic(fmt.Sprintf("validator: %s.%s: unknown type %s", name, e.Name, ty))
				}
			}
			t.fields[f.name] = f
			if j == 0 && e.Min > 0 {
				t.required = append(t.required, f)
			}
			if !e.Choice {
				break
			}
		}
	}
	if name == "SimpleQuantity" || name == "MoneyQuantity" {
		// Profiles of Quantity: same elements, their own invariants too.
		t.inv = append(t.inv, v.ctypeOf("Quantity").inv...)
	}
	return t
}

// Invariants reports how each error-severity R4 invariant is handled.
func (v *Validator) Invariants() []InvariantStatus { return v.invariants }

// Validate checks res, a resource of type typ in the generic tree of
// fhir.Decode, and returns every problem found (nil when none). A standalone
// resource must not hold conditional references (Type?query): the server
// resolves those before storing, so one reaching here is an error.
func (v *Validator) Validate(typ string, res map[string]any) []fhir.Issue {
	return v.validate(typ, res, false)
}

// ValidateEntry is Validate for a resource that is still part of a Bundle
// being processed, where conditional references are legal because the
// Bundle's processing resolves them.
func (v *Validator) ValidateEntry(typ string, res map[string]any) []fhir.Issue {
	return v.validate(typ, res, true)
}

func (v *Validator) validate(typ string, res map[string]any, inBundle bool) []fhir.Issue {
	w := v.pool.Get().(*walker)
	w.inBundle = inBundle
	w.local = w.local[:0]
	w.inContained = -1
	w.path = append(w.path[:0], typ...)
	w.resource(typ, res, nil, true)
	issues := w.issues
	w.issues = nil
	w.env = fhirpath.Env{}
	v.pool.Put(w)
	if len(issues) > 1 {
		sort.SliceStable(issues, func(i, j int) bool { return issues[i].Expression[0] < issues[j].Expression[0] })
	}
	return issues
}

// Check adapts the Validator to the service's write hook
// (service.Validator): 422 Unprocessable Entity listing every issue when at
// least one is an error, nil otherwise (warnings alone do not block a write).
func (v *Validator) Check(_ context.Context, typ string, res map[string]any) ([]fhir.Issue, *fhir.Error) {
	issues := v.Validate(typ, res)
	for _, is := range issues {
		if is.Severity == "error" {
			return nil, &fhir.Error{Status: 422, Issues: issues}
		}
	}
	return issues, nil
}

// walker holds the state of one validation; it is pooled so a validation
// allocates nothing on the happy path but FHIRPath results.
type walker struct {
	v *Validator
	// local collects the "#..." references met in the current resource
	// (with the index of the contained resource they sit in, -1 outside)
	// for dom-3; inContained is that index while walking a contained one.
	local       []localRef
	inContained int
	path        []byte
	issues      []fhir.Issue
	inBundle    bool
	env         fhirpath.Env
}

func (w *walker) add(sev, code, format string, args ...any) {
	w.issues = append(w.issues, fhir.Issue{Severity: sev, Code: code, Diagnostics: fmt.Sprintf(format, args...), Expression: []string{string(w.path)}})
}

// push appends ".name" (and "[i]" when i ≥ 0) to the path and returns the
// length to restore.
func (w *walker) push(name string, i int) int {
	n := len(w.path)
	w.path = append(w.path, '.')
	w.path = append(w.path, name...)
	if i >= 0 {
		w.path = append(w.path, '[')
		w.path = strconv.AppendInt(w.path, int64(i), 10)
		w.path = append(w.path, ']')
	}
	return n
}

// resource validates a resource object; the path already names it. root is
// the enclosing resource for contained ones (nil at the top and for Bundle
// entries, which are resources of their own).
func (w *walker) resource(want string, m map[string]any, container map[string]any, top bool) {
	rt, _ := m["resourceType"].(string)
	if _, ok := m["resourceType"]; !ok {
		w.add("error", "structure", "resourceType is missing")
		return
	}
	if rt == "" {
		w.add("error", "structure", "resourceType must be a non-empty string")
		return
	}
	t := w.v.types[rt]
	if t == nil || t.kind != model.KindResource || t.abstract {
		w.add("error", "not-supported", "unknown resource type %q", rt)
		return
	}
	if top && want != "" && want != rt {
		w.add("error", "invalid", "resourceType %q does not match the expected type %s", rt, want)
	}
	saved := w.env
	if container != nil {
		w.env.RootResource = container
	} else {
		w.env.RootResource = nil
	}
	w.env.Resource = m
	start := len(w.local)
	if container == nil {
		w.inContained = -1
	}
	w.object(m, t, m)
	w.env = saved
	if container == nil {
		if cs, ok := m["contained"].([]any); ok {
			w.dom3(cs, w.local[start:])
		}
		w.local = w.local[:start]
	}
}

// localRef is a "#..." reference found while walking a resource.
type localRef struct {
	ref       string
	contained int
}

// dom3 reports contained resources that nothing refers to (and that do not
// refer to their container with "#").
func (w *walker) dom3(cs []any, refs []localRef) {
	for i, c := range cs {
		cm, _ := c.(map[string]any)
		id, _ := cm["id"].(string)
		ok := false
		for _, r := range refs {
			if r.ref[1:] == id && id != "" || r.ref == "#" && r.contained == i {
				ok = true
				break
			}
		}
		if !ok {
			n := w.push("contained", i)
			w.add("error", "invariant", "dom-3: the contained resource %q is not referenced from elsewhere in the resource and does not refer to its container", id)
			w.path = w.path[:n]
		}
	}
}

// object validates a JSON object of complex type t. res is the resource
// the object belongs to (%resource for invariants).
func (w *walker) object(m map[string]any, t *ctype, res map[string]any) {
	var choices uint64
	for k, val := range m {
		if k == "resourceType" && t.kind == model.KindResource {
			continue
		}
		if len(k) > 1 && k[0] == '_' {
			f := t.fields[k[1:]]
			if f == nil || f.typ == nil || f.typ.kind != model.KindPrimitive {
				n := w.push(k, -1)
				w.add("error", "structure", "unknown element %q", k)
				w.path = w.path[:n]
				continue
			}
			if _, hasValue := m[k[1:]]; !hasValue {
				w.countChoice(f, &choices)
			}
			w.companion(f, val, m[k[1:]], res)
			continue
		}
		f := t.fields[k]
		if f == nil {
			n := w.push(k, -1)
			w.add("error", "structure", "unknown element %q", k)
			w.path = w.path[:n]
			continue
		}
		w.countChoice(f, &choices)
		w.value(f, val, m["_"+k], res)
	}
	if t.kind != model.KindResource {
		if _, onlyID := m["id"]; len(m) == 0 || len(m) == 1 && onlyID {
			w.add("error", "invariant", "an element must have a value or children (ele-1)")
		}
	}
	for _, f := range t.required {
		if f.choice > 0 {
			if choices&(1<<(f.choice-1)) == 0 {
				n := w.push(f.elem, -1)
				w.add("error", "required", "%s: minimum required = %d, but only found 0", f.elem, f.min)
				w.path = w.path[:n]
			}
			continue
		}
		if _, ok := m[f.name]; !ok {
			if _, ok := m["_"+f.name]; !ok || f.typ == nil || f.typ.kind != model.KindPrimitive {
				n := w.push(f.elem, -1)
				w.add("error", "required", "%s: minimum required = %d, but only found 0", f.elem, f.min)
				w.path = w.path[:n]
			}
		}
	}
	if t.isBundle {
		w.bdl7(m)
	}
	if t.isExt {
		w.extension(m)
	} else if t.isRef {
		w.reference(m)
	}
	if len(t.inv) > 0 {
		w.invariants(t.inv, fhirpath.Node{Value: m, Type: t.name}, res)
	}
}

// countChoice records a choice variant and reports a second one.
func (w *walker) countChoice(f *field, mask *uint64) {
	if f.choice == 0 {
		return
	}
	bit := uint64(1) << (f.choice - 1)
	if *mask&bit != 0 {
		n := w.push(f.elem, -1)
		w.add("error", "structure", "%s[x] has more than one type variant (only one of %s[x] is allowed)", f.elem, f.elem)
		w.path = w.path[:n]
	}
	*mask |= bit
}

// seg pushes the path segment of field f (with its choice type) and index i.
func (w *walker) seg(f *field, i int) int {
	n := len(w.path)
	w.path = append(w.path, '.')
	w.path = append(w.path, f.elem...)
	if f.ofType != "" {
		w.path = append(w.path, ".ofType("...)
		w.path = append(w.path, f.ofType...)
		w.path = append(w.path, ')')
	}
	if i >= 0 {
		w.path = append(w.path, '[')
		w.path = strconv.AppendInt(w.path, int64(i), 10)
		w.path = append(w.path, ']')
	}
	return n
}

// value validates the JSON value of field f (ext is the "_name" companion).
func (w *walker) value(f *field, val any, ext any, res map[string]any) {
	if !f.repeats {
		n := w.seg(f, -1)
		if _, isArr := val.([]any); isArr {
			w.add("error", "structure", "%s is a single element: it must not be a JSON array (max %d)", f.elem, f.max)
		} else {
			w.item(f, val, ext != nil, res)
		}
		w.path = w.path[:n]
		return
	}
	arr, ok := val.([]any)
	if !ok {
		n := w.seg(f, -1)
		w.add("error", "structure", "%s repeats: it must be a JSON array, not %s", f.elem, jsonType(val))
		w.path = w.path[:n]
		return
	}
	if len(arr) == 0 {
		n := w.seg(f, -1)
		w.add("error", "structure", "%s: arrays must not be empty (leave the element out)", f.elem)
		w.path = w.path[:n]
		return
	}
	if f.max > 0 && len(arr) > f.max {
		n := w.seg(f, -1)
		w.add("error", "structure", "%s: maximum allowed = %d, but found %d", f.elem, f.max, len(arr))
		w.path = w.path[:n]
	}
	extArr, _ := ext.([]any)
	for i, it := range arr {
		n := w.seg(f, i)
		hasExt := i < len(extArr) && extArr[i] != nil
		w.item(f, it, hasExt, res)
		w.path = w.path[:n]
	}
}

// item validates one value of field f; the path names it.
func (w *walker) item(f *field, val any, hasExt bool, res map[string]any) {
	if val == nil {
		if !hasExt || f.typ == nil || f.typ.kind != model.KindPrimitive {
			w.add("error", "structure", "null is not allowed here")
		}
		return
	}
	if f.resource {
		m, ok := val.(map[string]any)
		if !ok {
			w.add("error", "structure", "%s must be a JSON object (a resource), not %s", f.elem, jsonType(val))
			return
		}
		rt, _ := m["resourceType"].(string)
		if rt != "" {
			w.path = append(w.path, ".ofType("...)
			w.path = append(w.path, rt...)
			w.path = append(w.path, ')')
		}
		if f == w.v.entryResource {
			saved := w.inBundle
			w.inBundle = true
			w.resource("", m, nil, false)
			w.inBundle = saved
		} else if f.elem == "contained" {
			saved := w.inContained
			w.inContained = w.containedIndex()
			if _, nested := m["contained"]; nested {
				n := w.push("contained", -1)
				w.add("error", "invariant", "a contained resource must not contain resources (dom-2)")
				w.path = w.path[:n]
			}
			w.resource("", m, res, false)
			w.inContained = saved
		} else {
			w.resource("", m, nil, false)
		}
		return
	}
	t := f.typ
	if t.kind == model.KindPrimitive {
		if msg, warn := checkPrimitive(t.prim, t.name, val); msg != "" {
			sev, code := "error", "value"
			if warn {
				sev = "warning"
			} else if strings.HasPrefix(msg, "must be a JSON") {
				code = "structure"
			}
			w.add(sev, code, "%s: %s", f.elem, msg)
			return
		}
		if t.prim == pURI {
			if s, ok := val.(string); ok && s[0] == '#' {
				w.local = append(w.local, localRef{s, w.inContained})
			}
		}
		if f.vs != nil {
			if s, ok := val.(string); ok {
				if _, ok := f.vs.any[s]; !ok {
					w.add("error", "code-invalid", "the value %q is not in the required value set %s", s, f.vsURL)
				}
			}
		}
		for _, in := range f.inv {
			w.eval(in, fhirpath.Node{Value: val, Type: t.name}, res)
		}
		return
	}
	m, ok := val.(map[string]any)
	if !ok {
		w.add("error", "structure", "%s must be a JSON object (%s), not %s", f.elem, t.name, jsonType(val))
		return
	}
	w.object(m, t, res)
	if f.vs != nil {
		w.binding(f, m)
	}
	if t.isRef && len(f.targets) > 0 {
		w.targets(f, m)
	}
	for _, in := range f.inv {
		w.eval(in, fhirpath.Node{Value: m, Type: t.name}, res)
	}
}

// companion validates a primitive's "_name" object(s): id and extension only.
func (w *walker) companion(f *field, ext, val any, res map[string]any) {
	et := f.typ // a primitive's type has just id and extension
	check := func(e any) {
		m, ok := e.(map[string]any)
		if !ok {
			w.add("error", "structure", "the extension object of a primitive must be a JSON object, not %s", jsonType(e))
			return
		}
		w.object(m, et, res)
	}
	if !f.repeats {
		n := w.seg(f, -1)
		check(ext)
		w.path = w.path[:n]
		return
	}
	arr, ok := ext.([]any)
	if !ok {
		n := w.seg(f, -1)
		w.add("error", "structure", "_%s must be a JSON array aligned with %s, not %s", f.name, f.name, jsonType(ext))
		w.path = w.path[:n]
		return
	}
	if vals, ok := val.([]any); ok && len(vals) != len(arr) || val != nil && !ok {
		n := w.seg(f, -1)
		w.add("error", "structure", "_%s must have as many items as %s (use null where one has none)", f.name, f.name)
		w.path = w.path[:n]
	}
	for i, e := range arr {
		if e == nil {
			continue
		}
		n := w.seg(f, i)
		check(e)
		w.path = w.path[:n]
	}
}

// extension enforces ext-1 natively: a value or nested extensions, not both.
func (w *walker) extension(m map[string]any) {
	hasExt := m["extension"] != nil
	hasValue := false
	for k := range m {
		if len(k) > 5 && strings.HasPrefix(k, "value") || strings.HasPrefix(k, "_value") {
			hasValue = true
			break
		}
	}
	if hasExt == hasValue {
		w.add("error", "invariant", "an extension must have either extensions or value[x], not both (ext-1)")
	}
}

// evalErrHook, set by tests, sees FHIRPath run-time errors.
var evalErrHook func(key string, err error)

// invariants evaluates the constraints of a type on one object.
func (w *walker) invariants(list []*invariant, focus fhirpath.Node, res map[string]any) {
	for _, in := range list {
		w.eval(in, focus, res)
	}
}

func (w *walker) eval(in *invariant, focus fhirpath.Node, res map[string]any) {
	if in.guard != "" {
		if m, _ := focus.Value.(map[string]any); m[in.guard] == nil {
			return
		}
	}
	out, err := in.expr.EvaluateNode(focus, res, &w.env)
	if err != nil {
		if evalErrHook != nil {
			evalErrHook(in.key, err)
		}
		return // an invariant the data makes unevaluable is not evidence of an error
	}
	if len(out) == 1 {
		if b, ok := out[0].Value.(bool); ok && !b {
			sev := "error"
			if in.severity != "error" {
				sev = "warning"
			}
			w.add(sev, "invariant", "%s: %s (%s)", in.key, in.human, in.expr.String())
		}
	}
}

// binding checks a Coding or CodeableConcept against a required value set:
// a coding whose system the value set draws on must carry one of its codes.
func (w *walker) binding(f *field, m map[string]any) {
	check := func(c map[string]any) bool {
		sys, _ := c["system"].(string)
		code, _ := c["code"].(string)
		set, ok := f.vs.bySystem[sys]
		if !ok || code == "" {
			return true
		}
		_, ok = set[code]
		return ok
	}
	if f.typ.isCoding {
		if !check(m) {
			w.add("error", "code-invalid", "the code %v is not in the required value set %s", m["code"], f.vsURL)
		}
		return
	}
	if f.typ.isCC {
		cs, _ := m["coding"].([]any)
		for i, c := range cs {
			if cm, ok := c.(map[string]any); ok && !check(cm) {
				n := w.push("coding", i)
				w.add("error", "code-invalid", "the code %v is not in the required value set %s", cm["code"], f.vsURL)
				w.path = w.path[:n]
			}
		}
	}
}

// bdl7: outside history bundles, entries sharing a fullUrl must differ in
// meta.versionId (fullUrl & versionId, as the FHIRPath concatenates them).
func (w *walker) bdl7(m map[string]any) {
	if m["type"] == "history" {
		return
	}
	es, _ := m["entry"].([]any)
	if len(es) < 2 {
		return
	}
	seen := make(map[string]struct{}, len(es))
	for _, e := range es {
		em, _ := e.(map[string]any)
		u, ok := em["fullUrl"].(string)
		if !ok {
			continue
		}
		vid := ""
		if r, ok := em["resource"].(map[string]any); ok {
			if meta, ok := r["meta"].(map[string]any); ok {
				vid, _ = meta["versionId"].(string)
			}
		}
		k := u + "\x00" + vid
		if _, dup := seen[k]; dup {
			w.add("error", "invariant", "bdl-7: FullUrl must be unique in a bundle, or else entries with the same fullUrl must have different meta.versionId (%s)", u)
			return
		}
		seen[k] = struct{}{}
	}
}
