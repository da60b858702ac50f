package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// runBinary runs the built dccfhir with args and returns its stdout,
// stderr and exit status.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	cmd := exec.Command(binPath, args...)
	cmd.Env = childEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("dccfhir %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestHelp: asking for help prints the usage on stdout and succeeds, for
// the program and every subcommand; a bad flag prints the usage on stderr
// and exits 2.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		cmd  []string // the command, before -h / --help / the bad flag
		want string   // a flag (or command) its usage lists
	}{
		{[]string{"serve"}, "-storage"},
		{[]string{"validate"}, "-profile"},
		{[]string{"package"}, "-registry"},
		{[]string{"package", "install"}, "-registry"},
		{[]string{"generate"}, "-patients"},
		{[]string{"import"}, "-journal"},
		{[]string{"bench"}, "-scenario"},
	} {
		name := strings.Join(c.cmd, " ")
		for _, h := range []string{"-h", "--help"} {
			t.Run(name+" "+h, func(t *testing.T) {
				out, errOut, code := runBinary(t, append(c.cmd, h)...)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				if !strings.HasPrefix(out, "usage: dccfhir "+c.cmd[0]) || !strings.Contains(out, c.want) {
					t.Fatalf("stdout does not show the usage with %s:\n%s", c.want, out)
				}
			})
		}
		if c.cmd[0] == "package" && len(c.cmd) == 1 {
			continue // no flags before the install subcommand
		}
		t.Run(name+" bad flag", func(t *testing.T) {
			out, errOut, code := runBinary(t, append(c.cmd, "--no-such-flag")...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d (want 2), stdout %q", code, out)
			}
			if !strings.Contains(errOut, "flag provided but not defined: -no-such-flag") || !strings.Contains(errOut, c.want) {
				t.Fatalf("stderr does not say what was wrong and show the usage:\n%s", errOut)
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "serve"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runBinary(t, args...)
			want := "dccfhir serve [flags]"
			if len(args) == 2 {
				want = "-storage"
			}
			if code != 0 || errOut != "" || !strings.Contains(out, want) {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
			}
		})
	}
	t.Run("unknown command", func(t *testing.T) {
		out, errOut, code := runBinary(t, "serv")
		if code != 2 || out != "" || !strings.Contains(errOut, `unknown command "serv"`) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}
