// Package r4pkg opens the official R4 definitions package
// (hl7.fhir.r4.examples@4.0.1, an npm-format FHIR package) for the code
// generators, fetching it with `npm pack` into a cache when it is absent.
package r4pkg

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Name is the package the generated tables come from.
const Name = "hl7.fhir.r4.examples@4.0.1"

// Path returns the package tarball: $DCC_R4_PACKAGE if set, else the cache
// copy, downloaded with `npm pack` on first use.
func Path() (string, error) {
	if p := os.Getenv("DCC_R4_PACKAGE"); p != "" {
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(dir, "dccfhir-pkgs")
	p := filepath.Join(dir, "hl7.fhir.r4.examples-4.0.1.tgz")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("npm", "pack", Name)
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack %s: %w", Name, err)
	}
	return p, nil
}

// ReadFile returns the content of package/<name> inside the package.
func ReadFile(name string) ([]byte, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no package/%s", p, name)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == "package/"+name {
			return io.ReadAll(tr)
		}
	}
}

// Read returns the files package/<name> for which keep(name) is true, read
// in one pass over the tarball (the package holds ~5,000 files).
func Read(keep func(name string) bool) (map[string][]byte, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name, ok := strings.CutPrefix(h.Name, "package/")
		if !ok || strings.Contains(name, "/") || !keep(name) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
}
