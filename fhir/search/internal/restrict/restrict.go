// Package restrict narrows SearchParameter FHIRPath expressions to one
// resource type. Both the generator of the R4 parameter table and the
// registry of custom SearchParameters need it; the generator cannot import
// package search (search does not compile before the table exists).
package restrict

import "strings"

// Expr narrows a SearchParameter expression to resource type t: for a
// parameter declared on several bases only the union branches starting
// with base are kept, and a Resource/DomainResource prefix is rewritten to t.
func Expr(expr, base, t string, multiBase bool) string {
	if expr == "" {
		return ""
	}
	var keep []string
	for _, p := range splitUnion(expr) {
		p = strings.TrimSpace(p)
		head := leadingName(p)
		if multiBase && head != base {
			continue
		}
		if head == base && base != t {
			i := strings.Index(p, base)
			p = p[:i] + t + p[i+len(base):]
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, " | ")
}

// splitUnion splits a FHIRPath expression on its top-level '|' operators.
func splitUnion(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == '|' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// leadingName is the first identifier of a union branch past any opening
// parentheses: "(Observation.value as Quantity)" gives "Observation".
func leadingName(p string) string {
	p = strings.TrimLeft(p, "( ")
	i := 0
	for i < len(p) && (p[i] >= 'A' && p[i] <= 'Z' || p[i] >= 'a' && p[i] <= 'z' || p[i] >= '0' && p[i] <= '9' || p[i] == '_') {
		i++
	}
	return p[:i]
}
