package sqlite

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// Search answers q from the read pool.
func (s *Store) Search(ctx context.Context, q *query.Query) (*store.SearchResult, error) {
	return runSearch(ctx, s.r, q)
}

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

// driveRank orders the clauses that can drive a query (be evaluated first
// as "rid IN (subquery)", the rest then being checked row by row with a
// correlated EXISTS): lower is likely more selective. -1: cannot drive
// (negations, :missing, :text, :contains, which must look at every row).
// SQLite has no statistics on FHIR value distributions, so this static
// guess stands in for them.
func driveRank(cl *query.Clause) int {
	switch {
	case cl.Missing != nil || cl.Modifier == "not" || cl.Modifier == "text" || cl.Modifier == "contains":
		return -1
	case cl.Has != nil || cl.Chain != nil:
		return 5
	case cl.Param == "_id" || cl.Param == "_lastUpdated":
		return -1 // answered by resource's own indexes, not a subquery
	case cl.Type == query.TypeReference:
		return 1
	case cl.Type == query.TypeToken:
		return 2
	case cl.Type == query.TypeURI || (cl.Type == query.TypeString && cl.Modifier == "exact"):
		return 3
	case cl.Type == query.TypeString:
		return 4
	case cl.Type == query.TypeDate || cl.Type == query.TypeNumber || cl.Type == query.TypeQuantity:
		return 6
	}
	return -1
}

// where compiles the type restriction and every clause of q on alias r.
func (c *compiler) where(q *query.Query) (*frag, error) {
	f := &frag{}
	drive := -1
	hasID := false
	for i := range q.Where {
		cl := &q.Where[i]
		if cl.Param == "_id" && cl.Missing == nil && cl.Modifier == "" {
			hasID = true
		}
		if rk := driveRank(cl); rk >= 0 && (drive < 0 || rk < driveRank(&q.Where[drive])) {
			drive = i
		}
	}
	if hasID {
		drive = -1 // the (type, id) index is the best driver there is
	}
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
	cx := "+" + x // see driveRank
	if drive && cl.Modifier != "not" {
		cx = x
	}
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

// value writes the condition that index row x matches v; x is the
// column prefix: the alias, or +alias to keep the value indexes out.
func (c *compiler) value(f *frag, k *kind, cl *query.Clause, v *query.Value, x string) error {
	switch k {
	case kToken:
		return tokenValue(f, cl, v, x)
	case kString:
		switch cl.Modifier {
		case "":
			prefixRange(f, x+".norm", v.Str)
		case "exact":
			f.w(x, ".exact = ")
			f.p(v.Str)
		case "contains":
			f.w("instr(", x, ".norm, ")
			f.p(v.Str)
			f.w(") > 0")
		default:
			return unsupported("modifier :%s on string parameter %q", cl.Modifier, cl.Param)
		}
	case kRef:
		return refValue(f, cl, v, x)
	case kDate:
		return dateCond(f, cl, v, x+".low", x+".high")
	case kNumber:
		return numberCond(f, cl, v, x)
	case kQuantity:
		if err := numberCond(f, cl, v, x); err != nil {
			return err
		}
		switch {
		case v.HasSystem && v.System != "":
			f.w(" AND ", x, ".system = ")
			f.p(v.System)
			if v.Unit != "" {
				f.w(" AND ", x, ".code = ")
				f.p(v.Unit)
			}
		case v.Unit != "":
			f.w(" AND (", x, ".code = ")
			f.p(v.Unit)
			f.w(" OR ", x, ".unit = ")
			f.p(v.Unit)
			f.w(")")
		}
	case kURI:
		switch cl.Modifier {
		case "":
			f.w(x, ".value = ")
			f.p(v.Str)
		case "below":
			prefixRange(f, x+".value", v.Str)
		case "above":
			f.w(x, ".value <> '' AND substr(")
			f.p(v.Str)
			f.w(", 1, length(", x, ".value)) = ", x, ".value")
		default:
			return unsupported("modifier :%s on uri parameter %q", cl.Modifier, cl.Param)
		}
	}
	return nil
}

// prefixRange matches col starting with p as an index range.
func prefixRange(f *frag, col, p string) {
	f.w(col, " >= ")
	f.p(p)
	f.w(" AND ", col, " < ")
	f.p(p + "\U0010FFFF")
}

func tokenValue(f *frag, cl *query.Clause, v *query.Value, x string) error {
	switch cl.Modifier {
	case "", "not":
		if v.HasSystem {
			f.w(x, ".system = ")
			f.p(v.System)
			if v.Code != "" {
				f.w(" AND ", x, ".code = ")
				f.p(v.Code)
			}
			return nil
		}
		f.w(x, ".code = ")
		f.p(v.Code)
	case "text":
		t := v.Str
		if t == "" {
			t = v.Code
		}
		t = likeEscape(strings.ToLower(t))
		// Starts a word of the text: display "Body weight" matches "weight".
		f.w(x, ".text LIKE ")
		f.p(t + "%")
		f.w(" ESCAPE '\\' OR ", x, ".text LIKE ")
		f.p("% " + t + "%")
		f.w(" ESCAPE '\\'")
	case "of-type":
		// type-system|type-code|value: the parser gives System (type
		// system), Code (type code) and Str (the identifier value); a Code
		// "type-code|value" with Str empty is accepted too.
		tsys, tcode, val := v.System, v.Code, v.Str
		if val == "" {
			var ok bool
			if tcode, val, ok = strings.Cut(v.Code, "|"); !ok {
				return fmt.Errorf("sqlite: %s:of-type wants system|code|value", cl.Param)
			}
		}
		f.w(x, ".tsys = ")
		f.p(tsys)
		f.w(" AND ", x, ".tcode = ")
		f.p(tcode)
		f.w(" AND ", x, ".code = ")
		f.p(val)
	default:
		return unsupported("modifier :%s on token parameter %q", cl.Modifier, cl.Param)
	}
	return nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// isTypeModifier reports whether m is a ":[Type]" reference modifier.
func isTypeModifier(m string) bool {
	return m != "" && unicode.IsUpper(rune(m[0]))
}

func refValue(f *frag, cl *query.Clause, v *query.Value, x string) error {
	targets := cl.TargetTypes
	switch {
	case cl.Modifier == "identifier":
		if v.HasSystem {
			f.w(x, ".ident = ")
			f.p(v.System + "|" + v.Code)
			return nil
		}
		code := v.Code
		if code == "" {
			code = v.Str
		}
		f.w("(", x, ".ident = ")
		f.p("|" + code)
		f.w(" OR ", x, ".ident LIKE ")
		f.p("%|" + likeEscape(code))
		f.w(" ESCAPE '\\')")
		return nil
	case isTypeModifier(cl.Modifier):
		if !slices.Contains(targets, cl.Modifier) {
			targets = append(slices.Clip(targets), cl.Modifier)
		}
	case cl.Modifier != "":
		return unsupported("modifier :%s on reference parameter %q", cl.Modifier, cl.Param)
	}
	switch {
	case v.RefURL != "":
		u, ver := v.RefURL, v.RefVersion
		if ver == "" {
			u, ver, _ = strings.Cut(u, "|") // canonical|version not split by the caller
		}
		f.w(x, ".url <> '' AND ", x, ".url = ")
		f.p(u)
		if ver != "" {
			f.w(" AND ", x, ".version = ")
			f.p(ver)
		}
	case v.RefType != "":
		f.w(x, ".type = ")
		f.p(v.RefType)
		f.w(" AND ", x, ".id = ")
		f.p(v.RefID)
	case v.RefID != "":
		f.w(x, ".id = ")
		f.p(v.RefID)
		if len(targets) > 0 {
			f.w(" AND ", x, ".type IN ")
			f.list(targets)
		}
	default:
		return fmt.Errorf("sqlite: empty reference value for %q", cl.Param)
	}
	return nil
}

// dateCond writes the FHIR R4 prefix semantics (search §3.1.1.4.5) of the
// search range [l, h] against a target range [low, high], all inclusive.
func dateCond(f *frag, cl *query.Clause, v *query.Value, low, high string) error {
	l, h := v.DateLow, v.DateHigh
	if h < l {
		l, h = h, l
	}
	contained := func() {
		f.w(low, " >= ")
		f.p(l)
		f.w(" AND ", high, " <= ")
		f.p(h)
	}
	switch v.Prefix {
	case "", query.EQ: // the search range fully contains the target
		contained()
	case query.NE:
		f.w("NOT (")
		contained()
		f.w(")")
	case query.GT: // the range above the search value overlaps the target
		f.w(high, " > ")
		f.p(h)
	case query.LT:
		f.w(low, " < ")
		f.p(l)
	case query.GE: // gt, or eq
		f.w(high, " > ")
		f.p(h)
		f.w(" OR (")
		contained()
		f.w(")")
	case query.LE:
		f.w(low, " < ")
		f.p(l)
		f.w(" OR (")
		contained()
		f.w(")")
	case query.SA: // the target starts after the search range ends
		f.w(low, " > ")
		f.p(h)
	case query.EB:
		f.w(high, " < ")
		f.p(l)
	case query.AP: // overlaps the search range widened as search.ApproxDateRange says
		al, ah := query.ApproxDateRange(l, h, time.Now().UnixMicro())
		f.w(low, " <= ")
		f.p(ah)
		f.w(" AND ", high, " >= ")
		f.p(al)
	default:
		return fmt.Errorf("sqlite: unknown prefix %q on %q", v.Prefix, cl.Param)
	}
	return nil
}

// numberCond compares the target's value with the search number: eq/ne
// against the range the search value's precision implies (100 matches
// [99.5, 100.5]), gt/lt/ge/le against the value itself, sa/eb against the
// target's own range, ap within 10% of the value.
func numberCond(f *frag, cl *query.Clause, v *query.Value, x string) error {
	n, lo, hi := v.Num, v.NumLow, v.NumHigh
	if lo == 0 && hi == 0 {
		lo, hi = n, n
	}
	val := x + ".value"
	inRange := func(lo, hi float64) {
		f.w(val, " >= ")
		f.p(lo)
		f.w(" AND ", val, " <= ")
		f.p(hi)
	}
	switch v.Prefix {
	case "", query.EQ:
		inRange(lo, hi)
	case query.NE:
		f.w("NOT (")
		inRange(lo, hi)
		f.w(")")
	case query.GT:
		f.w(val, " > ")
		f.p(n)
	case query.LT:
		f.w(val, " < ")
		f.p(n)
	case query.GE:
		f.w(val, " >= ")
		f.p(n)
	case query.LE:
		f.w(val, " <= ")
		f.p(n)
	case query.SA:
		f.w(x, ".low > ")
		f.p(hi)
	case query.EB:
		f.w(x, ".high < ")
		f.p(lo)
	case query.AP:
		d := n / 10
		if d < 0 {
			d = -d
		}
		inRange(min(lo, n-d), max(hi, n+d))
	default:
		return fmt.Errorf("sqlite: unknown prefix %q on %q", v.Prefix, cl.Param)
	}
	return nil
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
	f.list(ids)
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

// runSearch answers q on the connections of c.
func runSearch(ctx context.Context, c *stmtCache, q *query.Query) (*store.SearchResult, error) {
	comp := &compiler{}
	where, err := comp.where(q)
	if err != nil {
		return nil, err
	}
	res := &store.SearchResult{Total: -1}
	if q.Total {
		rows, err := c.query(ctx, "SELECT COUNT(*) FROM resource r WHERE "+where.b.String(), where.a...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		for rows.Next() {
			if err := rows.Scan(&res.Total); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: search: %w", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
	}
	if q.Count <= 0 {
		return res, nil
	}

	keys := make([]sortKey, 0, len(q.Sort))
	for _, k := range q.Sort {
		sk, err := sortExpr(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, sk)
	}
	sig := signature(q)
	var cur *cursor
	if q.Page != "" {
		cc, err := decodeCursor(q.Page)
		if err != nil || cc.sig != sig || len(cc.keys) != len(keys)+1 {
			return nil, fmt.Errorf("sqlite: search: %w", errBadCursor)
		}
		cur = &cc
	}
	back := cur != nil && cur.back
	f := pageSQL(where, keys, cur, q.Count+1)
	rows, err := c.query(ctx, f.b.String(), f.a...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	type hit struct {
		rid  int64
		keys []any
	}
	var hits []hit
	more := false
	for rows.Next() {
		if len(hits) == q.Count {
			more = true
			break
		}
		h := hit{keys: make([]any, len(keys)+1)}
		dst := make([]any, len(keys)+1)
		dst[0] = &h.rid
		for i := range keys {
			dst[i+1] = &h.keys[i]
		}
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		h.keys[len(keys)] = h.rid
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	if back {
		slices.Reverse(hits)
	}
	if len(hits) > 0 {
		first, last := hits[0].keys, hits[len(hits)-1].keys
		if more || back {
			if back {
				res.Next = encodeCursor(cursor{sig: sig, keys: last})
				if more {
					res.Prev = encodeCursor(cursor{back: true, sig: sig, keys: first})
				}
			} else {
				res.Next = encodeCursor(cursor{sig: sig, keys: last})
			}
		}
		if !back && cur != nil {
			res.Prev = encodeCursor(cursor{back: true, sig: sig, keys: first})
		}
	} else if cur != nil {
		// An empty page (rows vanished since): point back at where we were.
		if back {
			res.Next = encodeCursor(cursor{sig: sig, keys: cur.keys})
		} else {
			res.Prev = encodeCursor(cursor{back: true, sig: sig, keys: cur.keys})
		}
	}

	rids := make([]int64, len(hits))
	for i, h := range hits {
		rids[i] = h.rid
	}
	found, err := fetchRows(ctx, c, rids)
	if err != nil {
		return nil, err
	}
	seen := make(map[int64]bool, len(hits))
	matches := make([]*row, 0, len(hits))
	for _, h := range hits {
		if r := found[h.rid]; r != nil {
			matches = append(matches, r)
			res.Resources = append(res.Resources, r.Resource)
			seen[h.rid] = true
		}
	}
	if len(q.Include)+len(q.RevInclude) > 0 {
		inc, err := includes(ctx, c, q, matches, seen)
		if err != nil {
			return nil, err
		}
		for _, r := range inc {
			res.Included = append(res.Included, r.Resource)
		}
	}
	return res, nil
}

// ridsJSON renders rids as a JSON array for json_each, so one statement
// text serves any number of ids.
func ridsJSON(rids []int64) string {
	b := make([]byte, 0, 8*len(rids)+2)
	b = append(b, '[')
	for i, r := range rids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, r, 10)
	}
	return string(append(b, ']'))
}

// fetchRows loads the resources of rids.
func fetchRows(ctx context.Context, c *stmtCache, rids []int64) (map[int64]*row, error) {
	out := make(map[int64]*row, len(rids))
	if len(rids) == 0 {
		return out, nil
	}
	rows, err := c.query(ctx, selectResource+" WHERE r.rid IN (SELECT value FROM json_each(?))", ridsJSON(rids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		out[r.rid] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	return out, nil
}

// maxIterate bounds the rounds of _include:iterate / _revinclude:iterate.
const maxIterate = 4

// includes follows q's _include and _revinclude from matches, then the
// :iterate ones from what they brought in, up to maxIterate rounds.
// seen holds the rids already in the result and grows.
func includes(ctx context.Context, c *stmtCache, q *query.Query, matches []*row, seen map[int64]bool) ([]*row, error) {
	var out []*row
	frontier := matches
	for round := 0; round <= maxIterate && len(frontier) > 0; round++ {
		var next []*row
		take := func(rs []*row) {
			for _, r := range rs {
				if !seen[r.rid] {
					seen[r.rid] = true
					next = append(next, r)
				}
			}
		}
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			rs, err := includeOne(ctx, c, inc, frontier, false)
			if err != nil {
				return nil, err
			}
			take(rs)
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			rs, err := includeOne(ctx, c, inc, frontier, true)
			if err != nil {
				return nil, err
			}
			take(rs)
		}
		out = append(out, next...)
		frontier = next
	}
	return out, nil
}

// includeOne runs one directive from the resources of from: forward, the
// live targets of their references; reverse (rev), the resources of
// inc.Type referring to them.
func includeOne(ctx context.Context, c *stmtCache, inc query.Include, from []*row, rev bool) ([]*row, error) {
	var rids []int64
	for _, r := range from {
		want := inc.Type
		if rev {
			want = inc.TargetType
		}
		if want == "" || want == "*" || r.Type == want {
			rids = append(rids, r.rid)
		}
	}
	if len(rids) == 0 {
		return nil, nil
	}
	f := &frag{}
	if rev {
		f.w("SELECT DISTINCT s.rid, s.type, s.id, s.version, s.updated, s.deleted, s.method, h.json FROM resource t",
			" JOIN idx_ref x ON x.type = t.type AND x.id = t.id JOIN resource s ON s.rid = x.res JOIN history h ON h.hid = s.hid",
			" WHERE t.rid IN (SELECT value FROM json_each(")
		f.p(ridsJSON(rids))
		f.w(")) AND s.deleted = 0")
		if inc.Type != "" && inc.Type != "*" {
			f.w(" AND s.type = ")
			f.p(inc.Type)
		}
	} else {
		f.w("SELECT DISTINCT t.rid, t.type, t.id, t.version, t.updated, t.deleted, t.method, h.json FROM idx_ref x",
			" JOIN resource t ON t.type = x.type AND t.id = x.id JOIN history h ON h.hid = t.hid",
			" WHERE x.res IN (SELECT value FROM json_each(")
		f.p(ridsJSON(rids))
		f.w(")) AND t.deleted = 0")
		if inc.TargetType != "" {
			f.w(" AND x.type = ")
			f.p(inc.TargetType)
		}
	}
	if inc.Param != "" && inc.Param != "*" {
		f.w(" AND x.param = ")
		f.p(inc.Param)
	}
	rows, err := c.query(ctx, f.b.String(), f.a...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: include: %w", err)
	}
	defer rows.Close()
	var out []*row
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: include: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: include: %w", err)
	}
	return out, nil
}
