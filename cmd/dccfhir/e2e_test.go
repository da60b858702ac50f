package main

// End-to-end tests of the dccfhir binary: built once in TestMain, run as a
// child process on an embedded SQLite database, killed with SIGKILL or
// stopped with SIGTERM.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	// binPath is the dccfhir binary TestMain built.
	binPath string
	// buildErr is why it could not be built (the e2e tests then fail with it).
	buildErr error
)

// TestMain builds the dccfhir binary once for the tests, then runs them.
// Under -short it builds nothing: the binary tests skip (launch).
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "dccfhir-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "dccfhir")
	cmd := exec.Command("go", "build", "-o", binPath, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuf is a goroutine-safe buffer for the child's stderr.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running dccfhir child process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	base   string // FHIR base URL
	stderr *syncBuf
	// storage is its --storage, when the test set it (launchDefault).
	storage string
	done    chan struct{} // closed when the process exited
	err     error         // its exit status, once done
}

// freeAddr returns a loopback address nobody listens on (at the moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// childEnv is the test's environment without any DCC_ variable, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DCC_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// launch starts `dccfhir serve args...` with env and waits until /readyz
// answers 200 on addr (a bounded wait). The process is killed at the end of
// the test if still running.
func launch(t *testing.T, addr string, env []string, args ...string) *server {
	t.Helper()
	return launchAt(t, addr, "http://"+addr, &http.Client{Timeout: 2 * time.Second}, env, args...)
}

// launchAt is launch for a server reached at origin (http:// or https://)
// with client.
func launchAt(t *testing.T, addr, origin string, client *http.Client, env []string, args ...string) *server {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the dccfhir binary (-short)")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	s := &server{t: t, addr: addr, base: origin + "/fhir", stderr: &syncBuf{}, done: make(chan struct{})}
	s.cmd = exec.Command(binPath, append([]string{"serve"}, args...)...)
	s.cmd.Env = env
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("server %s output:\n%s", addr, tail(s.stderr.String(), 4000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("dccfhir exited before it was ready (%v):\n%s", s.err, tail(s.stderr.String(), 4000))
		default:
		}
		res, err := client.Get(origin + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dccfhir not ready on %s after 20s (last: %v):\n%s", addr, err, tail(s.stderr.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits (bounded) for the process to exit and returns its exit error.
func (s *server) wait(d time.Duration) error {
	s.t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(d):
		s.t.Fatalf("dccfhir still running %v after the signal:\n%s", d, tail(s.stderr.String(), 4000))
		return nil
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// reply is a decoded response.
type reply struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// call sends a request (body marshalled unless nil) and returns the reply,
// or the transport error.
func call(method, url string, body any, hdr ...string) (*reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	r := &reply{status: res.StatusCode, header: res.Header, body: b}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &r.json)
	}
	return r, nil
}

// must is call for requests that must get an answer.
func must(t *testing.T, method, url string, body any, hdr ...string) *reply {
	t.Helper()
	r, err := call(method, url, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return ""
			}
			v = x[i]
		default:
			return ""
		}
	}
	s, _ := v.(string)
	return s
}

func patientBody(id, family string) map[string]any {
	p := map[string]any{
		"resourceType": "Patient",
		"identifier":   []any{map[string]any{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": family}},
		"name":         []any{map[string]any{"family": family, "given": []any{"Hélène"}}},
		"gender":       "female",
		"birthDate":    "1970-03-04",
	}
	if id != "" {
		p["id"] = id
	}
	return p
}

// txSystem and txSize: the transaction writer's Bundles hold txSize
// Patients with a txSystem identifier naming the Bundle.
const (
	txSystem = "urn:dcc:e2e-tx"
	txSize   = 20
)

// txBundle is a transaction Bundle of txSize Patients marked with marker.
func txBundle(marker string) map[string]any {
	entries := make([]any, txSize)
	for i := range entries {
		p := patientBody("", fmt.Sprintf("%s-%d", marker, i))
		p["identifier"] = append(p["identifier"].([]any), map[string]any{"system": txSystem, "value": marker})
		entries[i] = map[string]any{"resource": p, "request": map[string]any{"method": "POST", "url": "Patient"}}
	}
	return map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}
}

// ack is a write the server acknowledged.
type ack struct {
	id, version, family string
}

// TestKill9Durability streams creates and updates of Patients, kills the
// server with SIGKILL mid-stream, restarts it on the same database and
// checks every acknowledged write is there, and that the store takes writes.
func TestKill9Durability(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	storage := "sqlite:" + filepath.Join(dir, "db")
	args := []string{"--listen", addr, "--storage", storage, "--log-level", "warn", "--auth", "off"}
	s := launch(t, addr, childEnv(), args...)

	const writers = 4
	var (
		mu      sync.Mutex
		acks    []ack
		bad     []string // acknowledged responses that are wrong (not transport errors)
		stopped = make(chan struct{})
		wg      sync.WaitGroup
	)
	record := func(a ack) { mu.Lock(); acks = append(acks, a); mu.Unlock() }
	fail := func(format string, args ...any) {
		mu.Lock()
		bad = append(bad, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine []string // ids this writer created
			for seq := 0; ; seq++ {
				select {
				case <-stopped:
					return
				default:
				}
				family := fmt.Sprintf("w%d-s%d", w, seq)
				var r *reply
				var err error
				update := len(mine) > 0 && seq%3 != 0
				if update {
					id := mine[seq%len(mine)]
					r, err = call("PUT", s.base+"/Patient/"+id, patientBody(id, family))
				} else {
					r, err = call("POST", s.base+"/Patient", patientBody("", family))
				}
				if err != nil { // the server is gone: this write is not acknowledged
					return
				}
				want := 201
				if update {
					want = 200
				}
				id, vid := str(r.json, "id"), str(r.json, "meta", "versionId")
				if r.status != want || id == "" || vid == "" || str(r.json, "name", "0", "family") != family {
					fail("write %s: status %d (want %d): %s", family, r.status, want, r.body)
					return
				}
				if et := r.header.Get("ETag"); et != `W/"`+vid+`"` {
					fail("write %s: ETag %q but meta.versionId %q", family, et, vid)
				}
				if !update {
					mine = append(mine, id)
				}
				record(ack{id: id, version: vid, family: family})
			}
		}(w)
	}
	// one more writer sends transaction Bundles of txSize Patients sharing a
	// marker identifier: after the kill each is all there or not at all
	var txSent, txAcked []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := 0; ; seq++ {
			select {
			case <-stopped:
				return
			default:
			}
			marker := fmt.Sprintf("tx%d", seq)
			mu.Lock()
			txSent = append(txSent, marker)
			mu.Unlock()
			r, err := call("POST", s.base, txBundle(marker))
			if err != nil {
				return
			}
			if r.status != 200 {
				fail("transaction %s: status %d: %s", marker, r.status, tail(string(r.body), 500))
				return
			}
			mu.Lock()
			txAcked = append(txAcked, marker)
			mu.Unlock()
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := s.wait(10 * time.Second)
	close(stopped)
	wg.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the server did not die of SIGKILL: %v", err)
	}
	if len(bad) > 0 {
		t.Fatalf("%d wrong answers before the kill, first: %s", len(bad), bad[0])
	}
	if len(acks) < 50 {
		t.Fatalf("only %d acknowledged writes in 1.5s: too few to test durability", len(acks))
	}
	t.Logf("%d acknowledged writes before SIGKILL", len(acks))

	s = launch(t, addr, childEnv(), args...)
	latest := map[string]ack{} // id → highest acknowledged version
	versionNum := func(v string) (n int) { fmt.Sscan(v, &n); return n }
	missing := 0
	for _, a := range acks {
		r := must(t, "GET", s.base+"/Patient/"+a.id+"/_history/"+a.version, nil)
		if r.status != 200 || str(r.json, "meta", "versionId") != a.version || str(r.json, "name", "0", "family") != a.family {
			if missing++; missing <= 10 {
				t.Errorf("acknowledged write lost: vread Patient/%s/_history/%s want family %s: status %d %s", a.id, a.version, a.family, r.status, tail(string(r.body), 300))
			}
		}
		if l, ok := latest[a.id]; !ok || versionNum(a.version) > versionNum(l.version) {
			latest[a.id] = a
		}
	}
	for id, a := range latest {
		r := must(t, "GET", s.base+"/Patient/"+id, nil)
		if r.status != 200 {
			t.Errorf("read Patient/%s after restart: status %d %s", id, r.status, tail(string(r.body), 300))
			continue
		}
		got := versionNum(str(r.json, "meta", "versionId"))
		switch {
		case got < versionNum(a.version):
			t.Errorf("read Patient/%s after restart: version %d, but version %s was acknowledged", id, got, a.version)
		case got == versionNum(a.version) && str(r.json, "name", "0", "family") != a.family:
			t.Errorf("read Patient/%s after restart: family %q, acknowledged %q", id, str(r.json, "name", "0", "family"), a.family)
		case got > versionNum(a.version)+1: // at most the one in-flight, unacknowledged update may have landed
			t.Errorf("read Patient/%s after restart: version %d, acknowledged only up to %s", id, got, a.version)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(acks))
	}
	t.Logf("all %d acknowledged writes (%d patients) found after restart", len(acks), len(latest))

	acked := map[string]bool{}
	for _, m := range txAcked {
		acked[m] = true
	}
	for _, m := range txSent {
		r := must(t, "GET", s.base+"/Patient?_summary=count&identifier="+txSystem+"|"+m, nil)
		total, ok := r.json["total"].(float64)
		if r.status != 200 || !ok {
			t.Fatalf("count of transaction %s: %d %s", m, r.status, r.body)
		}
		switch {
		case acked[m] && int(total) != txSize:
			t.Errorf("acknowledged transaction %s: %v of its %d Patients after restart", m, total, txSize)
		case !acked[m] && total != 0 && int(total) != txSize:
			t.Errorf("transaction %s in flight at the kill: %v of its %d Patients after restart (not atomic)", m, total, txSize)
		}
	}
	if len(txAcked) == 0 {
		t.Errorf("no transaction Bundle acknowledged before the kill")
	}
	t.Logf("%d transaction Bundles acknowledged, %d sent: all atomic after restart", len(txAcked), len(txSent))

	// the store opened cleanly: it takes writes, and an update continues the history
	r := must(t, "POST", s.base+"/Patient", patientBody("", "after-restart"))
	if r.status != 201 {
		t.Fatalf("create after restart: %d %s", r.status, r.body)
	}
	for id := range latest {
		cur := must(t, "GET", s.base+"/Patient/"+id, nil)
		vid := versionNum(str(cur.json, "meta", "versionId"))
		r := must(t, "PUT", s.base+"/Patient/"+id, patientBody(id, "after-restart-update"))
		if r.status != 200 || versionNum(str(r.json, "meta", "versionId")) != vid+1 {
			t.Fatalf("update after restart: status %d, want 200 with version %d: %s", r.status, vid+1, r.body)
		}
		break
	}
	// a clean stop after the restart
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// largeTransaction is a transaction Bundle of n Observations about one new
// Patient (urn:uuid references).
func largeTransaction(n int) []byte {
	pat := "urn:uuid:5e0c2a7b-3f4d-4c1e-9a8b-000000000001"
	entries := []any{map[string]any{
		"fullUrl":  pat,
		"resource": patientBody("", "graceful"),
		"request":  map[string]any{"method": "POST", "url": "Patient"},
	}}
	for i := 0; i < n; i++ {
		entries = append(entries, map[string]any{
			"fullUrl": fmt.Sprintf("urn:uuid:5e0c2a7b-3f4d-4c1e-9a8b-%012d", i+2),
			"resource": map[string]any{
				"resourceType": "Observation", "status": "final",
				"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8867-4"}}, "text": "Heart rate"},
				"subject":           map[string]any{"reference": pat},
				"effectiveDateTime": fmt.Sprintf("2024-01-01T%02d:%02d:00Z", (i/60)%24, i%60),
				"valueQuantity":     map[string]any{"value": 60 + i%40, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
			},
			"request": map[string]any{"method": "POST", "url": "Observation"},
		})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	return b
}

// TestGracefulShutdown sends SIGTERM while a large transaction Bundle is in
// flight (its body still being uploaded): the request completes with 200,
// new connections are refused, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	args := []string{"--listen", addr, "--storage", "sqlite:" + filepath.Join(dir, "db"), "--log-level", "warn", "--auth", "off"}
	s := launch(t, addr, childEnv(), args...)

	const n = 3000
	body := largeTransaction(n)
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", s.base, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		done <- result{status: res.StatusCode, body: b, err: err}
	}()
	// the request is in flight: headers and half the body are on the wire
	half := len(body) / 2
	if _, err := pw.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// the listener closes: new connections are refused while the request runs
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Errorf("still accepting connections 5s after SIGTERM")
	}
	select {
	case <-s.done:
		t.Fatalf("the server exited (%v) with a request in flight", s.err)
	default:
	}
	if _, err := pw.Write(body[half:]); err != nil {
		t.Fatalf("uploading the rest of the body after SIGTERM: %v", err)
	}
	pw.Close()
	var res result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the in-flight transaction got no answer within 2 minutes")
	}
	if res.err != nil {
		t.Fatalf("in-flight transaction after SIGTERM: %v", res.err)
	}
	if res.status != 200 {
		t.Fatalf("in-flight transaction after SIGTERM: status %d: %s", res.status, tail(string(res.body), 1000))
	}
	var rb struct {
		Type  string `json:"type"`
		Entry []struct {
			Response struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(res.body, &rb); err != nil {
		t.Fatalf("transaction response: %v", err)
	}
	if rb.Type != "transaction-response" || len(rb.Entry) != n+1 {
		t.Fatalf("transaction response: type %q with %d entries, want transaction-response with %d", rb.Type, len(rb.Entry), n+1)
	}
	for i, e := range rb.Entry {
		if !strings.HasPrefix(e.Response.Status, "201") {
			t.Fatalf("entry %d: status %q, want 201", i, e.Response.Status)
		}
	}
	if err := s.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want 0\n%s", err, tail(s.stderr.String(), 2000))
	}

	// what the in-flight transaction wrote is stored
	s = launch(t, addr, childEnv(), args...)
	r := must(t, "GET", s.base+"/Observation?_summary=count", nil)
	if r.status != 200 {
		t.Fatalf("count after restart: %d %s", r.status, r.body)
	}
	if total, _ := r.json["total"].(float64); int(total) != n {
		t.Fatalf("after restart: %v Observations, want %d: %s", r.json["total"], n, r.body)
	}
}

// TestListenEnv checks DCC_LISTEN is used when --listen is absent (and the
// default base URL follows it), and that the flag wins over it; and that
// DCC_AUTH=off turns protection off as --auth off does.
func TestListenEnv(t *testing.T) {
	dir := t.TempDir()
	envAddr := freeAddr(t)
	s := launch(t, envAddr, childEnv("DCC_LISTEN="+envAddr, "DCC_STORAGE=sqlite:"+filepath.Join(dir, "env.db"), "DCC_LOG_LEVEL=warn", "DCC_AUTH=off"))
	r := must(t, "POST", s.base+"/Patient", patientBody("", "env"))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "http://"+envAddr+"/fhir/Patient/") {
		t.Errorf("Location %q: the default base URL does not follow DCC_LISTEN %s", loc, envAddr)
	}
	if _, err := os.Stat(filepath.Join(dir, "env.db")); err != nil {
		t.Errorf("DCC_STORAGE not used: %v", err)
	}
	// the default soft memory limit is in force (the runtime reports it)
	if m := must(t, "GET", "http://"+envAddr+"/metrics", ""); !strings.Contains(string(m.body), "go_gc_gomemlimit_bytes 2.01326592e+08") {
		t.Errorf("the default --memory-limit (192MiB) is not applied")
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}

	flagAddr := freeAddr(t)
	otherAddr := freeAddr(t)
	s = launch(t, flagAddr, childEnv("DCC_LISTEN="+otherAddr, "DCC_LOG_LEVEL=warn"),
		"--listen", flagAddr, "--storage", "sqlite:"+filepath.Join(dir, "flag.db"))
	if c, err := net.DialTimeout("tcp", otherAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("listening on DCC_LISTEN %s although --listen %s was given", otherAddr, flagAddr)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
