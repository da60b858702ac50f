package validator

import (
	"compress/bzip2"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/internal/r4pkg"
)

var (
	shared     *Validator
	sharedOnce sync.Once

	examplesOnce sync.Once
	examples     map[string][]byte
	examplesErr  error
)

// testValidator is built once for all tests (New compiles every invariant).
func testValidator() *Validator {
	sharedOnce.Do(func() { shared = New() })
	return shared
}

// r4Examples returns package/<Type>-<id>.json of the R4 examples package
// for every resource type, keyed by file name; it skips when the package
// cannot be had.
func r4Examples(t testing.TB) map[string][]byte {
	examplesOnce.Do(func() {
		examples, examplesErr = r4pkg.Read(func(n string) bool {
			typ, _, ok := strings.Cut(n, "-")
			return ok && strings.HasSuffix(n, ".json") && isResourceType(typ)
		})
	})
	if examplesErr != nil {
		t.Skipf("R4 examples package unavailable: %v", examplesErr)
	}
	return examples
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	m, err := fhir.Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

// syntheaFiles lists the shared Synthea bundles, skipping when absent.
func syntheaFiles(t testing.TB) []string {
	dir := filepath.Join("..", "..", "..", "shared", "data", "synthea-120")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json.bz2"))
	if len(files) == 0 {
		t.Skipf("no Synthea bundles in %s", dir)
	}
	return files
}

func readBz2(t testing.TB, path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(bzip2.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
