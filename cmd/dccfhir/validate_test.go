package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "dcc")
	cases := []struct {
		files []string
		args  []string
		ok    bool
		want  string
	}{
		{[]string{"dcc-patient.valid.json", "dcc-variant.valid.json"}, nil, true, "valid"},
		{[]string{"dcc-patient.valid.json", "dcc-patient.invalid-vali-without-ins.json"}, nil, false, "dcc-pat-1"},
		{[]string{"dcc-molecular-analysis-request.invalid-no-reason.json"}, nil, false, "error"},
	}
	for _, c := range cases {
		var args []string
		args = append(args, c.args...)
		for _, f := range c.files {
			args = append(args, filepath.Join(dir, f))
		}
		var out bytes.Buffer
		ok, err := runValidate(args, &out)
		if err != nil {
			t.Fatal(err)
		}
		if ok != c.ok || !strings.Contains(out.String(), c.want) {
			t.Errorf("%v: ok=%v\n%s", c.files, ok, out.String())
		}
	}
	// a file that is not JSON is reported, not a crash
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{nope"), 0o644)
	var out bytes.Buffer
	if ok, err := runValidate([]string{bad}, &out); err != nil || ok {
		t.Fatalf("malformed file: ok=%v err=%v %s", ok, err, out.String())
	}
}

// TestValidateCommandWithFRCore: FR Core is built in, so the FR Core
// extensions the DCC patient uses are known with no package given; giving
// the same package with --packages changes nothing.
func TestValidateCommandWithFRCore(t *testing.T) {
	patient := filepath.Join("..", "..", "testdata", "dcc", "dcc-patient.valid.json")
	runs := [][]string{{patient}}
	pkg := filepath.Join("..", "..", "..", "shared", "data", "fhir-packages", "hl7.fhir.fr.core-2.2.0.tgz")
	if _, err := os.Stat(pkg); err == nil {
		runs = append(runs, []string{"--packages", pkg, patient})
	} else {
		t.Logf("FR Core package absent at %s: built-in only", pkg)
	}
	for _, args := range runs {
		var out bytes.Buffer
		ok, err := runValidate(args, &out)
		if err != nil || !ok {
			t.Fatalf("%v: ok=%v err=%v\n%s", args, ok, err, out.String())
		}
		if strings.Contains(out.String(), "fr-core-address-insee-code: its definition is not loaded") {
			t.Fatalf("%v: FR Core extension unknown:\n%s", args, out.String())
		}
	}
}
