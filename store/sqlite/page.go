package sqlite

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// sortKey is one compiled ORDER BY key.
type sortKey struct {
	expr     *frag
	desc     bool
	nullable bool
}

// sortExpr is the value a resource sorts by for k: per FHIR, the least of
// its values ascending and the greatest descending.
func sortExpr(k query.SortKey) (sortKey, error) {
	e := &frag{}
	agg := "MIN"
	if k.Desc {
		agg = "MAX"
	}
	sub := func(col, table string) {
		e.w("(SELECT ", agg, "(", col, ") FROM ", table, " s WHERE s.res = r.rid AND s.param = ")
		e.p(k.Param)
		e.w(")")
	}
	switch {
	case k.Param == "_lastUpdated":
		e.w("r.updated")
		return sortKey{e, k.Desc, false}, nil
	case k.Param == "_id":
		e.w("r.id")
		return sortKey{e, k.Desc, false}, nil
	}
	switch k.Type {
	case query.TypeString:
		sub("s.norm", "idx_string")
	case query.TypeToken:
		sub("s.code", "idx_token")
	case query.TypeDate:
		if k.Desc {
			sub("s.high", "idx_date")
		} else {
			sub("s.low", "idx_date")
		}
	case query.TypeNumber:
		sub("s.value", "idx_number")
	case query.TypeQuantity:
		sub("s.value", "idx_quantity")
	case query.TypeURI:
		sub("s.value", "idx_uri")
	case query.TypeReference:
		sub("CASE WHEN s.url <> '' THEN s.url ELSE s.type || '/' || s.id END", "idx_ref")
	default:
		return sortKey{}, unsupported("_sort on %q of type %s", k.Param, k.Type)
	}
	return sortKey{e, k.Desc, true}, nil
}

// signature identifies the sort of q, so a cursor is only replayed on it.
func signature(q *query.Query) string {
	h := fnv.New32a()
	for _, k := range q.Sort {
		fmt.Fprintf(h, "%s/%d/%t;", k.Param, k.Type, k.Desc)
	}
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// orderBy writes the ORDER BY of keys (plus the rid tiebreak), reversed
// when back; missing values sort last in the forward order.
func orderBy(keys []sortKey, back bool) string {
	var b strings.Builder
	b.WriteString(" ORDER BY ")
	for i, k := range keys {
		desc := k.desc != back
		fmt.Fprintf(&b, "k%d", i)
		if desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
		if k.nullable {
			if back {
				b.WriteString(" NULLS FIRST")
			} else {
				b.WriteString(" NULLS LAST")
			}
		}
		b.WriteString(", ")
	}
	if back {
		b.WriteString("rid DESC")
	} else {
		b.WriteString("rid ASC")
	}
	return b.String()
}

// after writes the keyset condition "row comes strictly after vals" in the
// order orderBy(keys, back) gives.
func after(f *frag, keys []sortKey, vals []any, back bool) {
	f.w("(")
	for i := 0; i <= len(keys); i++ {
		if i > 0 {
			f.w(" OR ")
		}
		f.w("(1")
		for j := 0; j < i; j++ {
			col := "k" + strconv.Itoa(j)
			if vals[j] == nil {
				f.w(" AND ", col, " IS NULL")
			} else {
				f.w(" AND ", col, " = ")
				f.p(vals[j])
			}
		}
		if i == len(keys) { // the rid tiebreak
			if back {
				f.w(" AND rid < ")
			} else {
				f.w(" AND rid > ")
			}
			f.p(vals[i])
			f.w(")")
			continue
		}
		col := "k" + strconv.Itoa(i)
		k := keys[i]
		desc := k.desc != back
		nullsFirst := back && k.nullable // forward order puts missing last
		op := " > "
		if desc {
			op = " < "
		}
		switch {
		case vals[i] == nil && nullsFirst:
			f.w(" AND ", col, " IS NOT NULL")
		case vals[i] == nil:
			f.w(" AND 0")
		case nullsFirst || !k.nullable:
			f.w(" AND ", col, op)
			f.p(vals[i])
		default:
			f.w(" AND (", col, op)
			f.p(vals[i])
			f.w(" OR ", col, " IS NULL)")
		}
		f.w(")")
	}
	f.w(")")
}

// pageSQL selects the rid and sort keys of up to limit matches of where,
// in sort order, after (or, going back, before) cur.
func pageSQL(where *frag, keys []sortKey, cur *cursor, limit int) *frag {
	back := cur != nil && cur.back
	f := &frag{}
	f.w("SELECT rid")
	for i := range keys {
		f.w(", k", strconv.Itoa(i))
	}
	f.w(" FROM (SELECT r.rid AS rid")
	for i, k := range keys {
		f.w(", ")
		f.add(k.expr)
		f.w(" AS k", strconv.Itoa(i))
	}
	f.w(" FROM resource r WHERE ")
	f.add(where)
	f.w(")")
	if cur != nil {
		f.w(" WHERE ")
		after(f, keys, cur.keys, back)
	}
	f.w(orderBy(keys, back), " LIMIT ")
	f.p(limit)
	return f
}
