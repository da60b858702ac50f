package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dccfhir/dccfhir/tools/generate"
	"github.com/dccfhir/dccfhir/tools/importer"
)

// runGenerate is `dccfhir generate`: a synthetic regional cancer network,
// written to a folder or posted straight to a server.
func runGenerate(args []string) error {
	fs := newFlagSet("generate", "--out DIR | --server URL [flags]", "writes (or posts) a synthetic regional cancer network conforming to the DCC profiles; the same seed gives the same data.")
	n := fs.Int("patients", generate.DefaultPatients, "number of patients (the reference region has 27,069)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives byte-identical output")
	out := fs.String("out", "", "output folder")
	server := fs.String("server", "", "FHIR base URL to post to instead of writing files (e.g. http://127.0.0.1:8080/fhir)")
	format := fs.String("format", "bundle", "bundle (0-*.json batch Bundles of shared resources, one transaction Bundle per patient) or ndjson (one file per type)")
	gz := fs.Bool("gzip", false, "gzip the files")
	workers := fs.Int("workers", 4, "with --server: Bundles posted at once")
	token := bearerFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*out == "") == (*server == "") {
		return errors.New("generate: give --out DIR or --server URL")
	}
	if *format != string(generate.FormatBundle) && *format != string(generate.FormatNDJSON) {
		return fmt.Errorf("generate: --format %q: bundle or ndjson", *format)
	}
	g, err := generate.New(generate.Config{Patients: *n, Seed: *seed})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	start := time.Now()
	if *server != "" {
		// the files go to a scratch folder and through the importer, which
		// gives ordering, parallelism, retries and a summary for free
		dir, err := os.MkdirTemp("", "dccfhir-generate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		data := filepath.Join(dir, "region")
		if err := g.WriteDir(ctx, data, generate.WriteOptions{Format: generate.Format(*format), Gzip: true}); err != nil {
			return err
		}
		sum, err := importer.Run(ctx, httpSink(*server, *workers, token()), []string{data},
			importer.Options{Workers: *workers, Journal: filepath.Join(dir, "journal"), Progress: os.Stderr, TTY: isTerminal(os.Stderr)})
		if sum != nil {
			sum.Print(os.Stdout)
		}
		if err != nil {
			return err
		}
		if len(sum.Failures) > 0 {
			return fmt.Errorf("%d failures", len(sum.Failures))
		}
		return nil
	}
	tty := isTerminal(os.Stderr)
	last := time.Now()
	err = g.WriteDir(ctx, *out, generate.WriteOptions{Format: generate.Format(*format), Gzip: *gz, Progress: func(done int) {
		if tty && (time.Since(last) > 200*time.Millisecond || done == *n) {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "\rgenerate: %d/%d patients", done, *n)
		}
	}})
	if tty {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generate: %d patients (seed %d, %s) in %s → %s\n", *n, *seed, *format, time.Since(start).Round(time.Millisecond), *out)
	return nil
}

// isTerminal reports whether f is a terminal (a character device), where a
// redrawn progress bar makes sense; logs get plain lines.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
