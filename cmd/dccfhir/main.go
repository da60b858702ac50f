// Command dccfhir is the FHIR R4 server of the regional cancer network's
// shared record (DCC) and its tools. `dccfhir serve` runs the server.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func usage() {
	fmt.Fprint(os.Stderr, `dccfhir: FHIR R4 server for the regional cancer network record

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
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
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
	code := run()
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

// run runs the command named by os.Args[1] and returns the exit code.
func run() int {
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "validate":
		var ok bool
		if ok, err = runValidate(os.Args[2:], os.Stdout); err == nil && !ok {
			return 1
		}
	case "package":
		err = runPackage(os.Args[2:], os.Stdout)
	case "generate":
		err = runGenerate(os.Args[2:])
	case "import":
		err = runImport(os.Args[2:])
	case "bench":
		err = runBench(os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "dccfhir: unknown command %q\n", os.Args[1])
		usage()
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dccfhir:", err)
		return 1
	}
	return 0
}
