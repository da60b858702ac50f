package fhir

import (
	"bytes"
	"encoding/json"
	"strconv"
)

var refKey = []byte(`"reference"`)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// RewriteReferences replaces the value of every "reference" string element
// in a JSON resource — Reference.reference wherever it sits: extensions,
// contained resources, nested backbone elements — for which fn returns a
// replacement. The rest of the bytes are copied as they are.
func RewriteReferences(doc []byte, fn func(ref string) (string, bool, error)) ([]byte, error) {
	var out []byte
	last := 0
	for i := 0; ; {
		j := bytes.Index(doc[i:], refKey)
		if j < 0 {
			break
		}
		k := i + j // the key's opening quote
		i = k + len(refKey)
		// A key follows '{' or ','; inside a string value the quotes would be escaped.
		p := k - 1
		for p >= 0 && isSpace(doc[p]) {
			p--
		}
		if p < 0 || (doc[p] != '{' && doc[p] != ',') {
			continue
		}
		q := i
		for q < len(doc) && isSpace(doc[q]) {
			q++
		}
		if q >= len(doc) || doc[q] != ':' {
			continue
		}
		q++
		for q < len(doc) && isSpace(doc[q]) {
			q++
		}
		if q >= len(doc) || doc[q] != '"' {
			continue
		}
		start, end := q, q+1
		for end < len(doc) && doc[end] != '"' {
			if doc[end] == '\\' {
				end++
			}
			end++
		}
		end++ // past the closing quote
		if end > len(doc) {
			break
		}
		i = end
		var ref string
		if err := json.Unmarshal(doc[start:end], &ref); err != nil {
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
			out = make([]byte, 0, len(doc)+64)
		}
		out = append(out, doc[last:start]...)
		out = strconv.AppendQuote(out, repl)
		last = end
	}
	if out == nil {
		return doc, nil
	}
	return append(out, doc[last:]...), nil
}
