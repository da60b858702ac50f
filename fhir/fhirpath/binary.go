package fhirpath

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

func (c *evalCtx) binary(n *ast, focus []Node, fr *frame) ([]Node, error) {
	op := n.name
	left, err := c.eval(n.args[0], focus, fr)
	if err != nil {
		return nil, err
	}
	// The boolean operators short-circuit where three-valued logic allows.
	switch op {
	case "and", "or", "implies", "xor":
		l, lk, err := toBool(left)
		if err != nil {
			return nil, err
		}
		if lk && (op == "and" && !l || op == "or" && l) {
			return single(l), nil
		}
		if lk && op == "implies" && !l {
			return single(true), nil
		}
		right, err := c.eval(n.args[1], focus, fr)
		if err != nil {
			return nil, err
		}
		r, rk, err := toBool(right)
		if err != nil {
			return nil, err
		}
		switch op {
		case "and":
			if rk && !r {
				return single(false), nil
			}
			if lk && rk {
				return single(true), nil
			}
		case "or":
			if rk && r {
				return single(true), nil
			}
			if lk && rk {
				return single(false), nil
			}
		case "xor":
			if lk && rk {
				return single(l != r), nil
			}
		case "implies":
			if rk && r {
				return single(true), nil
			}
			if lk && rk {
				return single(false), nil
			}
		}
		return nil, nil
	}
	right, err := c.eval(n.args[1], focus, fr)
	if err != nil {
		return nil, err
	}
	switch op {
	case "|":
		return c.union(left, right)
	case "=", "!=":
		if len(left) == 0 || len(right) == 0 {
			return nil, nil
		}
		if len(left) != len(right) {
			return single(op == "!="), nil
		}
		for i := range left {
			eq, known := equalNodes(left[i], right[i])
			if !known {
				return nil, nil
			}
			if !eq {
				return single(op == "!="), nil
			}
		}
		return single(op == "="), nil
	case "~", "!~":
		eq := equivalentColl(left, right)
		return single(eq == (op == "~")), nil
	case "<", ">", "<=", ">=":
		if len(left) == 0 || len(right) == 0 {
			return nil, nil
		}
		if len(left) > 1 || len(right) > 1 {
			return nil, fmt.Errorf("comparison of collections (%d and %d items)", len(left), len(right))
		}
		cmp, known, err := compareNodes(left[0], right[0])
		if err != nil || !known {
			return nil, err
		}
		var b bool
		switch op {
		case "<":
			b = cmp < 0
		case ">":
			b = cmp > 0
		case "<=":
			b = cmp <= 0
		case ">=":
			b = cmp >= 0
		}
		return single(b), nil
	case "in", "contains":
		item, coll := left, right
		if op == "contains" {
			item, coll = right, left
		}
		if len(item) == 0 {
			return nil, nil
		}
		if len(item) > 1 {
			return nil, fmt.Errorf("'%s' needs a single item, got %d", op, len(item))
		}
		return single(contains(coll, item[0])), nil
	case "&":
		ls, _, err := stringOf(left)
		if err != nil {
			return nil, err
		}
		rs, _, err := stringOf(right)
		if err != nil {
			return nil, err
		}
		return []Node{strNode(ls + rs)}, nil
	}
	if len(left) == 0 || len(right) == 0 {
		return nil, nil
	}
	if len(left) > 1 || len(right) > 1 {
		return nil, fmt.Errorf("'%s' on collections (%d and %d items)", op, len(left), len(right))
	}
	return arith(op, left[0], right[0])
}

func equivalentColl(left, right []Node) bool {
	if len(left) != len(right) {
		return false
	}
	used := make([]bool, len(right))
outer:
	for _, l := range left {
		for j, r := range right {
			if !used[j] && equivalentNodes(l, r) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}

func contains(coll []Node, item Node) bool {
	for _, c := range coll {
		if eq, known := equalNodes(c, item); eq && known {
			return true
		}
	}
	return false
}

// union merges two collections, removing duplicates, charging the
// comparisons (see maxWork). Small ones compare every pair; in large ones
// plain strings (the codes of a large ValueSet that search extraction
// unions) go through a hash set, and only other items are compared.
func (c *evalCtx) union(a, b []Node) ([]Node, error) {
	n := len(a) + len(b)
	if n <= 64 {
		if err := c.spend(n * n / 2); err != nil {
			return nil, err
		}
		return union(a, b), nil
	}
	out := make([]Node, 0, n)
	strs := map[string]struct{}{}
	var others []Node // the items of out that are not plain strings
	for _, x := range [2][]Node{a, b} {
		for _, it := range x {
			if s, ok := it.Value.(string); ok && !isTemporalType(it.Type) {
				if _, dup := strs[s]; dup {
					continue
				}
				if err := c.spend(1 + len(others)); err != nil {
					return nil, err
				}
				if len(others) > 0 && contains(others, it) {
					continue
				}
				strs[s] = struct{}{}
				out = append(out, it)
				continue
			}
			if err := c.spend(1 + len(out)); err != nil {
				return nil, err
			}
			if !contains(out, it) {
				out = append(out, it)
				others = append(others, it)
			}
		}
	}
	return out, nil
}

// union merges two collections, removing duplicates.
func union(a, b []Node) []Node {
	out := make([]Node, 0, len(a)+len(b))
	for _, x := range [2][]Node{a, b} {
		for _, n := range x {
			if !contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func arith(op string, a, b Node) ([]Node, error) {
	va, oka := sysValue(a)
	vb, okb := sysValue(b)
	if !oka || !okb {
		return nil, fmt.Errorf("'%s' on %s and %s", op, typeName(a), typeName(b))
	}
	switch x := va.(type) {
	case string:
		if y, ok := vb.(string); ok && op == "+" {
			return []Node{strNode(x + y)}, nil
		}
	case int64:
		if y, ok := vb.(int64); ok {
			switch op {
			case "/":
				if y == 0 {
					return nil, nil
				}
				return decArith(op, float64(x), float64(y), 0)
			case "+":
				return []Node{intNode(x + y)}, nil
			case "-":
				return []Node{intNode(x - y)}, nil
			case "*":
				return []Node{intNode(x * y)}, nil
			case "div":
				if y == 0 {
					return nil, nil
				}
				return []Node{intNode(x / y)}, nil
			case "mod":
				if y == 0 {
					return nil, nil
				}
				return []Node{intNode(x % y)}, nil
			}
		}
		if q, ok := vb.(Quantity); ok && op == "*" {
			return []Node{{Value: Quantity{Value: float64(x) * q.Value, Unit: q.Unit}, Type: "System.Quantity"}}, nil
		}
		if isNumber(vb) {
			return decArith(op, float64(x), toFloat(vb), scaleOf(op, a, b))
		}
	case float64:
		if isNumber(vb) {
			return decArith(op, x, toFloat(vb), scaleOf(op, a, b))
		}
		if q, ok := vb.(Quantity); ok && op == "*" {
			return []Node{{Value: Quantity{Value: x * q.Value, Unit: q.Unit}, Type: "System.Quantity"}}, nil
		}
	case Temporal:
		if q, ok := vb.(Quantity); ok && (op == "+" || op == "-") {
			sign := 1.0
			if op == "-" {
				sign = -1
			}
			t, err := addQuantity(x, q, sign)
			if err != nil {
				return nil, err
			}
			return []Node{{Value: t, Type: t.systemType()}}, nil
		}
	case Quantity:
		switch y := vb.(type) {
		case Quantity:
			switch op {
			case "+", "-":
				nx, _ := normQuantity(x)
				ny, _ := normQuantity(y)
				if x.Unit == y.Unit {
					nx, ny = x, y
				} else if nx.Unit != ny.Unit {
					return nil, nil
				}
				v := nx.Value + ny.Value
				if op == "-" {
					v = nx.Value - ny.Value
				}
				return []Node{{Value: Quantity{Value: v, Unit: nx.Unit}, Type: "System.Quantity"}}, nil
			case "*", "/":
				if nx, ok := normQuantity(x); ok {
					if ny, ok := normQuantity(y); ok {
						x, y = nx, ny
					}
				}
				u := mulUnit(x.Unit, y.Unit, op)
				v := x.Value * y.Value
				if op == "/" {
					if y.Value == 0 {
						return nil, nil
					}
					v = x.Value / y.Value
				}
				return []Node{{Value: Quantity{Value: v, Unit: u}, Type: "System.Quantity"}}, nil
			}
		case int64, float64:
			switch op {
			case "*":
				return []Node{{Value: Quantity{Value: x.Value * toFloat(y), Unit: x.Unit}, Type: "System.Quantity"}}, nil
			case "/":
				if toFloat(y) == 0 {
					return nil, nil
				}
				return []Node{{Value: Quantity{Value: x.Value / toFloat(y), Unit: x.Unit}, Type: "System.Quantity"}}, nil
			}
		}
	}
	return nil, fmt.Errorf("'%s' not defined on %s and %s", op, typeName(a), typeName(b))
}

func mulUnit(a, b, op string) string {
	if c, ok := calendarUnits[a]; ok {
		a = c
	}
	if c, ok := calendarUnits[b]; ok {
		b = c
	}
	if op == "/" {
		if a == b {
			return "1"
		}
		if b == "1" {
			return a
		}
		return a + "/" + b
	}
	switch {
	case a == "1":
		return b
	case b == "1":
		return a
	case a == b:
		return a + "2"
	}
	return a + "." + b
}

// scaleOf is the number of decimals a sum or difference keeps.
func scaleOf(op string, a, b Node) int {
	if op == "+" || op == "-" {
		return max(decimalPlaces(a), decimalPlaces(b))
	}
	return 0
}

func decArith(op string, x, y float64, scale int) ([]Node, error) {
	var r float64
	switch op {
	case "+":
		r = x + y
	case "-":
		r = x - y
	case "*":
		r = x * y
	case "/":
		if y == 0 {
			return nil, nil
		}
		r = x / y
	case "div":
		if y == 0 {
			return nil, nil
		}
		return []Node{intNode(int64(math.Trunc(x / y)))}, nil
	case "mod":
		if y == 0 {
			return nil, nil
		}
		r = math.Mod(x, y)
	default:
		return nil, fmt.Errorf("unknown operator %s", op)
	}
	// Keep results like 0.1+0.2 at decimal precision.
	r = roundSig(r)
	s := formatDecimal(r)
	if scale > 0 {
		places := 0
		if i := strings.IndexByte(s, '.'); i >= 0 {
			places = len(s) - i - 1
		} else {
			s += "."
		}
		s += strings.Repeat("0", max(scale-places, 0))
	}
	return []Node{{Value: json.Number(s), Type: "System.Decimal"}}, nil
}

// roundSig trims float noise beyond 15 significant digits.
func roundSig(f float64) float64 {
	if f == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return f
	}
	s := fmt.Sprintf("%.15g", f)
	var g float64
	fmt.Sscanf(strings.TrimSpace(s), "%g", &g)
	return g
}
