//go:build ignore

// gencommon writes common-passwords.txt, the list passwords.go refuses:
// the first 10,000 passwords (by frequency) of the passwords dictionary of
// the npm package @zxcvbn-ts/language-common 4.1.3 (MIT licence; the
// zxcvbn-ts project's dictionary of frequent passwords, 49,233 entries in
// frequency order),
// plus every entry of that dictionary of 8 characters or more (with four
// digits or signs added, which CheckPassword strips, such a password
// reaches the 12 the length rule asks), lower-cased, without duplicates:
// about 24,000 lines. Run by go generate in auth/ (it needs npm and the
// registry).
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

const (
	pkg = "@zxcvbn-ts/language-common@4.1.3"
	top = 10000
	out = "common-passwords.txt"
)

func main() {
	dir, err := os.MkdirTemp("", "gencommon")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("npm", "pack", "--silent", pkg)
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	name, err := cmd.Output()
	if err != nil {
		log.Fatalf("npm pack %s: %v", pkg, err)
	}
	raw, err := member(filepath.Join(dir, strings.TrimSpace(string(name))), "package/src/passwords.json")
	if err != nil {
		log.Fatal(err)
	}
	var all []string
	if err := json.Unmarshal(raw, &all); err != nil {
		log.Fatal(err)
	}
	seen := map[string]bool{}
	var b bytes.Buffer
	for i, p := range all {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" || seen[p] || strings.ContainsAny(p, "\r\n") || (i >= top && utf8.RuneCountInString(p) < 8) {
			continue
		}
		seen[p] = true
		b.WriteString(p)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d passwords from %s\n", out, len(seen), pkg)
}

// member returns one file of a .tgz.
func member(tgz, path string) ([]byte, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(z)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", path, tgz, err)
		}
		if h.Name == path {
			return io.ReadAll(io.LimitReader(tr, 16<<20))
		}
	}
}
