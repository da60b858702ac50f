package fhirpath

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// TestSearchParameterExpressions compiles every expression of the R4
// SearchParameters and evaluates it on every package example of each base
// type: none may fail, since extraction runs on every write.
func TestSearchParameterExpressions(t *testing.T) {
	pkg := r4Package(t)
	var b struct {
		Entry []struct {
			Resource struct {
				Code       string   `json:"code"`
				Base       []string `json:"base"`
				Expression string   `json:"expression"`
				Type       string   `json:"type"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(pkg["Bundle-searchParams.json"], &b); err != nil {
		t.Fatal(err)
	}
	examples := map[string][]map[string]any{}
	var names []string
	for n := range pkg {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		typ, _, ok := strings.Cut(n, "-")
		if !ok || typ == "Bundle" && strings.HasPrefix(n, "Bundle-searchParams") {
			continue
		}
		m := decode(t, pkg[n])
		if m["resourceType"] == typ {
			examples[typ] = append(examples[typ], m)
		}
	}
	compiled, evals, withValues := 0, 0, 0
	for _, e := range b.Entry {
		sp := e.Resource
		if sp.Expression == "" {
			continue
		}
		x, err := Compile(sp.Expression)
		if err != nil {
			t.Errorf("%s %s: %v", sp.Base, sp.Code, err)
			continue
		}
		compiled++
		found := false
		for _, base := range sp.Base {
			for _, ex := range examples[base] {
				res, err := x.Evaluate(ex, nil)
				evals++
				if err != nil {
					t.Errorf("%s.%s on %s/%v: %s: %v", base, sp.Code, base, ex["id"], sp.Expression, err)
					continue
				}
				if len(res) > 0 {
					found = true
				}
				for _, r := range res {
					if r.Type == "" {
						t.Errorf("%s.%s on %s/%v: untyped result %v", base, sp.Code, base, ex["id"], r.Value)
					}
				}
			}
		}
		if found {
			withValues++
		}
	}
	t.Logf("%d expressions compiled, %d evaluations, %d expressions found values in the examples", compiled, evals, withValues)
	if compiled < 1300 {
		t.Errorf("only %d expressions compiled", compiled)
	}
}
