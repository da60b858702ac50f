package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/store"
)

// runAudit is `dccfhir audit verify|export`: the audit trail's checks and archive.
func runAudit(args []string, stdout io.Writer) error {
	return runGroup("audit", "checks the audit trail's hash chain and exports it for archiving; works while the server runs.", []subcommand{
		{"verify", "[--storage S]", auditVerify},
		{"export", "[--storage S] [--since RFC3339] [--format ndjson]", auditExport},
	}, args, stdout)
}

// openAudit opens a storage the server already started on, for as long as
// the walk takes (until interrupted).
func openAudit(storage string) (context.Context, store.Store, func(), error) {
	if path, ok := app.SQLitePath(storage); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("no database at %s: name the server's storage with --storage", path)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	st, err := app.OpenStore(ctx, storage)
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("open storage: %w", err)
	}
	return ctx, st, func() { st.Close(); stop() }, nil
}

func auditVerify(args []string, stdout io.Writer) error {
	fs := newFlagSet("audit verify", "[--storage S]",
		"walks the AuditEvents' hash chain from the oldest kept event and prints \"ok N events\", or names the AuditEvent where the chain breaks (altered, deleted, rewritten) and exits with status 1.")
	storage := storageFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit verify: unexpected argument %q", fs.Arg(0))
	}
	ctx, st, done, err := openAudit(*storage)
	if err != nil {
		return err
	}
	defer done()
	rep, err := audit.Verify(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok %d events", rep.Events)
	if rep.Events > 0 {
		fmt.Fprintf(stdout, " (AuditEvent/%s to AuditEvent/%s, head hash %s", rep.First, rep.Last, rep.Head)
		if rep.Purged > 0 {
			fmt.Fprintf(stdout, "; %d purged before them", rep.Purged)
		}
		fmt.Fprint(stdout, ")")
	}
	fmt.Fprintln(stdout)
	return nil
}

func auditExport(args []string, stdout io.Writer) error {
	fs := newFlagSet("audit export", "[--storage S] [--since RFC3339] [--format ndjson]",
		"writes the AuditEvents stored since --since (meta.lastUpdated; default: all) to stdout, one JSON resource a line, in chain order, as stored (with their chain extension).")
	storage := storageFlag(fs)
	since := fs.String("since", "", "the earliest time, RFC 3339 (2026-01-31T00:00:00Z); default: the first event")
	format := fs.String("format", "ndjson", "the output format: ndjson")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit export: unexpected argument %q", fs.Arg(0))
	}
	if *format != "ndjson" {
		return fmt.Errorf("audit export: --format %q: only ndjson", *format)
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = time.Parse(time.RFC3339, *since); err != nil {
			return fmt.Errorf("audit export: --since %q: want RFC 3339 (2026-01-31T00:00:00Z)", *since)
		}
	}
	ctx, st, done, err := openAudit(*storage)
	if err != nil {
		return err
	}
	defer done()
	out := bufio.NewWriterSize(stdout, 1<<16)
	n, err := audit.Export(ctx, st, from, out)
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d AuditEvents exported\n", n)
	return nil
}
