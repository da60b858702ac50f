package patch

import (
	"fmt"
	"strconv"
	"strings"
)

// Step is one hop from the resource root to an element: a property name and,
// for an array member, its index (-1 otherwise). It mirrors fhirpath.Step so
// a FHIRPath result can be edited in place.
type Step struct {
	Key   string
	Index int
}

// locator evaluates a FHIRPath expression against a resource and returns the
// location of each result in the tree.
type locator func(expr string, root map[string]any) ([][]Step, error)

// locate is the evaluator ApplyFHIRPathPatch uses: the full fhir/fhirpath
// engine where it is wired in (see fhirpath.go), else simpleLocate.
var locate locator = simpleLocate

// simpleLocate evaluates the navigational subset of FHIRPath that patches
// use in practice: an optional leading type name, member names, [n]
// indexers, first(), last() and where(name = 'literal').
func simpleLocate(expr string, root map[string]any) ([][]Step, error) {
	type hit struct {
		v    any
		path []Step
	}
	cur := []hit{{root, nil}}
	rest := strings.TrimSpace(expr)
	first := true
	for rest != "" {
		if !first {
			switch rest[0] {
			case '.':
				rest = rest[1:]
			case '[':
			default:
				return nil, fmt.Errorf("unsupported FHIRPath syntax at %q", rest)
			}
		}
		if rest != "" && rest[0] == '[' {
			end := strings.IndexByte(rest, ']')
			n, err := strconv.Atoi(strings.TrimSpace(rest[1:max(end, 1)]))
			if end < 0 || err != nil {
				return nil, fmt.Errorf("bad indexer at %q", rest)
			}
			rest = rest[end+1:]
			if n >= 0 && n < len(cur) {
				cur = cur[n : n+1]
			} else {
				cur = nil
			}
			first = false
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] == '_' || rest[i] >= 'a' && rest[i] <= 'z' || rest[i] >= 'A' && rest[i] <= 'Z' || rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		if i == 0 {
			return nil, fmt.Errorf("unsupported FHIRPath syntax at %q", rest)
		}
		name := rest[:i]
		rest = rest[i:]
		if strings.HasPrefix(rest, "(") {
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, fmt.Errorf("unclosed call at %q", rest)
			}
			arg := strings.TrimSpace(rest[1:end])
			rest = rest[end+1:]
			switch {
			case name == "first" && arg == "":
				cur = cur[:min(1, len(cur))]
			case name == "last" && arg == "":
				cur = cur[max(0, len(cur)-1):]
			case name == "where":
				k, lit, ok := strings.Cut(arg, "=")
				k, lit = strings.TrimSpace(k), strings.TrimSpace(lit)
				if !ok || len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
					return nil, fmt.Errorf("unsupported where(%s)", arg)
				}
				var keep []hit
				for _, h := range cur {
					if m, ok := h.v.(map[string]any); ok && m[k] == lit[1:len(lit)-1] {
						keep = append(keep, h)
					}
				}
				cur = keep
			default:
				return nil, fmt.Errorf("unsupported function %s(%s)", name, arg)
			}
			first = false
			continue
		}
		if first && name[0] >= 'A' && name[0] <= 'Z' {
			if root["resourceType"] != nil && root["resourceType"] != name {
				cur = nil
			}
			first = false
			continue
		}
		first = false
		var next []hit
		for _, h := range cur {
			m, ok := h.v.(map[string]any)
			if !ok {
				continue
			}
			key := name
			if _, ok := m[key]; !ok {
				key = choiceKey(m, name)
			}
			switch v := m[key].(type) {
			case nil:
			case []any:
				for j, e := range v {
					next = append(next, hit{e, appendStep(h.path, Step{key, j})})
				}
			default:
				next = append(next, hit{v, appendStep(h.path, Step{key, -1})})
			}
		}
		cur = next
	}
	out := make([][]Step, len(cur))
	for i, h := range cur {
		out[i] = h.path
	}
	return out, nil
}

func appendStep(p []Step, s Step) []Step {
	return append(p[:len(p):len(p)], s)
}

// choiceKey finds the typed member of choice element name ("value" is held
// as "valueQuantity"), "" when there is none.
func choiceKey(m map[string]any, name string) string {
	for k := range m {
		if len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' {
			return k
		}
	}
	return ""
}
