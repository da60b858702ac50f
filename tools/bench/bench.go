// Package bench is a load generator for any FHIR R4 server: transaction
// ingest (from the DCC generator), reads by id, a search mix, or a mix of
// reads and writes; bounded in time and in request count, it reports
// throughput, latency percentiles, errors and, for a local server, its peak
// memory. Two servers can be measured in one run, in interleaved time slices,
// so that both see the same machine load.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dccfhir/dccfhir/tools/generate"
)

// Scenarios.
const (
	Ingest = "ingest"
	Read   = "read"
	Search = "search"
	Mixed  = "mixed"
)

// Config is one run.
type Config struct {
	Servers     []Target // one, or two with --vs
	Scenario    string
	Duration    time.Duration
	Connections int
	// MaxRequests bounds the run's request count per server.
	MaxRequests int
	Seed        uint64
	// Slice is the length of one server's turn with --vs.
	Slice time.Duration
}

// Target is a server under test.
type Target struct {
	URL string
	PID int // server process, for its peak RSS (0: unknown)
	// Token is a bearer access token sent with every request ("" : none),
	// so a protected server is measured with its token check on.
	Token string
}

// Latency percentiles, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Result is what one server did.
type Result struct {
	URL      string `json:"url"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// Unfinished are requests still running when their slice ended (a
	// request slower than the slice shows up here, not in the latencies).
	Unfinished int            `json:"unfinished,omitempty"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	Seconds    float64        `json:"seconds"`
	Throughput float64        `json:"throughput_rps"`
	// Resources is what ingest requests wrote (entries per second).
	Resources   int     `json:"resources,omitempty"`
	ResourcesPS float64 `json:"resources_per_s,omitempty"`
	Latency     Latency `json:"latency_ms"`
	PeakRSSKiB  int64   `json:"peak_rss_kib,omitempty"`
	lat         []time.Duration
}

// Report is a run's output.
type Report struct {
	Scenario    string             `json:"scenario"`
	Duration    float64            `json:"duration_s"`
	Connections int                `json:"connections"`
	Results     []*Result          `json:"results"`
	Ratios      map[string]float64 `json:"ratios,omitempty"` // second server / first
}

// op is one request to make.
type op struct {
	method, path string
	body         []byte
	entries      int
}

// state is what a scenario knows of a server: ids to read, patients to post.
type state struct {
	base    string
	auth    string   // the Authorization header value, "" for none
	ids     []string // Type/id
	names   []string
	gen     *generate.Generator
	nextPat atomic.Int64
}

// Run measures cfg.Servers.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Connections <= 0 {
		cfg.Connections = 4
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 1_000_000
	}
	if cfg.Slice <= 0 {
		cfg.Slice = min(time.Second, cfg.Duration/4)
	}
	switch cfg.Scenario {
	case "":
		cfg.Scenario = Mixed
	case Ingest, Read, Search, Mixed:
	default:
		return nil, fmt.Errorf("unknown scenario %q (ingest, read, search, mixed)", cfg.Scenario)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Connections * 2
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	// patients for ingest come from the generator
	gen, err := generate.New(generate.Config{Patients: 200, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	states := make([]*state, len(cfg.Servers))
	for i, t := range cfg.Servers {
		st := &state{base: strings.TrimRight(t.URL, "/"), gen: gen}
		if t.Token != "" {
			st.auth = "Bearer " + t.Token
		}
		if err := st.prepare(ctx, client, cfg.Scenario); err != nil {
			return nil, fmt.Errorf("%s: %w", t.URL, err)
		}
		states[i] = st
	}
	results := make([]*Result, len(cfg.Servers))
	for i, t := range cfg.Servers {
		results[i] = &Result{URL: t.URL, ErrorKinds: map[string]int{}}
	}
	// alternate slices until each server had its share of the duration
	deadline := time.Now().Add(cfg.Duration * time.Duration(len(cfg.Servers)))
	slice := cfg.Duration
	if len(cfg.Servers) > 1 {
		slice = cfg.Slice
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 99))
	var rmu sync.Mutex
	for turn := 0; time.Now().Before(deadline) && ctx.Err() == nil; turn++ {
		i := turn % len(cfg.Servers)
		if results[i].Requests >= cfg.MaxRequests || time.Duration(results[i].Seconds*float64(time.Second)) >= cfg.Duration {
			if allDone(results, cfg) {
				break
			}
			continue
		}
		left := cfg.Duration - time.Duration(results[i].Seconds*float64(time.Second))
		runSlice(ctx, client, cfg, states[i], results[i], min(slice, left), rng, &rmu)
	}
	rep := &Report{Scenario: cfg.Scenario, Duration: cfg.Duration.Seconds(), Connections: cfg.Connections, Results: results}
	for i, r := range results {
		r.finish()
		if pid := cfg.Servers[i].PID; pid > 0 && loopback(r.URL) {
			r.PeakRSSKiB = peakRSS(pid)
		}
	}
	if len(results) == 2 && results[0].Throughput > 0 {
		a, b := results[0], results[1]
		rep.Ratios = map[string]float64{"throughput": ratio(b.Throughput, a.Throughput), "p50": ratio(b.Latency.P50, a.Latency.P50),
			"p90": ratio(b.Latency.P90, a.Latency.P90), "p99": ratio(b.Latency.P99, a.Latency.P99)}
		if a.PeakRSSKiB > 0 && b.PeakRSSKiB > 0 {
			rep.Ratios["peak_rss"] = ratio(float64(b.PeakRSSKiB), float64(a.PeakRSSKiB))
		}
	}
	return rep, nil
}

func allDone(rs []*Result, cfg Config) bool {
	for _, r := range rs {
		if r.Requests < cfg.MaxRequests && time.Duration(r.Seconds*float64(time.Second)) < cfg.Duration {
			return false
		}
	}
	return true
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int(a/b*1000+0.5)) / 1000
}

// runSlice drives one server with every connection for d.
func runSlice(ctx context.Context, client *http.Client, cfg Config, st *state, res *Result, d time.Duration, rng *rand.Rand, rmu *sync.Mutex) {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var issued atomic.Int64
	issued.Store(int64(res.Requests))
	for c := 0; c < cfg.Connections; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sctx.Err() == nil && issued.Add(1) <= int64(cfg.MaxRequests) {
				rmu.Lock()
				o := st.next(cfg.Scenario, rng)
				rmu.Unlock()
				t0 := time.Now()
				status, err := do(sctx, client, st.base, st.auth, o)
				el := time.Since(t0)
				if sctx.Err() != nil && err != nil {
					mu.Lock()
					res.Unfinished++ // cut by the end of the slice: not a server error
					mu.Unlock()
					return
				}
				mu.Lock()
				res.Requests++
				res.lat = append(res.lat, el)
				switch {
				case err != nil:
					res.Errors++
					res.ErrorKinds["transport"]++
				case status >= 400:
					res.Errors++
					res.ErrorKinds[strconv.Itoa(status)]++
				default:
					res.Resources += o.entries
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Seconds += time.Since(start).Seconds()
}

func do(ctx context.Context, client *http.Client, base, auth string, o op) (int, error) {
	var body io.Reader
	if o.body != nil {
		body = bytes.NewReader(o.body)
	}
	req, err := http.NewRequestWithContext(ctx, o.method, base+o.path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if o.body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Prefer", "return=minimal")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}

// searches is the search mix: generic R4 queries (they match Synthea data)
// and the DCC's own (molecular screening, boards, the circuit).
func (st *state) searches(rng *rand.Rand) string {
	qs := []string{
		"/Observation?code=http://loinc.org|8302-2",
		"/Observation?patient.gender=male&_count=50",
		"/Observation?category=laboratory&_summary=count",
		"/Condition?code=http://hl7.org/fhir/sid/icd-10|C34.1",
		"/Observation?code=http://loinc.org|69548-6&component-value-concept=http://www.genenames.org|HGNC:3236",
		"/Task?business-status=https://dcc.example.fr/fhir/CodeSystem/dcc-cs-circuit-business-status|analysis-in-progress",
		"/Encounter?type=https://dcc.example.fr/fhir/CodeSystem/dcc-cs-encounter-type|tumour-board-meeting&date=ge2024-06-01&_count=20",
		"/DiagnosticReport?code=http://loinc.org|51969-4&_count=20",
		"/ServiceRequest?code=https://dcc.example.fr/fhir/CodeSystem/dcc-cs-molecular-test|NGS-LUNG&_include=ServiceRequest:subject",
	}
	if len(st.names) > 0 {
		qs = append(qs, "/Patient?name="+url.QueryEscape(st.names[rng.IntN(len(st.names))]))
	} else {
		qs = append(qs, "/Patient?name=Martin")
	}
	return qs[rng.IntN(len(qs))]
}

func (st *state) next(scenario string, rng *rand.Rand) op {
	switch scenario {
	case Ingest:
		return st.ingest()
	case Read:
		return op{method: "GET", path: "/" + st.ids[rng.IntN(len(st.ids))]}
	case Search:
		return op{method: "GET", path: st.searches(rng)}
	}
	switch x := rng.IntN(10); {
	case x < 6:
		return op{method: "GET", path: "/" + st.ids[rng.IntN(len(st.ids))]}
	case x < 9:
		return op{method: "GET", path: st.searches(rng)}
	}
	return st.ingest()
}

// The bench's patients: numbers far above any imported region's, cycling
// over a range small enough that their board sessions can be written first.
const (
	benchFirst = 900_000
	benchSpan  = 500
)

// ingest is one patient's transaction Bundle (plain creates, as an EHR
// pushing new data sends them).
func (st *state) ingest() op {
	i := benchFirst + int(st.nextPat.Add(1)-1)%benchSpan
	rs := st.gen.Patient(i)
	return op{method: "POST", path: "", body: generate.TransactionBundle(rs, false), entries: len(rs)}
}

// prepare fetches ids to read (read, mixed) and writes the shared
// organisations, practitioners and boards the generated patients refer to
// (ingest, mixed), unless the server has them already.
func (st *state) prepare(ctx context.Context, client *http.Client, scenario string) error {
	if scenario == Read || scenario == Mixed {
		for _, typ := range []string{"Patient", "Observation", "Condition", "Encounter"} {
			var b struct {
				Entry []struct {
					Resource struct {
						ResourceType string `json:"resourceType"`
						ID           string `json:"id"`
						Name         []struct {
							Family string `json:"family"`
						} `json:"name"`
					} `json:"resource"`
				} `json:"entry"`
			}
			if err := getJSON(ctx, client, st.auth, st.base+"/"+typ+"?_count=500", &b); err != nil {
				return err
			}
			for _, e := range b.Entry {
				st.ids = append(st.ids, e.Resource.ResourceType+"/"+e.Resource.ID)
				for _, n := range e.Resource.Name {
					if n.Family != "" && len(st.names) < 200 {
						st.names = append(st.names, n.Family)
					}
				}
			}
		}
		if len(st.ids) == 0 {
			return errors.New("the server holds no Patient, Observation, Condition or Encounter to read: import data first")
		}
	}
	if scenario == Ingest || scenario == Mixed {
		var probe struct {
			Total int `json:"total"`
		}
		groups := st.gen.SharedGroups()
		probeRole := groups[2][0] // practitioners depend on the seed, organisations do not
		if err := getJSON(ctx, client, st.auth, st.base+"/PractitionerRole?_summary=count&"+strings.Replace(probeRole.Cond, "|", "%7C", 1), &probe); err != nil {
			return err
		}
		// sessions depend on which patients are generated: post them always
		// (conditional creates: cheap when present), the rest only once
		if probe.Total > 0 {
			groups = groups[4:]
		}
		extra := st.sessionsFor(benchFirst, benchFirst+benchSpan)
		groups = append(groups, extra...)
		for _, g := range groups {
			status, err := do(ctx, client, st.base, st.auth, op{method: "POST", body: generate.BatchBundle(g)})
			if err != nil {
				return err
			}
			if status >= 300 {
				return fmt.Errorf("writing the shared resources: status %d", status)
			}
		}
	}
	return nil
}

// sessionsFor returns the board sessions patients [from, to) use, in
// batches.
func (st *state) sessionsFor(from, to int) [][]*generate.Resource {
	rs := st.gen.Sessions(from, to)
	var out [][]*generate.Resource
	for i := 0; i < len(rs); i += 1000 {
		out = append(out, rs[i:min(i+1000, len(rs))])
	}
	return out
}

func getJSON(ctx context.Context, client *http.Client, auth, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 2000))
		return fmt.Errorf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

func (r *Result) finish() {
	if r.Seconds > 0 {
		r.Throughput = round(float64(r.Requests-r.Errors) / r.Seconds)
		r.ResourcesPS = round(float64(r.Resources) / r.Seconds)
	}
	if len(r.lat) == 0 {
		return
	}
	sort.Slice(r.lat, func(i, k int) bool { return r.lat[i] < r.lat[k] })
	pct := func(p float64) float64 {
		i := int(p * float64(len(r.lat)-1))
		return ms(r.lat[i])
	}
	var sum time.Duration
	for _, d := range r.lat {
		sum += d
	}
	r.Latency = Latency{P50: pct(0.5), P90: pct(0.9), P99: pct(0.99), Max: ms(r.lat[len(r.lat)-1]), Mean: ms(sum / time.Duration(len(r.lat)))}
	r.Seconds = round(r.Seconds)
	if len(r.ErrorKinds) == 0 {
		r.ErrorKinds = nil
	}
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds()) / 1000) }
func round(x float64) float64    { return float64(int64(x*1000+0.5)) / 1000 }

// loopback reports whether u names this machine: peak memory is only read
// for a server process here.
func loopback(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// peakRSS is VmHWM of a process, in KiB (0 when unreadable).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// Print writes the report as a table.
func (rep *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "scenario %s, %s per server, %d connections\n", rep.Scenario, time.Duration(rep.Duration*float64(time.Second)), rep.Connections)
	fmt.Fprintf(w, "%-40s %9s %7s %9s %9s %8s %8s %8s %8s %10s\n", "server", "requests", "errors", "req/s", "res/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "peak RSS")
	for _, r := range rep.Results {
		rss := "-"
		if r.PeakRSSKiB > 0 {
			rss = fmt.Sprintf("%d MiB", r.PeakRSSKiB/1024)
		}
		fmt.Fprintf(w, "%-40s %9d %7d %9.1f %9.1f %8.2f %8.2f %8.2f %8.2f %10s\n", r.URL, r.Requests, r.Errors, r.Throughput, r.ResourcesPS,
			r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, rss)
		if len(r.ErrorKinds) > 0 {
			fmt.Fprintf(w, "  errors: %v\n", r.ErrorKinds)
		}
		if r.Unfinished > 0 {
			fmt.Fprintf(w, "  %d requests still running when their time slice ended (slower than the slice)\n", r.Unfinished)
		}
	}
	if rep.Ratios != nil {
		fmt.Fprintf(w, "second / first: throughput ×%.3f, p50 ×%.3f, p90 ×%.3f, p99 ×%.3f", rep.Ratios["throughput"], rep.Ratios["p50"], rep.Ratios["p90"], rep.Ratios["p99"])
		if v, ok := rep.Ratios["peak_rss"]; ok {
			fmt.Fprintf(w, ", peak RSS ×%.3f", v)
		}
		fmt.Fprintln(w)
	}
}
