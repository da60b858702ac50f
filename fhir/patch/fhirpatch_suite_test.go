package patch

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
)

// TestFHIRPathPatchSuite runs every case of fhir-test-cases'
// fhir-patch-tests.xml (converted from FHIR XML to JSON) forwards.
func TestFHIRPathPatchSuite(t *testing.T) {
	p := filepath.Join(testCasesDir, "fhir-patch-tests.xml")
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("FHIRPath Patch suite not available at %s: %v", p, err)
	}
	defer f.Close()
	cases, err := parsePatchCases(f)
	if err != nil {
		t.Fatal(err)
	}
	// Run with the package's evaluator and with the simple fallback.
	for _, lc := range []struct {
		name string
		loc  locator
	}{{"default", locate}, {"simple", simpleLocate}} {
		t.Run(lc.name, func(t *testing.T) {
			saved := locate
			locate = lc.loc
			defer func() { locate = saved }()
			runPatchCases(t, cases)
		})
	}
}

func runPatchCases(t *testing.T, cases []patchCase) {
	pass := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ApplyFHIRPathPatch(c.input["resourceType"].(string), c.input, c.diff)
			if c.hasErrorNode {
				var fe *fhir.Error
				if !errors.As(err, &fe) || fe.Status != 422 {
					t.Fatalf("want a 422 error like %q, got %v, %v", c.errMsg, got, err)
				}
				pass++
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !fhir.Equal(got, c.output) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(c.output)
				t.Fatalf("got  %s\nwant %s", g, w)
			}
			pass++
		})
	}
	t.Logf("FHIRPath Patch suite: %d of %d cases pass", pass, len(cases))
}
