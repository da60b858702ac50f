package validator

import (
	"path/filepath"
	"testing"
)

// TestSynthea validates every shared Synthea bundle whole (conditional
// references are legal inside a Bundle) and expects no error.
func TestSynthea(t *testing.T) {
	files := syntheaFiles(t)
	if testing.Short() {
		files = files[:3]
	}
	v := testValidator()
	entries := 0
	for _, f := range files {
		b := decode(t, readBz2(t, f))
		es, _ := b["entry"].([]any)
		entries += len(es)
		n := 0
		for _, is := range v.Validate("Bundle", b) {
			if is.Severity == "error" {
				if n++; n <= 5 {
					t.Errorf("%s: %s: %s", filepath.Base(f), is.Expression[0], is.Diagnostics)
				}
			}
		}
		if n > 5 {
			t.Errorf("%s: %d more errors", filepath.Base(f), n-5)
		}
	}
	t.Logf("%d bundles, %d entries validated", len(files), entries)
}
