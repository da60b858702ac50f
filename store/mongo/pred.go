package mongo

import (
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// cond is one comparison on a field of an index element.
type cond struct {
	f  string
	op string // $eq $gt $gte $lt $lte $in $regex
	v  any    // for $in a bson.A, or an *inSet
}

// inSet is the values of a long $in of strings: a list to render, a set
// for match.
type inSet struct {
	list bson.A
	set  map[string]bool
}

func newInSet(vs []string) *inSet {
	s := &inSet{list: make(bson.A, len(vs)), set: make(map[string]bool, len(vs))}
	for i, v := range vs {
		s.list[i], s.set[v] = v, true
	}
	return s
}

// elemPred matches resources having an element of arr with p = param that
// satisfies one of any (each a conjunction) or, for a composite (arr
// "cmp"), one of alts (each a list of component predicates that must all
// hold on that one element); with neither: just having param.
type elemPred struct {
	arr, param string
	any        [][]cond
	alts       [][]compPred
}

// compPred is a predicate on part i of a composite element.
type compPred struct {
	part int
	pred *elemPred
}

// render is the $elemMatch form of the predicate.
func (e *elemPred) render() bson.D { return e.renderAt("") }

// renderAt renders with the array path under prefix (composite parts).
func (e *elemPred) renderAt(prefix string) bson.D {
	if len(e.alts) > 0 {
		var ors bson.A
		for _, alt := range e.alts {
			m := bson.D{{Key: "p", Value: e.param}}
			var all bson.A
			for _, c := range alt {
				all = append(all, c.pred.renderAt(fmt.Sprintf("parts.%d.", c.part)))
			}
			m = append(m, bson.E{Key: "$and", Value: all})
			ors = append(ors, bson.D{{Key: prefix + e.arr, Value: bson.D{{Key: "$elemMatch", Value: m}}}})
		}
		if len(ors) == 1 {
			return ors[0].(bson.D)
		}
		return bson.D{{Key: "$or", Value: ors}}
	}
	if len(e.any) == 0 {
		return bson.D{{Key: "params", Value: e.param}}
	}
	var ors bson.A
	for _, conj := range e.any {
		m := bson.D{{Key: "p", Value: e.param}}
		byField := map[string]int{}
		for _, c := range conj {
			var v any = bson.D{{Key: c.op, Value: c.v}}
			if in, ok := c.v.(*inSet); ok {
				v = bson.D{{Key: c.op, Value: in.list}}
			}
			if c.op == "$regex" {
				v = bson.D{{Key: "$regex", Value: bson.Regex{Pattern: c.v.(string)}}}
			}
			if i, ok := byField[c.f]; ok {
				m[i].Value = append(m[i].Value.(bson.D), v.(bson.D)...)
				continue
			}
			byField[c.f] = len(m)
			m = append(m, bson.E{Key: c.f, Value: v})
		}
		ors = append(ors, bson.D{{Key: prefix + e.arr, Value: bson.D{{Key: "$elemMatch", Value: m}}}})
	}
	if len(ors) == 1 {
		return ors[0].(bson.D)
	}
	return bson.D{{Key: "$or", Value: ors}}
}

// match evaluates the predicate on a document's array, as $elemMatch would.
func (e *elemPred) match(elems bson.Raw) bool {
	vals, err := elems.Values()
	if err != nil {
		return false
	}
	for _, ev := range vals {
		el, ok := ev.DocumentOK()
		if !ok {
			continue
		}
		if p, _ := el.Lookup("p").StringValueOK(); p != e.param {
			continue
		}
		if len(e.alts) > 0 {
			if e.matchParts(el) {
				return true
			}
			continue
		}
		if len(e.any) == 0 {
			return true
		}
		for _, conj := range e.any {
			if matchConj(el, conj) {
				return true
			}
		}
	}
	return false
}

// matchParts reports whether a composite element satisfies one alternative.
func (e *elemPred) matchParts(el bson.Raw) bool {
	parts, ok := el.Lookup("parts").ArrayOK()
	if !ok {
		return false
	}
	for _, alt := range e.alts {
		all := true
		for _, c := range alt {
			part, err := bson.Raw(parts).LookupErr(fmt.Sprint(c.part))
			if err != nil {
				all = false
				break
			}
			pd, ok := part.DocumentOK()
			if !ok {
				all = false
				break
			}
			arr, ok := pd.Lookup(c.pred.arr).ArrayOK()
			if !ok || !c.pred.match(bson.Raw(arr)) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func matchConj(el bson.Raw, conj []cond) bool {
	for _, c := range conj {
		rv, err := el.LookupErr(c.f)
		if err != nil {
			return false
		}
		var v any
		switch rv.Type {
		case bson.TypeString:
			v = rv.StringValue()
		case bson.TypeInt64:
			v = rv.Int64()
		case bson.TypeInt32:
			v = int64(rv.Int32())
		case bson.TypeDouble:
			v = rv.Double()
		default:
			return false
		}
		if !compare(v, c) {
			return false
		}
	}
	return true
}

func compare(v any, c cond) bool {
	switch c.op {
	case "$regex":
		s, ok := v.(string)
		return ok && compiled(c.v.(string)).MatchString(s)
	case "$in":
		if in, ok := c.v.(*inSet); ok {
			str, ok := v.(string)
			return ok && in.set[str]
		}
		for _, x := range c.v.(bson.A) {
			if sameType(v, x) && !less(v, x) && !less(x, v) {
				return true
			}
		}
		return false
	}
	if !sameType(v, c.v) {
		return false
	}
	switch c.op {
	case "$eq":
		return !less(v, c.v) && !less(c.v, v)
	case "$gt":
		return less(c.v, v)
	case "$gte":
		return !less(v, c.v)
	case "$lt":
		return less(v, c.v)
	case "$lte":
		return !less(c.v, v)
	}
	return false
}

var (
	regexps  sync.Map // pattern -> *regexp.Regexp, at most maxRegexps
	nRegexps atomic.Int32
)

const maxRegexps = 1000

// compiled caches the Go form of the patterns this package writes (quoted
// literals and anchors, which mean the same in PCRE and RE2).
func compiled(pattern string) *regexp.Regexp {
	if re, ok := regexps.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(pattern)
	if nRegexps.Add(1) <= maxRegexps {
		regexps.Store(pattern, re)
	}
	return re
}

func sameType(a, b any) bool {
	_, an := toFloat(a)
	_, bn := toFloat(b)
	if an || bn {
		return an && bn
	}
	_, as := a.(string)
	_, bs := b.(string)
	return as && bs
}

func eq(f string, v any) cond { return cond{f, "$eq", v} }
