package profiles

import (
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/frcore"
	"github.com/dccfhir/dccfhir/profiles/packages"
)

func readJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, ferr := fhir.Decode(b)
	if ferr != nil {
		t.Fatal(ferr)
	}
	return m
}

const dccPatient = DCC + "/StructureDefinition/dcc-patient"

func TestRequiredAndClaimedProfiles(t *testing.T) {
	req, err := ParseRequired("Patient=" + dccPatient)
	if err != nil {
		t.Fatal(err)
	}
	strict, _, err := New(Options{Required: req, UnknownProfileError: true})
	if err != nil {
		t.Fatal(err)
	}
	lenient, _, err := New(Options{}) // the default
	if err != nil {
		t.Fatal(err)
	}
	plain := map[string]any{"resourceType": "Patient", "id": "p", "gender": "female"}
	foreign := map[string]any{"resourceType": "Patient", "id": "p", "meta": map[string]any{"profile": []any{"http://example.org/unknown"}}}
	dccTypo := map[string]any{"resourceType": "Patient", "id": "p", "meta": map[string]any{"profile": []any{DCC + "/StructureDefinition/dcc-patiant"}}}
	good := readJSON(t, filepath.Join("..", "testdata", "dcc", "dcc-patient.valid.json"))
	cases := []struct {
		name string
		v    *Validator
		res  map[string]any
		ok   bool
	}{
		{"required profile enforced on a plain patient", strict, plain, false},
		{"required profile satisfied", strict, good, true},
		{"unknown claimed profile is an error with UnknownProfileError", strict, foreign, false},
		{"unknown claimed profile is a warning by default", lenient, foreign, true},
		{"an unknown profile in the DCC namespace stays an error", lenient, dccTypo, false},
		{"no profile required, plain patient", lenient, plain, true},
	}
	for _, c := range cases {
		_, err := c.v.Check(context.Background(), "Patient", c.res)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := ParseRequired("Unicorn=x"); err == nil {
		t.Error("unknown type accepted")
	}
	if _, _, err := New(Options{Required: map[string][]string{"Patient": {"http://nope"}}}); err == nil {
		t.Error("an unloaded required profile must fail at start")
	}
}

// TestUnknownProfileWarning: the default warning names the profile at its
// meta.profile element, the known profiles claimed beside it are still
// checked, and Check returns the warning for the response.
func TestUnknownProfileWarning(t *testing.T) {
	v, _, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const us = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
	p := map[string]any{"resourceType": "Patient", "id": "p1", "gender": "female",
		"meta": map[string]any{"versionId": "1", "profile": []any{us, dccPatient}}}
	issues := v.Validate("Patient", p)
	var warned, dccChecked bool
	for _, is := range issues {
		if is.Severity == "warning" && is.Code == "not-supported" && len(is.Expression) == 1 && is.Expression[0] == "Patient.meta.profile[0]" && strings.Contains(is.Diagnostics, us) {
			warned = true
		}
		if is.Severity == "error" && !strings.Contains(is.Diagnostics, us) {
			dccChecked = true
		}
	}
	if !warned || !dccChecked {
		t.Errorf("want a warning at Patient.meta.profile[0] naming %s and the errors of dcc-patient: %+v", us, issues)
	}

	p["meta"].(map[string]any)["profile"] = []any{us}
	got, ferr := v.Check(context.Background(), "Patient", p)
	if ferr != nil {
		t.Fatal(ferr)
	}
	if len(got) != 1 || got[0].Severity != "warning" || !strings.Contains(got[0].Diagnostics, us) {
		t.Errorf("returned: %+v", got)
	}
}

// TestFRCoreBuiltIn: FR Core profiles are checked with no package loaded,
// and a configured FR Core replaces the built-in one instead of doubling it.
func TestFRCoreBuiltIn(t *testing.T) {
	v, _, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const frPatient = frcore.Canonical + "/StructureDefinition/fr-core-patient"
	p := func(gender string) map[string]any {
		return map[string]any{"resourceType": "Patient", "id": "p", "meta": map[string]any{"profile": []any{frPatient}},
			"name": []any{map[string]any{"use": "official", "family": "Durand", "given": []any{"Hélène"}}}, "gender": gender, "birthDate": "1970-03-04"}
	}
	if issues := v.Validate("Patient", p("female")); HasErrors(issues) {
		t.Errorf("conformant FR Core patient: %+v", issues)
	}
	// "other" is a valid R4 gender, outside FR Core's required binding
	issues := v.Validate("Patient", p("other"))
	found := false
	for _, is := range issues {
		if is.Severity == "error" && len(is.Expression) > 0 && is.Expression[0] == "Patient.gender" {
			found = true
		}
	}
	if !found {
		t.Errorf("FR Core gender binding not enforced: %+v", issues)
	}

	builtin := []*packages.Package{{Name: "a", Version: "1"}, {Name: frcore.Name, Version: frcore.Version}}
	got := mergePackages(builtin, []*packages.Package{{Name: frcore.Name, Version: "2.1.0"}, {Name: "b", Version: "1"}, {Name: "b", Version: "1"}})
	var ids []string
	for _, p := range got {
		ids = append(ids, p.ID())
	}
	if strings.Join(ids, " ") != "a#1 hl7.fhir.fr.core#2.1.0 b#1" {
		t.Errorf("merged packages: %v", ids)
	}
}

// BenchmarkValidateDCCPatient is base plus profile validation of a typical
// DCC patient (qualified INS identity), the check every Patient write pays.
func BenchmarkValidateDCCPatient(b *testing.B) {
	v, _, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := readJSON(b, filepath.Join("..", "testdata", "dcc", "dcc-patient.valid.json"))
	if issues := v.Validate("Patient", p); HasErrors(issues) {
		b.Fatalf("example invalid: %v", issues)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.Validate("Patient", p)
	}
}

// BenchmarkValidateSyntheaBundle validates every entry of a Synthea
// transaction bundle of about 700 entries, as a transaction does.
func BenchmarkValidateSyntheaBundle(b *testing.B) {
	best := syntheaBundle(b)
	v, _, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, e := range best {
			v.Validate(e.typ, e.res)
		}
	}
	b.ReportMetric(float64(len(best)), "entries")
}

type bundleEntry struct {
	typ string
	res map[string]any
}

var syntheaOnce struct {
	sync.Once
	entries []bundleEntry
}

// syntheaBundle is the Synthea transaction bundle closest to 700 entries,
// decoded once per test binary.
func syntheaBundle(b *testing.B) []bundleEntry {
	syntheaOnce.Do(func() { syntheaOnce.entries = loadSyntheaBundle(b) })
	if syntheaOnce.entries == nil {
		b.Skip("Synthea sample absent at ../../shared/data/synthea-120")
	}
	return syntheaOnce.entries
}

func loadSyntheaBundle(b *testing.B) []bundleEntry {
	dir := filepath.Join("..", "..", "shared", "data", "synthea-120")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json.bz2"))
	if len(files) == 0 {
		return nil
	}
	var best []bundleEntry
	sort.Strings(files)
	for _, f := range files {
		fh, _ := os.Open(f)
		raw, _ := io.ReadAll(bzip2.NewReader(fh))
		fh.Close()
		var bun struct {
			Type  string `json:"type"`
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if json.Unmarshal(raw, &bun) != nil || bun.Type != "transaction" {
			continue
		}
		if best != nil && abs(len(bun.Entry)-700) >= abs(len(best)-700) {
			continue
		}
		best = best[:0]
		for _, e := range bun.Entry {
			m, ferr := fhir.Decode(bytes.Clone(e.Resource))
			if ferr != nil {
				b.Fatal(ferr)
			}
			typ, _ := m["resourceType"].(string)
			best = append(best, bundleEntry{typ, m})
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
