package search

import (
	"sort"
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
	files, err := r4pkg.Read(func(name string) bool {
		return strings.HasSuffix(name, ".json") && !(strings.HasPrefix(name, "Bundle-") && strings.Contains(name, "searchParams"))
	})
	if err != nil {
		return nil, err
	}
	out := make([]example, 0, len(files))
	for name, b := range files {
		out = append(out, example{name, b})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].name < out[k].name })
	return out, nil
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
