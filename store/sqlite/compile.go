package sqlite

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// compiler turns clauses into SQL conditions on a resource alias; n makes
// the aliases of nested subqueries unique.
type compiler struct{ n int }

func (c *compiler) alias(p string) string {
	c.n++
	return p + strconv.Itoa(c.n)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("sqlite: %s: %w", fmt.Sprintf(format, args...), ErrUnsupported)
}

// kindOf is the index table of a parameter type.
func kindOf(t query.ParamType) *kind {
	switch t {
	case query.TypeString:
		return kString
	case query.TypeToken:
		return kToken
	case query.TypeReference:
		return kRef
	case query.TypeDate:
		return kDate
	case query.TypeNumber:
		return kNumber
	case query.TypeQuantity:
		return kQuantity
	case query.TypeURI:
		return kURI
	}
	return nil
}

// The correlated EXISTS forms name their index table: that
// leaves SQLite the table's own key (res, param, ...), one seek per
// candidate row. Without it SQLite may turn EXISTS into a scan of a value
// index (param, code, ...) per row, quadratic on common values.

// driver is the index of the clause q's SQL starts from, as
// "rid IN (subquery)", the rest then being checked row by row with a
// correlated EXISTS: the first of the lowest store.DriveRank. -1 when no
// clause can drive, or when _id does: then resource's own (type, id) index
// drives, the best driver there is, and no subquery is needed.
func driver(q *query.Query) int {
	drive := -1
	for i := range q.Where {
		if rk := store.DriveRank(&q.Where[i]); rk >= 0 && (drive < 0 || rk < store.DriveRank(&q.Where[drive])) {
			drive = i
		}
	}
	if drive >= 0 && q.Where[drive].Param == "_id" {
		return -1
	}
	return drive
}

// where compiles the type restriction and every clause of q on alias r.
func (c *compiler) where(q *query.Query) (*frag, error) {
	f := &frag{}
	drive := driver(q)
	// With a subquery driver, the unary + keeps SQLite from scanning the
	// resource(type, ...) indexes instead, which it would otherwise prefer
	// for want of statistics.
	plus := ""
	if drive >= 0 {
		plus = "+"
	}
	switch len(q.Types) {
	case 0:
		f.w(plus, "r.deleted = 0")
	case 1:
		f.w(plus, "r.type = ")
		f.p(q.Types[0])
		f.w(" AND ", plus, "r.deleted = 0")
	default:
		f.w(plus, "r.type IN ")
		f.list(q.Types)
		f.w(" AND ", plus, "r.deleted = 0")
	}
	for i := range q.Where {
		f.w(" AND ")
		if err := c.clause(f, &q.Where[i], "r", i == drive); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// clause writes the condition that resource alias ra matches cl.
func (c *compiler) clause(f *frag, cl *query.Clause, ra string, drive bool) error {
	switch {
	case cl.Has != nil:
		return c.has(f, cl.Has, ra, drive)
	case cl.Chain != nil:
		return c.chain(f, cl, ra, drive)
	case cl.Param == "_id":
		return c.idClause(f, cl, ra)
	case cl.Param == "_lastUpdated":
		return c.lastUpdated(f, cl, ra)
	case cl.Type == query.TypeComposite:
		return c.composite(f, cl, ra)
	}
	k := kindOf(cl.Type)
	if k == nil {
		return unsupported("parameter %q of type %s", cl.Param, cl.Type)
	}
	x := c.alias("x")
	if cl.Missing != nil {
		if *cl.Missing {
			f.w("NOT ")
		}
		f.w("EXISTS (SELECT 1 FROM ", k.table, " ", x, " WHERE ", x, ".res = ", ra, ".rid AND ", x, ".param = ")
		f.p(cl.Param)
		if len(cl.TargetTypes) > 0 && k == kRef {
			f.w(" AND ", x, ".type IN ")
			f.list(cl.TargetTypes)
		}
		f.w(")")
		return nil
	}
	if len(cl.Values) == 0 {
		return fmt.Errorf("sqlite: search parameter %q has no value", cl.Param)
	}
	vals := &frag{}
	cx := "+" + x // see driver
	if drive && cl.Modifier != "not" {
		cx = x
	}
	if ids, typ, ok := refList(k, cl); ok {
		vals.w(cx, ".type = ")
		vals.p(typ)
		vals.w(" AND ", cx, ".id IN ")
		vals.in(ids)
	} else {
		for i := range cl.Values {
			if i > 0 {
				vals.w(" OR ")
			}
			vals.w("(")
			if err := c.value(vals, k, cl, &cl.Values[i], cx); err != nil {
				return err
			}
			vals.w(")")
		}
	}
	switch {
	case cl.Modifier == "not":
		f.w("NOT EXISTS (SELECT 1 FROM ", k.table, " ", x, " WHERE ", x, ".res = ", ra, ".rid AND ", x, ".param = ")
	case drive:
		f.w(ra, ".rid IN (SELECT ", x, ".res FROM ", k.table, " ", x, " WHERE ", x, ".param = ")
	default:
		f.w("EXISTS (SELECT 1 FROM ", k.table, " ", x, " WHERE ", x, ".res = ", ra, ".rid AND ", x, ".param = ")
	}
	f.p(cl.Param)
	f.w(" AND (")
	f.add(vals)
	f.w("))")
	return nil
}

// refList is the ids and their one type when every value of cl, a
// reference clause without modifier, is a plain Type/id of one type: an
// IN list then, rather than an OR of conditions, which SQLite nests one
// level of expression depth per value (its limit is 1,000) — the
// confinement of a care circle is one clause of thousands of
// Patient/<id>: over inListMax ids, one JSON array parameter (frag.in),
// plus one for the type.
func refList(k *kind, cl *query.Clause) ([]string, string, bool) {
	if k != kRef || cl.Modifier != "" || len(cl.Values) < 2 {
		return nil, "", false
	}
	typ := cl.Values[0].RefType
	ids := make([]string, 0, len(cl.Values))
	for i := range cl.Values {
		v := &cl.Values[i]
		if v.RefURL != "" || v.RefType == "" || v.RefType != typ || v.RefID == "" {
			return nil, "", false
		}
		ids = append(ids, v.RefID)
	}
	return ids, typ, true
}

// idClause matches on resource.id (the (type, id) key) rather than the
// _id token the extractor also indexes.
func (c *compiler) idClause(f *frag, cl *query.Clause, ra string) error {
	if cl.Missing != nil {
		if *cl.Missing {
			f.w("0")
		} else {
			f.w("1")
		}
		return nil
	}
	ids := make([]string, 0, len(cl.Values))
	for _, v := range cl.Values {
		id := v.Code
		if id == "" {
			id = v.Str
		}
		ids = append(ids, id)
	}
	switch cl.Modifier {
	case "":
		f.w(ra, ".id IN ")
	case "not":
		f.w(ra, ".id NOT IN ")
	default:
		return unsupported("modifier :%s on _id", cl.Modifier)
	}
	f.in(ids)
	return nil
}

// lastUpdated matches on resource.updated, the instant of the current version.
func (c *compiler) lastUpdated(f *frag, cl *query.Clause, ra string) error {
	if cl.Missing != nil {
		if *cl.Missing {
			f.w("0")
		} else {
			f.w("1")
		}
		return nil
	}
	if cl.Modifier != "" {
		return unsupported("modifier :%s on _lastUpdated", cl.Modifier)
	}
	f.w("(")
	for i := range cl.Values {
		if i > 0 {
			f.w(" OR ")
		}
		f.w("(")
		if err := dateCond(f, cl, &cl.Values[i], ra+".updated", ra+".updated"); err != nil {
			return err
		}
		f.w(")")
	}
	f.w(")")
	return nil
}

// chain matches resources whose reference cl.Param points at a live
// resource (of cl.TargetTypes) matching cl.Chain.
func (c *compiler) chain(f *frag, cl *query.Clause, ra string, drive bool) error {
	x, t := c.alias("x"), c.alias("t")
	inner := &frag{}
	if err := c.clause(inner, cl.Chain, t, drive); err != nil {
		return err
	}
	if drive {
		// Start from the targets that match the inner clause (its own index
		// drives), then follow references to them through idx_ref's
		// (type, id, param) key. CROSS JOIN fixes that order: without value
		// statistics SQLite would rather scan every reference to the target
		// type and test each target, which is quadratic on large data.
		f.w(ra, ".rid IN (SELECT ", x, ".res FROM resource ", t, " CROSS JOIN idx_ref ", x, " ON ", x, ".type = ", t, ".type AND ", x, ".id = ", t, ".id WHERE ")
	} else {
		f.w("EXISTS (SELECT 1 FROM idx_ref ", x, " JOIN resource ", t, " ON ", t, ".type = ", x, ".type AND ", t, ".id = ", x, ".id WHERE ", x, ".res = ", ra, ".rid AND ")
	}
	f.w(x, ".param = ")
	f.p(cl.Param)
	targets := cl.TargetTypes
	if isTypeModifier(cl.Modifier) && !slices.Contains(targets, cl.Modifier) {
		targets = append(slices.Clip(targets), cl.Modifier)
	}
	if len(targets) > 0 {
		f.w(" AND ", x, ".type IN ")
		f.list(targets)
	}
	f.w(" AND ", t, ".deleted = 0 AND ")
	f.add(inner)
	f.w(")")
	return nil
}

// has matches resources that some live resource of h.Type, matching
// h.Where, references through h.RefParam.
func (c *compiler) has(f *frag, h *query.Has, ra string, drive bool) error {
	x, o := c.alias("x"), c.alias("o")
	inner := &frag{}
	if err := c.clause(inner, &h.Where, o, drive); err != nil {
		return err
	}
	if drive {
		t := c.alias("t")
		f.w(ra, ".rid IN (SELECT ", t, ".rid FROM idx_ref ", x, " JOIN resource ", o, " ON ", o, ".rid = ", x, ".res JOIN resource ", t,
			" ON ", t, ".type = ", x, ".type AND ", t, ".id = ", x, ".id WHERE ")
	} else {
		f.w("EXISTS (SELECT 1 FROM idx_ref ", x, " JOIN resource ", o, " ON ", o, ".rid = ", x, ".res WHERE ",
			x, ".type = ", ra, ".type AND ", x, ".id = ", ra, ".id AND ")
	}
	f.w(x, ".param = ")
	f.p(h.RefParam)
	f.w(" AND ", o, ".type = ")
	f.p(h.Type)
	f.w(" AND ", o, ".deleted = 0 AND ")
	f.add(inner)
	f.w(")")
	return nil
}

// composite matches when, for some OR'ed value, one composite element of
// the resource matches every component: the components' rows are found
// under the same "param$k$" prefix (see compositeParam).
func (c *compiler) composite(f *frag, cl *query.Clause, ra string) error {
	lo, hi := cl.Param+"$", cl.Param+"%"
	if cl.Missing != nil {
		if *cl.Missing {
			f.w("NOT ")
		}
		f.w("(0")
		for _, k := range kinds {
			x := c.alias("x")
			f.w(" OR EXISTS (SELECT 1 FROM ", k.table, " ", x, " WHERE ", x, ".res = ", ra, ".rid AND ", x, ".param > ")
			f.p(lo)
			f.w(" AND ", x, ".param < ")
			f.p(hi)
			f.w(")")
		}
		f.w(")")
		return nil
	}
	if len(cl.Components) == 0 {
		return fmt.Errorf("sqlite: composite parameter %q has no value", cl.Param)
	}
	// comp writes the value condition of component clause cc on alias x.
	comp := func(cc *query.Clause, k *kind, x string) error {
		if cc.Modifier != "" || cc.Missing != nil || len(cc.Values) == 0 {
			return unsupported("composite component %q with a modifier or no value", cc.Param)
		}
		f.w(" AND (")
		for i := range cc.Values {
			if i > 0 {
				f.w(" OR ")
			}
			f.w("(")
			if err := c.value(f, k, cc, &cc.Values[i], "+"+x); err != nil {
				return err
			}
			f.w(")")
		}
		f.w(")")
		return nil
	}
	f.w("(")
	for i, comps := range cl.Components {
		if i > 0 {
			f.w(" OR ")
		}
		if len(comps) == 0 {
			return fmt.Errorf("sqlite: composite parameter %q has an empty value", cl.Param)
		}
		kk := make([]*kind, len(comps))
		for j := range comps {
			if kk[j] = kindOf(comps[j].Type); kk[j] == nil {
				return unsupported("composite component %q of type %s", comps[j].Param, comps[j].Type)
			}
		}
		a := c.alias("x")
		suffix := "$" + comps[0].Param
		f.w("EXISTS (SELECT 1 FROM ", kk[0].table, " ", a, " WHERE ", a, ".res = ", ra, ".rid AND ", a, ".param > ")
		f.p(lo)
		f.w(" AND ", a, ".param < ")
		f.p(hi)
		f.w(" AND substr(", a, ".param, -", strconv.Itoa(len(suffix)), ") = ")
		f.p(suffix)
		if err := comp(&comps[0], kk[0], a); err != nil {
			return err
		}
		for j := 1; j < len(comps); j++ {
			b := c.alias("x")
			f.w(" AND EXISTS (SELECT 1 FROM ", kk[j].table, " ", b, " WHERE ", b, ".res = ", ra, ".rid AND ", b, ".param = substr(",
				a, ".param, 1, length(", a, ".param) - ", strconv.Itoa(len(comps[0].Param)), ") || ")
			f.p(comps[j].Param)
			if err := comp(&comps[j], kk[j], b); err != nil {
				return err
			}
			f.w(")")
		}
		f.w(")")
	}
	f.w(")")
	return nil
}
