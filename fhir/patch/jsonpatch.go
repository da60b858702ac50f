package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
)

// jsonOp is one RFC 6902 operation as sent; Value is kept raw so that an
// absent value can be told from an explicit null.
type jsonOp struct {
	Op    string          `json:"op"`
	Path  *string         `json:"path"`
	From  *string         `json:"from"`
	Value json.RawMessage `json:"value"`
}

// ApplyJSONPatch applies an RFC 6902 JSON Patch document
// (application/json-patch+json) to doc and returns the patched copy; doc
// itself is never modified. A malformed patch gives a 400 *fhir.Error, one
// that does not apply (missing path, failed test, bad index) a 422, with the
// operation's JSON pointer as the issue expression.
func ApplyJSONPatch(doc map[string]any, patch []byte) (map[string]any, error) {
	var ops []jsonOp
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fhir.Errorf(400, "invalid", "", "JSON Patch must be a JSON array of operations: %v", err)
	}
	var cur any = deepCopy(doc)
	for i, op := range ops {
		next, err := applyJSONOp(cur, i, op)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fhir.Errorf(422, "processing", "", "JSON Patch: the result is not a JSON object")
	}
	return m, nil
}

func applyJSONOp(doc any, i int, op jsonOp) (any, error) {
	bad := func(format string, args ...any) error {
		return fhir.Errorf(400, "invalid", fmt.Sprintf("/%d", i), "JSON Patch operation %d (%s): %s", i, op.Op, fmt.Sprintf(format, args...))
	}
	if op.Path == nil {
		return nil, bad("missing \"path\"")
	}
	path, err := parsePointer(*op.Path)
	if err != nil {
		return nil, bad("path: %v", err)
	}
	fail := func(format string, args ...any) error {
		return fhir.Errorf(422, "processing", *op.Path, "JSON Patch operation %d (%s %s): %s", i, op.Op, *op.Path, fmt.Sprintf(format, args...))
	}
	value := func() (any, error) {
		if op.Value == nil {
			return nil, bad("missing \"value\"")
		}
		d := json.NewDecoder(bytes.NewReader(op.Value))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, bad("value: %v", err)
		}
		return v, nil
	}
	from := func() ([]string, error) {
		if op.From == nil {
			return nil, bad("missing \"from\"")
		}
		f, err := parsePointer(*op.From)
		if err != nil {
			return nil, bad("from: %v", err)
		}
		return f, nil
	}
	switch op.Op {
	case "add":
		v, err := value()
		if err != nil {
			return nil, err
		}
		return ptrAdd(doc, path, v, fail)
	case "remove":
		_, out, err := ptrRemove(doc, path, fail)
		return out, err
	case "replace":
		v, err := value()
		if err != nil {
			return nil, err
		}
		if _, err := ptrGet(doc, path, fail); err != nil {
			return nil, err
		}
		if len(path) == 0 {
			return v, nil
		}
		if _, doc, err = ptrRemove(doc, path, fail); err != nil {
			return nil, err
		}
		return ptrAdd(doc, path, v, fail)
	case "move":
		f, err := from()
		if err != nil {
			return nil, err
		}
		if len(f) < len(path) && isPrefix(f, path) {
			return nil, fail("cannot move a value into one of its own children (from %s)", *op.From)
		}
		v, doc, err := ptrRemove(doc, f, fail)
		if err != nil {
			return nil, err
		}
		return ptrAdd(doc, path, v, fail)
	case "copy":
		f, err := from()
		if err != nil {
			return nil, err
		}
		v, err := ptrGet(doc, f, fail)
		if err != nil {
			return nil, err
		}
		return ptrAdd(doc, path, deepCopy(v), fail)
	case "test":
		v, err := value()
		if err != nil {
			return nil, err
		}
		got, err := ptrGet(doc, path, fail)
		if err != nil {
			return nil, err
		}
		if !fhir.Equal(got, v) {
			return nil, fail("test failed: the value differs")
		}
		return doc, nil
	case "":
		return nil, bad("missing \"op\"")
	default:
		return nil, bad("unknown operation %q", op.Op)
	}
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped tokens ("" is
// the whole document).
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q must start with '/'", p)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(t, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("JSON pointer %q has a bad '~' escape", p)
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

func isPrefix(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type failFn func(format string, args ...any) error

// arrayIndex parses an array token: decimal digits without leading zeros,
// below max (which is len+1 where the index may point one past the end).
func arrayIndex(tok string, max int, fail failFn) (int, error) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') || strings.TrimLeft(tok, "0123456789") != "" {
		return 0, fail("%q is not an array index", tok)
	}
	n, err := strconv.Atoi(tok)
	if err != nil || n >= max {
		return 0, fail("array index %s is out of bounds", tok)
	}
	return n, nil
}

func ptrGet(doc any, path []string, fail failFn) (any, error) {
	cur := doc
	for _, t := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fail("no member %q", t)
			}
			cur = v
		case []any:
			n, err := arrayIndex(t, len(c), fail)
			if err != nil {
				return nil, err
			}
			cur = c[n]
		default:
			return nil, fail("cannot descend into a scalar at %q", t)
		}
	}
	return cur, nil
}

// ptrEdit rebuilds the path down to the parent of the last token and lets
// edit return the parent's new value (arrays change their header on
// insert/delete, so every level is written back).
func ptrEdit(doc any, path []string, fail failFn, edit func(parent any, last string) (any, error)) (any, error) {
	if len(path) == 1 {
		return edit(doc, path[0])
	}
	switch c := doc.(type) {
	case map[string]any:
		v, ok := c[path[0]]
		if !ok {
			return nil, fail("no member %q", path[0])
		}
		nv, err := ptrEdit(v, path[1:], fail, edit)
		if err != nil {
			return nil, err
		}
		c[path[0]] = nv
		return c, nil
	case []any:
		n, err := arrayIndex(path[0], len(c), fail)
		if err != nil {
			return nil, err
		}
		nv, err := ptrEdit(c[n], path[1:], fail, edit)
		if err != nil {
			return nil, err
		}
		c[n] = nv
		return c, nil
	}
	return nil, fail("cannot descend into a scalar at %q", path[0])
}

func ptrAdd(doc any, path []string, v any, fail failFn) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	return ptrEdit(doc, path, fail, func(parent any, last string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			c[last] = v
			return c, nil
		case []any:
			n := len(c)
			if last != "-" {
				var err error
				if n, err = arrayIndex(last, len(c)+1, fail); err != nil {
					return nil, err
				}
			}
			out := make([]any, 0, len(c)+1)
			out = append(append(append(out, c[:n]...), v), c[n:]...)
			return out, nil
		}
		return nil, fail("cannot add a member to a scalar")
	})
}

func ptrRemove(doc any, path []string, fail failFn) (removed, out any, err error) {
	if len(path) == 0 {
		return nil, nil, fail("cannot remove the whole document")
	}
	out, err = ptrEdit(doc, path, fail, func(parent any, last string) (any, error) {
		switch c := parent.(type) {
		case map[string]any:
			v, ok := c[last]
			if !ok {
				return nil, fail("no member %q", last)
			}
			removed = v
			delete(c, last)
			return c, nil
		case []any:
			n, err := arrayIndex(last, len(c), fail)
			if err != nil {
				return nil, err
			}
			removed = c[n]
			return append(c[:n:n], c[n+1:]...), nil
		}
		return nil, fail("cannot remove a member of a scalar")
	})
	return removed, out, err
}
