package fhirpath

import (
	"archive/tar"
	"compress/gzip"
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
	pkgOnce  sync.Once
	pkgFiles map[string][]byte
	pkgErr   error
)

// r4Package returns every file of the R4 package, read in one pass.
func r4Package(t testing.TB) map[string][]byte {
	pkgOnce.Do(func() {
		p, err := r4pkg.Path()
		if err != nil {
			pkgErr = err
			return
		}
		f, err := os.Open(p)
		if err != nil {
			pkgErr = err
			return
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			pkgErr = err
			return
		}
		tr := tar.NewReader(gz)
		pkgFiles = map[string][]byte{}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				pkgErr = err
				return
			}
			name := strings.TrimPrefix(h.Name, "package/")
			if !strings.HasSuffix(name, ".json") || strings.Contains(name, "/") {
				continue
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				pkgErr = err
				return
			}
			pkgFiles[name] = b
		}
	})
	if pkgErr != nil {
		t.Skipf("R4 package %s unavailable: %v", r4pkg.Name, pkgErr)
	}
	return pkgFiles
}

// testCasesDir finds fhir-test-cases/r4: $DCC_FHIR_TEST_CASES, else
// shared/data/fhir-test-cases/r4 beside the repository.
func testCasesDir(t testing.TB) string {
	if d := os.Getenv("DCC_FHIR_TEST_CASES"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "shared", "data", "fhir-test-cases", "r4")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "/work/shared/data/fhir-test-cases/r4"
}

func decode(t testing.TB, b []byte) map[string]any {
	m, err := fhir.Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}
