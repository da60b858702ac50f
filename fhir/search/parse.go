package search

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// Unknown is a query parameter the parser did not use: not defined for the
// type, or defined but not supported by this server. The service ignores
// these, or rejects the search under Prefer: handling=strict.
type Unknown struct {
	Name   string // the parameter as written, with modifiers and chain
	Values []string
	Reason string
}

// Parser turns query strings into Queries; its zero value (with Registry
// set) uses DefaultCount and MaxCount.
type Parser struct {
	Registry *Registry
	// DefaultCount is the page size without _count (0: 20).
	DefaultCount int
	// MaxCount caps _count (0: 1000); larger requests are served in pages of MaxCount.
	MaxCount int
}

// Defaults of Parser.
const (
	// DefaultCount is the page size when neither _count nor Parser.DefaultCount is set.
	DefaultCount = 20
	// MaxCount caps _count when Parser.MaxCount is not set.
	MaxCount = 1000
)

// Parse parses the search parameters of a search on typ ("" for a
// system-wide search) with the default page sizes. See Parser.Parse.
func Parse(reg *Registry, typ string, params url.Values) (*query.Query, []Unknown, error) {
	return (&Parser{Registry: reg}).Parse(typ, params)
}

// ignoredParams are handled by the HTTP layer, not by search.
var ignoredParams = map[string]bool{"_format": true, "_pretty": true}

// Parse parses params for a search on typ ("" for a system search, which
// takes _type). Parameters are processed in name order so the Query, and
// its canonical string, do not depend on map order; repetitions keep their
// order. Malformed values, and requests over a limit of limits.go, return
// a *fhir.Error with status 400; parameters the server does not know or
// support are returned as Unknown.
func (ps *Parser) Parse(typ string, params url.Values) (*query.Query, []Unknown, error) {
	if err := checkSize(params, false); err != nil {
		return nil, nil, err
	}
	p := &parser{reg: ps.Registry}
	q := &query.Query{Count: ps.DefaultCount}
	if q.Count <= 0 {
		q.Count = DefaultCount
	}
	maxCount := ps.MaxCount
	if maxCount <= 0 {
		maxCount = MaxCount
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	// _type first: it decides where the other parameters are looked up.
	if typ != "" {
		q.Types = []string{typ}
	} else if vs, ok := params["_type"]; ok {
		for _, v := range vs {
			for _, t := range splitEscaped(v, ',') {
				if err := checkValue("_type", t); err != nil {
					return nil, nil, err
				}
				t = strings.TrimSpace(unescape(t))
				if t == "" {
					continue
				}
				if !fhir.KnownType(t) {
					return nil, nil, errInvalid("_type", "unknown resource type %q", t)
				}
				if !contains(q.Types, t) {
					q.Types = append(q.Types, t)
				}
			}
		}
	}
	ctx := q.Types
	if len(ctx) == 0 {
		ctx = []string{"Resource"}
	}

	var unknown []Unknown
	for _, key := range keys {
		vals := params[key]
		name, mod, _ := strings.Cut(key, ":")
		switch {
		case ignoredParams[key]:
		case key == "_type":
			if typ != "" {
				unknown = append(unknown, Unknown{key, vals, "_type is only for system-wide searches"})
			}
		case key == "_count":
			n, err := lastInt(key, vals)
			if err != nil {
				return nil, nil, err
			}
			if n > maxCount {
				n = maxCount
			}
			q.Count = n
		case key == "_page":
			q.Page = vals[len(vals)-1]
		case key == "_total":
			switch v := vals[len(vals)-1]; v {
			case "none", "":
				q.Total = false
			case "estimate", "accurate":
				q.Total = true
			default:
				return nil, nil, errInvalid(key, "_total must be none, estimate or accurate, not %q", v)
			}
		case key == "_summary":
			switch v := vals[len(vals)-1]; v {
			case "true", "text", "data", "false":
				q.Summary = v
			case "count":
				q.Summary = v
			case "":
			default:
				return nil, nil, errInvalid(key, "_summary must be true, text, data, count or false, not %q", v)
			}
		case key == "_elements":
			for _, v := range vals {
				for _, e := range strings.Split(v, ",") {
					if e = strings.TrimSpace(e); e != "" && !contains(q.Elements, e) {
						if err := checkValue(key, e); err != nil {
							return nil, nil, err
						}
						if len(q.Elements) == MaxElements {
							return nil, nil, tooCostly(key, "more than %d element names (MaxElements)", MaxElements)
						}
						q.Elements = append(q.Elements, e)
					}
				}
			}
		case key == "_sort":
			var sorted []string // the parameters already sorted on, known or not
			for _, v := range vals {
				for _, s := range strings.Split(v, ",") {
					if s = strings.TrimSpace(s); s == "" {
						continue
					}
					k := query.SortKey{Param: s}
					if strings.HasPrefix(s, "-") {
						k.Desc, k.Param = true, s[1:]
					}
					// A key repeated adds nothing to the order (the first
					// occurrence decides it), and MongoDB refuses a sort
					// that names a field twice.
					if contains(sorted, k.Param) {
						continue
					}
					if err := checkValue(key, s); err != nil {
						return nil, nil, err
					}
					if len(sorted) == MaxSortKeys {
						return nil, nil, tooCostly(key, "more than %d sort keys (MaxSortKeys)", MaxSortKeys)
					}
					sorted = append(sorted, k.Param)
					sp, err := p.lookup(ctx, k.Param)
					if err != nil {
						return nil, nil, err
					}
					if sp == nil || sp.Unsupported != "" || sp.Type == query.TypeComposite {
						unknown = append(unknown, Unknown{key, []string{s}, "cannot sort by " + k.Param})
						continue
					}
					k.Type = sp.Type
					q.Sort = append(q.Sort, k)
				}
			}
		case name == "_include" || name == "_revinclude":
			iterate := false
			switch mod {
			case "":
			case "iterate", "recurse":
				iterate = true
			default:
				return nil, nil, errProcessing(key, "unknown modifier %q on %s", mod, name)
			}
			for _, v := range vals {
				if err := checkValue(key, v); err != nil {
					return nil, nil, err
				}
				inc, err := p.include(name, v, iterate, ctx)
				if err != nil {
					return nil, nil, err
				}
				if inc == nil {
					continue
				}
				if err := p.budget.addInclude(key); err != nil {
					return nil, nil, err
				}
				if name == "_include" {
					q.Include = append(q.Include, *inc)
				} else {
					q.RevInclude = append(q.RevInclude, *inc)
				}
			}
		default:
			for _, v := range vals {
				if strings.Trim(v, ",") == "" {
					// An empty parameter is ignored (R4 3.1.1.5), and so is
					// one of empty values only ("a=,"): a clause without
					// values is no condition at all.
					continue
				}
				c, reason, err := p.clause(ctx, key, v)
				if err != nil {
					return nil, nil, err
				}
				if reason != "" {
					unknown = append(unknown, Unknown{key, vals, reason})
					break
				}
				if c != nil {
					if c.Chain != nil || c.Has != nil {
						if err := p.budget.addChain(key); err != nil {
							return nil, nil, err
						}
					}
					q.Where = append(q.Where, *c)
				}
			}
		}
	}
	if q.Summary == "count" {
		q.Count, q.Total = 0, true
	}
	if err := checkCanonical(q, typ); err != nil {
		return nil, nil, err
	}
	return q, unknown, nil
}

type parser struct {
	reg    *Registry
	budget budget
}

// lookup finds code on every type of ctx. It returns nil when no type
// defines it; when several do, their definitions must agree on the type.
func (p *parser) lookup(ctx []string, code string) (*Param, error) {
	var found *Param
	for _, t := range ctx {
		sp := p.reg.Lookup(t, code)
		if sp == nil {
			if len(ctx) > 1 {
				// A multi-type search uses only parameters common to all types.
				return nil, nil
			}
			continue
		}
		if found != nil && found.Type != sp.Type {
			return nil, errProcessing(code, "parameter %s has different types on %s and %s", code, found.Base, sp.Base)
		}
		if found == nil {
			found = sp
		}
	}
	return found, nil
}

// clause parses one "key=value" occurrence. A non-empty reason means the
// parameter is unknown or unsupported.
func (p *parser) clause(ctx []string, key, value string) (*query.Clause, string, error) {
	c, leaf, reason, err := p.key(ctx, key, key, 0)
	if err != nil || reason != "" {
		return nil, reason, err
	}
	leaf.chained = leaf.c != c
	if err := p.values(leaf, key, value); err != nil {
		return nil, "", err
	}
	return c, "", nil
}

// key parses a parameter name with its modifier, chain and _has parts. It
// returns the root clause and the leaf clause that receives the values,
// along with its definition. full is the whole parameter name (errors name
// it), key the part of it still to parse, depth the hops parsed so far.
func (p *parser) key(ctx []string, full, key string, depth int) (root *query.Clause, leaf *leafClause, reason string, err error) {
	if rest, ok := strings.CutPrefix(key, "_has:"); ok {
		if depth == MaxChainDepth {
			return nil, nil, "", chainTooDeep(full)
		}
		parts := strings.SplitN(rest, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, nil, "", errProcessing(full, "_has must be _has:Type:reference:parameter")
		}
		typ, ref := parts[0], parts[1]
		if p.reg.Params(typ) == nil {
			return nil, nil, "", errProcessing(full, "unknown resource type %q in _has", typ)
		}
		rp := p.reg.Lookup(typ, ref)
		if rp == nil || rp.Unsupported != "" {
			return nil, nil, "unknown parameter " + typ + "." + ref + " in _has", nil
		}
		if rp.Type != query.TypeReference {
			return nil, nil, "", errProcessing(full, "%s.%s is not a reference parameter", typ, ref)
		}
		if len(rp.Targets) > 0 && ctx[0] != "Resource" && !anyTarget(rp, ctx) {
			return nil, nil, "", errProcessing(full, "%s.%s does not refer to %s", typ, ref, strings.Join(ctx, ","))
		}
		inner, leaf, reason, err := p.key([]string{typ}, full, parts[2], depth+1)
		if err != nil || reason != "" {
			return nil, nil, reason, err
		}
		c := &query.Clause{Param: "_has", Type: query.TypeSpecial, Has: &query.Has{Type: typ, RefParam: ref, Where: *inner}}
		if leaf.c == inner {
			leaf.c = &c.Has.Where // the values go into the copy
		}
		return c, leaf, "", nil
	}
	head, tail, chained := strings.Cut(key, ".")
	code, mod, hasMod := strings.Cut(head, ":")
	sp, err := p.lookup(ctx, code)
	if err != nil {
		return nil, nil, "", err
	}
	if sp == nil {
		return nil, nil, "unknown parameter " + code, nil
	}
	if sp.Unsupported != "" {
		return nil, nil, "unsupported parameter " + code + " (" + sp.Unsupported + ")", nil
	}
	c := &query.Clause{Param: code, Type: sp.Type}
	if hasMod && strings.Contains(mod, ":") {
		return nil, nil, "", errProcessing(full, "more than one modifier on %s", code)
	}
	if chained {
		if depth == MaxChainDepth {
			return nil, nil, "", chainTooDeep(full)
		}
		if sp.Type != query.TypeReference {
			return nil, nil, "", errProcessing(full, "cannot chain from %s: not a reference parameter", code)
		}
		if hasMod {
			if !isTypeName(mod) || !fhir.KnownType(mod) {
				return nil, nil, "", errProcessing(full, "only a resource type modifier may precede a chain, not %q", mod)
			}
			if len(sp.Targets) > 0 && !sp.HasTarget(mod) && !sp.HasTarget("Resource") {
				return nil, nil, "", errProcessing(full, "%s cannot refer to %s", code, mod)
			}
			c.TargetTypes = []string{mod}
		} else {
			// Keep the targets on which the next link is defined.
			next, _, _ := strings.Cut(tail, ".")
			next, _, _ = strings.Cut(next, ":")
			targets := sp.Targets
			if len(targets) == 0 || contains(targets, "Resource") {
				targets = p.reg.Types()
			}
			for _, t := range targets {
				if t == "Resource" || t == "DomainResource" {
					continue
				}
				if strings.HasPrefix(tail, "_has:") || p.reg.Lookup(t, next) != nil {
					c.TargetTypes = append(c.TargetTypes, t)
				}
			}
			if len(c.TargetTypes) == 0 {
				return nil, nil, "unknown chained parameter " + next + " for " + code, nil
			}
		}
		inner, leaf, reason, err := p.key(c.TargetTypes, full, tail, depth+1)
		if err != nil || reason != "" {
			return nil, nil, reason, err
		}
		c.Chain = inner
		return c, leaf, "", nil
	}
	if hasMod {
		switch {
		case mod == "missing":
		case sp.Type == query.TypeReference && isTypeName(mod):
			if !fhir.KnownType(mod) {
				return nil, nil, "", errProcessing(full, "unknown resource type %q", mod)
			}
			if len(sp.Targets) > 0 && !sp.HasTarget(mod) && !sp.HasTarget("Resource") {
				return nil, nil, "", errProcessing(full, "%s cannot refer to %s", code, mod)
			}
			c.TargetTypes = []string{mod}
			mod = ""
		case mod != "type" && sp.HasModifier(mod):
			c.Modifier = mod
		default:
			return nil, nil, "", errProcessing(full, "modifier :%s is not supported on %s parameter %s", mod, sp.Type, code)
		}
	}
	return c, &leafClause{c: c, p: sp, missing: hasMod && mod == "missing"}, "", nil
}

type leafClause struct {
	c       *query.Clause
	p       *Param
	missing bool
	chained bool // under a chain or _has
}

// values parses the comma-separated values of one occurrence into the leaf.
func (p *parser) values(l *leafClause, key, value string) error {
	c := l.c
	if l.missing {
		if err := p.budget.addValues(key, 1, l.chained); err != nil {
			return err
		}
		switch value {
		case "true":
			b := true
			c.Missing = &b
		case "false":
			b := false
			c.Missing = &b
		default:
			return errInvalid(key, ":missing takes true or false, not %q", value)
		}
		return nil
	}
	raws := splitEscaped(value, ',')
	n := 0
	for _, raw := range raws {
		if raw != "" {
			n++
		}
	}
	if err := p.budget.addValues(key, n, l.chained); err != nil {
		return err
	}
	for _, raw := range raws {
		if raw == "" {
			continue
		}
		if err := checkValue(key, raw); err != nil {
			return err
		}
		if c.Type == query.TypeComposite {
			parts := splitEscaped(raw, '$')
			if len(parts) != len(l.p.Components) {
				return errInvalid(key, "composite %s needs %d components separated by $, got %d", c.Param, len(l.p.Components), len(parts))
			}
			comps := make([]query.Clause, len(parts))
			for i, comp := range l.p.Components {
				cc := query.Clause{Param: comp.Code, Type: comp.Type}
				v, err := parseValue(&cc, nil, key, parts[i])
				if err != nil {
					return err
				}
				cc.Values = []query.Value{v}
				comps[i] = cc
			}
			c.Components = append(c.Components, comps)
			continue
		}
		v, err := parseValue(c, l.p, key, raw)
		if err != nil {
			return err
		}
		c.Values = append(c.Values, v)
	}
	return nil
}

// parseValue parses one escaped value for clause c (sp may be nil for
// composite components).
func parseValue(c *query.Clause, sp *Param, key, raw string) (query.Value, error) {
	var v query.Value
	switch c.Type {
	case query.TypeString:
		v.Raw = unescape(raw)
		if c.Modifier == "exact" {
			v.Str = v.Raw
		} else {
			v.Str = query.NormString(v.Raw)
		}
	case query.TypeURI:
		v.Raw = unescape(raw)
		v.Str = v.Raw
	case query.TypeToken:
		v.Raw = unescape(raw)
		switch c.Modifier {
		case "text":
			v.Str = query.NormString(v.Raw)
		case "in", "not-in":
			v.Str = v.Raw
		case "of-type":
			parts := splitEscaped(raw, '|')
			if len(parts) != 3 {
				return v, errInvalid(key, ":of-type takes system|code|value, not %q", v.Raw)
			}
			v.System, v.Code, v.Str, v.HasSystem = unescape(parts[0]), unescape(parts[1]), unescape(parts[2]), true
			if v.Code == "" || v.Str == "" {
				// an identifier type code and a value are what it matches on
				return v, errInvalid(key, ":of-type needs a type code and a value: system|code|value, not %q", v.Raw)
			}
		default:
			v.System, v.HasSystem, v.Code = splitToken(raw)
		}
	case query.TypeReference:
		v.Raw = unescape(raw)
		switch c.Modifier {
		case "identifier":
			v.System, v.HasSystem, v.Code = splitToken(raw)
		case "above", "below":
			v.RefURL, v.RefVersion = splitCanonical(v.Raw)
		default:
			s := v.Raw
			switch {
			case isAbsolute(s):
				v.RefURL, v.RefVersion = splitCanonical(s)
			case strings.Contains(s, "/"):
				parts := strings.Split(s, "/")
				if (len(parts) != 2 && !(len(parts) == 4 && parts[2] == "_history")) || parts[0] == "" || !fhir.ValidID(parts[1]) {
					return v, errInvalid(key, "reference %q is not Type/id", s)
				}
				if !fhir.KnownType(parts[0]) {
					return v, errInvalid(key, "unknown resource type %q in reference", parts[0])
				}
				v.RefType, v.RefID = parts[0], parts[1]
			default:
				if !fhir.ValidID(s) {
					return v, errInvalid(key, "%q is not a valid id", s)
				}
				v.RefID = s
				if len(c.TargetTypes) == 1 {
					v.RefType = c.TargetTypes[0]
				} else if sp != nil && len(sp.Targets) == 1 && sp.Targets[0] != "Resource" {
					v.RefType = sp.Targets[0]
				}
			}
		}
	case query.TypeDate:
		pre, rest, err := prefix(key, raw)
		if err != nil {
			return v, err
		}
		v.Prefix, v.Raw = pre, unescape(rest)
		if v.DateLow, v.DateHigh, err = query.DateRange(v.Raw); err != nil {
			return v, errInvalid(key, "%q: %v", v.Raw, err)
		}
	case query.TypeNumber:
		pre, rest, err := prefix(key, raw)
		if err != nil {
			return v, err
		}
		v.Prefix, v.Raw = pre, unescape(rest)
		if v.Num, v.NumLow, v.NumHigh, err = query.NumberRange(v.Raw); err != nil {
			return v, errInvalid(key, "%q: %v", v.Raw, err)
		}
	case query.TypeQuantity:
		pre, rest, err := prefix(key, raw)
		if err != nil {
			return v, err
		}
		v.Prefix = pre
		parts := splitEscaped(rest, '|')
		if len(parts) != 1 && len(parts) != 3 {
			return v, errInvalid(key, "quantity %q is not number|system|code", unescape(rest))
		}
		v.Raw = unescape(parts[0])
		if v.Num, v.NumLow, v.NumHigh, err = query.NumberRange(v.Raw); err != nil {
			return v, errInvalid(key, "%q: %v", v.Raw, err)
		}
		if len(parts) == 3 {
			v.System, v.Unit = unescape(parts[1]), unescape(parts[2])
			v.HasSystem = v.System != ""
		}
	default:
		return v, errProcessing(key, "cannot search on %s parameter %s", c.Type, c.Param)
	}
	return v, nil
}

// prefix strips a comparator prefix; EQ when there is none.
func prefix(key, raw string) (query.Prefix, string, error) {
	if len(raw) >= 2 && isLower(raw[0]) && isLower(raw[1]) {
		switch pr := query.Prefix(raw[:2]); pr {
		case query.EQ, query.NE, query.GT, query.LT, query.GE, query.LE, query.SA, query.EB, query.AP:
			return pr, raw[2:], nil
		default:
			return "", "", errInvalid(key, "unknown prefix %q", raw[:2])
		}
	}
	return query.EQ, raw, nil
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// splitToken splits an escaped "system|code", "|code", "system|" or "code".
func splitToken(raw string) (system string, hasSystem bool, code string) {
	parts := splitEscaped(raw, '|')
	if len(parts) == 1 {
		return "", false, unescape(raw)
	}
	// A code may itself contain unescaped bars after the first: keep them.
	return unescape(parts[0]), true, unescape(strings.Join(parts[1:], "|"))
}

// splitCanonical splits "url|version".
func splitCanonical(s string) (url, version string) {
	if i := strings.LastIndexByte(s, '|'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func isAbsolute(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "urn:")
}

// isTypeName reports whether s looks like a resource type (":Patient"), as
// opposed to a lower-case modifier.
func isTypeName(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }

// include parses one _include/_revinclude value: Type:param[:target] or "*".
func (p *parser) include(name, v string, iterate bool, ctx []string) (*query.Include, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if v == "*" {
		t := ""
		if len(ctx) == 1 && ctx[0] != "Resource" {
			t = ctx[0]
		}
		return &query.Include{Type: t, Param: "*", Iterate: iterate}, nil
	}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, errInvalid(name, "%q is not Type:parameter[:targetType]", v)
	}
	inc := &query.Include{Type: parts[0], Param: parts[1], Iterate: iterate}
	if !fhir.KnownType(inc.Type) {
		return nil, errInvalid(name, "unknown resource type %q", inc.Type)
	}
	if len(parts) == 3 {
		inc.TargetType = parts[2]
		if !fhir.KnownType(inc.TargetType) {
			return nil, errInvalid(name, "unknown resource type %q", inc.TargetType)
		}
	}
	if inc.Param != "*" {
		sp := p.reg.Lookup(inc.Type, inc.Param)
		if sp == nil || sp.Type != query.TypeReference {
			return nil, errInvalid(name, "%s:%s is not a reference parameter", inc.Type, inc.Param)
		}
		if inc.TargetType != "" && len(sp.Targets) > 0 && !sp.HasTarget(inc.TargetType) && !sp.HasTarget("Resource") {
			return nil, errInvalid(name, "%s:%s cannot refer to %s", inc.Type, inc.Param, inc.TargetType)
		}
	}
	return inc, nil
}

func anyTarget(sp *Param, types []string) bool {
	if sp.HasTarget("Resource") {
		return true
	}
	for _, t := range types {
		if sp.HasTarget(t) {
			return true
		}
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func lastInt(key string, vals []string) (int, error) {
	v := vals[len(vals)-1]
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errInvalid(key, "%s must be a non-negative integer, not %q", key, v)
	}
	return n, nil
}

// splitEscaped splits s on sep where sep is not escaped by a backslash;
// the parts keep their escapes.
func splitEscaped(s string, sep byte) []string {
	if strings.IndexByte(s, sep) < 0 {
		return []string{s}
	}
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape removes the search escapes \, \| \$ and \\; other backslashes stay.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case ',', '|', '$', '\\':
				b.WriteByte(s[i+1])
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// errInvalid and errProcessing are the 400s of a malformed or unusable
// parameter; the expression is the parameter as written.
func errInvalid(param, format string, args ...any) *fhir.Error {
	return searchErr("invalid", param, format, args)
}

func errProcessing(param, format string, args ...any) *fhir.Error {
	return searchErr("processing", param, format, args)
}

// searchErr builds the 400; long strings (a parameter name or value can
// be kilobytes) are clipped so the outcome does not echo them whole.
func searchErr(code, param, format string, args []any) *fhir.Error {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = clip(s)
		}
	}
	return fhir.Errorf(400, code, clip(param), "search parameter "+clip(param)+": "+format, args...)
}

// maxEcho is how much of a client's string an error repeats.
const maxEcho = 200

func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	i := maxEcho
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
