package main

import (
	"bytes"
	"errors"
	"os"
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
	if testing.Short() {
		t.Skip("runs the built binary, which TestMain builds only without -short")
	}
	for _, c := range []struct {
		cmd  []string // the command, before -h / --help / the bad flag
		want string   // a flag (or command) its usage lists
	}{
		{[]string{"serve"}, "-unknown-profile mode"},
		{[]string{"validate"}, "-profile"},
		{[]string{"package"}, "-registry"},
		{[]string{"package", "install"}, "-registry"},
		{[]string{"generate"}, "-patients"},
		{[]string{"import"}, "-journal"},
		{[]string{"bench"}, "-scenario"},
		{[]string{"token"}, "-key"},
		{[]string{"client"}, "client add"},
		{[]string{"client", "add"}, "-jwks-file"},
		{[]string{"client", "list"}, "-storage"},
		{[]string{"client", "remove"}, "-storage"},
		{[]string{"user"}, "user disable"},
		{[]string{"user", "add"}, "-password-file"},
		{[]string{"user", "disable"}, "-storage"},
		{[]string{"keys"}, "keys rotate"},
		{[]string{"keys", "rotate"}, "-storage"},
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
		if len(c.cmd) == 1 && (c.cmd[0] == "package" || c.cmd[0] == "client" || c.cmd[0] == "user" || c.cmd[0] == "keys") {
			continue // no flags before the verb
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
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "dccfhir serve [flags]"}, {[]string{"-h"}, "dccfhir token"}, {[]string{"help"}, "dccfhir client add|list|remove"},
		{[]string{"help", "serve"}, "-unknown-profile mode"}, {[]string{"help", "client", "add"}, "-redirect-uri"},
	} {
		args, want := c.args, c.want
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runBinary(t, args...)
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
	t.Run("bad flag value", func(t *testing.T) {
		_, errOut, code := runBinary(t, "serve", "--unknown-profile", "maybe")
		if code != 2 || !strings.Contains(errOut, `"maybe": want warning or error`) {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestUnknownProfileFlag: --unknown-profile, its old boolean alias and
// their environment variables, in order of precedence.
func TestUnknownProfileFlag(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		env       map[string]string
		wantError bool
	}{
		{"default", nil, nil, false},
		{"flag error", []string{"--unknown-profile", "error"}, nil, true},
		{"flag warning", []string{"--unknown-profile=warning"}, map[string]string{"DCC_UNKNOWN_PROFILE": "error"}, false},
		{"env error", nil, map[string]string{"DCC_UNKNOWN_PROFILE": "error"}, true},
		{"old flag", []string{"--unknown-profile-warning"}, map[string]string{"DCC_UNKNOWN_PROFILE": "error"}, false},
		{"old flag false", []string{"--unknown-profile-warning=false"}, nil, true},
		{"old env false", nil, map[string]string{"DCC_UNKNOWN_PROFILE_WARNING": "false"}, true},
		{"old env true", nil, map[string]string{"DCC_UNKNOWN_PROFILE_WARNING": "true"}, false},
		{"new env wins over old", nil, map[string]string{"DCC_UNKNOWN_PROFILE": "warning", "DCC_UNKNOWN_PROFILE_WARNING": "false"}, false},
		{"last flag wins", []string{"--unknown-profile-warning", "--unknown-profile", "error"}, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"DCC_UNKNOWN_PROFILE", "DCC_UNKNOWN_PROFILE_WARNING"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := parseServe(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.unknownProfileError != c.wantError {
				t.Errorf("unknown profile is an error: %v, want %v", cfg.unknownProfileError, c.wantError)
			}
		})
	}
	t.Setenv("DCC_UNKNOWN_PROFILE", "strict")
	if _, err := parseServe(nil); err == nil || !strings.Contains(err.Error(), "DCC_UNKNOWN_PROFILE") {
		t.Errorf("DCC_UNKNOWN_PROFILE=strict: %v", err)
	}
}
