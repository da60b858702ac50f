package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/dccfhir/dccfhir/app"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/store/sqlite"
	"github.com/dccfhir/dccfhir/tools/generate"
	"github.com/dccfhir/dccfhir/tools/importer"
)

// server starts an in-process dccfhir on SQLite holding a small region.
func server(t *testing.T, patients int) string {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/fhir"
	a, err := app.New(context.Background(), app.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTP: handlers.Config{BaseURL: base}})
	if err != nil {
		t.Fatal(err)
	}
	svc := a.Service
	srv.Config.Handler = a.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	g, _ := generate.New(generate.Config{Patients: patients, Seed: 5})
	dir := filepath.Join(t.TempDir(), "r")
	if err := g.WriteDir(context.Background(), dir, generate.WriteOptions{Format: generate.FormatBundle}); err != nil {
		t.Fatal(err)
	}
	sum, err := importer.Run(context.Background(), importer.ServiceSink{Svc: svc}, []string{dir}, importer.Options{Workers: 2, Journal: filepath.Join(t.TempDir(), "j")})
	if err != nil || len(sum.Failures) > 0 {
		t.Fatalf("import: %v %v", err, sum.Failures)
	}
	return base
}

func TestBench(t *testing.T) {
	a := server(t, 10)
	for _, sc := range []string{Read, Search} {
		rep, err := Run(context.Background(), Config{Servers: []Target{{URL: a, PID: os.Getpid()}}, Scenario: sc, Duration: time.Second, Connections: 2, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		r := rep.Results[0]
		if r.Requests == 0 || r.Errors > 0 || r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.PeakRSSKiB <= 0 {
			t.Errorf("%s: %+v", sc, r)
		}
		if r.Seconds < 0.9 || r.Seconds > 3 {
			t.Errorf("%s ran %.2f s for a 1 s budget", sc, r.Seconds)
		}
	}
}

// TestBenchVs runs the mixed scenario (reads, searches and transaction
// ingest) against two servers in alternating slices and checks the JSON.
func TestBenchVs(t *testing.T) {
	a, b := server(t, 5), server(t, 5)
	rep, err := Run(context.Background(), Config{Servers: []Target{{URL: a}, {URL: b}}, Scenario: Mixed, Duration: time.Second,
		Slice: 250 * time.Millisecond, Connections: 2, MaxRequests: 5000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(rep); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Scenario string
		Results  []struct {
			URL        string
			Requests   int
			Errors     int
			Throughput float64 `json:"throughput_rps"`
			Resources  int
			Latency    map[string]float64 `json:"latency_ms"`
		}
		Ratios map[string]float64
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Scenario != Mixed || len(back.Results) != 2 || back.Ratios["throughput"] <= 0 {
		t.Fatalf("report: %s", buf.String())
	}
	for _, r := range back.Results {
		if r.Requests == 0 || r.Errors > 0 || r.Throughput <= 0 || r.Resources == 0 || r.Latency["p99"] < r.Latency["p50"] {
			t.Errorf("result: %+v", r)
		}
	}
	var table strings.Builder
	rep.Print(&table)
	t.Log("\n" + table.String())
}
