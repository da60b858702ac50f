package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dccfhir/dccfhir/tools/bench"
)

// runBench is `dccfhir bench`: a bounded load run against one FHIR server,
// or two alternately (--vs) so both are measured under the same conditions.
func runBench(args []string) error {
	fs := newFlagSet("bench", "--server URL [flags]", "a bounded load run against one FHIR server, or two alternately (--vs) under the same conditions.")
	server := fs.String("server", "", "FHIR base URL under test")
	vs := fs.String("vs", "", "a second FHIR base URL, measured in alternating time slices")
	pid := fs.Int("pid", 0, "process id of the --server process, for its peak RSS (loopback servers only)")
	vsPid := fs.Int("vs-pid", 0, "process id of the --vs process")
	d := fs.Duration("duration", 10*time.Second, "measured time per server")
	conns := fs.Int("connections", 4, "concurrent connections")
	scenario := fs.String("scenario", "mixed", "ingest, read, search or mixed")
	maxReq := fs.Int("max-requests", 1_000_000, "request bound per server")
	slice := fs.Duration("slice", time.Second, "with --vs: length of one server's turn")
	seed := fs.Uint64("seed", 1, "seed of the generated patients and of the request mix")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	token := bearerFlag(fs)
	var vsTok string
	vsToken := secretFlag(fs, &vsTok, "vs-token", "DCC_VS_TOKEN", "with --vs: the bearer token sent to the second server (DCC_VS_TOKEN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *server == "" {
		return errors.New("bench: --server URL is required")
	}
	targets := []bench.Target{{URL: *server, PID: *pid, Token: token()}}
	if *vs != "" {
		targets = append(targets, bench.Target{URL: *vs, PID: *vsPid, Token: vsToken()})
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rep, err := bench.Run(ctx, bench.Config{Servers: targets, Scenario: *scenario, Duration: *d, Connections: *conns,
		MaxRequests: *maxReq, Seed: *seed, Slice: *slice})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.Print(os.Stdout)
	return nil
}
