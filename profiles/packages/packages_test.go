package packages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FRCorePath is the FR Core 2.2.0 tarball shared with the team (never copied
// into the repository); tests that need it skip when it is absent.
const FRCorePath = "/work/shared/data/fhir-packages/hl7.fhir.fr.core-2.2.0.tgz"

func frCore(t testing.TB) *Package {
	t.Helper()
	p := os.Getenv("DCC_FRCORE_PACKAGE")
	if p == "" {
		p = FRCorePath
	}
	if _, err := os.Stat(p); err != nil {
		t.Skip("FR Core package not available")
	}
	pkg, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

func TestFRCore(t *testing.T) {
	p := frCore(t)
	if p.Name != "hl7.fhir.fr.core" || p.Version != "2.2.0" {
		t.Fatalf("got %s", p.ID())
	}
	for _, tc := range []struct {
		typ  string
		want int
	}{{"StructureDefinition", 64}, {"CodeSystem", 26}, {"ValueSet", 51}, {"ImplementationGuide", 1}} {
		if got := len(p.ByType(tc.typ)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.typ, got, tc.want)
		}
	}
	if len(p.Examples) != 31 {
		t.Errorf("examples: %d", len(p.Examples))
	}
	for _, u := range []string{
		"https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins",
		"https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins|2.2.0",
	} {
		if r := p.Resolve(u); r == nil || r.Type != "StructureDefinition" {
			t.Errorf("Resolve(%s) = %v", u, r)
		}
	}
	if p.Resolve("https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins|9.9.9") != nil {
		t.Error("wrong version resolved")
	}
	c := &Collection{}
	c.Add(p)
	want := "ans.fr.terminologies#1.7.0,hl7.fhir.uv.extensions.r4#5.2.0,hl7.terminology.r4#7.1.0"
	if got := strings.Join(c.Missing(), ","); got != want {
		t.Errorf("Missing = %s", got)
	}
}

// makeTgz builds a package tarball from file name → content.
func makeTgz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

var tinyFiles = map[string]string{
	"package/package.json":                   `{"name":"dcc.test","version":"0.1.0","dependencies":{"hl7.fhir.r4.core":"4.0.1","dcc.other":"1.0.0"}}`,
	"package/StructureDefinition-a.json":     `{"resourceType":"StructureDefinition","id":"a","url":"http://x/StructureDefinition/a","version":"0.1.0"}`,
	"package/ValueSet-v.json":                `{"resourceType":"ValueSet","id":"v","url":"http://x/ValueSet/v"}`,
	"package/Patient-p.json":                 `{"resourceType":"Patient","id":"p"}`,
	"package/example/Patient-e.json":         `{"resourceType":"Patient","id":"e"}`,
	"package/other/StructureDefinition.json": `{"resourceType":"StructureDefinition","url":"http://x/ignored"}`,
}

func TestLoadForms(t *testing.T) {
	tgz := makeTgz(t, tinyFiles)
	dir := t.TempDir()
	file := filepath.Join(dir, "p.tgz")
	os.WriteFile(file, tgz, 0o644)
	cache := t.TempDir()
	t.Setenv("DCC_PACKAGE_CACHE", cache)
	if err := unpack(tgz, filepath.Join(cache, "dcc.test#0.1.0")); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{file, filepath.Join(cache, "dcc.test#0.1.0"), filepath.Join(cache, "dcc.test#0.1.0", "package"), "dcc.test@0.1.0", "dcc.test#0.1.0"} {
		p, err := Load(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if len(p.Resources) != 2 || len(p.Examples) != 1 || p.Resolve("http://x/StructureDefinition/a|0.1.0") == nil || p.Resolve("http://x/ignored") != nil {
			t.Errorf("%s: %d resources, %d examples", spec, len(p.Resources), len(p.Examples))
		}
	}
	if _, err := Load("nope@1.0.0"); err == nil {
		t.Error("missing package loaded")
	}
}

func TestInstall(t *testing.T) {
	tgz := makeTgz(t, tinyFiles)
	sum := sha1.Sum(tgz)
	var srv *httptest.Server
	badSum := false
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dcc.test":
			s := hex.EncodeToString(sum[:])
			if badSum {
				s = strings.Repeat("0", 40)
			}
			json.NewEncoder(w).Encode(map[string]any{"name": "dcc.test", "versions": map[string]any{
				"0.1.0": map[string]any{"dist": map[string]any{"tarball": srv.URL + "/dcc.test/-/dcc.test-0.1.0.tgz", "shasum": s}},
			}})
		case "/dcc.test/-/dcc.test-0.1.0.tgz":
			w.Write(tgz)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	cases := []struct {
		name, pkg, version string
		bad                bool
		wantErr            string
	}{
		{"ok", "dcc.test", "0.1.0", false, ""},
		{"unknown version", "dcc.test", "9.0.0", false, "no version"},
		{"unknown package", "dcc.nope", "1.0.0", false, "404"},
		{"bad shasum", "dcc.test", "0.1.0", true, "shasum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			badSum = tc.bad
			cache := t.TempDir()
			dir, err := Install(ctx, srv.URL, tc.pkg, tc.version, cache)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dir != filepath.Join(cache, "dcc.test#0.1.0") {
				t.Errorf("dir %s", dir)
			}
			t.Setenv("DCC_PACKAGE_CACHE", cache)
			p, err := Load("dcc.test@0.1.0")
			if err != nil || p.Resolve("http://x/ValueSet/v") == nil {
				t.Fatalf("load after install: %v", err)
			}
			c := &Collection{}
			c.Add(p)
			if got := strings.Join(c.Missing(), ","); got != "dcc.other#1.0.0" {
				t.Errorf("Missing = %s", got)
			}
		})
	}
}

func TestUnpackRefusesEscape(t *testing.T) {
	tgz := makeTgz(t, map[string]string{"../evil": "x"})
	if err := unpack(tgz, t.TempDir()); err == nil {
		t.Error("path escape accepted")
	}
}

func TestLoadFS(t *testing.T) {
	dir := t.TempDir()
	if err := unpack(makeTgz(t, tinyFiles), dir); err != nil {
		t.Fatal(err)
	}
	p, err := LoadFS(os.DirFS(filepath.Join(dir, "package")))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID() != "dcc.test#0.1.0" || len(p.Resources) != 2 || len(p.Examples) != 1 {
		t.Errorf("%s: %d resources %d examples", p.ID(), len(p.Resources), len(p.Examples))
	}
}
