package fhir

import (
	"bytes"
	"encoding/json"
	"strconv"
)

var refKey = []byte(`"reference":"`)

// RewriteReferences replaces the value of every "reference" string element
// in a compact JSON resource — Reference.reference wherever it sits:
// extensions, contained resources, nested backbone elements — for which fn
// returns a replacement. The rest of the bytes are copied as they are.
func RewriteReferences(compact []byte, fn func(ref string) (string, bool, error)) ([]byte, error) {
	var out []byte
	last := 0
	for i := 0; ; {
		j := bytes.Index(compact[i:], refKey)
		if j < 0 {
			break
		}
		start := i + j + len(refKey) - 1 // the opening quote
		end := start + 1
		for end < len(compact) && compact[end] != '"' {
			if compact[end] == '\\' {
				end++
			}
			end++
		}
		end++ // past the closing quote
		if end > len(compact) {
			break
		}
		i = end
		// A key inside a string value would be preceded by an escaped quote.
		if k := start - len(refKey) + 1; k > 0 && compact[k-1] != '{' && compact[k-1] != ',' {
			continue
		}
		var ref string
		if err := json.Unmarshal(compact[start:end], &ref); err != nil {
			continue
		}
		repl, ok, err := fn(ref)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(compact)+64)
		}
		out = append(out, compact[last:start]...)
		out = strconv.AppendQuote(out, repl)
		last = end
	}
	if out == nil {
		return compact, nil
	}
	return append(out, compact[last:]...), nil
}

// WalkReferences calls fn for every "reference" string element in a decoded
// resource and stores the replacement it returns, so the tree stays in step
// with RewriteReferences on the bytes.
func WalkReferences(v any, fn func(ref string) (string, bool, error)) error {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s, ok := c.(string); ok && k == "reference" {
				repl, ok, err := fn(s)
				if err != nil {
					return err
				}
				if ok {
					x[k] = repl
				}
				continue
			}
			if err := WalkReferences(c, fn); err != nil {
				return err
			}
		}
	case []any:
		for _, c := range x {
			if err := WalkReferences(c, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
