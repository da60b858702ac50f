package validator

import (
	"fmt"
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

// BenchmarkSyntheaBundle validates the resources of a Synthea transaction
// bundle of about 700 entries one by one, as the server's write path does
// (per op: the whole bundle), then the largest bundle, one by one and whole.
func BenchmarkSyntheaBundle(b *testing.B) {
	files := syntheaFiles(b)
	var typical, largest map[string]any
	most := 0
	for _, f := range files {
		if filepath.Base(f)[0] == '0' {
			continue // the hospital and practitioner batches
		}
		bundle := decode(b, readBz2(b, f))
		n := len(bundle["entry"].([]any))
		if typical == nil && n >= 600 && n <= 800 {
			typical = bundle
		}
		if n > most {
			largest, most = bundle, n
		}
		if typical != nil && most > 3000 {
			break
		}
	}
	v := testValidator()
	for _, c := range []struct {
		name   string
		bundle map[string]any
	}{{"typical", typical}, {"largest", largest}} {
		if c.bundle == nil {
			continue
		}
		var res []map[string]any
		for _, e := range c.bundle["entry"].([]any) {
			if r, ok := e.(map[string]any)["resource"].(map[string]any); ok {
				res = append(res, r)
			}
		}
		b.Run(fmt.Sprintf("%s-%d/entries", c.name, len(res)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range res {
					v.ValidateEntry(r["resourceType"].(string), r)
				}
			}
		})
		b.Run(fmt.Sprintf("%s-%d/whole", c.name, len(res)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.Validate("Bundle", c.bundle)
			}
		})
	}
}
