package sqlite

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

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
