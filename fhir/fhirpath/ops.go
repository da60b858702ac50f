package fhirpath

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// sysValue converts a node to the System value FHIRPath operators work on:
// bool, int64, float64, string, Temporal or Quantity. ok is false for
// complex values that are not quantities.
func sysValue(n Node) (any, bool) {
	switch v := n.Value.(type) {
	case bool, int64, float64, Temporal, Quantity:
		return v, true
	case string:
		switch n.Type {
		case "date", "dateTime", "instant":
			if t, err := parseTemporal(v, false); err == nil {
				if n.Type != "date" {
					t.Kind = KindDateTime
				}
				return t, true
			}
		case "time":
			if t, err := parseTime(v); err == nil {
				return t, true
			}
		}
		return v, true
	case json.Number:
		switch n.Type {
		case "decimal", "System.Decimal":
			f, _ := v.Float64()
			return f, true
		}
		if i, err := v.Int64(); err == nil {
			return i, true
		}
		f, _ := v.Float64()
		return f, true
	case int:
		return int64(v), true
	case map[string]any:
		if isQuantityType(n.Type) {
			q := Quantity{}
			switch x := v["value"].(type) {
			case json.Number:
				q.Value, _ = x.Float64()
			case float64:
				q.Value = x
			default:
				return nil, false
			}
			if c, ok := v["code"].(string); ok {
				q.Unit = c
			} else if u, ok := v["unit"].(string); ok {
				q.Unit = u
			}
			return q, true
		}
	}
	return nil, false
}

func isTemporalType(t string) bool {
	switch t {
	case "date", "dateTime", "instant", "time":
		return true
	}
	return false
}

func isQuantityType(t string) bool {
	switch t {
	case "Quantity", "Age", "Count", "Distance", "Duration", "Money", "SimpleQuantity", "MoneyQuantity":
		return t != "Money"
	}
	return false
}

func placesOf(f float64) int {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// decimalPlaces counts the digits after the point of a decimal in the tree.
func decimalPlaces(n Node) int {
	var s string
	switch v := n.Value.(type) {
	case json.Number:
		s = string(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return 0
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func isNumber(v any) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

func floatEq(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

// equalNodes is FHIRPath '=' on two items; known is false when the result
// is empty (temporal values of different precision).
func equalNodes(a, b Node) (eq, known bool) {
	// Fast paths that avoid boxing: plain strings and non-quantity objects.
	switch x := a.Value.(type) {
	case string:
		if y, ok := b.Value.(string); ok && !isTemporalType(a.Type) && !isTemporalType(b.Type) {
			return x == y, true
		}
	case map[string]any:
		if y, ok := b.Value.(map[string]any); ok && !isQuantityType(a.Type) && !isQuantityType(b.Type) {
			return deepEqual(x, y), true
		}
	}
	va, oka := sysValue(a)
	vb, okb := sysValue(b)
	if oka && okb {
		return equalValues(va, vb)
	}
	if oka != okb {
		return false, true
	}
	return deepEqual(a.Value, b.Value), true
}

func equalValues(va, vb any) (bool, bool) {
	switch x := va.(type) {
	case bool:
		y, ok := vb.(bool)
		return ok && x == y, true
	case string:
		switch y := vb.(type) {
		case string:
			return x == y, true
		case Temporal:
			if t, err := parseTemporal(x, false); err == nil {
				return equalValues(t, y)
			}
		}
		return false, true
	case int64, float64:
		if !isNumber(vb) {
			if q, ok := vb.(Quantity); ok && (q.Unit == "1" || q.Unit == "") {
				return floatEq(toFloat(va), q.Value), true
			}
			return false, true
		}
		if xi, ok := va.(int64); ok {
			if yi, ok := vb.(int64); ok {
				return xi == yi, true
			}
		}
		return floatEq(toFloat(va), toFloat(vb)), true
	case Temporal:
		var y Temporal
		switch v := vb.(type) {
		case Temporal:
			y = v
		case string:
			t, err := parseTemporal(v, false)
			if err != nil {
				return false, true
			}
			y = t
		default:
			return false, true
		}
		c, ok := compareTemporal(x, y)
		if !ok {
			if (x.Kind == KindTime) != (y.Kind == KindTime) {
				return false, true
			}
			return false, false
		}
		return c == 0, true
	case Quantity:
		y, ok := vb.(Quantity)
		if !ok {
			return false, true
		}
		if x.Unit == y.Unit {
			return floatEq(x.Value, y.Value), true
		}
		nx, okx := normQuantity(x)
		ny, oky := normQuantity(y)
		if okx && oky && nx.Unit == ny.Unit {
			return floatEq(nx.Value, ny.Value), true
		}
		if strings.TrimPrefix(nx.Unit, "cal:") == strings.TrimPrefix(ny.Unit, "cal:") {
			return false, false // calendar vs UCUM year/month: not comparable
		}
		return false, true
	}
	return false, true
}

// deepEqual compares generic-tree values, numbers by value.
func deepEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !deepEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, _ := x.Float64()
		fy, _ := y.Float64()
		return fx == fy
	}
	return a == b
}

// equivalentNodes is FHIRPath '~' on two items.
func equivalentNodes(a, b Node) bool {
	va, oka := sysValue(a)
	vb, okb := sysValue(b)
	if !oka || !okb {
		if oka != okb {
			return false
		}
		return deepEqual(a.Value, b.Value)
	}
	switch x := va.(type) {
	case string:
		y, ok := vb.(string)
		return ok && normSpace(x) == normSpace(y)
	case int64, float64:
		if !isNumber(vb) {
			return false
		}
		p := min(decimalPlaces(a), decimalPlaces(b))
		pow := math.Pow10(p)
		return math.Round(toFloat(va)*pow) == math.Round(toFloat(vb)*pow)
	case Temporal:
		eq, known := equalValues(va, vb)
		return known && eq
	case Quantity:
		y, ok := vb.(Quantity)
		if !ok {
			return false
		}
		nx, _ := normQuantity(x)
		ny, _ := normQuantity(y)
		if strings.TrimPrefix(nx.Unit, "cal:") != strings.TrimPrefix(ny.Unit, "cal:") {
			return false
		}
		// Compare at the precision of the less precise value.
		p := min(placesOf(nx.Value), placesOf(ny.Value))
		pow := math.Pow10(p)
		return math.Round(nx.Value*pow) == math.Round(ny.Value*pow)
	}
	eq, _ := equalValues(va, vb)
	return eq
}

func normSpace(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// compareNodes orders two items; known is false when they cannot be ordered
// (empty result), err when the types are incompatible.
func compareNodes(a, b Node) (int, bool, error) {
	va, oka := sysValue(a)
	vb, okb := sysValue(b)
	if !oka || !okb {
		return 0, false, fmt.Errorf("cannot compare %s and %s", a.Type, b.Type)
	}
	switch x := va.(type) {
	case string:
		switch y := vb.(type) {
		case string:
			return strings.Compare(x, y), true, nil
		case Temporal:
			t, err := parseTemporal(x, false)
			if err != nil {
				return 0, false, fmt.Errorf("cannot compare string and date")
			}
			c, ok := compareTemporal(t, y)
			return c, ok, nil
		}
	case int64, float64:
		if isNumber(vb) {
			fa, fb := toFloat(va), toFloat(vb)
			switch {
			case fa < fb:
				return -1, true, nil
			case fa > fb:
				return 1, true, nil
			}
			return 0, true, nil
		}
	case Temporal:
		switch y := vb.(type) {
		case Temporal:
			c, ok := compareTemporal(x, y)
			return c, ok, nil
		case string:
			t, err := parseTemporal(y, false)
			if err == nil {
				c, ok := compareTemporal(x, t)
				return c, ok, nil
			}
		}
	case Quantity:
		if y, ok := vb.(Quantity); ok {
			nx, _ := normQuantity(x)
			ny, _ := normQuantity(y)
			if nx.Unit != ny.Unit {
				return 0, false, nil
			}
			switch {
			case nx.Value < ny.Value:
				return -1, true, nil
			case nx.Value > ny.Value:
				return 1, true, nil
			}
			return 0, true, nil
		}
	}
	return 0, false, fmt.Errorf("cannot compare %s and %s", typeName(a), typeName(b))
}

func typeName(n Node) string {
	if n.Type != "" {
		return n.Type
	}
	return fmt.Sprintf("%T", n.Value)
}

// toBool applies FHIRPath singleton evaluation for boolean contexts:
// empty is unknown, a single boolean is itself, a single other item is true.
func toBool(ns []Node) (val, known bool, err error) {
	switch len(ns) {
	case 0:
		return false, false, nil
	case 1:
		if b, ok := ns[0].Value.(bool); ok {
			return b, true, nil
		}
		return true, true, nil
	}
	return false, false, fmt.Errorf("boolean expected, got a collection of %d items", len(ns))
}

// intOf reads a single integer argument.
func intOf(ns []Node) (int64, bool, error) {
	if len(ns) == 0 {
		return 0, false, nil
	}
	if len(ns) > 1 {
		return 0, false, fmt.Errorf("integer expected, got %d items", len(ns))
	}
	v, _ := sysValue(ns[0])
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case float64:
		if x == math.Trunc(x) {
			return int64(x), true, nil
		}
	}
	return 0, false, fmt.Errorf("integer expected, got %s", typeName(ns[0]))
}

// stringOf reads a single string argument.
func stringOf(ns []Node) (string, bool, error) {
	if len(ns) == 0 {
		return "", false, nil
	}
	if len(ns) > 1 {
		return "", false, fmt.Errorf("string expected, got %d items", len(ns))
	}
	if s, ok := ns[0].Value.(string); ok {
		return s, true, nil
	}
	return "", false, fmt.Errorf("string expected, got %s", typeName(ns[0]))
}

// typeMatches implements 'is': the node's type is spec or derives from it.
func typeMatches(n Node, spec string) bool {
	ns, name := "", spec
	if i := strings.IndexByte(spec, '.'); i >= 0 && (spec[:i] == "System" || spec[:i] == "FHIR") {
		ns, name = spec[:i], spec[i+1:]
	}
	if sys, ok := strings.CutPrefix(n.Type, "System."); ok {
		if ns == "FHIR" {
			return false
		}
		return sys == name
	}
	if n.Type == "" {
		// Untyped tree value: infer the System type.
		if ns == "FHIR" {
			return false
		}
		switch n.Value.(type) {
		case string:
			return name == "String"
		case bool:
			return name == "Boolean"
		case json.Number:
			return name == "Decimal" || name == "Integer"
		}
		return false
	}
	if ns == "System" {
		return false
	}
	return model.IsA(n.Type, name)
}

// ofType filters ns to the items of type spec. Unlike 'is', primitive
// types must match exactly (a code is not returned by as(string)).
func ofType(ns []Node, spec string) []Node {
	var out []Node
	for _, n := range ns {
		if model.IsPrimitive(n.Type) && n.Type != strings.TrimPrefix(spec, "FHIR.") {
			continue
		}
		if typeMatches(n, spec) {
			out = append(out, n)
		}
	}
	return out
}
