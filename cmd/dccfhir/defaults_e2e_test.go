package main

// End-to-end tests of what a server started with nothing but its storage
// accepts: the data people bring (Synthea, FR Core-conformant resources).

import (
	"bytes"
	"compress/bzip2"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// syntheaDir is the Synthea-120 sample beside the checkout.
var syntheaDir = filepath.Join("..", "..", "..", "shared", "data", "synthea-120")

// launchDefault starts `dccfhir serve --storage sqlite:<temp>`: no other
// flag (the address comes from DCC_LISTEN, so tests do not collide), so
// protected; the tests call it with a token of `dccfhir token`.
func launchDefault(t *testing.T) *server {
	addr := freeAddr(t)
	storage := "sqlite:" + filepath.Join(t.TempDir(), "db")
	s := launch(t, addr, childEnv("DCC_LISTEN="+addr), "--storage", storage)
	s.storage = storage
	return s
}

// TestDefaultProfiles: with no flag, FR Core is built in (its definitions
// readable, its profiles enforced) and a profile the server does not know
// is a warning.
func TestDefaultProfiles(t *testing.T) {
	s := launchDefault(t)
	bearer := []string{"Authorization", "Bearer " + adminToken(t, s.storage)}
	const frPatient = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"
	r := must(t, "GET", s.base+"/StructureDefinition?url="+url.QueryEscape(frPatient), nil, bearer...)
	if r.status != 200 || str(r.json, "entry", "0", "resource", "url") != frPatient {
		t.Fatalf("FR Core Patient not published: %d %s", r.status, tail(string(r.body), 500))
	}
	p := patientBody("", "Durand")
	p["meta"] = map[string]any{"profile": []any{frPatient}}
	p["gender"] = "other" // valid R4, outside FR Core's required binding
	if r := must(t, "POST", s.base+"/Patient", p, bearer...); r.status != 422 || !strings.Contains(string(r.body), "Patient.gender") {
		t.Fatalf("non-conformant FR Core patient: %d %s", r.status, r.body)
	}
	p["gender"] = "female"
	if r := must(t, "POST", s.base+"/Patient", p, bearer...); r.status != 201 {
		t.Fatalf("conformant FR Core patient: %d %s", r.status, r.body)
	}
	const usCore = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
	p["meta"] = map[string]any{"profile": []any{usCore}}
	r = must(t, "POST", s.base+"/Patient", p, append([]string{"Prefer", "return=OperationOutcome"}, bearer...)...)
	warned := false
	issues, _ := r.json["issue"].([]any)
	for _, is := range issues {
		m, _ := is.(map[string]any)
		warned = warned || str(m, "severity") == "warning" && str(m, "expression", "0") == "Patient.meta.profile[0]" && strings.Contains(str(m, "diagnostics"), usCore)
	}
	if r.status != 201 || !warned {
		t.Fatalf("unknown profile: %d, want 201 with a warning at Patient.meta.profile[0]: %s", r.status, r.body)
	}
}

// TestSyntheaImportDefaults is the done-when test of loading the data
// people bring: a fresh server with no flag but its storage, then `dccfhir
// import` of the Synthea-120 sample: every entry succeeds (the importer
// fails on any refused entry) and the server holds, per resource type, what
// the Bundles hold. The journal goes to the temp dir (by default it would be
// written beside the shared data).
func TestSyntheaImportDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("Synthea-120 import (-short)")
	}
	files, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json.bz2"))
	if len(files) == 0 {
		abs, _ := filepath.Abs(syntheaDir)
		t.Skipf("Synthea-120 sample absent: no *.json.bz2 in %s", abs)
	}
	want := syntheaCounts(t, files)
	s := launchDefault(t)
	tok := adminToken(t, s.storage)
	imp := exec.Command(binPath, "import", "--server", s.base, "--journal", filepath.Join(t.TempDir(), "journal"), syntheaDir)
	imp.Env = childEnv("DCC_TOKEN=" + tok)
	var stdout, stderr bytes.Buffer
	imp.Stdout, imp.Stderr = &stdout, &stderr
	if err := imp.Run(); err != nil {
		t.Fatalf("dccfhir import: %v\n%s\n%s", err, tail(stdout.String(), 4000), tail(stderr.String(), 2000))
	}
	t.Logf("import:\n%s", stdout.String())
	types := make([]string, 0, len(want))
	for typ := range want {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		r := must(t, "GET", s.base+"/"+typ+"?_summary=count", nil, "Authorization", "Bearer "+tok)
		got, ok := r.json["total"].(float64)
		if r.status != 200 || !ok {
			t.Fatalf("count %s: %d %s", typ, r.status, r.body)
		}
		if int(got) != want[typ] {
			t.Errorf("%s: %d on the server, %d in the Bundles", typ, int(got), want[typ])
		}
	}
}

// syntheaCounts counts the resources per type the Bundles create: every
// entry, except a repeat of a conditional create (same type and
// ifNoneExist), which finds the first instead of creating.
func syntheaCounts(t *testing.T, files []string) map[string]int {
	counts := map[string]int{}
	seen := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(bzip2.NewReader(fh))
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
				Request struct {
					Method      string `json:"method"`
					IfNoneExist string `json:"ifNoneExist"`
				} `json:"request"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, e := range b.Entry {
			typ := e.Resource.ResourceType
			if e.Request.Method != "POST" {
				t.Fatalf("%s: a %s entry: the counts assume creates only", f, e.Request.Method)
			}
			if e.Request.IfNoneExist != "" {
				k := typ + "?" + e.Request.IfNoneExist
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			counts[typ]++
		}
	}
	return counts
}
