package terminology

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/profiles/conformance"
)

// member is one code of an expansion.
type member struct {
	System, Version, Code, Display string
	Abstract, Inactive             bool
	Designations                   []any
}

func (m *member) key() string { return m.System + "|" + m.Code }

// codeset is an ordered set of members (expansion order is compose order,
// then code system order, which is what a client shows).
type codeset struct {
	list []*member
	idx  map[string]int
}

func newCodeset() *codeset { return &codeset{idx: map[string]int{}} }

func (s *codeset) add(m *member) {
	if _, ok := s.idx[m.key()]; ok {
		return
	}
	s.idx[m.key()] = len(s.list)
	s.list = append(s.list, m)
}

func (s *codeset) get(system, code string) *member {
	if i, ok := s.idx[system+"|"+code]; ok {
		return s.list[i]
	}
	return nil
}

// keep retains the members for which fn is true.
func (s *codeset) keep(fn func(*member) bool) {
	out := s.list[:0]
	s.idx = map[string]int{}
	for _, m := range s.list {
		if fn(m) {
			s.idx[m.key()] = len(out)
			out = append(out, m)
		}
	}
	s.list = out
}

// expansion is a computed value set.
type expansion struct {
	codes *codeset
	// used is the code systems read, url → version, for the
	// used-codesystem expansion parameters.
	used map[string]string
	// unknown holds, in tolerant mode, the systems whose part of the value
	// set could not be computed and why; "" stands for any system (an
	// imported value set that failed).
	unknown map[string]*fhir.Error
}

// expander computes expansions. Strict mode fails on the first part it
// cannot compute ($expand, Codes); tolerant mode records it and goes on, so
// $validate-code can still answer for the other systems of the value set.
type expander struct {
	set      *conformance.Set
	tolerant bool
	stack    []string
}

func notSupported(format string, args ...any) *fhir.Error {
	return fhir.Errorf(422, "not-supported", "", format, args...)
}

// asFHIR keeps a *fhir.Error as it is; anything else (not expected) becomes
// a 422 so that tolerant expansion still has a reason to give.
func asFHIR(err error) *fhir.Error {
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fe
	}
	return notSupported("%v", err)
}

func tooCostly(format string, args ...any) *fhir.Error {
	return fhir.Errorf(422, "too-costly", "", format, args...)
}

// expand computes the value set vs.
func (e *expander) expand(vs map[string]any) (*expansion, error) {
	url := str(vs["url"])
	if slices.Contains(e.stack, url) || len(e.stack) > 20 {
		return nil, notSupported("value set %s includes itself (through %s)", url, strings.Join(e.stack, " → "))
	}
	e.stack = append(e.stack, url)
	defer func() { e.stack = e.stack[:len(e.stack)-1] }()

	x := &expansion{codes: newCodeset(), used: map[string]string{}, unknown: map[string]*fhir.Error{}}
	var text *r4vsText
	if _, named := vs["name"]; !named {
		loadR4Text()
		text = r4text.ValueSets[url]
	}
	compose, _ := vs["compose"].(map[string]any)
	if compose == nil {
		exp, _ := vs["expansion"].(map[string]any)
		if exp == nil {
			return nil, notSupported("value set %s has neither a compose nor an expansion", url)
		}
		addContains(x.codes, exp["contains"])
		return x, nil
	}
	incs, _ := compose["include"].([]any)
	for _, in := range incs {
		inc, _ := in.(map[string]any)
		part, err := e.include(x, inc, text)
		if err != nil {
			if !e.tolerant {
				return nil, err
			}
			x.unknown[str(inc["system"])] = asFHIR(err)
			continue
		}
		for _, m := range part.list {
			x.codes.add(m)
		}
		if x.codes.count() > MaxExpansion {
			return nil, tooCostly("value set %s has more than %d codes", url, MaxExpansion)
		}
	}
	excs, _ := compose["exclude"].([]any)
	for _, ex := range excs {
		exc, _ := ex.(map[string]any)
		part, err := e.include(x, exc, nil)
		if err != nil {
			if !e.tolerant {
				return nil, err
			}
			x.unknown[str(exc["system"])] = asFHIR(err)
			continue
		}
		x.codes.keep(func(m *member) bool { return part.get(m.System, m.Code) == nil })
	}
	if b, ok := compose["inactive"].(bool); ok && !b {
		x.codes.keep(func(m *member) bool { return !m.Inactive })
	}
	return x, nil
}

func (s *codeset) count() int { return len(s.list) }

func addContains(s *codeset, v any) {
	arr, _ := v.([]any)
	for _, c := range arr {
		cm, _ := c.(map[string]any)
		if code := str(cm["code"]); code != "" {
			m := &member{System: str(cm["system"]), Version: str(cm["version"]), Code: code, Display: str(cm["display"])}
			m.Abstract, _ = cm["abstract"].(bool)
			m.Inactive, _ = cm["inactive"].(bool)
			m.Designations, _ = cm["designation"].([]any)
			s.add(m)
		}
		addContains(s, cm["contains"])
	}
}

// include computes one compose.include (or exclude): the codes of its
// system (listed, whole or filtered), intersected with each value set it
// imports.
func (e *expander) include(x *expansion, inc map[string]any, text *r4vsText) (*codeset, error) {
	sys, ver := str(inc["system"]), str(inc["version"])
	var out *codeset
	if sys != "" {
		out = newCodeset()
		cs := codeSystemOf(e.set, sys, ver)
		if cs == nil && ver != "" {
			// IGs pin the version they were authored against (FR Core 2.2.0
			// names v3-MaritalStatus 4.0.0, R4 carries 2018-08-12). The loaded
			// version stands in for it, and used-codesystem says which one
			// was read: refusing would make most IG value sets unusable for
			// a difference that rarely touches their codes.
			cs = codeSystemOf(e.set, sys, "")
		}
		if cs != nil {
			x.used[cs.URL] = cs.Version
		}
		if concepts, ok := inc["concept"].([]any); ok {
			for _, c := range concepts {
				cm, _ := c.(map[string]any)
				m := &member{System: sys, Version: ver, Code: str(cm["code"]), Display: str(cm["display"])}
				m.Designations, _ = cm["designation"].([]any)
				if m.Display == "" && text != nil {
					m.Display = text.Display[sys][m.Code]
				}
				if cs != nil {
					m.Version = cs.Version
					if k := cs.find(m.Code); k != nil {
						m.Code = k.Code
						m.Abstract, m.Inactive = k.Abstract, k.Inactive
						if m.Display == "" {
							m.Display = k.Display
						}
						if m.Designations == nil {
							m.Designations = k.Designations
						}
					}
				}
				if m.Code != "" {
					out.add(m)
				}
			}
		} else {
			if cs == nil {
				return nil, notSupported("code system %s is not loaded on this server, so its codes cannot be enumerated", sys)
			}
			if !cs.complete() {
				return nil, notSupported("code system %s has content %q: its codes cannot be enumerated", sys, cs.Content)
			}
			filters, _ := inc["filter"].([]any)
			preds := make([]func(*concept) bool, 0, len(filters))
			for _, f := range filters {
				fm, _ := f.(map[string]any)
				p, err := compileFilter(cs, str(fm["property"]), str(fm["op"]), str(fm["value"]))
				if err != nil {
					return nil, err
				}
				preds = append(preds, p)
			}
			if len(cs.List) > MaxExpansion && len(preds) == 0 {
				return nil, tooCostly("code system %s has %d codes, more than %d", sys, len(cs.List), MaxExpansion)
			}
		next:
			for _, c := range cs.List {
				for _, p := range preds {
					if !p(c) {
						continue next
					}
				}
				out.add(&member{System: sys, Version: cs.Version, Code: c.Code, Display: c.Display,
					Abstract: c.Abstract, Inactive: c.Inactive, Designations: c.Designations})
			}
		}
	}
	vsets, _ := inc["valueSet"].([]any)
	for _, v := range vsets {
		u := str(v)
		vs, err := valueSet(e.set, u, "")
		if err != nil {
			return nil, notSupported("value set %s is not loaded on this server", u)
		}
		sub, err := e.expand(vs)
		if err != nil {
			return nil, err
		}
		for k, v := range sub.used {
			x.used[k] = v
		}
		for k, v := range sub.unknown {
			x.unknown[k] = v
		}
		if out == nil {
			out = sub.codes
			continue
		}
		out.keep(func(m *member) bool { return sub.codes.get(m.System, m.Code) != nil })
	}
	if out == nil {
		return newCodeset(), nil
	}
	return out, nil
}

// compileFilter turns a compose filter into a predicate on the concepts of
// cs. Supported: the hierarchy operators (is-a, descendent-of, is-not-a,
// generalizes) and =, in, not-in, regex on the code ("concept" or "code");
// = on parent and child; =, in, not-in, regex, exists on display and on the
// code system's own concept properties. Anything else is refused (422)
// rather than guessed.
func compileFilter(cs *codeSystem, prop, op, val string) (func(*concept) bool, error) {
	bad := func(why string) error {
		return notSupported("filter %s %s %q on %s: %s", prop, op, val, cs.URL, why)
	}
	switch prop {
	case "concept", "code":
		switch op {
		case "is-a", "descendent-of", "is-not-a", "generalizes":
			in := map[*concept]bool{}
			if t := cs.find(val); t != nil {
				switch op {
				case "is-a", "is-not-a":
					in[t] = true
					descendants(t, func(c *concept) { in[c] = true })
				case "descendent-of":
					descendants(t, func(c *concept) { in[c] = true })
				case "generalizes":
					in[t] = true
					ancestors(t, func(c *concept) { in[c] = true })
				}
			}
			if op == "is-not-a" {
				return func(c *concept) bool { return !in[c] }, nil
			}
			return func(c *concept) bool { return in[c] }, nil
		}
		return valueFilter(op, val, func(c *concept) []string { return []string{c.Code} }, bad)
	case "display":
		return valueFilter(op, val, func(c *concept) []string { return []string{c.Display} }, bad)
	case "parent", "child":
		if op != "=" && op != "in" {
			return nil, bad("only = and in are supported on " + prop)
		}
		return valueFilter(op, val, func(c *concept) []string {
			rel := c.Parents
			if prop == "child" {
				rel = c.Children
			}
			out := make([]string, len(rel))
			for i, r := range rel {
				out[i] = r.Code
			}
			return out
		}, bad)
	}
	if !definesProperty(cs, prop) {
		return nil, bad("the code system defines no such property")
	}
	return valueFilter(op, val, func(c *concept) []string { return propertyValues(c, prop) }, bad)
}

// valueFilter applies op to the values a concept has (a concept matches
// when one of its values does; exists tests that it has any).
func valueFilter(op, val string, values func(*concept) []string, bad func(string) error) (func(*concept) bool, error) {
	switch op {
	case "=":
		return func(c *concept) bool { return slices.Contains(values(c), val) }, nil
	case "in", "not-in":
		set := map[string]bool{}
		for _, v := range strings.Split(val, ",") {
			set[strings.TrimSpace(v)] = true
		}
		want := op == "in"
		return func(c *concept) bool {
			for _, v := range values(c) {
				if set[v] {
					return want
				}
			}
			return !want
		}, nil
	case "regex":
		re, err := regexp.Compile("^(?:" + val + ")$")
		if err != nil {
			return nil, bad("invalid regular expression")
		}
		return func(c *concept) bool {
			return slices.ContainsFunc(values(c), re.MatchString)
		}, nil
	case "exists":
		want, err := strconv.ParseBool(val)
		if err != nil {
			return nil, bad("exists takes true or false")
		}
		return func(c *concept) bool { return (len(values(c)) > 0) == want }, nil
	}
	return nil, bad("operator not supported")
}

func definesProperty(cs *codeSystem, prop string) bool {
	for _, d := range cs.PropDefs {
		dm, _ := d.(map[string]any)
		if str(dm["code"]) == prop {
			return true
		}
	}
	for _, c := range cs.List {
		if len(propertyValues(c, prop)) > 0 {
			return true
		}
	}
	return false
}

// propertyValues are the values of a concept's property prop as strings
// (codes, strings, booleans, numbers, the code of a Coding).
func propertyValues(c *concept, prop string) []string {
	var out []string
	for _, p := range c.Properties {
		pm, _ := p.(map[string]any)
		if str(pm["code"]) != prop {
			continue
		}
		for k, v := range pm {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			switch v := v.(type) {
			case map[string]any:
				out = append(out, str(v["code"]))
			default:
				out = append(out, fmt.Sprint(v))
			}
		}
	}
	return out
}

// ExpandRequest is the input of ValueSet/$expand.
type ExpandRequest struct {
	// URL is the value set's canonical ("|version" allowed); ignored when
	// ValueSet is given (a POSTed or stored value set, for instance-level
	// $expand).
	URL, ValueSetVersion string
	ValueSet             map[string]any
	// Filter keeps the codes whose display, designations or code match
	// every word of it (see matcher).
	Filter string
	// Count is the page size, -1 when not given (as ParseExpand sets it:
	// the zero value asks for no codes, only the total); Offset the codes
	// to skip.
	Count, Offset       int
	IncludeDesignations bool
	// IncludeDefinition copies the value set's compose into the answer.
	IncludeDefinition bool
	ActiveOnly        bool
}

// Expand answers ValueSet/$expand: the value set with an expansion
// (identifier, timestamp, total, offset, parameter, contains). The
// expansion is flat (no nesting of contains). Without count, an expansion
// larger than MaxUnpaged is refused as too-costly, so that a client learns
// to page instead of receiving a truncated list it would take as complete.
func Expand(set *conformance.Set, req ExpandRequest) (map[string]any, error) {
	vs := req.ValueSet
	if vs == nil {
		var err error
		if vs, err = valueSet(set, req.URL, req.ValueSetVersion); err != nil {
			return nil, err
		}
	}
	if req.Offset < 0 {
		return nil, fhir.Errorf(400, "invalid", "", "offset must not be negative")
	}
	x, err := (&expander{set: set}).expand(vs)
	if err != nil {
		return nil, err
	}
	codes := x.codes.list
	if req.ActiveOnly {
		codes = slices.DeleteFunc(slices.Clone(codes), func(m *member) bool { return m.Inactive })
	}
	if req.Filter != "" {
		match := newMatcher(req.Filter)
		codes = slices.DeleteFunc(slices.Clone(codes), func(m *member) bool { return !match(m) })
	}
	total := len(codes)
	if req.Count < 0 && total-req.Offset > MaxUnpaged {
		return nil, tooCostly("the expansion of %s has %d codes, more than %d: narrow it with filter or page it with count and offset", str(vs["url"]), total, MaxUnpaged)
	}
	page := codes[min(req.Offset, total):]
	if req.Count >= 0 && req.Count < len(page) {
		page = page[:req.Count]
	}

	out := map[string]any{}
	for k, v := range vs {
		switch k {
		case "text", "expansion", "compose":
		default:
			out[k] = v
		}
	}
	if _, named := vs["name"]; !named {
		loadR4Text()
		if t := r4text.ValueSets[str(vs["url"])]; t != nil {
			setIf(out, "name", t.Name)
			setIf(out, "title", t.Title)
			setIf(out, "status", t.Status)
		}
	}
	if req.IncludeDefinition && vs["compose"] != nil {
		out["compose"] = vs["compose"]
	}
	var params []any
	if req.Filter != "" {
		params = append(params, param("filter", "String", req.Filter))
	}
	if req.Count >= 0 {
		params = append(params, param("count", "Integer", req.Count))
	}
	if req.Offset > 0 {
		params = append(params, param("offset", "Integer", req.Offset))
	}
	if req.ActiveOnly {
		params = append(params, param("activeOnly", "Boolean", true))
	}
	if req.IncludeDesignations {
		params = append(params, param("includeDesignations", "Boolean", true))
	}
	used := make([]string, 0, len(x.used))
	for u, v := range x.used {
		if v != "" {
			u += "|" + v
		}
		used = append(used, u)
	}
	slices.Sort(used)
	for _, u := range used {
		params = append(params, param("used-codesystem", "Uri", u))
	}
	contains := make([]any, 0, len(page))
	for _, m := range page {
		c := map[string]any{"system": m.System, "code": m.Code}
		setIf(c, "version", m.Version)
		setIf(c, "display", m.Display)
		if m.Abstract {
			c["abstract"] = true
		}
		if m.Inactive {
			c["inactive"] = true
		}
		if req.IncludeDesignations && len(m.Designations) > 0 {
			c["designation"] = m.Designations
		}
		contains = append(contains, c)
	}
	exp := map[string]any{
		"identifier": newUUID(),
		"timestamp":  time.Now().UTC().Format(time.RFC3339),
		"total":      total,
		"offset":     req.Offset,
	}
	if len(params) > 0 {
		exp["parameter"] = params
	}
	if len(contains) > 0 {
		exp["contains"] = contains
	}
	out["expansion"] = exp
	return out, nil
}

func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// newMatcher compiles an $expand filter. Matching is by word prefix,
// ignoring case and accents: the filter is cut into words at every
// character that is not a letter or digit, and a code matches when each of
// those words begins some word of its display, of one of its designations,
// or of the code itself. So "mut egf" finds "Mutations EGFR", "materiel"
// finds "Matériel insuffisant" and "pd-l1" finds "Expression PD-L1"; a
// word in the middle of another ("GFR" in "EGFR") does not match, which is
// what a type-ahead expects.
func newMatcher(filter string) func(*member) bool {
	terms := words(filter)
	return func(m *member) bool {
		if len(terms) == 0 {
			return true
		}
		have := words(m.Display)
		have = append(have, words(m.Code)...)
		for _, d := range m.Designations {
			dm, _ := d.(map[string]any)
			have = append(have, words(str(dm["value"]))...)
		}
		for _, t := range terms {
			if !slices.ContainsFunc(have, func(w string) bool { return strings.HasPrefix(w, t) }) {
				return false
			}
		}
		return true
	}
}

func words(s string) []string {
	return strings.FieldsFunc(query.NormString(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Codes is the expansion of the value set url ("|version" allowed) as
// system|code pairs (Version and Display left empty), for the :in and
// :not-in search modifiers. Errors as for Expand: 404 unknown value set,
// 422 one that cannot be expanded here or has more than MaxExpansion codes.
func Codes(set *conformance.Set, url string) ([]Coding, error) {
	vs, err := valueSet(set, url, "")
	if err != nil {
		return nil, err
	}
	x, err := (&expander{set: set}).expand(vs)
	if err != nil {
		return nil, err
	}
	out := make([]Coding, len(x.codes.list))
	for i, m := range x.codes.list {
		out[i] = Coding{System: m.System, Code: m.Code}
	}
	return out, nil
}
