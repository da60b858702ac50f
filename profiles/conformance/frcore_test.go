package conformance

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/packages"
)

// frCorePath is the FR Core 2.2.0 tarball shared with the team (never copied
// into the repository); the tests needing it skip when it is absent.
const frCorePath = "/work/shared/data/fhir-packages/hl7.fhir.fr.core-2.2.0.tgz"

var frOnce struct {
	sync.Once
	set *Set
	pkg *packages.Package
	err error
}

func frCore(t testing.TB) (*Set, *packages.Package) {
	t.Helper()
	p := os.Getenv("DCC_FRCORE_PACKAGE")
	if p == "" {
		p = frCorePath
	}
	if _, err := os.Stat(p); err != nil {
		t.Skip("FR Core package not available")
	}
	frOnce.Do(func() {
		frOnce.pkg, frOnce.err = packages.LoadFile(p)
		if frOnce.err == nil {
			frOnce.set, frOnce.err = NewSet(frOnce.pkg)
		}
	})
	if frOnce.err != nil {
		t.Fatal(frOnce.err)
	}
	return frOnce.set, frOnce.pkg
}

func errorsOf(issues []fhir.Issue) []fhir.Issue {
	var out []fhir.Issue
	for _, i := range issues {
		if i.Severity == "error" || i.Severity == "fatal" {
			out = append(out, i)
		}
	}
	return out
}

func TestFRCoreExamples(t *testing.T) {
	s, pkg := frCore(t)
	n := 0
	for _, ex := range pkg.Examples {
		id := str(ex["resourceType"]) + "/" + str(ex["id"])
		meta, _ := ex["meta"].(map[string]any)
		if meta["profile"] == nil {
			continue
		}
		n++
		issues := s.ValidateClaimed(ex)
		if errs := errorsOf(issues); len(errs) > 0 {
			for _, e := range errs {
				t.Errorf("%s: %s (at %s)", id, e.Diagnostics, strings.Join(e.Expression, ","))
			}
		}
		if testing.Verbose() {
			for _, i := range issues {
				if i.Severity != "error" {
					t.Logf("%s: %s: %s (at %s)", id, i.Severity, i.Diagnostics, strings.Join(i.Expression, ","))
				}
			}
		}
	}
	if n != 30 {
		t.Errorf("validated %d examples, want 30", n)
	}
	if probs := s.Compile(); len(probs) > 0 {
		t.Logf("problems: %s", strings.Join(probs, "\n"))
	}
}
