package search

import "testing"

// TestCompileAll checks every R4 expression compiles, and that the fast path
// takes all but the few that need general FHIRPath.
func TestCompileAll(t *testing.T) {
	reg := Default()
	slow := map[string]bool{}
	for _, typ := range reg.Types() {
		for _, p := range reg.Params(typ) {
			if p.eval == nil {
				continue
			}
			if _, ok := p.eval.(*fastExpr); !ok {
				slow[p.Base+"."+p.Code+" = "+p.Expression] = true
			}
			for _, c := range p.comps {
				if _, ok := c.(*fastExpr); !ok {
					slow[p.Base+"."+p.Code+"$"+"component = "+p.Expression] = true
				}
			}
		}
	}
	for s := range slow {
		t.Log("FHIRPath:", s)
	}
	if len(slow) > 10 {
		t.Errorf("%d expressions off the fast path", len(slow))
	}
}
