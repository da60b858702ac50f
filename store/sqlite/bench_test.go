package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// bundleSize is the resources of one Synthea transaction bundle.
const bundleSize = 700

var benchJSON = []byte(`{"resourceType":"Observation","id":"x","meta":{"versionId":"1","lastUpdated":"2024-01-01T00:00:00Z"},` +
	`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"vital-signs"}]}],` +
	`"code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body Weight"}],"text":"Body Weight"},` +
	`"subject":{"reference":"urn:uuid:` + strings.Repeat("a", 36) + `"},"encounter":{"reference":"urn:uuid:` + strings.Repeat("b", 36) + `"},` +
	`"effectiveDateTime":"2015-04-05T11:16:47-04:00","issued":"2015-04-05T11:16:47.093-04:00",` +
	`"valueQuantity":{"value":71.6,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}` +
	strings.Repeat(` `, 1200) + `}`)

// benchIndex is a realistic index of an Observation: 20 entries.
func benchIndex(i int) *query.Index {
	pat := fmt.Sprintf("pat%04d", i%500)
	day := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%3000)
	lo, hi := day.UnixMicro(), day.Add(time.Second).UnixMicro()-1
	code := fmt.Sprintf("%d-%d", 1000+i%50, i%7)
	return &query.Index{
		Tokens: []query.TokenEntry{
			{Param: "code", System: "http://loinc.org", Code: code, Text: "body weight"},
			{Param: "combo-code", System: "http://loinc.org", Code: code, Text: "body weight"},
			{Param: "category", System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Text: "vital signs"},
			{Param: "status", Code: "final"},
			{Param: "_id", Code: fmt.Sprintf("obs%07d", i)},
			{Param: "identifier", System: "urn:ietf:rfc:3986", Code: fmt.Sprintf("urn:uuid:%032d", i)},
			{Param: "_tag", System: "http://example.org/tags", Code: "synthea"},
			{Param: "data-absent-reason", System: "", Code: ""},
		},
		Refs: []query.RefEntry{
			{Param: "subject", Type: "Patient", ID: pat},
			{Param: "patient", Type: "Patient", ID: pat},
			{Param: "encounter", Type: "Encounter", ID: fmt.Sprintf("enc%06d", i/10)},
			{Param: "performer", Type: "Practitioner", ID: fmt.Sprintf("pr%03d", i%100)},
		},
		Dates: []query.DateEntry{
			{Param: "date", Low: lo, High: hi},
			{Param: "_lastUpdated", Low: lo, High: lo},
		},
		Quantities: []query.QuantityEntry{{Param: "value-quantity", System: "http://unitsofmeasure.org", Code: "kg", Unit: "kg", Value: 71.6, Low: 71.55, High: 71.65}},
		Strings:    []query.StringEntry{{Param: "_text", Norm: "body weight", Exact: "Body Weight"}},
		URIs:       []query.URIEntry{{Param: "_profile", Value: "http://hl7.org/fhir/StructureDefinition/vitalsigns"}},
		Numbers:    []query.NumberEntry{{Param: "value-number", Value: 71.6, Low: 71.55, High: 71.65}},
	}
}

func benchWrite(i int) *store.Write {
	return &store.Write{
		Resource: store.Resource{Type: "Observation", ID: fmt.Sprintf("obs%07d", i), Version: 1,
			LastUpdated: time.Unix(1700000000, 0).Add(time.Duration(i) * time.Millisecond), Method: "POST", JSON: benchJSON},
		Index: benchIndex(i),
	}
}

// load writes n resources starting at from, in Updates of bundleSize.
func load(tb testing.TB, s *Store, from, n int) {
	tb.Helper()
	ctx := context.Background()
	for done := 0; done < n; {
		m := min(bundleSize, n-done)
		err := s.Update(ctx, func(tx store.Tx) error {
			for i := range m {
				if err := tx.Put(ctx, benchWrite(from+done+i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		done += m
	}
}

func openBench(b *testing.B, opts Options) *Store {
	s, err := OpenWith(filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPut loads Observations with 20 index entries each in
// transactions of 700 (one Synthea bundle).
func BenchmarkPut(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		b.Run(sync, func(b *testing.B) {
			s := openBench(b, Options{Synchronous: sync})
			b.ResetTimer()
			load(b, s, 0, b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkPutSingle is one resource per transaction (REST create/update),
// where synchronous=FULL pays an fsync per commit.
func BenchmarkPutSingle(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		b.Run(sync, func(b *testing.B) {
			s := openBench(b, Options{Synchronous: sync})
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, benchWrite(i)) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

const benchRows = 20000

// BenchmarkRead reads random current resources among 20,000, in parallel.
func BenchmarkRead(b *testing.B) {
	s := openBench(b, Options{})
	load(b, s, 0, benchRows)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i = (i*7919 + 13) % benchRows
			if _, err := s.Read(ctx, "Observation", fmt.Sprintf("obs%07d", i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSearchToken searches 20,000 Observations by token, alone and
// combined with a reference, a page of 20.
func BenchmarkSearchToken(b *testing.B) {
	s := openBench(b, Options{})
	load(b, s, 0, benchRows)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		where func(i int) []query.Clause
		total bool
	}{
		{"code", func(i int) []query.Clause {
			return []query.Clause{{Param: "code", Type: query.TypeToken, Values: []query.Value{{System: "http://loinc.org", HasSystem: true, Code: fmt.Sprintf("%d-%d", 1000+i%50, i%7)}}}}
		}, false},
		{"code+total", func(i int) []query.Clause {
			return []query.Clause{{Param: "code", Type: query.TypeToken, Values: []query.Value{{System: "http://loinc.org", HasSystem: true, Code: fmt.Sprintf("%d-%d", 1000+i%50, i%7)}}}}
		}, true},
		{"patient+code", func(i int) []query.Clause {
			return []query.Clause{
				{Param: "code", Type: query.TypeToken, Values: []query.Value{{Code: fmt.Sprintf("%d-%d", 1000+i%50, i%7)}}},
				{Param: "patient", Type: query.TypeReference, Values: []query.Value{{RefType: "Patient", RefID: fmt.Sprintf("pat%04d", i%500)}}},
			}
		}, false},
		{"category+status sorted by date", func(i int) []query.Clause {
			return []query.Clause{
				{Param: "category", Type: query.TypeToken, Values: []query.Value{{Code: "vital-signs"}}},
				{Param: "status", Type: query.TypeToken, Values: []query.Value{{Code: "final"}}},
			}
		}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var sortKeys []query.SortKey
			if strings.Contains(c.name, "sorted") {
				sortKeys = []query.SortKey{{Param: "date", Type: query.TypeDate, Desc: true}}
			}
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					res, err := s.Search(ctx, &query.Query{Types: []string{"Observation"}, Where: c.where(i), Count: 20, Total: c.total, Sort: sortKeys})
					if err != nil {
						b.Error(err)
						return
					}
					if len(res.Resources) == 0 {
						b.Error("no match")
						return
					}
				}
			})
		})
	}
}

func BenchmarkCommitMark(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := st.CommitMark(); !ok {
			b.Fatal("no mark")
		}
	}
}
