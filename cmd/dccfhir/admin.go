package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir"
)

// The administration commands (client, user, keys, token) work on the
// auth records of a storage, the same the server uses: they open it
// beside a running server (SQLite in WAL mode lets a second process write;
// its busy timeout waits out the server's writer), change it, and close
// it, and the server sees the change at its next token check.

// subcommand is one verb of a command group (client add, user disable…).
type subcommand struct {
	name, synopsis string
	run            func(args []string, stdout io.Writer) error
}

// runGroup runs `dccfhir GROUP VERB args…`; GROUP -h lists the verbs on
// stdout, a missing or unknown verb is a usage error (exit 2).
func runGroup(group, what string, subs []subcommand, args []string, stdout io.Writer) error {
	list := func(w io.Writer) {
		fmt.Fprintf(w, "usage: dccfhir %s VERB [flags]\n\n%s\n\nverbs:\n", group, what)
		for _, s := range subs {
			fmt.Fprintf(w, "  dccfhir %s %s %s\n", group, s.name, s.synopsis)
		}
		fmt.Fprintf(w, "\ndccfhir %s VERB -h lists a verb's flags.\n", group)
	}
	if len(args) == 0 {
		fmt.Fprintf(os.Stderr, "dccfhir %s: no verb given\n", group)
		list(os.Stderr)
		return errUsage{fmt.Errorf("%s: no verb given", group)}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		list(stdout)
		return errHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(args[1:], stdout)
		}
	}
	fmt.Fprintf(os.Stderr, "dccfhir %s: unknown verb %q\n", group, args[0])
	list(os.Stderr)
	return errUsage{fmt.Errorf("%s: unknown verb %q", group, args[0])}
}

// storageFlag is --storage as serve reads it.
func storageFlag(fs *flag.FlagSet) *string {
	return fs.String("storage", env("DCC_STORAGE", defaultStorage), "the server's storage: sqlite:PATH or a mongodb:// URI (DCC_STORAGE); the server may be running")
}

// openRegistry opens the auth records of a storage the server has
// already started on (a SQLite file that does not exist is refused rather
// than created: a client registered in a new, empty store would keep the
// first start from creating the administrator).
//
// The command's work gets a minute (ctx); done closes the store and ends it.
func openRegistry(storage string) (ctx context.Context, reg *auth.Registry, done func(), err error) {
	if path, ok := app.SQLitePath(storage); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("no database at %s: start `dccfhir serve --storage %s` once first, or name the server's storage with --storage", path, storage)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	st, err := app.OpenStore(ctx, storage)
	if err != nil {
		cancel()
		return nil, nil, nil, fmt.Errorf("open storage: %w", err)
	}
	return ctx, &auth.Registry{Store: st}, func() { st.Close(); cancel() }, nil
}

// listFlag is a repeatable string flag (--redirect-uri, --role).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// reference checks a literal reference Type/id.
func reference(flagName, typ, v string) error {
	id, ok := strings.CutPrefix(v, typ+"/")
	if !ok || !fhir.ValidID(id) {
		return fmt.Errorf("--%s %q: want %s/ID", flagName, v, typ)
	}
	return nil
}
