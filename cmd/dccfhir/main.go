// Command dccfhir is the FHIR R4 server of the regional cancer network's
// shared record (DCC) and its tools. `dccfhir serve` runs the server.
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprint(os.Stderr, `dccfhir: FHIR R4 server for the regional cancer network record

usage:
  dccfhir serve [flags]     run the server (dccfhir serve -h for flags)
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "dccfhir: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dccfhir:", err)
		os.Exit(1)
	}
}
