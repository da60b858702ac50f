package validator

import (
	"os"
	"path/filepath"
	"testing"
)

func benchResource(b *testing.B, file string) {
	res := decode(b, r4Examples(b)[file])
	v := testValidator()
	rt, _ := res["resourceType"].(string)
	if is := v.Validate(rt, res); len(is) > 0 {
		b.Logf("%s: %d issues (%v)", file, len(is), is[0])
	}
	b.ReportAllocs()
	for b.Loop() {
		v.Validate(rt, res)
	}
}

func BenchmarkPatient(b *testing.B)     { benchResource(b, "Patient-example.json") }
func BenchmarkObservation(b *testing.B) { benchResource(b, "Observation-example.json") }

// BenchmarkSyntheaBundle validates the resources of the largest Synthea
// transaction bundle one by one, as the server's write path does, and
// reports the time per bundle.
func BenchmarkSyntheaBundle(b *testing.B) {
	files := syntheaFiles(b)
	largest, size := "", int64(0)
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > size && filepath.Base(f)[0] != '0' {
			largest, size = f, st.Size()
		}
	}
	bundle := decode(b, readBz2(b, largest))
	es, _ := bundle["entry"].([]any)
	var res []map[string]any
	for _, e := range es {
		if r, ok := e.(map[string]any)["resource"].(map[string]any); ok {
			res = append(res, r)
		}
	}
	v := testValidator()
	b.Logf("%s: %d resources", filepath.Base(largest), len(res))
	b.Run("entries", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range res {
				v.ValidateEntry(r["resourceType"].(string), r)
			}
		}
	})
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v.Validate("Bundle", bundle)
		}
	})
}
