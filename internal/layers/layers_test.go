package layers

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/dccfhir/dccfhir/"

// rules: every package matching a pattern (a path, or a prefix ending in
// "/...") must not depend, directly or not, on any package of forbid.
var rules = []struct {
	pkgs   string
	forbid []string
	why    string
}{
	{"fhir/model", []string{"..."}, "the generated R4 model imports nothing of ours"},
	{"fhir/fhirpath", []string{"app", "handlers", "service", "store/...", "profiles/...", "fhir/search/...", "fhir/patch"},
		"FHIRPath depends on the R4 model only (it navigates FHIR types)"},
	{"fhir/...", []string{"app", "handlers", "service", "store/...", "profiles/...", "tools/...", "auth/..."},
		"fhir/ holds pure FHIR libraries: no storage, service or HTTP"},
	{"fhir/search/query", []string{"fhir/fhirpath", "fhir/search"}, "the engines' query types need no FHIRPath"},
	{"store/...", []string{"fhir/fhirpath", "fhir/search", "service", "handlers", "app", "profiles/..."},
		"storage engines execute queries; they parse nothing and validate nothing"},
	{"profiles/...", []string{"service", "handlers", "app", "store/..."}, "validation does not write"},
	{"service", []string{"handlers", "app", "tools/...", "auth/...", "audit"}, "the service knows nothing of HTTP, assembly or who the caller is beyond its Access"},
	{"auth/...", []string{"handlers", "app", "tools/...", "store/sqlite", "store/mongo"},
		"the authorization server keeps its state through store.Records and the FHIR side through the service"},
	{"auth/scope", []string{"store/sqlite", "store/mongo", "auth", "auth/psc", "handlers", "app"},
		"the scope language is pure: it gives a service.Access and reads nothing"},
	{"access", []string{"handlers", "app", "auth/...", "store/sqlite", "store/mongo", "tools/..."},
		"who sees what is decided from the service's resources, for any caller the handlers name"},
	{"audit", []string{"handlers", "app", "auth/...", "access", "service", "store/sqlite", "store/mongo", "tools/...", "profiles/..."},
		"the audit trail is a capability under the handlers: it builds and chains AuditEvents on the store, for any caller"},
	{"handlers", []string{"app", "store/sqlite", "store/mongo", "tools/..."}, "handlers reach storage through the service"},
	{"tools/...", []string{"handlers", "app", "store/sqlite", "store/mongo"}, "tools talk to a server or a service, never to an engine"},
}

// direct: packages whose own (non-test) files must not import these,
// module or not.
var direct = []struct {
	pkgs   string
	forbid []string
	why    string
}{
	{"service", []string{"net/http", "github.com/labstack/echo/v4"}, "the service speaks no HTTP: handlers do"},
	{"fhir/...", []string{"github.com/labstack/echo/v4"}, "FHIR libraries know no web framework"},
	{"store/...", []string{"github.com/labstack/echo/v4", "net/http"}, "engines know no HTTP"},
	{"auth/scope", []string{"github.com/labstack/echo/v4", "net/http"}, "the scope language knows no HTTP"},
	{"audit", []string{"github.com/labstack/echo/v4", "net/http"}, "AuditEvents are built from an Event the handlers fill: no HTTP here"},
}

func TestImportRules(t *testing.T) {
	deps, imports := moduleDeps(t)
	for _, r := range direct {
		for pkg, imps := range imports {
			if !match(r.pkgs, pkg) {
				continue
			}
			for _, imp := range imps {
				for _, f := range r.forbid {
					if imp == f || strings.HasPrefix(imp, f+"/") {
						t.Errorf("%s imports %s: %s", pkg, imp, r.why)
					}
				}
			}
		}
	}
	for _, pkg := range []string{"fhir/model", "fhir/fhirpath", "fhir/search/query", "store", "service", "handlers", "app", "auth", "auth/scope", "auth/psc", "access", "audit"} {
		if _, ok := deps[pkg]; !ok {
			t.Fatalf("package %s not listed: the rules are stale", pkg)
		}
	}
	for _, r := range rules {
		for pkg, ds := range deps {
			if !match(r.pkgs, pkg) || strings.Contains(pkg, "/internal/") {
				continue
			}
			for _, d := range ds {
				if strings.HasPrefix(d, "internal/") {
					continue
				}
				for _, f := range r.forbid {
					if match(f, d) {
						t.Errorf("%s imports %s: %s", pkg, d, r.why)
					}
				}
			}
		}
	}
}

// match reports whether pkg is pattern, or under it for "dir/..."; "..."
// is every package of the module.
func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == dir || strings.HasPrefix(pkg, dir+"/")
	}
	return pkg == pattern
}

// moduleDeps maps each package of the module (path relative to the module,
// non-test files) to every package of the module it depends on, directly or
// not, and to its own imports (all of them). It reads the sources itself
// with go/build (rather than running go list) so the test cache sees the
// files it depends on.
func moduleDeps(t *testing.T) (map[string][]string, map[string][]string) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	direct, imports := map[string][]string{}, map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".") || name == "node_modules") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var ours []string
		for _, imp := range p.Imports {
			if d, ok := strings.CutPrefix(imp, mod); ok {
				ours = append(ours, d)
			}
		}
		direct[filepath.ToSlash(rel)] = ours
		imports[filepath.ToSlash(rel)] = p.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string][]string{}
	var walk func(pkg string, seen map[string]bool)
	walk = func(pkg string, seen map[string]bool) {
		for _, d := range direct[pkg] {
			if !seen[d] {
				seen[d] = true
				walk(d, seen)
			}
		}
	}
	for pkg := range direct {
		seen := map[string]bool{}
		walk(pkg, seen)
		all[pkg] = []string{}
		for d := range seen {
			all[pkg] = append(all[pkg], d)
		}
		slices.Sort(all[pkg])
	}
	return all, imports
}
