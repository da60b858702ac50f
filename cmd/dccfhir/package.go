package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/profiles/packages"
)

// runPackage is `dccfhir package install NAME@VERSION…`: fetch FHIR packages
// from an npm-compatible registry (the FHIR community registry is one)
// into the local package cache, where --packages NAME@VERSION finds them.
func runPackage(args []string, stdout io.Writer) error {
	fs := newFlagSet("package install", "[--registry URL] [--cache DIR] NAME@VERSION...", "fetches FHIR packages from an npm-compatible registry into the package cache, where --packages NAME@VERSION finds them.")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		args = []string{"install", "--help"} // dccfhir package --help: the one subcommand's usage
	}
	if len(args) == 0 || args[0] != "install" {
		return fmt.Errorf("usage: dccfhir package install [--registry URL] [--cache DIR] NAME@VERSION [NAME@VERSION ...]")
	}
	registry := fs.String("registry", env("DCC_PACKAGE_REGISTRY", "https://packages.fhir.org"), "npm-compatible registry URL (DCC_PACKAGE_REGISTRY)")
	cache := fs.String("cache", packages.CacheDir(), "package cache directory (DCC_PACKAGE_CACHE)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("package install: name a package as NAME@VERSION")
	}
	for _, spec := range fs.Args() {
		name, version, ok := strings.Cut(spec, "@")
		if !ok || name == "" || version == "" {
			return fmt.Errorf("package install: %q is not NAME@VERSION", spec)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		dir, err := packages.Install(ctx, *registry, name, version, *cache)
		cancel()
		if err != nil {
			return fmt.Errorf("install %s: %w", spec, err)
		}
		fmt.Fprintf(stdout, "installed %s into %s\n", spec, dir)
	}
	return nil
}
