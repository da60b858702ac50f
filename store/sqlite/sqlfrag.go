package sqlite

import (
	"encoding/json"
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

// inListMax is the longest list in writes as bound parameters; a longer
// one is one JSON array parameter read by json_each, so no list reaches
// SQLite's limit on bound parameters (32,766) or the statement cache
// holds one statement per list length: a care circle's confinement is a
// list of thousands of patient ids.
const inListMax = 50

// in writes the right side of an IN test of vs: "(?, ?, ...)" for a
// short list, else "(SELECT value FROM json_each(?))" with vs as one
// JSON array.
func (f *frag) in(vs []string) {
	if len(vs) <= inListMax {
		f.list(vs)
		return
	}
	b, _ := json.Marshal(vs) // strings always marshal
	f.w("(SELECT value FROM json_each(")
	f.p(string(b))
	f.w("))")
}

func (f *frag) add(g *frag) {
	f.b.WriteString(g.b.String())
	f.a = append(f.a, g.a...)
}
