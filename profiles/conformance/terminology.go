package conformance

import (
	"strings"
)

// expansion is what a value set allows, computed once per value set from its
// compose (no terminology server): explicit codes per system, plus the
// systems it takes whole or filters that could not be enumerated here, for
// which membership is unknown rather than false.
type expansion struct {
	url   string
	codes map[string]map[string]bool // system → code → in
	// unknown holds systems whose content could not be enumerated (code
	// system not loaded, fragment, or an unsupported filter).
	unknown map[string]bool
	// missing is set when the value set itself is not loaded.
	missing bool
}

// membership is the answer to "is this code in the value set?".
type membership uint8

const (
	memberNo membership = iota
	memberYes
	memberUnknown
)

// contains answers for (system, code); system "" means "any system" (a
// bare code element).
func (x *expansion) contains(system, code string) membership {
	if x.missing {
		return memberUnknown
	}
	if system == "" {
		for _, cs := range x.codes {
			if cs[code] {
				return memberYes
			}
		}
		if len(x.unknown) > 0 {
			return memberUnknown
		}
		return memberNo
	}
	if x.codes[system][code] {
		return memberYes
	}
	if x.unknown[system] {
		return memberUnknown
	}
	return memberNo
}

// expand returns the (cached) expansion of the value set url. Called with
// s.mu held.
func (s *Set) expand(url string, depth int) *expansion {
	if x := s.exps[url]; x != nil {
		return x
	}
	x := &expansion{url: url, codes: map[string]map[string]bool{}, unknown: map[string]bool{}}
	s.exps[url] = x
	vs := s.vss[url]
	if vs == nil {
		if u, _, ok := strings.Cut(url, "|"); ok {
			vs = s.vss[u]
		}
	}
	if vs == nil || depth > 10 {
		x.missing = true
		return x
	}
	compose, _ := vs["compose"].(map[string]any)
	if compose == nil {
		// A pre-expanded value set.
		if exp, ok := vs["expansion"].(map[string]any); ok {
			addContains(x, exp["contains"])
			return x
		}
		x.missing = true
		return x
	}
	incs, _ := compose["include"].([]any)
	for _, in := range incs {
		inc, _ := in.(map[string]any)
		s.include(x, inc, depth)
	}
	excs, _ := compose["exclude"].([]any)
	for _, ex := range excs {
		exc, _ := ex.(map[string]any)
		sys := str(exc["system"])
		cs, _ := exc["concept"].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			delete(x.codes[sys], str(cm["code"]))
		}
	}
	return x
}

func addContains(x *expansion, v any) {
	arr, _ := v.([]any)
	for _, c := range arr {
		cm, _ := c.(map[string]any)
		if sys, code := str(cm["system"]), str(cm["code"]); code != "" {
			x.add(sys, code)
		}
		addContains(x, cm["contains"])
	}
}

func (x *expansion) add(sys, code string) {
	m := x.codes[sys]
	if m == nil {
		m = map[string]bool{}
		x.codes[sys] = m
	}
	m[code] = true
}

func (s *Set) include(x *expansion, inc map[string]any, depth int) {
	sys := str(inc["system"])
	if vsets, ok := inc["valueSet"].([]any); ok && sys == "" {
		for _, v := range vsets {
			sub := s.expand(str(v), depth+1)
			if sub.missing {
				x.missing = true
				continue
			}
			for sy, codes := range sub.codes {
				for c := range codes {
					x.add(sy, c)
				}
			}
			for sy := range sub.unknown {
				x.unknown[sy] = true
			}
		}
		return
	}
	if sys == "" {
		return
	}
	if cs, ok := inc["concept"].([]any); ok {
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			x.add(sys, str(cm["code"]))
		}
		return
	}
	codeSystem := s.css[sys]
	if codeSystem == nil || (str(codeSystem["content"]) != "complete" && str(codeSystem["content"]) != "") {
		x.unknown[sys] = true
		return
	}
	concepts, _ := codeSystem["concept"].([]any)
	filters, _ := inc["filter"].([]any)
	if len(filters) == 0 {
		walkConcepts(concepts, func(code string, _ []any) { x.add(sys, code) })
		return
	}
	// Only is-a / descendent-of on the concept hierarchy are evaluated here.
	for _, f := range filters {
		fm, _ := f.(map[string]any)
		op, prop, val := str(fm["op"]), str(fm["property"]), str(fm["value"])
		if prop != "concept" || (op != "is-a" && op != "descendent-of") {
			x.unknown[sys] = true
			return
		}
		found := false
		walkConcepts(concepts, func(code string, kids []any) {
			if code != val {
				return
			}
			found = true
			if op == "is-a" {
				x.add(sys, code)
			}
			walkConcepts(kids, func(c string, _ []any) { x.add(sys, c) })
		})
		if !found {
			// The hierarchy may be expressed by properties we dropped.
			x.unknown[sys] = true
		}
	}
}

func walkConcepts(concepts []any, fn func(code string, children []any)) {
	for _, c := range concepts {
		cm, _ := c.(map[string]any)
		kids, _ := cm["concept"].([]any)
		fn(str(cm["code"]), kids)
		walkConcepts(kids, fn)
	}
}
