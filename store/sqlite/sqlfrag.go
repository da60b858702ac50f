package sqlite

import (
	"strings"
)

// frag is a piece of SQL with its bound arguments, in text order.
type frag struct {
	b strings.Builder
	a []any
}

func (f *frag) w(ss ...string) {
	for _, s := range ss {
		f.b.WriteString(s)
	}
}

// p writes a placeholder bound to v.
func (f *frag) p(v any) {
	f.b.WriteByte('?')
	f.a = append(f.a, v)
}

// list writes "(?, ?, ...)" bound to vs.
func (f *frag) list(vs []string) {
	f.b.WriteByte('(')
	for i, v := range vs {
		if i > 0 {
			f.b.WriteString(", ")
		}
		f.p(v)
	}
	f.b.WriteByte(')')
}

func (f *frag) add(g *frag) {
	f.b.WriteString(g.b.String())
	f.a = append(f.a, g.a...)
}
