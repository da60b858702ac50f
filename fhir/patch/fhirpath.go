package patch

import (
	"fmt"

	"github.com/dccfhir/dccfhir/fhir/fhirpath"
)

// The full FHIRPath engine locates patch targets; simpleLocate stays as
// the reference for the navigational subset in tests.
func init() { locate = fhirpathLocate }

// fhirpathLocate evaluates expr with fhir/fhirpath and returns where each
// result sits; a computed value (no location in the resource) cannot be
// patched.
func fhirpathLocate(expr string, root map[string]any) ([][]Step, error) {
	e, err := fhirpath.Compile(expr)
	if err != nil {
		return nil, err
	}
	nodes, err := e.Evaluate(root, nil)
	if err != nil {
		return nil, err
	}
	out := make([][]Step, len(nodes))
	for i, n := range nodes {
		if n.Path == nil {
			return nil, fmt.Errorf("%s selects a computed value, not an element of the resource", expr)
		}
		steps := make([]Step, len(n.Path))
		for j, s := range n.Path {
			steps[j] = Step{Key: s.Key, Index: s.Index}
		}
		out[i] = steps
	}
	return out, nil
}
