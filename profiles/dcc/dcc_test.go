package dcc

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/fhirpath"
	"github.com/dccfhir/dccfhir/fhir/model"
)

// examplesDir holds the valid and invalid examples and expectations.json.
const examplesDir = "../../testdata/dcc"

type obj = map[string]any

// pkg is the package read from the embedded FS.
type pkg struct {
	meta  obj
	index obj
	files map[string]obj // file name -> resource
	byURL map[string]obj // canonical url -> resource
}

func loadPackage(t *testing.T) *pkg {
	t.Helper()
	p := &pkg{files: map[string]obj{}, byURL: map[string]obj{}}
	entries, err := fs.ReadDir(FS(), ".")
	if err != nil {
		t.Fatalf("read embedded package: %v", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("unexpected directory %s in the package", e.Name())
			continue
		}
		data, err := fs.ReadFile(FS(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		var v obj
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: invalid JSON: %v", e.Name(), err)
			continue
		}
		switch e.Name() {
		case "package.json":
			p.meta = v
		case ".index.json":
			p.index = v
		default:
			p.files[e.Name()] = v
			if u, _ := v["url"].(string); u != "" {
				if _, dup := p.byURL[u]; dup {
					t.Errorf("duplicate canonical url %s", u)
				}
				p.byURL[u] = v
			}
		}
	}
	if p.meta == nil || p.index == nil {
		t.Fatalf("package.json or .index.json missing from the embedded package")
	}
	return p
}

func str(v any) string { s, _ := v.(string); return s }

func list(v any) []any { l, _ := v.([]any); return l }

func TestPackageJSON(t *testing.T) {
	p := loadPackage(t)
	m := p.meta
	if str(m["name"]) != Name || str(m["version"]) != Version || str(m["canonical"]) != Canonical {
		t.Errorf("package.json name/version/canonical = %v/%v/%v, want %s/%s/%s", m["name"], m["version"], m["canonical"], Name, Version, Canonical)
	}
	if fv := list(m["fhirVersions"]); len(fv) != 1 || fv[0] != FHIRVersion {
		t.Errorf("fhirVersions = %v, want [%s]", m["fhirVersions"], FHIRVersion)
	}
	deps, _ := m["dependencies"].(obj)
	if str(deps["hl7.fhir.r4.core"]) != "4.0.1" {
		t.Errorf("dependencies = %v, want hl7.fhir.r4.core 4.0.1", deps)
	}
	if len(p.files) < 60 {
		t.Errorf("only %d resources in the package", len(p.files))
	}
}

// TestResources checks file naming, canonical URLs, versions, the index and
// the ImplementationGuide's resource list.
func TestResources(t *testing.T) {
	p := loadPackage(t)
	indexed := map[string]obj{}
	for _, f := range list(p.index["files"]) {
		e := f.(obj)
		indexed[str(e["filename"])] = e
	}
	var ig obj
	for name, r := range p.files {
		rt, id := str(r["resourceType"]), str(r["id"])
		if want := rt + "-" + id + ".json"; name != want {
			t.Errorf("%s: file should be named %s", name, want)
		}
		if want := Canonical + "/" + rt + "/" + id; str(r["url"]) != want {
			t.Errorf("%s: url %q, want %q", name, r["url"], want)
		}
		if str(r["version"]) != Version {
			t.Errorf("%s: version %q, want %s", name, r["version"], Version)
		}
		if str(r["status"]) == "" || str(r["name"]) == "" {
			t.Errorf("%s: status and name are required", name)
		}
		e, ok := indexed[name]
		if !ok {
			t.Errorf("%s is not in .index.json", name)
		} else if str(e["resourceType"]) != rt || str(e["id"]) != id || str(e["url"]) != str(r["url"]) {
			t.Errorf(".index.json entry for %s does not match the file: %v", name, e)
		}
		if rt == "ImplementationGuide" {
			ig = r
		}
	}
	for name := range indexed {
		if _, ok := p.files[name]; !ok {
			t.Errorf(".index.json lists %s, which is not in the package", name)
		}
	}
	if ig == nil {
		t.Fatal("no ImplementationGuide in the package")
	}
	if str(ig["packageId"]) != Name || !slices.Contains(list(ig["fhirVersion"]), any(FHIRVersion)) {
		t.Errorf("ImplementationGuide packageId/fhirVersion = %v/%v", ig["packageId"], ig["fhirVersion"])
	}
	listed := map[string]bool{}
	def, _ := ig["definition"].(obj)
	for _, r := range list(def["resource"]) {
		listed[str(r.(obj)["reference"].(obj)["reference"])] = true
	}
	for name, r := range p.files {
		if rt := str(r["resourceType"]); rt != "ImplementationGuide" && !listed[rt+"/"+str(r["id"])] {
			t.Errorf("%s is not listed in the ImplementationGuide", name)
		}
	}
}

// wellKnownValueSet reports bindings to value sets outside the package that
// every R4 server knows (the core package's own value sets).
func wellKnownValueSet(u string) bool {
	return strings.HasPrefix(u, "http://hl7.org/fhir/ValueSet/")
}

var sliceSeg = regexp.MustCompile(`:[^.]+`)

// resolvePath walks an element path ("Patient.identifier.system") through the
// R4 model; types narrows choice elements (value[x]) to the profile's types.
func resolvePath(path string, types map[string][]string) error {
	segs := strings.Split(path, ".")
	cur := []string{segs[0]}
	if model.Lookup(segs[0]) == nil {
		return fmt.Errorf("unknown type %s", segs[0])
	}
	for i, seg := range segs[1:] {
		name := strings.TrimSuffix(seg, "[x]")
		var next []string
		for _, tn := range cur {
			e := model.Lookup(tn).Element(name)
			if e == nil {
				continue
			}
			ts := e.Types
			if narrowed, ok := types[strings.Join(segs[:i+2], ".")]; ok && e.Choice {
				ts = narrowed
			}
			for _, x := range ts {
				if model.Lookup(x) != nil {
					next = append(next, x)
				}
			}
		}
		if len(next) == 0 {
			return fmt.Errorf("no element %q under %s", seg, strings.Join(segs[:i+1], "."))
		}
		cur = next
	}
	return nil
}

// profileRefOK reports whether a profile or targetProfile canonical resolves
// to a StructureDefinition of the package or of the R4 core package.
func (p *pkg) profileRefOK(u string) bool {
	u, _, _ = strings.Cut(u, "|")
	if r, ok := p.byURL[u]; ok {
		return str(r["resourceType"]) == "StructureDefinition"
	}
	if rest, ok := strings.CutPrefix(u, "http://hl7.org/fhir/StructureDefinition/"); ok {
		return model.Lookup(rest) != nil || rest == "patient-birthPlace"
	}
	return false
}

func (p *pkg) structureDefinitions() []obj {
	var sds []obj
	for _, r := range p.files {
		if str(r["resourceType"]) == "StructureDefinition" {
			sds = append(sds, r)
		}
	}
	sort.Slice(sds, func(i, j int) bool { return str(sds[i]["id"]) < str(sds[j]["id"]) })
	return sds
}

func TestStructureDefinitions(t *testing.T) {
	p := loadPackage(t)
	keys := map[string]string{}
	for _, sd := range p.structureDefinitions() {
		id := str(sd["id"])
		typ := str(sd["type"])
		for _, f := range []string{"url", "name", "type", "baseDefinition", "derivation", "kind", "fhirVersion"} {
			if str(sd[f]) == "" {
				t.Errorf("%s: %s is required", id, f)
			}
		}
		if str(sd["derivation"]) != "constraint" {
			t.Errorf("%s: derivation %q, want constraint", id, sd["derivation"])
		}
		if want := "http://hl7.org/fhir/StructureDefinition/" + typ; str(sd["baseDefinition"]) != want {
			t.Errorf("%s: baseDefinition %q, want the R4 base %q (profiles stand alone)", id, sd["baseDefinition"], want)
		}
		if _, ok := sd["snapshot"]; ok {
			t.Errorf("%s: has a snapshot; the package is differential-only", id)
		}
		if typ == "Extension" && len(list(sd["context"])) == 0 {
			t.Errorf("%s: an extension needs a context", id)
		}
		diff, _ := sd["differential"].(obj)
		els := list(diff["element"])
		if len(els) < 2 {
			t.Errorf("%s: empty differential", id)
			continue
		}
		seen := map[string]bool{}
		sliced := map[string]bool{}
		types := map[string][]string{}
		for _, x := range els {
			e := x.(obj)
			for _, ty := range list(e["type"]) {
				types[sliceSeg.ReplaceAllString(str(e["id"]), "")] = append(types[sliceSeg.ReplaceAllString(str(e["id"]), "")], str(ty.(obj)["code"]))
			}
		}
		for i, x := range els {
			e := x.(obj)
			eid, path := str(e["id"]), str(e["path"])
			if i == 0 && (eid != typ || path != typ) {
				t.Errorf("%s: first element is %q, want the root %q", id, eid, typ)
			}
			if seen[eid] {
				t.Errorf("%s: duplicate element id %s", id, eid)
			}
			seen[eid] = true
			if sliceSeg.ReplaceAllString(eid, "") != path {
				t.Errorf("%s: element id %s does not match path %s", id, eid, path)
			}
			if _, ok := e["slicing"]; ok {
				sliced[eid] = true
			}
			if sn := str(e["sliceName"]); sn != "" {
				if !strings.HasSuffix(eid, ":"+sn) {
					t.Errorf("%s: element %s has sliceName %q", id, eid, sn)
				}
				base := strings.TrimSuffix(eid, ":"+sn)
				if !sliced[base] {
					t.Errorf("%s: slice %s comes before (or without) the slicing of %s", id, eid, base)
				}
			}
			if i > 0 {
				if err := resolvePath(path, types); err != nil {
					t.Errorf("%s: element %s: %v", id, eid, err)
				}
			}
			if b, ok := e["binding"].(obj); ok {
				vs, _, _ := strings.Cut(str(b["valueSet"]), "|")
				if r, ok := p.byURL[vs]; ok {
					if str(r["resourceType"]) != "ValueSet" {
						t.Errorf("%s: %s binds to %s, which is not a ValueSet", id, eid, vs)
					}
				} else if !wellKnownValueSet(vs) {
					t.Errorf("%s: %s binds to %q, neither in the package nor a core value set", id, eid, vs)
				}
				if s := str(b["strength"]); s != "required" && s != "extensible" && s != "preferred" && s != "example" {
					t.Errorf("%s: %s: binding strength %q", id, eid, s)
				}
			}
			for _, ty := range list(e["type"]) {
				tm := ty.(obj)
				for _, f := range []string{"profile", "targetProfile"} {
					for _, u := range list(tm[f]) {
						if !p.profileRefOK(str(u)) {
							t.Errorf("%s: %s: %s %s does not resolve", id, eid, f, u)
						}
					}
				}
			}
			for _, c := range list(e["constraint"]) {
				cm := c.(obj)
				key := str(cm["key"])
				if key == "" || str(cm["human"]) == "" || str(cm["expression"]) == "" || str(cm["severity"]) == "" {
					t.Errorf("%s: constraint %v lacks key, human, expression or severity", id, cm)
				}
				if other, dup := keys[key]; dup {
					t.Errorf("constraint key %s used by %s and %s", key, other, id)
				}
				keys[key] = id
				if _, err := fhirpath.Compile(str(cm["expression"])); err != nil {
					t.Errorf("%s: constraint %s does not compile: %v", id, key, err)
				}
			}
		}
	}
}

// TestTerminology checks that value sets drawing on the package's code
// systems name codes that exist there.
func TestTerminology(t *testing.T) {
	p := loadPackage(t)
	codes := map[string]map[string]bool{}
	var walk func(set map[string]bool, cs []any)
	walk = func(set map[string]bool, cs []any) {
		for _, c := range cs {
			cm := c.(obj)
			set[str(cm["code"])] = true
			walk(set, list(cm["concept"]))
		}
	}
	for _, r := range p.files {
		if str(r["resourceType"]) == "CodeSystem" {
			set := map[string]bool{}
			walk(set, list(r["concept"]))
			codes[str(r["url"])] = set
			if n, _ := r["count"].(float64); int(n) != len(set) {
				t.Errorf("%s: count %v, but %d concepts", r["id"], r["count"], len(set))
			}
		}
	}
	for _, r := range p.files {
		if str(r["resourceType"]) != "ValueSet" {
			continue
		}
		compose, _ := r["compose"].(obj)
		inc := list(compose["include"])
		if len(inc) == 0 {
			t.Errorf("%s: empty compose", r["id"])
		}
		for _, i := range inc {
			im := i.(obj)
			sys := str(im["system"])
			set, local := codes[sys]
			if strings.HasPrefix(sys, Canonical) && !local {
				t.Errorf("%s: includes unknown package code system %s", r["id"], sys)
			}
			if !local && len(list(im["concept"])) == 0 {
				t.Errorf("%s: includes all of external system %s; list the concepts so the set is checkable offline", r["id"], sys)
			}
			for _, c := range list(im["concept"]) {
				if code := str(c.(obj)["code"]); local && !set[code] {
					t.Errorf("%s: code %s is not in %s", r["id"], code, sys)
				}
			}
		}
	}
}

type example struct {
	file string
	res  obj
}

func loadExamples(t *testing.T) (valid, invalid []example) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no examples in %s (%v)", examplesDir, err)
	}
	for _, n := range names {
		base := filepath.Base(n)
		if base == "expectations.json" {
			continue
		}
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var r obj
		if err := json.Unmarshal(data, &r); err != nil {
			t.Errorf("%s: invalid JSON: %v", base, err)
			continue
		}
		switch {
		case strings.Contains(base, ".valid"):
			valid = append(valid, example{base, r})
		case strings.Contains(base, ".invalid-"):
			invalid = append(invalid, example{base, r})
		default:
			t.Errorf("%s: name should be <profile-id>.valid[-x].json or <profile-id>.invalid-<what>.json", base)
		}
	}
	return valid, invalid
}

// constraints returns the invariants of a profile by key.
func constraints(sd obj) map[string]string {
	out := map[string]string{}
	for _, x := range list(sd["differential"].(obj)["element"]) {
		for _, c := range list(x.(obj)["constraint"]) {
			out[str(c.(obj)["key"])] = str(c.(obj)["expression"])
		}
	}
	return out
}

// holds evaluates an invariant on a resource (all invariants of the package
// sit on the root element). As in the reference validators, only a single
// true passes: an empty result fails.
func holds(t *testing.T, expr string, res obj) bool {
	t.Helper()
	nodes, err := fhirpath.MustCompile(expr).Evaluate(res, nil)
	if err != nil {
		t.Errorf("evaluate %s: %v", expr, err)
		return false
	}
	return len(nodes) == 1 && nodes[0].Value == true
}

var issueCodes = map[string]bool{"required": true, "value": true, "invariant": true, "code-invalid": true, "structure": true, "invalid": true}

func TestExamples(t *testing.T) {
	p := loadPackage(t)
	valid, invalid := loadExamples(t)
	profiles := map[string]obj{} // id -> SD of resource profiles
	for _, sd := range p.structureDefinitions() {
		if str(sd["kind"]) == "resource" {
			profiles[str(sd["id"])] = sd
		}
	}
	profileOf := func(file string) string { pid, _, _ := strings.Cut(file, "."); return pid }

	// Valid examples: meta.profile names the profile of the file, invariants hold,
	// references resolve to other valid examples.
	known := map[string]bool{}
	for _, ex := range valid {
		known[str(ex.res["resourceType"])+"/"+str(ex.res["id"])] = true
	}
	nValid := map[string]int{}
	for _, ex := range valid {
		pid := profileOf(ex.file)
		sd, ok := profiles[pid]
		if !ok {
			t.Errorf("%s: no profile %s in the package", ex.file, pid)
			continue
		}
		nValid[pid]++
		meta, _ := ex.res["meta"].(obj)
		if mp := list(meta["profile"]); !slices.Contains(mp, any(str(sd["url"]))) {
			t.Errorf("%s: meta.profile %v does not name %s", ex.file, mp, sd["url"])
		}
		for _, u := range list(meta["profile"]) {
			if r, ok := p.byURL[str(u)]; !ok || str(r["type"]) != str(ex.res["resourceType"]) {
				t.Errorf("%s: meta.profile %s is not a %s profile of the package", ex.file, u, ex.res["resourceType"])
			}
		}
		for key, expr := range constraints(sd) {
			if !holds(t, expr, ex.res) {
				t.Errorf("%s: invariant %s fails on a valid example", ex.file, key)
			}
		}
		refs, _ := fhirpath.MustCompile("descendants().ofType(Reference).reference").Evaluate(ex.res, nil)
		for _, n := range refs {
			if r, ok := n.Value.(string); ok && strings.Count(r, "/") == 1 && !known[r] {
				t.Errorf("%s: reference %s does not resolve to a valid example", ex.file, r)
			}
		}
	}

	// Expectations: every invalid example has one, every entry names a file.
	data, err := os.ReadFile(filepath.Join(examplesDir, "expectations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]obj
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatalf("expectations.json: %v", err)
	}
	for file, e := range exp {
		if _, err := os.Stat(filepath.Join(examplesDir, file)); err != nil {
			t.Errorf("expectations.json names %s: %v", file, err)
		}
		if !issueCodes[str(e["code"])] || str(e["expression"]) == "" || str(e["reason"]) == "" {
			t.Errorf("expectations.json %s: needs an issue code, an expression and a reason: %v", file, e)
		}
	}
	nInvalid := map[string]int{}
	for _, ex := range invalid {
		pid := profileOf(ex.file)
		sd, ok := profiles[pid]
		if !ok {
			t.Errorf("%s: no profile %s in the package", ex.file, pid)
			continue
		}
		nInvalid[pid]++
		e, ok := exp[ex.file]
		if !ok {
			t.Errorf("%s has no entry in expectations.json", ex.file)
			continue
		}
		rt := str(ex.res["resourceType"])
		if x := str(e["expression"]); x != rt && !strings.HasPrefix(x, rt+".") {
			t.Errorf("%s: expected expression %q is not a path in %s", ex.file, x, rt)
		}
		meta, _ := ex.res["meta"].(obj)
		if mp := list(meta["profile"]); !slices.Contains(mp, any(str(sd["url"]))) {
			t.Errorf("%s: meta.profile %v does not name %s", ex.file, mp, sd["url"])
		}
		// An invalid example breaks the invariant it is about, and only that one.
		cons := constraints(sd)
		key := str(e["key"])
		if key != "" {
			if _, ok := cons[key]; !ok {
				t.Errorf("%s: expectation names constraint %s, which %s does not define", ex.file, key, pid)
			}
		}
		for k, expr := range cons {
			if got := holds(t, expr, ex.res); got == (k == key) {
				t.Errorf("%s: invariant %s holds=%v, want %v", ex.file, k, got, k != key)
			}
		}
	}
	for pid := range profiles {
		if nValid[pid] < 1 || nInvalid[pid] < 3 {
			t.Errorf("profile %s: %d valid and %d invalid examples, want at least 1 and 3", pid, nValid[pid], nInvalid[pid])
		}
	}
}
