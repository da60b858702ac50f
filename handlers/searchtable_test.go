package handlers_test

// The search acceptance table: after the Synthea-120 load (TestSyntheaLoad,
// which runs testSearchTable and testSearchPaging as its subtests on the
// loaded server), every query of testdata/search/queries.json must return
// the number of matches (and of included resources) of
// testdata/search/expected.json. Those counts are computed without the
// server, by a Node script reading the same Bundles; regenerate them after
// changing queries.json:
//
//	node testdata/search/count.mjs
//
// and run the table with
//
//	go test ./handlers -run 'TestSyntheaLoad/SearchTable' -v
//
// BenchmarkSearchQueries gives p50/p99 latencies of four searches:
//
//	go test ./handlers -run '^$' -bench SearchQueries -benchtime 1x

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/store/sqlite"
)

// searchDir holds queries.json, expected.json and count.mjs.
var searchDir = filepath.Join("..", "testdata", "search")

// tableQuery is one query of queries.json.
type tableQuery struct {
	Query string `json:"query"`
	// Order, when set, asks to check the order of the matches: the values
	// at Path (dotted, in each matched resource) never increase (Desc) or
	// never decrease.
	Order *struct {
		Path string `json:"path"`
		Desc bool   `json:"desc"`
	} `json:"order"`
}

// tableExpected is what count.mjs computed for one query.
type tableExpected struct {
	Total    int  `json:"total"`
	Included *int `json:"included"`
	// Skip, in a subset's counts, says why the query was not counted (it
	// names a resource the subset lacks).
	Skip string `json:"skip"`
}

// on returns a copy of f that reports to t (a subtest of the one that
// started it).
func (f *fixture) on(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// readSearchTable reads the queries and their expected counts.
func readSearchTable(t *testing.T) ([]tableQuery, map[string]tableExpected) {
	t.Helper()
	qs, exp := readSearchTableFile(t, "expected.json", "node testdata/search/count.mjs")
	return qs.Queries, exp.Queries
}

// searchQueries is queries.json.
type searchQueries struct {
	Queries []tableQuery `json:"queries"`
}

// searchExpected is a file of counts written by count.mjs: expected.json,
// or expected-NAME.json for a subset, which also names its Bundles.
type searchExpected struct {
	Subset *struct {
		Name    string   `json:"name"`
		Bundles []string `json:"bundles"`
		// Shared: the entries of the 0-*Information* Bundles kept
		// ("Type?identifier=…", their ifNoneExist).
		Shared []string `json:"shared"`
	} `json:"subset"`
	Resources map[string]int           `json:"resources"`
	Queries   map[string]tableExpected `json:"queries"`
}

// readSearchTableFile reads queries.json and the counts of file (in
// searchDir); a query without a count fails, naming cmd, the command that
// regenerates file.
func readSearchTableFile(t *testing.T, file, cmd string) (*searchQueries, *searchExpected) {
	t.Helper()
	qs, exp := &searchQueries{}, &searchExpected{}
	for name, v := range map[string]any{"queries.json": qs, file: exp} {
		b, err := os.ReadFile(filepath.Join(searchDir, name))
		if err != nil {
			t.Fatalf("%v: run %s", err, cmd)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, q := range qs.Queries {
		if _, ok := exp.Queries[q.Query]; !ok {
			t.Fatalf("%s has no count for %q: run %s", file, q.Query, cmd)
		}
	}
	return qs, exp
}

// placeholder is {Type?identifier=system|value}: the id of that resource.
var placeholder = regexp.MustCompile(`\{([A-Za-z]+)\?identifier=([^}]*)\}`)

// resolveQuery replaces the placeholders of q by the server's ids and
// returns the request path with every parameter URL-encoded.
func resolveQuery(f *fixture, q string) string {
	f.t.Helper()
	q = placeholder.ReplaceAllStringFunc(q, func(m string) string {
		sm := placeholder.FindStringSubmatch(m)
		r := f.do("GET", "/"+sm[1]+"?identifier="+url.QueryEscape(sm[2]), nil)
		f.want(r, 200)
		id, _ := dig(r.json, "entry", "0", "resource", "id").(string)
		if entries, _ := r.json["entry"].([]any); id == "" || len(entries) != 1 {
			f.t.Fatalf("placeholder %s: want one match: %.500s", m, r.body)
		}
		return id
	})
	typ, qs, _ := strings.Cut(q, "?")
	var enc []string
	for _, p := range strings.Split(qs, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		enc = append(enc, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return "/" + typ + "?" + strings.Join(enc, "&")
}

// searchPage is the part of a searchset Bundle the table reads.
type searchPage struct {
	Total *int `json:"total"`
	Link  []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
		Search   struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

func (p *searchPage) next() string {
	for _, l := range p.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// strict asks the server to reject, not ignore, a parameter it does not
// support: an ignored parameter would make a count silently wrong.
var strict = []string{"Prefer", "handling=strict"}

// pageAll runs path with _count=1000, follows the next links and returns
// the match count, the distinct included resources and, when q asks for
// it, an order violation.
func pageAll(f *fixture, q tableQuery, path string) (matches, included int, problem string) {
	f.t.Helper()
	inc := map[string]bool{}
	seen := map[string]bool{}
	var prev string
	next := path + "&_count=1000"
	for pages := 0; next != ""; pages++ {
		if pages > 1000 {
			f.t.Fatalf("%s: paging does not end", q.Query)
		}
		r := f.do("GET", next, nil, strict...)
		f.want(r, 200)
		var p searchPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			f.t.Fatal(err)
		}
		for _, e := range p.Entry {
			var res struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			}
			_ = json.Unmarshal(e.Resource, &res)
			key := res.ResourceType + "/" + res.ID
			switch e.Search.Mode {
			case "match":
				if seen[key] && problem == "" {
					problem = "duplicate match " + key
				}
				seen[key] = true
				matches++
				if q.Order != nil {
					var m map[string]any
					_ = json.Unmarshal(e.Resource, &m)
					v, _ := dig(m, strings.Split(q.Order.Path, ".")...).(string)
					if v == "" && problem == "" {
						problem = key + " has no " + q.Order.Path
					}
					if prev != "" && v != "" && problem == "" && outOfOrder(prev, v, q.Order.Desc) {
						problem = fmt.Sprintf("%s %s after %s", q.Order.Path, v, prev)
					}
					prev = v
				}
			case "include":
				inc[key] = true
			}
		}
		next = p.next()
	}
	return matches, len(inc), problem
}

// outOfOrder reports whether instant b may not follow a in the order asked.
func outOfOrder(a, b string, desc bool) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	if err1 != nil || err2 != nil {
		return a != b && (a < b) == desc
	}
	if desc {
		return tb.After(ta)
	}
	return tb.Before(ta)
}

// testSearchTable runs every query of the table on the loaded server and
// prints query / expected / got; any difference fails.
func testSearchTable(t *testing.T, f *fixture) {
	queries, expected := readSearchTable(t)
	if len(queries) < 60 {
		t.Fatalf("%d queries in the table, want at least 60", len(queries))
	}
	runSearchTable(t, f, queries, expected)
}

// runSearchTable runs queries on the loaded server, compares each with its
// expected count and logs a table of query / expected / got; any
// difference fails. A query whose expected count has Skip set is listed as
// skipped.
func runSearchTable(t *testing.T, f *fixture, queries []tableQuery, expected map[string]tableExpected) {
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-4s %-100s %9s %9s\n", "", "query", "expected", "got")
	failed, skipped := 0, 0
	for _, q := range queries {
		want := expected[q.Query]
		name := q.Query
		if len(name) > 100 {
			name = name[:97] + "..."
		}
		if want.Skip != "" {
			skipped++
			fmt.Fprintf(&table, "%-4s %-100s %9s %9s %s\n", "skip", name, "", "", want.Skip)
			continue
		}
		path := resolveQuery(f, q.Query)
		var got, gotInc int
		var problem string
		paged := q.Order != nil || want.Included != nil
		if paged {
			got, gotInc, problem = pageAll(f, q, path)
		} else {
			r := f.do("GET", path+"&_summary=count", nil, strict...)
			if r.status != 200 {
				problem = fmt.Sprintf("status %d: %.300s", r.status, r.body)
			} else if n, ok := r.json["total"].(float64); ok {
				got = int(n)
			} else {
				problem = "no total"
			}
		}
		ok := problem == "" && got == want.Total && (want.Included == nil || gotInc == *want.Included)
		mark := "ok"
		if !ok {
			mark = "FAIL"
			failed++
		}
		exp, res := fmt.Sprint(want.Total), fmt.Sprint(got)
		if want.Included != nil {
			exp += fmt.Sprintf("+%d", *want.Included)
			res += fmt.Sprintf("+%d", gotInc)
		}
		fmt.Fprintf(&table, "%-4s %-100s %9s %9s %s\n", mark, name, exp, res, problem)
		if !ok {
			t.Errorf("%s: expected %s, got %s %s", q.Query, exp, res, problem)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(&table, "%d queries, %d passed, %d failed, %d skipped\n", len(queries), len(queries)-failed-skipped, failed, skipped)
	} else {
		fmt.Fprintf(&table, "%d queries, %d passed, %d failed\n", len(queries), len(queries)-failed, failed)
	}
	t.Log(table.String())
}

// testSearchPaging pages through every Observation (more than 20,000) with
// _count=1000 while a concurrent writer creates Observations: the original
// matches must each come exactly once. The writer's Observations are
// deleted at the end, leaving the data as loaded.
func testSearchPaging(t *testing.T, f *fixture) {
	_, expected := readSearchTable(t)
	want := expected["Observation"].Total
	if want <= 20000 {
		t.Fatalf("Observation total %d: want a sample with more than 20,000", want)
	}
	subject := resolveQuery(f, "Observation?subject=Patient/{Patient?identifier=https://github.com/synthetichealth/synthea|057aa36e-b892-9964-75b9-ffb46b097e34}")
	_, subjectQ, _ := strings.Cut(subject, "subject=")
	subjectRef, _ := url.QueryUnescape(subjectQ)

	stop := make(chan struct{})
	var (
		mu      sync.Mutex
		created = map[string]bool{}
		werr    error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() { // the concurrent writer: bounded in count and time
		defer wg.Done()
		client := &http.Client{Timeout: 30 * time.Second}
		deadline := time.Now().Add(5 * time.Minute)
		for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			body := fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":%q},"effectiveDateTime":"2026-01-01T00:00:00Z","valueQuantity":{"value":%d,"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"}}`, subjectRef, 100+i%100)
			res, err := client.Post(f.base+"/Observation", "application/fhir+json", strings.NewReader(body))
			if err != nil {
				mu.Lock()
				werr = err
				mu.Unlock()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var o struct {
				ID string `json:"id"`
			}
			if res.StatusCode != 201 || json.Unmarshal(b, &o) != nil || o.ID == "" {
				mu.Lock()
				werr = fmt.Errorf("create: status %d: %.300s", res.StatusCode, b)
				mu.Unlock()
				return
			}
			mu.Lock()
			created[o.ID] = true
			mu.Unlock()
		}
	}()

	ids := map[string]int{}
	next := "/Observation?_count=1000"
	pages := 0
	begin := time.Now()
	for ; next != ""; pages++ {
		if pages > 200 {
			t.Fatal("paging does not end")
		}
		r := f.do("GET", next, nil)
		f.want(r, 200)
		var p searchPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if n := len(p.Entry); n > 1000 {
			t.Fatalf("page %d: %d entries with _count=1000", pages, n)
		}
		for _, e := range p.Entry {
			var res struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(e.Resource, &res)
			ids[res.ID]++
		}
		next = p.next()
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(begin)
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	dups, originals, fresh := 0, 0, 0
	for id, n := range ids {
		if n > 1 {
			dups++
			if dups <= 5 {
				t.Errorf("Observation/%s came %d times", id, n)
			}
		}
		if created[id] {
			fresh++
		} else {
			originals++
		}
	}
	t.Logf("%d pages in %v; %d distinct Observations: %d of the load (expected %d), %d of the %d created meanwhile",
		pages, elapsed.Round(time.Millisecond), len(ids), originals, want, fresh, len(created))
	if dups > 0 {
		t.Errorf("%d Observations came more than once", dups)
	}
	if originals != want {
		t.Errorf("%d Observations of the load seen, want %d: paging skipped some", originals, want)
	}
	if len(created) == 0 {
		t.Error("the writer created nothing while paging: the test did not test concurrency")
	}
	// leave the data as loaded
	for id := range created {
		f.want(f.do("DELETE", "/Observation/"+id, nil), 204)
	}
	if got := countType(t, f, "Observation"); got != want {
		t.Errorf("after deleting the writer's Observations: %d, want %d", got, want)
	}
}

// benchQueries are the searches BenchmarkSearchQueries times, with the
// latency aimed at for their p50.
var benchQueries = []struct {
	name, path string
	aim        time.Duration
}{
	{"code", "/Observation?code=" + url.QueryEscape("http://loinc.org|8302-2"), 10 * time.Millisecond},
	{"chain", "/Observation?patient.gender=male&_count=50", 50 * time.Millisecond},
	{"name", "/Patient?name=Cormier", 10 * time.Millisecond},
	{"count", "/Observation?category=laboratory&_summary=count", 50 * time.Millisecond},
}

// BenchmarkSearchQueries loads Synthea-120 once into a fresh SQLite server,
// then times 200 requests of each benchQueries search (whole HTTP round
// trip, body read) and reports their p50 and p99 in milliseconds:
//
//	go test ./handlers -run '^$' -bench SearchQueries -benchtime 1x
//
// ns/op is one round of the four searches.
func BenchmarkSearchQueries(b *testing.B) {
	set := loadSynthea(b)
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv, base := benchServer(b, st, fullValidator(b))
	b.Cleanup(srv.Close)
	client := &http.Client{}
	if err := postSynthea(client, base, set); err != nil {
		b.Fatal(err)
	}
	get := func(path string) time.Duration {
		begin := time.Now()
		res, err := client.Get(base + path)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		d := time.Since(begin)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("%s: status %d: %.300s", path, res.StatusCode, body)
		}
		return d
	}
	for _, q := range benchQueries { // warm the caches
		get(q.path)
	}
	const iterations = 200
	lat := make([][]time.Duration, len(benchQueries))
	for i := 0; i < iterations; i++ {
		for j, q := range benchQueries {
			lat[j] = append(lat[j], get(q.path))
		}
	}
	for b.Loop() {
		for _, q := range benchQueries {
			get(q.path)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for j, q := range benchQueries {
		ds := slices.Clone(lat[j])
		sort.Slice(ds, func(a, c int) bool { return ds[a] < ds[c] })
		p50, p99 := ds[len(ds)/2], ds[len(ds)*99/100]
		b.ReportMetric(ms(p50), q.name+"-p50-ms")
		b.ReportMetric(ms(p99), q.name+"-p99-ms")
		verdict := "within"
		if p50 > q.aim {
			verdict = "MISSES"
		}
		b.Logf("%-6s %-60s p50 %7.2f ms  p99 %7.2f ms  (%s the %v p50 aim)", q.name, q.path, ms(p50), ms(p99), verdict, q.aim)
	}
}
