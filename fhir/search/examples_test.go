package search

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/internal/r4pkg"
)

type example struct {
	name string
	body []byte
}

var loadExamples = sync.OnceValues(func() ([]example, error) {
	p, err := r4pkg.Path()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	var out []example
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(h.Name, "package/")
		if !strings.HasSuffix(name, ".json") || strings.Contains(name, "/") || strings.HasPrefix(name, "Bundle-") && strings.Contains(name, "searchParams") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, example{name, b})
	}
})

func examples(t testing.TB) []example {
	t.Helper()
	ex, err := loadExamples()
	if err != nil {
		t.Skipf("R4 package not available: %v", err)
	}
	return ex
}

func exampleNamed(t testing.TB, name string) map[string]any {
	t.Helper()
	for _, e := range examples(t) {
		if e.name == name {
			res, ferr := fhir.Decode(e.body)
			if ferr != nil {
				t.Fatal(ferr)
			}
			return res
		}
	}
	t.Fatalf("no example %s", name)
	return nil
}

// TestExtractExamples extracts every example of every type in the R4
// package: none may fail, and most parameters must be seen with a value.
func TestExtractExamples(t *testing.T) {
	reg := Default()
	n := 0
	seen := map[string]bool{}
	for _, e := range examples(t) {
		res, ferr := fhir.Decode(e.body)
		if ferr != nil {
			continue
		}
		typ, _ := res["resourceType"].(string)
		if !fhir.KnownType(typ) {
			continue
		}
		idx, err := Extract(reg, typ, res)
		if err != nil {
			t.Errorf("%s: %v", e.name, err)
			continue
		}
		n++
		for _, s := range idx.Strings {
			seen[typ+"."+s.Param] = true
		}
		for _, s := range idx.Tokens {
			seen[typ+"."+s.Param] = true
		}
		for _, s := range idx.Refs {
			seen[typ+"."+s.Param] = true
		}
		for _, s := range idx.Dates {
			seen[typ+"."+s.Param] = true
			if s.Low > s.High {
				t.Errorf("%s: %s date range reversed", e.name, s.Param)
			}
		}
		for _, s := range idx.Numbers {
			seen[typ+"."+s.Param] = true
		}
		for _, s := range idx.Quantities {
			seen[typ+"."+s.Param] = true
		}
		for _, s := range idx.URIs {
			seen[typ+"."+s.Param] = true
		}
		for _, s := range idx.Composites {
			seen[typ+"."+s.Param] = true
		}
	}
	if n < 2000 {
		t.Errorf("only %d examples extracted", n)
	}
	total := 0
	for _, typ := range reg.Types() {
		for _, p := range reg.Params(typ) {
			if p.eval != nil {
				total++
			}
		}
	}
	t.Logf("%d examples; %d of %d type/parameter pairs have values somewhere", n, len(seen), total)
}

func decodeString(t testing.TB, s string) map[string]any {
	t.Helper()
	res, err := fhir.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return res
}
