package patch

import ()

// deepCopy clones a generic JSON tree so edits never reach the caller's
// document (a patch is all-or-nothing).
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = deepCopy(e)
		}
		return a
	default:
		return v
	}
}

// isEmpty reports an object or array with nothing left in it, which FHIR JSON
// forbids, so edits prune them.
func isEmpty(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return len(t) == 0
	case []any:
		for _, e := range t {
			if e != nil {
				return false
			}
		}
		return true
	}
	return false
}
