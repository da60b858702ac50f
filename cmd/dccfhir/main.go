// Command dccfhir is the FHIR R4 server of the regional cancer network's
// shared record (DCC) and its tools. `dccfhir serve` runs the server.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `dccfhir: FHIR R4 server for the regional cancer network record

usage:
  dccfhir serve [flags]                   run the server (dccfhir serve -h for flags)
  dccfhir validate [flags] FILE...        validate resources offline, as the server does (exit 1 on errors)
  dccfhir package install NAME@VERSION    fetch a FHIR package into the local cache
  dccfhir generate --patients N --seed S --out DIR | --server URL
                                          a synthetic regional cancer network (DCC profiles)
  dccfhir import [--server URL | --storage URI] [--workers N] PATH...
                                          load Bundles, resources or NDJSON (.gz, .bz2), resumable
  dccfhir bench --server URL [--vs URL] [--duration D] [--connections N] [--scenario NAME]
                                          load generator: ingest, read, search, mixed
  dccfhir token [--storage S] [--client ID] [--scope "…"] [--key FILE]
                                          an access token for the server, alone on one line:
                                          curl -H "Authorization: Bearer $(dccfhir token)" …
  dccfhir client add|list|remove          the apps and systems allowed to ask for tokens
  dccfhir user add|disable                professionals' accounts
  dccfhir keys rotate                     a new token-signing key
  dccfhir audit verify|export             check the audit trail's hash chain (exit 1 where it breaks);
                                          export it as NDJSON (--since RFC3339) for archiving
  dccfhir help [COMMAND]                  this text, or a command's flags (as COMMAND -h)
`)
}

// errHelp is what a subcommand returns once it printed the usage asked
// for with -h or --help (on stdout): the command succeeded.
var errHelp = errors.New("help printed")

// errUsage is a command line the flag package refused: it already printed
// why and the usage on stderr; the exit status is 2.
type errUsage struct{ error }

// newFlagSet is a subcommand's flag set whose usage names the command and
// its arguments, then says what it does, then lists the flags.
func newFlagSet(name, synopsis, what string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: dccfhir %s %s\n\n%s\n\nflags:\n", name, synopsis, what)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args. The flag package writes its usage to one output
// whatever the cause; here -h/--help puts it on stdout and ends the command
// with success (errHelp), and a bad flag puts the message and usage on
// stderr (errUsage, exit status 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(nil)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		os.Stdout.Write(out.Bytes())
		return errHelp
	default:
		os.Stderr.Write(out.Bytes())
		return errUsage{err}
	}
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	stop := func() {}
	if path := os.Getenv("DCC_CPUPROFILE"); path != "" {
		// Profiling any command (serve, import...) as it really runs: the
		// profile is written when the command ends.
		var err error
		if stop, err = startCPUProfile(path); err != nil {
			fmt.Fprintln(os.Stderr, "dccfhir:", err)
			os.Exit(1)
		}
	}
	code := run(os.Args[1:])
	stop()
	os.Exit(code)
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("DCC_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("DCC_CPUPROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// run runs the command args[0] names and returns the exit code.
func run(args []string) int {
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:])
	case "validate":
		var ok bool
		if ok, err = runValidate(args[1:], os.Stdout); err == nil && !ok {
			return 1
		}
	case "package":
		err = runPackage(args[1:], os.Stdout)
	case "generate":
		err = runGenerate(args[1:])
	case "import":
		err = runImport(args[1:])
	case "bench":
		err = runBench(args[1:])
	case "token":
		err = runToken(args[1:], os.Stdout)
	case "client":
		err = runClient(args[1:], os.Stdout)
	case "user":
		err = runUser(args[1:], os.Stdout)
	case "keys":
		err = runKeys(args[1:], os.Stdout)
	case "audit":
		err = runAudit(args[1:], os.Stdout)
	case "-h", "-help", "--help":
		usage(os.Stdout)
	case "help":
		if len(args) > 1 && args[1] != "help" { // dccfhir help client add: as dccfhir client add --help
			return run(append(args[1:], "--help"))
		}
		usage(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "dccfhir: unknown command %q\n", args[0])
		usage(os.Stderr)
		return 2
	}
	var ue errUsage
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	fmt.Fprintln(os.Stderr, "dccfhir:", err)
	return 1
}
