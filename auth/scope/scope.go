// Package scope is the SMART App Launch 2.2 scope language: parsing
// (v2 "patient/Observation.rs?category=…", v1 ".read/.write/.*" read as
// their v2 equivalents), narrowing what a client asks for to what it is
// registered for, and deciding what a granted set allows (the
// service.Access a token's scopes give). Pure: no storage, no HTTP.
package scope

import (
	"net/url"
	"slices"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// Clinical is one resource scope: Context/Type.Letters[?Query].
type Clinical struct {
	Context string     // "patient", "user" or "system"
	Type    string     // a resource type or "*"
	Letters string     // a non-empty, in-order subset of "cruds"
	Query   url.Values // a search-restricted scope's parameters, nil when none
	// V1 is set when it was written as .read, .write or .*; String gives
	// it back as written.
	V1  bool
	raw string
}

// Set is a parsed scope string.
type Set struct {
	Clinical []Clinical
	// Other holds the non-resource scopes (openid, fhirUser, profile,
	// launch, launch/patient, launch/encounter, offline_access,
	// online_access) in the order given.
	Other []string
}

// nonResource are the scopes that name no resource type. Anything else
// without a context prefix (Pro Santé Connect's scope_all, a typo) is bad:
// a scope the server does not know is never granted silently.
var nonResource = map[string]bool{
	"openid": true, "fhirUser": true, "profile": true,
	"launch": true, "launch/patient": true, "launch/encounter": true,
	"offline_access": true, "online_access": true,
}

// The SMART v1 suffixes and the v2 letters they stand for.
var v1Letters = map[string]string{"read": "rs", "write": "cud", "*": "cruds"}

// allLetters is the order letters must follow.
const allLetters = "cruds"

// Parse reads a space-separated scope string. Scopes it cannot read
// (unknown context, type or non-resource scope, letters unknown or out of
// order such as ".dus", a bad or empty query) are returned in bad and left
// out of the set. A scope given twice is kept once.
func Parse(s string) (set Set, bad []string) {
	seen := map[string]bool{}
	for _, tok := range strings.Fields(s) {
		if seen[tok] {
			continue
		}
		seen[tok] = true
		if nonResource[tok] {
			set.Other = append(set.Other, tok)
			continue
		}
		c, ok := parseClinical(tok)
		if !ok {
			bad = append(bad, tok)
			continue
		}
		set.Clinical = append(set.Clinical, c)
	}
	return set, bad
}

// parseClinical reads one Context/Type.Letters[?Query] scope.
func parseClinical(tok string) (Clinical, bool) {
	c := Clinical{raw: tok}
	ctx, rest, ok := strings.Cut(tok, "/")
	if !ok || (ctx != "patient" && ctx != "user" && ctx != "system") {
		return c, false
	}
	c.Context = ctx
	rest, q, hasQuery := strings.Cut(rest, "?")
	typ, letters, ok := strings.Cut(rest, ".")
	if !ok || (typ != "*" && !fhir.KnownType(typ)) {
		return c, false
	}
	c.Type = typ
	if v2, ok := v1Letters[letters]; ok {
		c.Letters, c.V1 = v2, true
	} else if inOrder(letters) {
		c.Letters = letters
	} else {
		return c, false
	}
	if hasQuery {
		vals, err := url.ParseQuery(q)
		if err != nil || len(vals) == 0 {
			return c, false
		}
		for k, vs := range vals {
			for _, v := range vs {
				// an empty value is no condition in a search: the scope
				// would read as unrestricted
				if k == "" || strings.Trim(v, ",") == "" {
					return c, false
				}
			}
		}
		c.Query = vals
	}
	return c, true
}

// inOrder reports whether s is a non-empty subset of "cruds" in that order.
func inOrder(s string) bool {
	if s == "" {
		return false
	}
	at := 0
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(allLetters[at:], s[i])
		if j < 0 {
			return false
		}
		at += j + 1
	}
	return true
}

// String is the scope as written, or for a scope Narrow made, in v2 form
// (v1 form when it was asked as v1 and its letters are still a v1 suffix).
func (c Clinical) String() string {
	if c.raw != "" {
		return c.raw
	}
	var b strings.Builder
	b.WriteString(c.Context)
	b.WriteByte('/')
	b.WriteString(c.Type)
	b.WriteByte('.')
	b.WriteString(c.suffix())
	if len(c.Query) > 0 {
		b.WriteByte('?')
		b.WriteString(encodeQuery(c.Query))
	}
	return b.String()
}

func (c Clinical) suffix() string {
	if c.V1 {
		for v1, v2 := range v1Letters {
			if v2 == c.Letters {
				return v1
			}
		}
	}
	return c.Letters
}

// encodeQuery writes a restriction so that url.ParseQuery reads it back,
// escaping only what would change that reading or split the scope string:
// system|code values stay legible.
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			parts = append(parts, escape(k, true)+"="+escape(v, false))
		}
	}
	return strings.Join(parts, "&")
}

func escape(s string, key bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '%' || ch == '&' || ch == '+' || ch == ';' || ch == '#' || ch <= ' ' || ch == 0x7f || (key && ch == '='):
			b.WriteString("%")
			b.WriteByte("0123456789ABCDEF"[ch>>4])
			b.WriteByte("0123456789ABCDEF"[ch&15])
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// String is the space-separated scope string, each scope as written: the
// resource scopes, then the others.
func (s Set) String() string {
	parts := make([]string, 0, len(s.Clinical)+len(s.Other))
	for _, c := range s.Clinical {
		parts = append(parts, c.String())
	}
	parts = append(parts, s.Other...)
	return strings.Join(parts, " ")
}

// Has reports whether a non-resource scope (e.g. "offline_access") is in s.
func (s Set) Has(name string) bool { return slices.Contains(s.Other, name) }

// Narrow returns what of asked may be granted to a client registered for
// allowed: each asked resource scope intersected with every registered one
// of the same context (a wildcard narrowed to the asked type, letters
// intersected, the restrictions of both kept: they AND), the union of the
// results without duplicates; a non-resource scope is kept when it is
// registered. A scope that comes out as asked keeps its spelling.
func Narrow(asked, allowed Set) Set {
	var out Set
	seen := map[string]bool{}
	for _, a := range asked.Clinical {
		for _, r := range allowed.Clinical {
			c, ok := intersect(a, r)
			if !ok {
				continue
			}
			if k := c.String(); !seen[k] {
				seen[k] = true
				out.Clinical = append(out.Clinical, c)
			}
		}
	}
	for _, o := range asked.Other {
		if allowed.Has(o) && !out.Has(o) {
			out.Other = append(out.Other, o)
		}
	}
	return out
}

// intersect is what a (asked) and r (registered) both allow.
func intersect(a, r Clinical) (Clinical, bool) {
	if a.Context != r.Context {
		return Clinical{}, false
	}
	c := Clinical{Context: a.Context, V1: a.V1} // V1 settled with the letters
	switch {
	case r.Type == "*":
		c.Type = a.Type
	case a.Type == "*" || a.Type == r.Type:
		c.Type = r.Type
	default:
		return Clinical{}, false
	}
	for i := 0; i < len(allLetters); i++ {
		if l := allLetters[i]; strings.IndexByte(a.Letters, l) >= 0 && strings.IndexByte(r.Letters, l) >= 0 {
			c.Letters += string(l)
		}
	}
	if c.Letters == "" {
		return Clinical{}, false
	}
	c.V1 = a.V1 && c.suffix() != c.Letters
	c.Query = andQuery(a.Query, r.Query)
	if c.Type == a.Type && c.Letters == a.Letters && sameQuery(c.Query, a.Query) {
		c.raw = a.raw
	}
	return c, true
}

// andQuery is the restriction of both a and b: their parameters together,
// a value given by both kept once (repeated parameters AND in a search).
func andQuery(a, b url.Values) url.Values {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make(url.Values, len(a)+len(b))
	for _, q := range []url.Values{a, b} {
		for k, vs := range q {
			for _, v := range vs {
				if !slices.Contains(out[k], v) {
					out[k] = append(out[k], v)
				}
			}
		}
	}
	return out
}

func sameQuery(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, vs := range a {
		if !slices.Equal(vs, b[k]) {
			return false
		}
	}
	return true
}

// Access is the service.Access a granted set gives; patient is the launch
// patient's id that patient/ scopes confine to ("" when none is in
// context: then patient/ scopes allow nothing).
func (s Set) Access(patient string) service.Access {
	a := &access{patient: patient, scopes: make([]granted, 0, len(s.Clinical))}
	if patient != "" {
		a.patients = []string{patient}
	}
	for _, c := range s.Clinical {
		g := granted{typ: c.Type, confined: c.Context == "patient", restriction: c.Query, name: c.String()}
		for i := 0; i < len(c.Letters); i++ {
			g.letters |= letterBit(c.Letters[i])
		}
		a.scopes = append(a.scopes, g)
	}
	return a
}
