package query

import (
	"net/url"
	"strconv"
	"strings"
)

// Encode renders q as its canonical query string — the search as the
// server understood it, for the Bundle's self link: parameters in parse
// order, modifiers and chains spelled out, values re-escaped, unknown
// parameters gone. typ is the type the search was made on ("" for a
// system search, which then shows _type). The page cursor is not included.
func (q *Query) Encode(typ string) string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(queryEscape(k))
		b.WriteByte('=')
		b.WriteString(queryEscape(v))
	}
	for i := range q.Where {
		c := &q.Where[i]
		add(clauseKey(c), clauseValue(leaf(c)))
	}
	if typ == "" && len(q.Types) > 0 {
		add("_type", strings.Join(q.Types, ","))
	}
	if len(q.Sort) > 0 {
		ks := make([]string, len(q.Sort))
		for i, k := range q.Sort {
			ks[i] = k.Param
			if k.Desc {
				ks[i] = "-" + k.Param
			}
		}
		add("_sort", strings.Join(ks, ","))
	}
	if q.Summary != "count" {
		add("_count", strconv.Itoa(q.Count))
	}
	if q.Total && q.Summary != "count" {
		add("_total", "accurate")
	}
	if q.Summary != "" {
		add("_summary", q.Summary)
	}
	if len(q.Elements) > 0 {
		add("_elements", strings.Join(q.Elements, ","))
	}
	for _, inc := range q.Include {
		add(includeKey("_include", inc), includeValue(inc))
	}
	for _, inc := range q.RevInclude {
		add(includeKey("_revinclude", inc), includeValue(inc))
	}
	return b.String()
}

func includeKey(name string, inc Include) string {
	if inc.Iterate {
		return name + ":iterate"
	}
	return name
}

func includeValue(inc Include) string {
	if inc.Param == "*" && inc.Type == "" {
		return "*"
	}
	v := inc.Type + ":" + inc.Param
	if inc.TargetType != "" {
		v += ":" + inc.TargetType
	}
	return v
}

// clauseKey is the parameter name of c with modifiers, chain and _has.
func clauseKey(c *Clause) string {
	if c.Has != nil {
		return "_has:" + c.Has.Type + ":" + c.Has.RefParam + ":" + clauseKey(&c.Has.Where)
	}
	k := c.Param
	if c.Chain != nil {
		if len(c.TargetTypes) == 1 {
			k += ":" + c.TargetTypes[0]
		}
		return k + "." + clauseKey(c.Chain)
	}
	switch {
	case c.Missing != nil:
		k += ":missing"
	case c.Modifier != "":
		k += ":" + c.Modifier
	case c.Type == TypeReference && len(c.TargetTypes) == 1:
		k += ":" + c.TargetTypes[0]
	}
	return k
}

// leaf is the clause of a chain or _has that holds the values.
func leaf(c *Clause) *Clause {
	for {
		switch {
		case c.Has != nil:
			c = &c.Has.Where
		case c.Chain != nil:
			c = c.Chain
		default:
			return c
		}
	}
}

func clauseValue(c *Clause) string {
	if c.Missing != nil {
		return strconv.FormatBool(*c.Missing)
	}
	var vs []string
	if c.Type == TypeComposite {
		for _, comps := range c.Components {
			parts := make([]string, len(comps))
			for i := range comps {
				if len(comps[i].Values) > 0 {
					parts[i] = valueString(&comps[i], &comps[i].Values[0])
				}
			}
			vs = append(vs, strings.Join(parts, "$"))
		}
		return strings.Join(vs, ",")
	}
	for i := range c.Values {
		vs = append(vs, valueString(c, &c.Values[i]))
	}
	return strings.Join(vs, ",")
}

func valueString(c *Clause, v *Value) string {
	pre := ""
	if v.Prefix != "" && v.Prefix != EQ {
		pre = string(v.Prefix)
	}
	switch c.Type {
	case TypeToken:
		switch c.Modifier {
		case "text", "in", "not-in":
			return esc(v.Raw)
		case "of-type":
			return esc(v.System) + "|" + esc(v.Code) + "|" + esc(v.Str)
		}
		return tokenString(v)
	case TypeReference:
		switch {
		case c.Modifier == "identifier":
			return tokenString(v)
		case v.RefURL != "":
			if v.RefVersion != "" {
				return esc(v.RefURL) + "|" + esc(v.RefVersion)
			}
			return esc(v.RefURL)
		case v.RefType != "" && len(c.TargetTypes) != 1:
			return v.RefType + "/" + v.RefID
		}
		return v.RefID
	case TypeDate, TypeNumber:
		return pre + esc(v.Raw)
	case TypeQuantity:
		s := pre + esc(v.Raw)
		if v.System != "" || v.Unit != "" {
			s += "|" + esc(v.System) + "|" + esc(v.Unit)
		}
		return s
	}
	return esc(v.Raw)
}

func tokenString(v *Value) string {
	if v.HasSystem {
		return esc(v.System) + "|" + esc(v.Code)
	}
	return esc(v.Code)
}

var escaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `|`, `\|`, `$`, `\$`)

// esc applies the search escapes to a value.
func esc(s string) string {
	if !strings.ContainsAny(s, `\,|$`) {
		return s
	}
	return escaper.Replace(s)
}

var unescapeSafe = strings.NewReplacer("%3A", ":", "%2F", "/", "%7C", "|", "%24", "$", "%2C", ",")

// queryEscape is url.QueryEscape leaving the characters FHIR queries are
// made of (: / | $ ,) readable.
func queryEscape(s string) string {
	return unescapeSafe.Replace(url.QueryEscape(s))
}
