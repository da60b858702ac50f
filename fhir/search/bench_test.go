package search

import (
	"net/url"
	"testing"
)

func benchExtract(b *testing.B, name string) {
	res := exampleNamed(b, name)
	reg := Default()
	typ := res["resourceType"].(string)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Extract(reg, typ, res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtractObservation(b *testing.B)      { benchExtract(b, "Observation-example.json") }
func BenchmarkExtractObservationBP(b *testing.B)    { benchExtract(b, "Observation-blood-pressure.json") }
func BenchmarkExtractPatient(b *testing.B)          { benchExtract(b, "Patient-example.json") }
func BenchmarkExtractDiagnosticReport(b *testing.B) { benchExtract(b, "DiagnosticReport-f201.json") }

func BenchmarkParse(b *testing.B) {
	reg := Default()
	vals, _ := url.ParseQuery("patient.name=smith&code=http://loinc.org|8480-6,http://loinc.org|8462-4&date=ge2020-01-01&date=lt2021&_sort=-date&_count=50&_include=Observation:subject")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(reg, "Observation", vals); err != nil {
			b.Fatal(err)
		}
	}
}
