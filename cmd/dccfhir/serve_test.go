package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"192MiB", 192 << 20, true},
		{"1GiB", 1 << 30, true},
		{"512KiB", 512 << 10, true},
		{"500MB", 500e6, true},
		{"2GB", 2e9, true},
		{"1000B", 1000, true},
		{"1048576", 1 << 20, true},
		{" 64 MiB ", 64 << 20, true},
		{"0", 0, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1MiB", 0, false},
		{"1.5GiB", 0, false},
		{"12TB", 0, false},
		{"99999999999GiB", 0, false},
	} {
		got, err := parseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

// TestMemoryLimitPrecedence: the flag, then DCC_MEMORY_LIMIT, then an
// operator's GOMEMLIMIT, then the default.
func TestMemoryLimitPrecedence(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		env       map[string]string
		want      int64
		wantApply bool
	}{
		{"default", nil, nil, 192 << 20, true},
		{"GOMEMLIMIT wins over the default", nil, map[string]string{"GOMEMLIMIT": "1GiB"}, 192 << 20, false},
		{"DCC_MEMORY_LIMIT", nil, map[string]string{"GOMEMLIMIT": "1GiB", "DCC_MEMORY_LIMIT": "256MiB"}, 256 << 20, true},
		{"flag", []string{"--memory-limit", "0"}, map[string]string{"GOMEMLIMIT": "1GiB", "DCC_MEMORY_LIMIT": "256MiB"}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"GOMEMLIMIT", "DCC_MEMORY_LIMIT"} {
				t.Setenv(k, "") // restored after the test
				os.Unsetenv(k)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := parseServe(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.memoryLimitSet != c.wantApply || (c.wantApply && cfg.memoryLimit != c.want) {
				t.Errorf("limit %d applied %v, want %d applied %v", cfg.memoryLimit, cfg.memoryLimitSet, c.want, c.wantApply)
			}
		})
	}
	if _, err := parseServe([]string{"--memory-limit", "lots"}); err == nil {
		t.Error("--memory-limit lots accepted")
	}
}

// TestMaxBodyBytes: a malformed DCC_MAX_BODY_BYTES is refused unless the
// flag overrides it, and the size must be positive either way.
func TestMaxBodyBytes(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want int64 // 0: refused
	}{
		{"", nil, 32 << 20},
		{"1000", nil, 1000},
		{"lots", nil, 0},
		{"lots", []string{"--max-body-bytes", "2000"}, 2000},
		{"", []string{"--max-body-bytes", "0"}, 0},
		{"-5", nil, 0},
	} {
		t.Setenv("DCC_MAX_BODY_BYTES", c.env) // restored after the test
		if c.env == "" {
			os.Unsetenv("DCC_MAX_BODY_BYTES")
		}
		cfg, err := parseServe(c.args)
		switch {
		case c.want == 0 && err == nil:
			t.Errorf("env %q args %v: accepted (%d)", c.env, c.args, cfg.maxBody)
		case c.want != 0 && (err != nil || cfg.maxBody != c.want):
			t.Errorf("env %q args %v: %v, %v; want %d", c.env, c.args, cfg, err, c.want)
		}
	}
}

// clearEnv unsets the DCC_ variables of the auth flags for one test.
func clearEnv(t *testing.T) {
	for _, k := range []string{"DCC_AUTH", "DCC_BASE_URL", "DCC_LISTEN", "DCC_STORAGE", "DCC_DATA_DIR", "DCC_TLS_CERT", "DCC_TLS_KEY",
		"DCC_METRICS_LISTEN", "DCC_TOKEN_TTL_BACKEND", "DCC_TOKEN_TTL_USER", "DCC_PSC_DISCOVERY_URL", "DCC_PSC_CLIENT_ID",
		"DCC_PSC_CLIENT_SECRET", "DCC_PSC_CLIENT_SECRET_FILE", "DCC_PSC_ACR", "DCC_SMTP_URL", "DCC_SMTP_FROM"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// TestAuthFlags: serve's flags of issue 9, each with its environment
// variable (the flag wins), their defaults and the combinations refused.
func TestAuthFlags(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "psc-secret")
	os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600)
	const psc = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
	for _, c := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(*serveConfig) string // "" when right
		err   string                    // the refusal, when refused
	}{
		{"defaults", nil, nil, func(c *serveConfig) string {
			a := c.auth
			switch {
			case a.mode != "on" || a.ttlBackend != 5*time.Minute || a.ttlUser != time.Hour || a.pscACR != "eidas1,eidas2,eidas3":
				return "mode, token lifetimes or acr"
			case a.dataDir != "data" || c.baseURL != "http://127.0.0.1:8080/fhir":
				return "data dir " + a.dataDir + ", base " + c.baseURL
			case a.config(c.baseURL) == nil || a.config(c.baseURL).PSC != nil || a.config(c.baseURL).SecureCookies:
				return "auth config"
			}
			return ""
		}, ""},
		{"DCC_AUTH=off", nil, map[string]string{"DCC_AUTH": "off"}, func(c *serveConfig) string {
			if c.auth.config(c.baseURL) != nil {
				return "still protected"
			}
			return ""
		}, ""},
		{"flag wins over DCC_AUTH", []string{"--auth", "on"}, map[string]string{"DCC_AUTH": "off"}, func(c *serveConfig) string {
			if c.auth.mode != "on" {
				return "off"
			}
			return ""
		}, ""},
		{"--auth maybe", []string{"--auth", "maybe"}, nil, nil, "want on or off"},
		{"TLS: https base", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--listen", "0.0.0.0:8443"}, nil, func(c *serveConfig) string {
			if c.baseURL != "https://localhost:8443/fhir" || !c.auth.config(c.baseURL).SecureCookies {
				return c.baseURL
			}
			return ""
		}, ""},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, nil, "go together"},
		{"base URL behind a proxy", nil, map[string]string{"DCC_BASE_URL": "https://dcc.example.fr/fhir"}, func(c *serveConfig) string {
			if !c.auth.config(c.baseURL).SecureCookies {
				return "cookies not Secure"
			}
			return ""
		}, ""},
		{"bad base URL", []string{"--base-url", "dcc.example.fr/fhir"}, nil, nil, "--base-url"},
		{"token lifetimes", []string{"--token-ttl-user", "30m"}, map[string]string{"DCC_TOKEN_TTL_BACKEND": "2m", "DCC_TOKEN_TTL_USER": "8h"}, func(c *serveConfig) string {
			if c.auth.ttlBackend != 2*time.Minute || c.auth.ttlUser != 30*time.Minute {
				return c.auth.ttlBackend.String() + " " + c.auth.ttlUser.String()
			}
			return ""
		}, ""},
		{"bad DCC_TOKEN_TTL_BACKEND", nil, map[string]string{"DCC_TOKEN_TTL_BACKEND": "5 minutes"}, nil, "DCC_TOKEN_TTL_BACKEND"},
		{"bad env overridden", []string{"--token-ttl-backend", "1m"}, map[string]string{"DCC_TOKEN_TTL_BACKEND": "5 minutes"}, nil, ""},
		{"zero lifetime", []string{"--token-ttl-user", "0s"}, nil, nil, "positive"},
		{"PSC from env", nil, map[string]string{"DCC_PSC_DISCOVERY_URL": psc, "DCC_PSC_CLIENT_ID": "dcc-region", "DCC_PSC_CLIENT_SECRET": "s3cret", "DCC_PSC_ACR": "eidas1, eidas3"},
			func(c *serveConfig) string {
				p := c.auth.config(c.baseURL).PSC
				if p == nil || p.DiscoveryURL != psc || p.ClientID != "dcc-region" || p.ClientSecret != "s3cret" || strings.Join(p.ACR, "|") != "eidas1|eidas3" {
					return "PSC config"
				}
				return ""
			}, ""},
		{"PSC secret file", []string{"--psc-discovery-url", psc, "--psc-client-id", "x", "--psc-client-secret-file", secretFile}, nil, func(c *serveConfig) string {
			if p := c.auth.config(c.baseURL).PSC; p == nil || p.ClientSecret != "from-a-file" {
				return "secret not read from the file"
			}
			return ""
		}, ""},
		{"PSC flag and file", []string{"--psc-client-secret", "a", "--psc-client-secret-file", secretFile}, nil, nil, "not both"},
		{"PSC without secret", []string{"--psc-discovery-url", psc, "--psc-client-id", "x"}, nil, nil, "client secret"},
		{"SMTP", []string{"--smtp-url", "smtp://127.0.0.1:2525"}, map[string]string{"DCC_SMTP_FROM": "dcc@example.fr"}, func(c *serveConfig) string {
			if a := c.auth.config(c.baseURL); a.SMTPURL != "smtp://127.0.0.1:2525" || a.SMTPFrom != "dcc@example.fr" {
				return "smtp"
			}
			return ""
		}, ""},
		{"SMTP without from", nil, map[string]string{"DCC_SMTP_URL": "smtp://127.0.0.1:2525"}, nil, "--smtp-from"},
		{"SMTP not smtp", []string{"--smtp-url", "http://mail:25", "--smtp-from", "a@b"}, nil, nil, "smtp://host:port"},
		{"MongoDB needs a data dir", []string{"--storage", "mongodb://db:27017/dcc"}, nil, nil, "--data-dir"},
		{"MongoDB with a data dir", []string{"--storage", "mongodb://db:27017/dcc"}, map[string]string{"DCC_DATA_DIR": "/var/lib/dcc"}, func(c *serveConfig) string {
			if c.auth.dataDir != "/var/lib/dcc" {
				return c.auth.dataDir
			}
			return ""
		}, ""},
		{"MongoDB with auth off", []string{"--storage", "mongodb://db:27017/dcc", "--auth", "off"}, nil, nil, ""},
		{"data dir of the SQLite file", []string{"--storage", "sqlite:/srv/dcc/db.sqlite"}, nil, func(c *serveConfig) string {
			if c.auth.dataDir != "/srv/dcc" {
				return c.auth.dataDir
			}
			return ""
		}, ""},
		{"metrics address", nil, map[string]string{"DCC_METRICS_LISTEN": "127.0.0.1:9090"}, func(c *serveConfig) string {
			if c.auth.metricsListen != "127.0.0.1:9090" {
				return c.auth.metricsListen
			}
			return ""
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := parseServe(c.args)
			switch {
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			case c.check != nil:
				if msg := c.check(cfg); msg != "" {
					t.Errorf("wrong: %s", msg)
				}
			}
		})
	}
}

// TestSecretNotInHelp: serve --help shows no secret of the environment as
// a default.
func TestSecretNotInHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary, which TestMain builds only without -short")
	}
	cmd := exec.Command(binPath, "serve", "--help")
	cmd.Env = childEnv("DCC_PSC_CLIENT_SECRET=s3cret-psc", "DCC_SMTP_URL=smtp://user:s3cret-smtp@mail:25")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "s3cret") {
		t.Fatalf("serve --help: %v\n%s", err, out)
	}
	cmd = exec.Command(binPath, "import", "--help")
	cmd.Env = childEnv("DCC_TOKEN=s3cret-token")
	if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "s3cret") {
		t.Fatalf("import --help: %v\n%s", err, out)
	}
}

func TestDefaultBaseURL(t *testing.T) {
	for _, c := range []struct {
		listen string
		tls    bool
		want   string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080/fhir"},
		{":8080", false, "http://localhost:8080/fhir"},
		{"0.0.0.0:8443", true, "https://localhost:8443/fhir"},
		{"[::]:8080", false, "http://localhost:8080/fhir"},
		{"[::1]:8080", false, "http://[::1]:8080/fhir"},
		{"dcc.local:80", false, "http://dcc.local:80/fhir"},
	} {
		if got := defaultBaseURL(c.listen, c.tls); got != c.want {
			t.Errorf("defaultBaseURL(%q, %v) = %q, want %q", c.listen, c.tls, got, c.want)
		}
	}
}
