package main

import (
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles"
)

// runValidate is `dccfhir validate [--packages …] [--profile URL] FILE...`:
// the server's validation offline, one report per file, exit status 1 when
// any file has an error.
func runValidate(args []string, stdout io.Writer) (bool, error) {
	fs := newFlagSet("validate", "[flags] FILE...", "validates resources offline (JSON, .gz, .bz2) as the server does: base R4, the claimed and required profiles; exit status 1 when a file has an error.")
	pkgs := fs.String("packages", env("DCC_PACKAGES", ""), "extra FHIR packages, as for serve (DCC_PACKAGES)")
	required := fs.String("required-profiles", env("DCC_REQUIRED_PROFILES", ""), "Type=url,… as for serve (DCC_REQUIRED_PROFILES)")
	profile := fs.String("profile", "", "also validate against this profile URL")
	unknownProfile := unknownProfileFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return false, err
	}
	unknownError, err := unknownProfile()
	if err != nil {
		return false, err
	}
	if fs.NArg() == 0 {
		return false, fmt.Errorf("validate: name at least one file")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	v, err := loadValidator(*pkgs, *required, unknownError, log)
	if err != nil {
		return false, err
	}
	var extra []string
	if *profile != "" {
		extra = []string{*profile}
	}
	ok := true
	for _, name := range fs.Args() {
		issues, err := validateFile(v, name, extra)
		if err != nil {
			ok = false
			fmt.Fprintf(stdout, "%s: error: %v\n", name, err)
			continue
		}
		errs := 0
		for _, is := range issues {
			if is.Severity == "error" || is.Severity == "fatal" {
				errs++
			}
			at := ""
			if len(is.Expression) > 0 {
				at = " at " + strings.Join(is.Expression, ", ")
			}
			fmt.Fprintf(stdout, "%s: %s [%s]%s: %s\n", name, is.Severity, is.Code, at, is.Diagnostics)
		}
		if errs > 0 {
			ok = false
		} else {
			fmt.Fprintf(stdout, "%s: valid (%d warning(s))\n", name, len(issues))
		}
	}
	return ok, nil
}

func validateFile(v *profiles.Validator, name string, extra []string) ([]fhir.Issue, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(name, ".gz"):
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = gz
	case strings.HasSuffix(name, ".bz2"):
		r = bzip2.NewReader(f)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	res, ferr := fhir.Decode(body)
	if ferr != nil {
		return ferr.Issues, nil
	}
	typ, _ := res["resourceType"].(string)
	if !fhir.KnownType(typ) {
		return []fhir.Issue{{Severity: "error", Code: "not-supported", Diagnostics: fmt.Sprintf("unknown resourceType %q", typ), Expression: []string{"resourceType"}}}, nil
	}
	return v.Validate(typ, res, extra...), nil
}
