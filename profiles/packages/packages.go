// Package packages loads FHIR packages in the npm format (the way
// implementation guides such as FR Core are published) and indexes their
// conformance resources by canonical URL, so profile validation and
// terminology can find a StructureDefinition or ValueSet by the reference an
// instance or another definition makes to it.
//
// A package is read from a .tgz, from an unpacked folder, or by NAME@VERSION
// from the local package cache (~/.fhir/packages/NAME#VERSION, the FHIR
// community's layout shared with the HL7 tools, overridable by
// DCC_PACKAGE_CACHE). Install fetches one package from an npm-compatible
// registry into that cache.
package packages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ConformanceTypes are the resource types indexed by canonical URL: the
// definitions validation and terminology look up; everything else in a
// package is ignored (or kept as an example when it sits in example/).
var ConformanceTypes = map[string]bool{
	"StructureDefinition": true, "ValueSet": true, "CodeSystem": true,
	"Questionnaire": true, "ImplementationGuide": true, "SearchParameter": true,
	"CapabilityStatement": true, "ConceptMap": true, "NamingSystem": true,
	"OperationDefinition": true,
}

// Resource is one conformance resource of a package.
type Resource struct {
	Type    string
	ID      string
	URL     string
	Version string
	// File is the file name inside the package, for diagnostics.
	File string
	// JSON is the resource in the generic tree (numbers as json.Number).
	JSON map[string]any
}

// Package is one loaded FHIR package.
type Package struct {
	Name         string
	Version      string
	Canonical    string
	FHIRVersions []string
	// Dependencies are the declared dependencies, name → version.
	Dependencies map[string]string
	// Resources are the conformance resources, in file name order.
	Resources []*Resource
	// Examples are the resources of the example/ folder, kept apart because
	// they are test material, not definitions.
	Examples []map[string]any
	byURL    map[string]*Resource
}

// ID is NAME#VERSION, the package's name in the cache.
func (p *Package) ID() string { return p.Name + "#" + p.Version }

// Resolve returns the resource with canonical url, which may carry a
// "|version" suffix; nil when the package does not define it.
func (p *Package) Resolve(url string) *Resource {
	if r := p.byURL[url]; r != nil {
		return r
	}
	u, v, ok := strings.Cut(url, "|")
	if !ok {
		return nil
	}
	r := p.byURL[u]
	if r != nil && v != "" && r.Version != "" && r.Version != v {
		return nil
	}
	return r
}

// ByType lists the resources of one type.
func (p *Package) ByType(typ string) []*Resource {
	var out []*Resource
	for _, r := range p.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// manifest is package/package.json.
type manifest struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Canonical    string            `json:"canonical"`
	FHIRVersions []string          `json:"fhirVersions"`
	Dependencies map[string]string `json:"dependencies"`
}

// CacheDir is the package cache: $DCC_PACKAGE_CACHE, else ~/.fhir/packages.
func CacheDir() string {
	if d := os.Getenv("DCC_PACKAGE_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".fhir", "packages")
	}
	return filepath.Join(home, ".fhir", "packages")
}

// Load opens spec: a .tgz file, a package folder (holding package/ or being
// it), or NAME@VERSION (also NAME#VERSION) looked up in CacheDir.
func Load(spec string) (*Package, error) {
	if st, err := os.Stat(spec); err == nil {
		if st.IsDir() {
			return LoadDir(spec)
		}
		return LoadFile(spec)
	}
	name, version, ok := strings.Cut(spec, "@")
	if !ok {
		name, version, ok = strings.Cut(spec, "#")
	}
	if !ok || name == "" || version == "" {
		return nil, fmt.Errorf("packages: %s: no such file, and not NAME@VERSION", spec)
	}
	dir := filepath.Join(CacheDir(), name+"#"+version)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("packages: %s@%s is not in the cache %s", name, version, CacheDir())
	}
	return LoadDir(dir)
}

// LoadFile reads a package tarball (.tgz).
func LoadFile(file string) (*Package, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("packages: %s: %w", file, err)
	}
	return p, nil
}

// Read reads a package tarball from r.
func Read(r io.Reader) (*Package, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	b := newBuilder()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if !b.wants(name) {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		if err := b.add(name, data); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// LoadDir reads an unpacked package: dir/package/package.json or
// dir/package.json.
func LoadDir(dir string) (*Package, error) {
	root := dir
	if _, err := os.Stat(filepath.Join(dir, "package", "package.json")); err == nil {
		root = filepath.Join(dir, "package")
	}
	b := newBuilder()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := "package/" + filepath.ToSlash(rel)
		if !b.wants(name) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return b.add(name, data)
	})
	if err != nil {
		return nil, fmt.Errorf("packages: %s: %w", dir, err)
	}
	p, err := b.finish()
	if err != nil {
		return nil, fmt.Errorf("packages: %s: %w", dir, err)
	}
	return p, nil
}

// LoadFS reads a package folder from a file system whose root is the
// package/ directory (an embedded package such as the DCC IG).
func LoadFS(fsys fs.FS) (*Package, error) {
	b := newBuilder()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := "package/" + p
		if !b.wants(name) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return b.add(name, data)
	})
	if err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	return b.finish()
}

type builder struct {
	man      *manifest
	files    []string
	res      map[string]*Resource
	examples map[string]map[string]any
}

func newBuilder() *builder {
	return &builder{res: map[string]*Resource{}, examples: map[string]map[string]any{}}
}

// wants reports whether a tar entry is read: the manifest, and JSON files
// directly in package/ or package/example/ (other folders hold XML,
// schematrons and tool output).
func (b *builder) wants(name string) bool {
	if name == "package/package.json" {
		return true
	}
	if !strings.HasSuffix(name, ".json") || !strings.HasPrefix(name, "package/") {
		return false
	}
	rest := strings.TrimPrefix(name, "package/")
	rest = strings.TrimPrefix(rest, "example/")
	if strings.Contains(rest, "/") || strings.HasPrefix(rest, ".") {
		return false
	}
	return rest != ".index.json" && rest != "ig-r4.json"
}

func (b *builder) add(name string, data []byte) error {
	if name == "package/package.json" {
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("package.json: %w", err)
		}
		b.man = &m
		return nil
	}
	obj, err := decode(data)
	if err != nil {
		// Not every JSON file of a package is a resource; skip junk quietly.
		return nil
	}
	rt, _ := obj["resourceType"].(string)
	if rt == "" {
		return nil
	}
	if strings.HasPrefix(name, "package/example/") {
		b.examples[name] = obj
		return nil
	}
	if !ConformanceTypes[rt] {
		return nil
	}
	r := &Resource{Type: rt, File: strings.TrimPrefix(name, "package/"), JSON: obj}
	r.ID, _ = obj["id"].(string)
	r.URL, _ = obj["url"].(string)
	r.Version, _ = obj["version"].(string)
	b.res[name] = r
	b.files = append(b.files, name)
	return nil
}

func (b *builder) finish() (*Package, error) {
	if b.man == nil {
		return nil, errors.New("no package/package.json")
	}
	p := &Package{
		Name: b.man.Name, Version: b.man.Version, Canonical: b.man.Canonical,
		FHIRVersions: b.man.FHIRVersions, Dependencies: b.man.Dependencies,
		byURL: map[string]*Resource{},
	}
	sort.Strings(b.files)
	for _, f := range b.files {
		r := b.res[f]
		p.Resources = append(p.Resources, r)
		if r.URL != "" {
			p.byURL[r.URL] = r
			if r.Version != "" {
				p.byURL[r.URL+"|"+r.Version] = r
			}
		}
	}
	ex := make([]string, 0, len(b.examples))
	for f := range b.examples {
		ex = append(ex, f)
	}
	sort.Strings(ex)
	for _, f := range ex {
		p.Examples = append(p.Examples, b.examples[f])
	}
	return p, nil
}

// decode parses JSON into the generic tree of package fhir (json.Number for
// numbers, so decimals keep their precision).
func decode(data []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// Collection is a set of loaded packages searched together, the way a
// validator sees an IG and its dependencies.
type Collection struct {
	Packages []*Package
}

// Add appends packages to the collection.
func (c *Collection) Add(p ...*Package) { c.Packages = append(c.Packages, p...) }

// Resolve returns the first package resource with canonical url
// ("|version" allowed).
func (c *Collection) Resolve(url string) *Resource {
	for _, p := range c.Packages {
		if r := p.Resolve(url); r != nil {
			return r
		}
	}
	return nil
}

// Missing lists the declared dependencies ("name#version") that no loaded
// package satisfies. hl7.fhir.r4.core is never missing: the R4 base
// definitions are built in.
func (c *Collection) Missing() []string {
	have := map[string]bool{}
	for _, p := range c.Packages {
		have[p.Name] = true
		have[p.ID()] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range c.Packages {
		for name, v := range p.Dependencies {
			id := name + "#" + v
			if name == "hl7.fhir.r4.core" || have[id] || have[name] || seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
