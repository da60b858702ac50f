package fhirpath

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"
)

func init() {
	reg("sort", 0, 8, fnSort)
	reg("precision", 0, 0, fnPrecision)
	reg("lowBoundary", 0, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return boundary(c, focus, args, fr, false)
	})
	reg("highBoundary", 0, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		return boundary(c, focus, args, fr, true)
	})
	reg("comparable", 1, 1, func(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
		n, ok, err := singleton(focus, "comparable")
		if !ok || err != nil {
			return nil, err
		}
		a, err := c.arg(args, 0, fr)
		if err != nil || len(a) != 1 {
			return nil, err
		}
		x, okx := sysValue(n)
		y, oky := sysValue(a[0])
		qx, isx := x.(Quantity)
		qy, isy := y.(Quantity)
		if !okx || !oky || !isx || !isy {
			return nil, fmt.Errorf("comparable() needs quantities")
		}
		nx, kx := normQuantity(qx)
		ny, ky := normQuantity(qy)
		return single(qx.Unit == qy.Unit || kx && ky && nx.Unit == ny.Unit), nil
	})
}

// fnSort sorts by the key expressions (a leading '-' sorts descending), or
// by the items themselves.
func fnSort(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
	type keyed struct {
		n    Node
		keys [][]Node
	}
	items := make([]keyed, len(focus))
	desc := make([]bool, len(args))
	exprs := make([]*ast, len(args))
	for i, a := range args {
		exprs[i] = a
		if a.op == opNeg {
			desc[i], exprs[i] = true, a.args[0]
		}
	}
	for i, n := range focus {
		items[i].n = n
		f := &frame{this: n, index: i, total: fr.total}
		for _, e := range exprs {
			k, err := c.eval(e, []Node{n}, f)
			if err != nil {
				return nil, err
			}
			items[i].keys = append(items[i].keys, k)
		}
	}
	var sortErr error
	cmp := func(a, b []Node) int {
		switch {
		case len(a) == 0 && len(b) == 0:
			return 0
		case len(a) == 0:
			return -1
		case len(b) == 0:
			return 1
		}
		r, _, err := compareNodes(a[0], b[0])
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return r
	}
	sort.SliceStable(items, func(i, j int) bool {
		if len(exprs) == 0 {
			return cmp([]Node{items[i].n}, []Node{items[j].n}) < 0
		}
		for k := range exprs {
			a, b := items[i].keys[k], items[j].keys[k]
			r := cmp(a, b)
			if desc[k] && len(a) > 0 && len(b) > 0 {
				r = -r
			}
			if r != 0 {
				return r < 0
			}
		}
		return false
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make([]Node, len(items))
	for i := range items {
		out[i] = items[i].n
	}
	return out, nil
}

var temporalDigits = [...]int{precYear: 4, precMonth: 6, precDay: 8, precHour: 10, precMinute: 12, precSecond: 14, precMilli: 17}
var timeDigits = [...]int{precHour: 2, precMinute: 4, precSecond: 6, precMilli: 9}

func fnPrecision(c *evalCtx, focus []Node, args []*ast, fr *frame) ([]Node, error) {
	n, ok, err := singleton(focus, "precision")
	if !ok || err != nil {
		return nil, err
	}
	v, _ := sysValue(n)
	switch x := v.(type) {
	case int64:
		return []Node{intNode(0)}, nil
	case float64:
		return []Node{intNode(int64(decimalPlaces(n)))}, nil
	case Temporal:
		if x.Kind == KindTime {
			return []Node{intNode(int64(timeDigits[x.Prec]))}, nil
		}
		return []Node{intNode(int64(temporalDigits[x.Prec]))}, nil
	}
	return nil, fmt.Errorf("precision() on %s", typeName(n))
}

// boundary implements lowBoundary/highBoundary for decimals, quantities and
// dates: the least or greatest value the input's precision allows.
func boundary(c *evalCtx, focus []Node, args []*ast, fr *frame, high bool) ([]Node, error) {
	n, ok, err := singleton(focus, "boundary")
	if !ok || err != nil {
		return nil, err
	}
	prec := int64(defaultPrec)
	if len(args) > 0 {
		prec = -1
		a, err := c.arg(args, 0, fr)
		if err != nil {
			return nil, err
		}
		p, ok, err := intOf(a)
		if err != nil {
			return nil, err
		}
		if ok {
			prec = p
		}
	}
	v, _ := sysValue(n)
	switch x := v.(type) {
	case int64, float64:
		s := numberText(n)
		r, ok := decimalBoundary(s, prec, high)
		if !ok {
			return nil, nil
		}
		return []Node{{Value: json.Number(r), Type: "System.Decimal"}}, nil
	case Quantity:
		s := formatDecimal(x.Value)
		if x.text != "" {
			s = x.text
		}
		r, ok := decimalBoundary(s, prec, high)
		if !ok {
			return nil, nil
		}
		f, _ := json.Number(r).Float64()
		return []Node{{Value: Quantity{Value: f, Unit: x.Unit, text: r}, Type: "System.Quantity"}}, nil
	case Temporal:
		t, ok := temporalBoundary(x, prec, high)
		if !ok {
			return nil, nil
		}
		return []Node{valueNode(t)}, nil
	}
	return nil, fmt.Errorf("boundary of %s", typeName(n))
}

// defaultPrec marks a boundary call without a precision argument.
const defaultPrec = math.MinInt64

func numberText(n Node) string {
	switch v := n.Value.(type) {
	case json.Number:
		return string(v)
	case int64:
		return fmt.Sprint(v)
	}
	f, _ := sysValue(n)
	return formatDecimal(toFloat(f))
}

func decimalBoundary(s string, prec int64, high bool) (string, bool) {
	if prec == defaultPrec {
		prec = 8
	}
	if prec < 0 || prec > 31 {
		return "", false
	}
	places := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		places = len(s) - i - 1
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false
	}
	half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Mul(big.NewInt(2), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)))
	b := new(big.Rat)
	if high {
		b.Add(v, half)
	} else {
		b.Sub(v, half)
	}
	if int(prec) < places {
		// Fewer digits than the value has: the value itself decides.
		b = v
		unit := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(prec), nil))
		if new(big.Rat).Abs(v).Cmp(unit) < 0 {
			if !high && v.Sign() < 0 {
				return "-" + fixed(new(big.Rat), prec, false), true
			}
			return fixed(new(big.Rat), prec, false), true
		}
	}
	return fixed(b, prec, high), true
}

// fixed formats r with prec decimals, rounding up (ceil) or down (floor).
func fixed(r *big.Rat, prec int64, up bool) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(prec), nil)
	num := new(big.Int).Mul(r.Num(), scale)
	q, m := new(big.Int).DivMod(num, r.Denom(), new(big.Int)) // floor division
	if up && m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	neg := q.Sign() < 0
	digits := new(big.Int).Abs(q).String()
	if prec > 0 {
		for int64(len(digits)) <= prec {
			digits = "0" + digits
		}
		digits = digits[:int64(len(digits))-prec] + "." + digits[int64(len(digits))-prec:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits
}

func temporalBoundary(t Temporal, prec int64, high bool) (Temporal, bool) {
	var target uint8
	digits := temporalDigits[:]
	if t.Kind == KindTime {
		digits = timeDigits[:]
	}
	if prec == defaultPrec {
		target = precMilli
		if t.Kind == KindDate {
			target = precDay
		}
	} else {
		for p, d := range digits {
			if int64(d) == prec && d != 0 {
				target = uint8(p)
			}
		}
		if target == 0 {
			return t, false
		}
	}
	if t.Prec == precHour {
		t.Prec = precMinute // T08 is read as 08:00
	}
	y, mo, d := t.T.Date()
	h, mi, s := t.T.Clock()
	ns := t.T.Nanosecond()
	if high {
		if t.Prec < precMonth {
			mo = 12
		}
		if t.Prec < precDay {
			d = time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day()
		}
		if t.Prec < precHour {
			h = 23
		}
		if t.Prec < precMinute {
			mi = 59
		}
		if t.Prec < precSecond {
			s = 59
		}
		if t.Prec < precMilli {
			ns = 999e6
		}
	}
	loc := t.T.Location()
	r := Temporal{Kind: t.Kind, Prec: target, HasTZ: t.HasTZ}
	if t.Kind == KindDateTime && !t.HasTZ && target >= precHour {
		r.HasTZ = true
		loc = time.FixedZone("", 14*3600)
		if high {
			loc = time.FixedZone("", -12*3600)
		}
	}
	if t.Kind == KindDateTime && target <= precDay {
		r.Kind = KindDate
		r.HasTZ = false
	}
	if t.Kind == KindDate && target > precDay {
		r.Kind = KindDateTime
	}
	r.T = time.Date(y, mo, d, h, mi, s, ns, loc)
	return r, true
}
