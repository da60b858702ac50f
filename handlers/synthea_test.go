package handlers_test

import (
	"bytes"
	"compress/bzip2"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/store/sqlite"
)

// syntheaDir holds the Synthea-120 sample: two batch Bundles of shared
// resources (0-hospitalInformation*, 0-practitionerInformation*) and 120
// patient transaction Bundles, bzip2-compressed.
var syntheaDir = filepath.Join("..", "..", "shared", "data", "synthea-120")

// syntheaBundle is one decompressed Bundle of the sample.
type syntheaBundle struct {
	name string
	body []byte
}

// syntheaSet is the sample in load order, with the resource counts per type
// loading it must produce.
type syntheaSet struct {
	bundles   []syntheaBundle
	expected  map[string]int
	resources int // entries sent (what resources/s counts)
}

// loadSynthea reads and decompresses the sample: the 0-*Information* batch
// Bundles first, then the transaction Bundles; it skips when the sample is
// absent.
func loadSynthea(tb testing.TB) *syntheaSet {
	tb.Helper()
	return loadSyntheaFiles(tb, nil)
}

// loadSyntheaFiles is loadSynthea restricted to the Bundle files named in
// only (base names; every file when only is nil), in the same order. A
// named file missing from a sample that is present fails.
func loadSyntheaFiles(tb testing.TB, only []string) *syntheaSet {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaDir, "*.json.bz2"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		abs, _ := filepath.Abs(syntheaDir)
		tb.Skipf("Synthea-120 sample absent: no *.json.bz2 in %s", abs)
	}
	if only != nil {
		keep := map[string]bool{}
		for _, name := range only {
			keep[name] = true
		}
		var kept []string
		for _, f := range files {
			if keep[filepath.Base(f)] {
				kept = append(kept, f)
				delete(keep, filepath.Base(f))
			}
		}
		if len(keep) > 0 {
			abs, _ := filepath.Abs(syntheaDir)
			tb.Fatalf("%d Bundle files of the subset missing from %s: %v", len(keep), abs, keep)
		}
		files = kept
	}
	info := func(f string) bool {
		b := filepath.Base(f)
		return strings.HasPrefix(b, "0-") && strings.Contains(b, "Information")
	}
	sort.SliceStable(files, func(i, j int) bool {
		if info(files[i]) != info(files[j]) {
			return info(files[i])
		}
		return files[i] < files[j]
	})
	set := &syntheaSet{expected: map[string]int{}}
	distinct := map[string]bool{} // Type + ifNoneExist
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		body, err := io.ReadAll(bzip2.NewReader(fh))
		fh.Close()
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		var b struct {
			Type  string `json:"type"`
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
			tb.Fatalf("%s: %v", f, err)
		}
		if info(f) != (b.Type == "batch") {
			tb.Fatalf("%s: a %s Bundle; want batches only for the 0-*Information* files", f, b.Type)
		}
		for _, e := range b.Entry {
			typ := e.Resource.ResourceType
			if e.Request.Method != "POST" {
				tb.Fatalf("%s: a %s entry: the counts assume creates only", f, e.Request.Method)
			}
			set.resources++
			if e.Request.IfNoneExist != "" {
				// a second create matching an existing resource creates nothing
				k := typ + "?" + e.Request.IfNoneExist
				if distinct[k] {
					continue
				}
				distinct[k] = true
			}
			set.expected[typ]++
		}
		set.bundles = append(set.bundles, syntheaBundle{name: filepath.Base(f), body: body})
	}
	return set
}

// postSynthea sends every Bundle of the set to base in order and returns
// the first problem: a non-200 answer or an entry whose status is not 2xx.
func postSynthea(client *http.Client, base string, set *syntheaSet) error {
	for _, b := range set.bundles {
		req, err := http.NewRequest(http.MethodPost, base, bytes.NewReader(b.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		// as a bulk loader would: statuses and locations, not the resources echoed back
		req.Header.Set("Prefer", "return=minimal")
		res, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %v", b.name, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %v", b.name, err)
		}
		if res.StatusCode != 200 {
			return fmt.Errorf("%s: status %d: %.2000s", b.name, res.StatusCode, body)
		}
		var rb struct {
			Type  string `json:"type"`
			Entry []struct {
				Response struct {
					Status  string          `json:"status"`
					Outcome json.RawMessage `json:"outcome"`
				} `json:"response"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(body, &rb); err != nil {
			return fmt.Errorf("%s: response: %v", b.name, err)
		}
		if !strings.HasSuffix(rb.Type, "-response") {
			return fmt.Errorf("%s: response Bundle.type %q", b.name, rb.Type)
		}
		for i, e := range rb.Entry {
			if !strings.HasPrefix(e.Response.Status, "2") {
				return fmt.Errorf("%s: entry %d: status %q: %s", b.name, i, e.Response.Status, e.Response.Outcome)
			}
		}
	}
	return nil
}

// countType returns how many current resources of typ the server holds:
// _summary=count's total, else by paging.
func countType(t *testing.T, f *fixture, typ string) int {
	t.Helper()
	r := f.do("GET", "/"+typ+"?_summary=count", nil)
	f.want(r, 200)
	if total, ok := r.json["total"].(float64); ok {
		return int(total)
	}
	n := 0
	next := "/" + typ + "?_count=500&_elements=id"
	for pages := 0; next != ""; pages++ {
		if pages > 10000 {
			t.Fatalf("%s: paging does not end", typ)
		}
		r := f.do("GET", next, nil)
		f.want(r, 200)
		var b struct {
			Entry []struct {
				Search struct {
					Mode string `json:"mode"`
				} `json:"search"`
			} `json:"entry"`
			Link []struct {
				Relation string `json:"relation"`
				URL      string `json:"url"`
			} `json:"link"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			if e.Search.Mode == "match" {
				n++
			}
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	return n
}

// TestSyntheaLoad loads the Synthea-120 sample unmodified on the SQLite
// engine (the data is large: that engine only) and checks every entry
// succeeded and the resource counts per type. The loaded server then serves
// the search acceptance table and the paging test (searchtable_test.go), so
// the sample is loaded once for all three:
//
//	go test ./handlers -run 'TestSyntheaLoad/(counts|SearchTable|SearchPaging)' -v
func TestSyntheaLoad(t *testing.T) {
	// The two long loads (SQLite, FerretDB) overlap: each mostly keeps one
	// core busy. Neither changes shared state (the default registry is only read).
	t.Parallel()
	if testing.Short() {
		t.Skip("Synthea-120 load (-short)")
	}
	set := loadSynthea(t)
	f := start(t, sqliteEngine()) // serve's defaults: the US Core profiles Synthea claims are warnings
	begin := time.Now()
	if err := postSynthea(http.DefaultClient, f.base, set); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(begin)
	t.Logf("loaded %d Bundles, %d entries in %v (%.0f resources/s)", len(set.bundles), set.resources, wall.Round(time.Millisecond), float64(set.resources)/wall.Seconds())

	// counts first: the paging test writes (and then deletes) Observations
	t.Run("counts", func(t *testing.T) { checkSyntheaCounts(t, f.on(t), set) })
	t.Run("SearchTable", func(t *testing.T) { testSearchTable(t, f.on(t)) })
	t.Run("SearchPaging", func(t *testing.T) { testSearchPaging(t, f.on(t)) })
}

// checkSyntheaCounts checks the resource counts per type of the loaded
// sample and that the conditional references were resolved.
func checkSyntheaCounts(t *testing.T, f *fixture, set *syntheaSet) {
	types := make([]string, 0, len(set.expected))
	for typ := range set.expected {
		types = append(types, typ)
	}
	sort.Strings(types)
	begin := time.Now()
	defer func() { t.Logf("counted %d types in %v", len(types), time.Since(begin).Round(time.Millisecond)) }()
	for _, typ := range types {
		if got, want := countType(t, f, typ), set.expected[typ]; got != want {
			t.Errorf("%s: %d stored, want %d", typ, got, want)
		}
	}
	// the conditional references of the patient Bundles were resolved to the
	// shared resources loaded first
	r := f.do("GET", "/Encounter?_count=1", nil)
	f.want(r, 200)
	ref, _ := dig(r.json, "entry", "0", "resource", "serviceProvider", "reference").(string)
	if !strings.HasPrefix(ref, "Organization/") || strings.Contains(ref, "?") {
		t.Fatalf("Encounter.serviceProvider.reference %q: want a resolved Organization/id", ref)
	}
	f.want(f.do("GET", "/"+ref, nil), 200)
}

// BenchmarkSyntheaLoad measures the sequential load of the Synthea-120
// sample over HTTP on a fresh SQLite database per iteration:
//
//	go test ./handlers -run '^$' -bench SyntheaLoad -benchtime 1x
func BenchmarkSyntheaLoad(b *testing.B) {
	set := loadSynthea(b)
	client := &http.Client{}
	var wall time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "db.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		srv, base := benchServer(b, st, fullValidator(b))
		b.StartTimer()
		begin := time.Now()
		err = postSynthea(client, base, set)
		wall += time.Since(begin)
		b.StopTimer()
		srv.Close()
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(set.resources*b.N)/wall.Seconds(), "resources/s")
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/load")
}
