// Package gentest is the freshness test of the code generators: it runs a
// generator into a temporary directory and checks that every file it writes
// is byte-for-byte the committed one, so hand edits and stale output fail
// the tests. Only tests import it.
package gentest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dccfhir/dccfhir/internal/r4pkg"
)

// Fresh runs the generator of the calling test's package as its
// //go:generate line does (`go run . -out DIR`, DIR a temporary directory)
// and compares each file it writes with the file of the same name in
// committed, the directory the go:generate line writes to (relative to the
// generator's directory). regen is the command that rewrites them, for the
// failure message. Fresh skips t when the R4 package is unavailable.
func Fresh(t *testing.T, committed, regen string) {
	t.Helper()
	p, err := r4pkg.Path()
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Skipf("R4 package unavailable: %v", err)
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", ".", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run . -out %s: %v\n%s", out, err, b)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) == 0 {
		t.Fatal("the generator wrote no file")
	}
	for _, e := range ents {
		want, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(committed, e.Name()))
		if err != nil {
			t.Errorf("%s is not committed: run %s (%v)", e.Name(), regen, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run %s", e.Name(), regen)
		}
	}
}
