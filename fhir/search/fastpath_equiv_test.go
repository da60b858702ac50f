package search

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/fhirpath"
)

// TestFastPathMatchesFHIRPath checks, on the R4 examples, that the fast
// path selects the same typed values as the general FHIRPath engine.
func TestFastPathMatchesFHIRPath(t *testing.T) {
	reg := Default()
	diffs := 0
	for _, e := range examples(t) {
		if len(e.body) > 100_000 {
			continue
		}
		res, ferr := fhir.Decode(e.body)
		if ferr != nil {
			continue
		}
		typ, _ := res["resourceType"].(string)
		for _, p := range reg.Params(typ) {
			fe, ok := p.eval.(*fastExpr)
			if !ok {
				continue
			}
			got, _ := fe.eval(node{v: res, t: typ}, res, true, nil)
			fp, err := fhirpath.Compile(p.Expression)
			if err != nil {
				t.Fatalf("%s: %v", p.Expression, err)
			}
			want, err := fpExpr{fp}.eval(node{}, res, true, nil)
			if err != nil {
				t.Errorf("%s %s: fhirpath: %v", e.name, p.Expression, err)
				continue
			}
			// FHIRPath's union drops values equal by its rules (1.0 = 1.00,
			// a comparator ignored); search keeps them, so the fast path may
			// select more, but never miss one.
			if g, w := nodeSet(got), nodeSet(want); !subset(w, g) || len(g) > 0 && len(w) == 0 {
				diffs++
				if diffs <= 15 {
					t.Errorf("%s %s.%s = %s\n fast     %v\n fhirpath %v", e.name, typ, p.Code, p.Expression, g, w)
				}
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d differences", diffs)
	}
}

func nodeSet(ns []node) []string {
	m := map[string]bool{}
	for _, n := range ns {
		b, _ := json.Marshal(n.v)
		m[n.t+" "+string(b)] = true
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func subset(a, b []string) bool {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	for _, x := range a {
		if !in[x] {
			return false
		}
	}
	return true
}
