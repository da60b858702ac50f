package fhir

import (
	"encoding/json"
	"math/big"
)

// Equal compares two generic-tree values the way RFC 6902 "test" does:
// numbers by numeric value (so 1 equals 1.0), objects regardless of member
// order, arrays element by element, and no coercion between types. JSON Patch, FHIRPath equality and profile
// fixed values all use it, so "equal" means one thing in the server.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
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
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number, float64, int, int64:
		ra, ok1 := numRat(a)
		rb, ok2 := numRat(b)
		return ok1 && ok2 && ra.Cmp(rb) == 0
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

func numRat(v any) (*big.Rat, bool) {
	r := new(big.Rat)
	switch n := v.(type) {
	case json.Number:
		_, ok := r.SetString(string(n))
		return r, ok
	case float64:
		if r.SetFloat64(n) == nil {
			return nil, false
		}
		return r, true
	case int:
		return r.SetInt64(int64(n)), true
	case int64:
		return r.SetInt64(n), true
	}
	return nil, false
}
