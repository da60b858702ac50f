package generate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/conformance"
	"github.com/dccfhir/dccfhir/profiles/dcc"
	"github.com/dccfhir/dccfhir/profiles/packages"
	"github.com/dccfhir/dccfhir/profiles/validator"
)

// digest hashes every file of dir (name and bytes) in name order.
func digest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(filepath.Base(n)))
		h.Write(b)
	}
	return string(h.Sum(nil))
}

func gen(t *testing.T, n int, seed uint64, f Format) string {
	t.Helper()
	g, err := New(Config{Patients: n, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.WriteDir(context.Background(), dir, WriteOptions{Format: f, Gzip: f == FormatNDJSON}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDeterministic(t *testing.T) {
	for _, f := range []Format{FormatBundle, FormatNDJSON} {
		a, b, c := digest(t, gen(t, 40, 7, f)), digest(t, gen(t, 40, 7, f)), digest(t, gen(t, 40, 8, f))
		if a != b {
			t.Errorf("%s: same seed, different output", f)
		}
		if a == c {
			t.Errorf("%s: different seeds, same output", f)
		}
	}
}

// TestPatientIndependentOfN: patient i does not depend on how many are made,
// so a region can be grown without changing what was already imported.
func TestPatientIndependentOfN(t *testing.T) {
	g1, _ := New(Config{Patients: 10, Seed: 3})
	g2, _ := New(Config{Patients: 500, Seed: 3})
	if !bytes.Equal(TransactionBundle(g1.Patient(4), false), TransactionBundle(g2.Patient(4), false)) {
		t.Fatal("patient 4 differs with N")
	}
}

// TestConformance validates a sample of every kind of generated resource
// against its DCC profile and the base R4 rules, in both renderings.
func TestConformance(t *testing.T) {
	pkg, err := packages.LoadFS(dcc.FS())
	if err != nil {
		t.Fatal(err)
	}
	set, err := conformance.NewSet(pkg)
	if err != nil {
		t.Fatal(err)
	}
	base := validator.New()
	g, err := New(Config{Patients: 300, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	var sample []*Resource
	for _, grp := range g.SharedGroups() {
		for i, r := range grp {
			if i%7 == 0 || i == len(grp)-1 {
				sample = append(sample, r)
			}
		}
	}
	perProfile := map[string]int{}
	for i := 0; i < g.Patients(); i++ {
		sample = append(sample, g.Patient(i)...)
	}
	types := map[string]string{}
	for _, r := range sample {
		types["urn:uuid:"+r.ID] = r.Type + "/" + r.ID
	}
	checked := 0
	for _, r := range sample {
		for _, withID := range []bool{true, false} {
			var m map[string]any
			js := r.JSON(withID)
			if !withID { // resolve urn:uuid: as the server does, keep conditional references
				js = regexp.MustCompile(`urn:uuid:[0-9a-f-]{36}`).ReplaceAllFunc(js, func(b []byte) []byte { return []byte(types[string(b)]) })
			}
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatalf("%s: %v", r.Type, err)
			}
			prof := m["meta"].(map[string]any)["profile"].([]any)[0].(string)
			if withID {
				perProfile[prof]++
				if perProfile[prof] > 60 {
					continue
				}
			} else if perProfile[prof] > 3 {
				continue
			}
			checked++
			issues := set.ValidateClaimed(m)
			if conformance.HasErrors(issues) {
				t.Errorf("%s (%s): %v\n%s", r.Type, prof, errs(issues), r.JSON(withID))
			}
			if withID {
				if is := base.Validate(r.Type, m); conformance.HasErrors(is) {
					t.Errorf("%s base: %v\n%s", r.Type, is, r.JSON(withID))
				}
			}
			if t.Failed() && checked > 5 {
				t.FailNow()
			}
		}
	}
	var names []string
	for p := range perProfile {
		names = append(names, strings.TrimPrefix(p, sdBase))
	}
	sort.Strings(names)
	t.Logf("%d validations over %d profiles: %s", checked, len(names), strings.Join(names, " "))
	if len(names) < 20 {
		t.Errorf("only %d profiles generated", len(names))
	}
}

type fhirIssue = fhir.Issue

func errs(is []fhirIssue) []fhirIssue {
	var out []fhirIssue
	for _, i := range is {
		if i.Severity == "error" || i.Severity == "fatal" {
			out = append(out, i)
		}
	}
	return out
}
