package handlers_test

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// authSuite is the test that runs the REST, search and validation suites
// once more with the real authorization server on: every server a test
// starts beneath it is started withAuth (startWith asks underAuthSuite),
// so every request the suites send through fixture.do carries admin-cli's
// system/*.cruds token, checked by the resource server as in production.
const authSuite = "TestSuitesWithAuth"

// underAuthSuite reports whether t runs beneath TestSuitesWithAuth.
func underAuthSuite(t testing.TB) bool { return strings.HasPrefix(t.Name(), authSuite+"/") }

// everyEngine holds the suites' *testing.T that run on every engine of
// testEngines under TestSuitesWithAuth (the others run on SQLite).
var everyEngine sync.Map

// authOnEveryEngine reports whether t, a suite of TestSuitesWithAuth,
// runs on every engine.
func authOnEveryEngine(t *testing.T) bool {
	_, ok := everyEngine.Load(t)
	return ok
}

// TestSuitesWithAuth reruns the REST, search and validation suites with
// auth on, and the search acceptance table on the small Synthea subset.
// The suites run on SQLite: the token check does not depend on the
// engine, and the suites already run on MongoDB without auth; a few
// (every engine) check on MongoDB too that a server bootstrapped there
// serves its token, keeping the full tier's extra time to a few seconds.
// Each suite's time is logged (-v).
func TestSuitesWithAuth(t *testing.T) {
	suites := []struct {
		name        string
		run         func(*testing.T)
		everyEngine bool
	}{
		{"Protected", testSuiteServersProtected, true},
		// REST (rest_test.go, bundle_test.go, batchget_test.go)
		{"REST/CRUDLifecycle", TestCRUDLifecycle, true},
		{"REST/ClientErrors", TestClientErrors, false},
		{"REST/BodyLimit", TestBodyLimit, false},
		{"REST/Preconditions", TestPreconditions, false},
		{"REST/ConditionalCreateRace", TestConditionalCreateRace, false},
		{"REST/ConcurrentIfMatchUpdates", TestConcurrentIfMatchUpdates, false},
		{"REST/ConditionalUpdateAndDelete", TestConditionalUpdateAndDelete, false},
		{"REST/Patch", TestPatch, false},
		{"REST/HistoryLevels", TestHistoryLevels, false},
		{"REST/Representation", TestRepresentation, false},
		{"REST/OperationalEndpoints", TestOperationalEndpoints, false},
		{"REST/TransactionResolvesReferences", TestTransactionResolvesReferences, false},
		{"REST/TransactionAllOrNothing", TestTransactionAllOrNothing, false},
		{"REST/TransactionConditionalEntries", TestTransactionConditionalEntries, false},
		{"REST/BatchEntriesStandAlone", TestBatchEntriesStandAlone, true},
		{"REST/BatchGetEntriesAsDirect", TestBatchGetEntriesAsDirect, false},
		// search
		{"Search/CompartmentSearch", TestCompartmentSearch, false},
		{"Search/SearchExplain", TestSearchExplain, false},
		{"Search/SearchLimits", TestSearchLimits, false},
		{"Search/SearchLimitsNextLink", TestSearchLimitsNextLink, false},
		{"Search/ForgedCursors", TestForgedCursors, false},
		{"Search/SearchNever500", TestSearchNever500, false},
		{"Search/SearchTableSmall", testSearchTableSmallSQLite, false},
		// validation
		{"Validation/ValidateOperation", TestValidateOperation, false},
		{"Validation/DCCProfilesThroughREST", TestDCCProfilesThroughREST, false},
		{"Validation/UnknownProfileWarning", TestUnknownProfileWarning, false},
		{"Validation/TerminologyOperations", TestTerminologyOperations, false},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			if s.everyEngine {
				everyEngine.Store(t, true)
				defer everyEngine.Delete(t)
			}
			begin := time.Now()
			s.run(t)
			t.Logf("%s with auth on: %v", s.name, time.Since(begin).Round(time.Millisecond))
		})
	}
}

// testSuiteServersProtected checks the switch itself: a server started
// beneath TestSuitesWithAuth refuses a request without a token or with a
// bad one and serves the fixture's token.
func testSuiteServersProtected(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		if f.auth == nil || f.token == "" {
			t.Fatal("a server started under TestSuitesWithAuth has no authorization server or no token")
		}
		for _, hdr := range [][]string{{"Authorization", ""}, bearer(f.token + "x")} {
			r := f.do("GET", "/Patient", nil, hdr...)
			f.want(r, 401)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="dccfhir"`) {
				t.Fatalf("401 without a Bearer challenge: %v", r.header)
			}
		}
		f.want(f.do("GET", "/Patient", nil), 200)
		r := f.do("GET", "/metadata", nil, "Authorization", "")
		f.want(r, 200)
		if !strings.Contains(string(r.body), "StructureDefinition/oauth-uris") {
			t.Fatalf("CapabilityStatement without the SMART security extension: %.500s", r.body)
		}
	})
}

// testSearchTableSmallSQLite is the search acceptance table on the small
// subset of Synthea-120 (expected-small.json, the MongoDB test's) on
// SQLite: loaded through POST /fhir with the token, then every query the
// subset answers. It takes under a second, so it runs under -short too.
func testSearchTableSmallSQLite(t *testing.T) {
	qs, exp := readSearchTableFile(t, "expected-small.json", smallSubsetCmd)
	if exp.Subset == nil || len(exp.Subset.Bundles) == 0 {
		t.Fatalf("expected-small.json names no Bundles: run %s", smallSubsetCmd)
	}
	set := pruneShared(t, loadSyntheaFiles(t, exp.Subset.Bundles), exp.Subset.Shared)
	checkSameCounts(t, set.expected, exp.Resources)
	f := start(t, sqliteEngine())
	begin := time.Now()
	if err := postSynthea(f.client(), f.base, set); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d Bundles, %d entries in %v", len(set.bundles), set.resources, time.Since(begin).Round(time.Millisecond))
	t.Run("counts", func(t *testing.T) { checkSyntheaCounts(t, f.on(t), set) })
	t.Run("SearchTable", func(t *testing.T) { runSearchTable(t, f.on(t), qs.Queries, exp.Queries) })
}
