package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/tools/importer"
)

// runImport is `dccfhir import`: Bundles, resources and NDJSON files (plain,
// .gz, .bz2) into a server over HTTP or straight into a storage engine,
// resumable through a journal.
func runImport(args []string) error {
	fs := newFlagSet("import", "[--server URL | --storage URI] [flags] PATH...", "loads Bundles, resources and NDJSON files (plain, .gz, .bz2) and folders of them; files named 0-* first. Resumable: a re-run skips what the journal holds.")
	server := fs.String("server", "", "FHIR base URL (e.g. http://127.0.0.1:8080/fhir)")
	storage := fs.String("storage", "", "write straight into a storage engine: sqlite:PATH or a mongodb:// URI (no server must be using it)")
	workers := fs.Int("workers", 4, "files read and units written at once")
	journal := fs.String("journal", "", "journal of completed files and line ranges (default <first path>.import-journal); a re-run skips them")
	batch := fs.Int("batch", 500, "NDJSON lines per batch Bundle")
	noDedup := fs.Bool("no-dedup", false, "send POST entries as they are instead of conditional creates on their identifier (faster; a re-run may duplicate)")
	token := bearerFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*server == "") == (*storage == "") {
		return errors.New("import: give --server URL or --storage URI")
	}
	if fs.NArg() == 0 {
		return errors.New("import: no PATH given")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var sink importer.Sink
	if *server != "" {
		sink = httpSink(*server, *workers, token())
	} else {
		// the same assembly as serve, so a direct import validates as the
		// server would
		a, err := app.New(ctx, app.Config{Storage: *storage, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return err
		}
		defer a.Close()
		sink = importer.ServiceSink{Svc: a.Service}
	}
	sum, err := importer.Run(ctx, sink, fs.Args(), importer.Options{
		Workers: *workers, Journal: *journal, BatchSize: *batch, NoDedup: *noDedup,
		Progress: os.Stderr, TTY: isTerminal(os.Stderr),
	})
	if sum != nil {
		sum.Print(os.Stdout)
	}
	if err != nil {
		return err
	}
	if len(sum.Failures) > 0 {
		return fmt.Errorf("import: %d failures", len(sum.Failures))
	}
	return nil
}
