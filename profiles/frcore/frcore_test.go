package frcore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sharedCopy is the package file the team shares beside the checkout.
var sharedCopy = filepath.Join("..", "..", "..", "shared", "data", "fhir-packages", File)

// TestTarballUnmodified: the embedded file is the published package, byte
// for byte (its recorded checksums, and the shared copy when present).
func TestTarballUnmodified(t *testing.T) {
	s256 := sha256.Sum256(Tarball())
	if got := hex.EncodeToString(s256[:]); got != SHA256 {
		t.Errorf("embedded %s: sha256 %s, want %s (the published package must be embedded unmodified)", File, got, SHA256)
	}
	s1 := sha1.Sum(Tarball())
	if got := hex.EncodeToString(s1[:]); got != SHA1 {
		t.Errorf("embedded %s: sha1 %s, want %s", File, got, SHA1)
	}
	shared, err := os.ReadFile(sharedCopy)
	if err != nil {
		abs, _ := filepath.Abs(sharedCopy)
		t.Logf("shared copy not compared: %s absent", abs)
		return
	}
	if !bytes.Equal(shared, Tarball()) {
		t.Errorf("embedded %s differs from the shared copy %s", File, sharedCopy)
	}
}

// TestManifest: the package is the one the constants name, under the
// licence the README states.
func TestManifest(t *testing.T) {
	gz, err := gzip.NewReader(bytes.NewReader(Tarball()))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatal("no package/package.json in the tarball")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "package/package.json" {
			continue
		}
		var m struct{ Name, Version, License, Canonical string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Name != Name || m.Version != Version || m.License != License || m.Canonical != Canonical {
			t.Errorf("package.json: %+v, want %s %s %s %s", m, Name, Version, License, Canonical)
		}
		return
	}
}

func TestLoad(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != Name || p.Version != Version {
		t.Errorf("loaded %s", p.ID())
	}
	const patient = Canonical + "/StructureDefinition/fr-core-patient"
	if p.Resolve(patient) == nil {
		t.Errorf("%s not in the package", patient)
	}
	if len(p.Examples) != 0 {
		t.Errorf("%d examples kept", len(p.Examples))
	}
}
