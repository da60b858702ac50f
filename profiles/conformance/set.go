// Package conformance validates resources against profiles
// (StructureDefinitions with derivation "constraint"): the French FR Core
// profiles, our DCC oncology profiles, and any IG loaded as a package.
//
// Base R4 validation (unknown elements, primitive formats, base
// cardinalities, required bindings and invariants of the core spec) is
// package validator's job; this package checks only what a profile adds:
// tightened cardinalities, fixed and pattern values, slices, type and target
// profiles, maxLength, profile bindings, extensions by URL and the profile's
// own invariants. A profile is compiled once into a plan (a tree of element
// rules with resolved value set expansions and compiled FHIRPath) so that
// validating a resource is a walk of the plan and the resource together.
//
// Definitions missing from what is loaded (an IG's dependencies that are not
// installed) make the checks that need them degrade to warnings instead of
// rejecting resources.
package conformance

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/dccfhir/dccfhir/profiles/packages"
)

//go:embed r4base.json.gz
var r4base []byte

// StructureDefinition is a loaded profile or base definition. Elements stay
// in the generic tree so that snapshot generation can copy and merge them
// without a lossy Go model of ElementDefinition.
type StructureDefinition struct {
	URL, Version, Name, Type, Kind string
	BaseDefinition, Derivation     string
	Abstract                       bool
	Snapshot                       []map[string]any
	Differential                   []map[string]any
	// Package is the NAME#VERSION the definition came from ("" for R4 base).
	Package string
	raw     map[string]any
}

// JSON returns the definition as a resource, with the (possibly generated)
// snapshot.
func (sd *StructureDefinition) JSON() map[string]any {
	out := make(map[string]any, len(sd.raw)+1)
	for k, v := range sd.raw {
		out[k] = v
	}
	els := make([]any, len(sd.Snapshot))
	for i, e := range sd.Snapshot {
		els[i] = e
	}
	out["snapshot"] = map[string]any{"element": els}
	return out
}

func parseSD(m map[string]any, pkg string) *StructureDefinition {
	sd := &StructureDefinition{raw: m, Package: pkg}
	sd.URL = str(m["url"])
	sd.Version = str(m["version"])
	sd.Name = str(m["name"])
	sd.Type = str(m["type"])
	sd.Kind = str(m["kind"])
	sd.BaseDefinition = str(m["baseDefinition"])
	sd.Derivation = str(m["derivation"])
	sd.Abstract, _ = m["abstract"].(bool)
	sd.Snapshot = elements(m["snapshot"])
	sd.Differential = elements(m["differential"])
	return sd
}

func elements(v any) []map[string]any {
	m, _ := v.(map[string]any)
	arr, _ := m["element"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		if em, ok := e.(map[string]any); ok {
			out = append(out, em)
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// base is the parsed embedded R4 definitions, shared read-only by every Set.
var base struct {
	once sync.Once
	sds  map[string]*StructureDefinition
	vss  map[string]map[string]any
	css  map[string]map[string]any
	// elems indexes the elements of the base specialisations by path, for
	// telling what a profile changed from what the core spec already says.
	elems map[string]map[string]any
	// keys are the invariant keys of the core spec (ele-1, dom-2, pat-1...),
	// checked by base validation and skipped here.
	keys map[string]bool
	err  error
}

func loadBase() {
	base.sds = map[string]*StructureDefinition{}
	base.vss = map[string]map[string]any{}
	base.css = map[string]map[string]any{}
	base.elems = map[string]map[string]any{}
	base.keys = map[string]bool{}
	zr, err := gzip.NewReader(bytes.NewReader(r4base))
	if err != nil {
		base.err = err
		return
	}
	dec := json.NewDecoder(zr)
	dec.UseNumber()
	var all []map[string]any
	if err := dec.Decode(&all); err != nil {
		base.err = err
		return
	}
	for _, r := range all {
		u := str(r["url"])
		switch r["resourceType"] {
		case "StructureDefinition":
			sd := parseSD(r, "")
			base.sds[u] = sd
			if sd.Derivation != "constraint" {
				for _, e := range sd.Snapshot {
					base.elems[str(e["path"])] = e
					cs, _ := e["constraint"].([]any)
					for _, c := range cs {
						if cm, ok := c.(map[string]any); ok {
							base.keys[str(cm["key"])] = true
						}
					}
				}
			}
		case "ValueSet":
			base.vss[u] = r
		case "CodeSystem":
			base.css[u] = r
		}
	}
}

// Set is a collection of StructureDefinitions, ValueSets and CodeSystems (the
// R4 base plus loaded packages) and the validation plans compiled from its
// profiles. It is safe for concurrent use; add packages before validating.
type Set struct {
	mu    sync.RWMutex
	sds   map[string]*StructureDefinition
	vss   map[string]map[string]any
	css   map[string]map[string]any
	plans map[string]*plan
	exps  map[string]*expansion
	coll  packages.Collection
	// problems are compile-time findings (uncompilable invariants,
	// snapshot generation failures) kept for Problems.
	problems []string
}

// NewSet returns a Set holding the R4 base definitions and the given packages.
func NewSet(pkgs ...*packages.Package) (*Set, error) {
	base.once.Do(loadBase)
	if base.err != nil {
		return nil, fmt.Errorf("conformance: embedded R4 definitions: %w", base.err)
	}
	s := &Set{
		sds:   make(map[string]*StructureDefinition, len(base.sds)+64),
		vss:   make(map[string]map[string]any, len(base.vss)+64),
		css:   make(map[string]map[string]any, len(base.css)+64),
		plans: map[string]*plan{},
		exps:  map[string]*expansion{},
	}
	for k, v := range base.sds {
		s.sds[k] = v
	}
	for k, v := range base.vss {
		s.vss[k] = v
	}
	for k, v := range base.css {
		s.css[k] = v
	}
	for _, p := range pkgs {
		if err := s.AddPackage(p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AddPackage adds the conformance resources of a package. Definitions
// without a snapshot get one generated when first compiled.
func (s *Set) AddPackage(p *packages.Package) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.coll.Add(p)
	for _, r := range p.Resources {
		s.addLocked(r.JSON, p.ID())
	}
	s.plans = map[string]*plan{}
	s.exps = map[string]*expansion{}
	return nil
}

// AddResource adds one StructureDefinition, ValueSet or CodeSystem (a DCC
// profile authored outside any package, for instance).
func (s *Set) AddResource(res map[string]any) error {
	switch res["resourceType"] {
	case "StructureDefinition", "ValueSet", "CodeSystem":
	default:
		return fmt.Errorf("conformance: cannot add a %v", res["resourceType"])
	}
	if str(res["url"]) == "" {
		return fmt.Errorf("conformance: %v without url", res["resourceType"])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(res, "")
	s.plans = map[string]*plan{}
	s.exps = map[string]*expansion{}
	return nil
}

func (s *Set) addLocked(r map[string]any, pkg string) {
	u := str(r["url"])
	if u == "" {
		return
	}
	v := str(r["version"])
	switch r["resourceType"] {
	case "StructureDefinition":
		sd := parseSD(r, pkg)
		s.sds[u] = sd
		if v != "" {
			s.sds[u+"|"+v] = sd
		}
	case "ValueSet":
		s.vss[u] = r
		if v != "" {
			s.vss[u+"|"+v] = r
		}
	case "CodeSystem":
		s.css[u] = r
		if v != "" {
			s.css[u+"|"+v] = r
		}
	}
}

// MissingDependencies lists the declared package dependencies that are not
// loaded ("name#version"); what they define is checked only as warnings.
func (s *Set) MissingDependencies() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.coll.Missing()
}

// Has reports whether a StructureDefinition with canonical url ("|version"
// allowed) is loaded.
func (s *Set) Has(url string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sdLocked(url) != nil
}

// StructureDefinition returns the definition for url, with its snapshot
// generated if the package shipped only a differential; nil if unknown.
func (s *Set) StructureDefinition(url string) (*StructureDefinition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sd := s.sdLocked(url)
	if sd == nil {
		return nil, nil
	}
	if err := s.ensureSnapshot(sd, 0); err != nil {
		return nil, err
	}
	return sd, nil
}

// Profiles lists the canonical URLs of the loaded (non-base) profiles.
func (s *Set) Profiles() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for k, sd := range s.sds {
		if sd.Package != "" || base.sds[k] == nil {
			if !strings.Contains(k, "|") {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Problems lists what compiling found wrong in the loaded profiles
// (uncompilable invariants, unresolvable snapshots): they degrade to
// warnings at validation time and are listed here for operators.
func (s *Set) Problems() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.problems...)
}

func (s *Set) sdLocked(url string) *StructureDefinition {
	if sd := s.sds[url]; sd != nil {
		return sd
	}
	if u, _, ok := strings.Cut(url, "|"); ok {
		return s.sds[u]
	}
	return nil
}

func (s *Set) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}
