package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/profiles/dcc"
	"github.com/dccfhir/dccfhir/profiles/packages"
)

// TestDCCProfiles compiles the DCC IG (differential-only, so every snapshot
// is generated here) and runs its valid and invalid examples.
func TestDCCProfiles(t *testing.T) {
	pkg, err := packages.LoadFS(dcc.FS())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if probs := s.Compile(); len(probs) > 0 {
		t.Errorf("compile problems:\n%s", strings.Join(probs, "\n"))
	}
	var expect map[string]struct{ Severity, Code, Expression, Key string }
	if data, err := os.ReadFile("../../testdata/dcc/expectations.json"); err == nil {
		if err := json.Unmarshal(data, &expect); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob("../../testdata/dcc/*.json")
	sort.Strings(files)
	if len(files) == 0 {
		t.Skip("no DCC examples")
	}
	for _, f := range files {
		if filepath.Base(f) == "expectations.json" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := decodeJSON(t, string(data))
		issues := s.ValidateClaimed(r)
		name := filepath.Base(f)
		valid := strings.Contains(name, ".valid")
		if valid && HasErrors(issues) {
			t.Errorf("%s: errors:%s", name, dump(errorsOf(issues)))
		}
		if valid {
			continue
		}
		want, ok := expect[name]
		if !ok {
			if !HasErrors(issues) {
				t.Errorf("%s: no error", name)
			}
			continue
		}
		found := false
		for _, is := range issues {
			if is.Severity == want.Severity && is.Code == want.Code && len(is.Expression) > 0 && normLoc(is.Expression[0]) == normLoc(want.Expression) &&
				(want.Key == "" || strings.Contains(is.Diagnostics, want.Key)) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want %s %s at %s %s, got:%s", name, want.Severity, want.Code, want.Expression, want.Key, dump(issues))
		}
	}
}

var (
	reOfType = regexp.MustCompile(`\.ofType\([A-Za-z]+\)`)
	reExt    = regexp.MustCompile(`extension(\('[^']*'\)|\[\d+\])`)
)

// normLoc maps the location spellings in use to one for comparison: this
// package writes choice variants as value.ofType(T) and extensions as
// extension('url'); the DCC expectations write value, effective[x] and
// extension[0].
func normLoc(s string) string {
	s = reOfType.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "[x]", "")
	return reExt.ReplaceAllString(s, "extension[*]")
}
