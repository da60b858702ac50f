package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/access"
	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth"
)

// authFlags are serve's flags of issue 9: protection, TLS, where /metrics
// and admin-credentials.json go, token lifetimes, Pro Santé Connect, mail.
type authFlags struct {
	mode                     string // on or off
	tlsCert, tlsKey          string
	metricsListen            string
	dataDir                  string
	ttlBackend, ttlUser      time.Duration
	pscDiscovery, pscClient  string
	pscSecret, pscSecretFile string
	pscACR                   string
	smtpURL, smtpFrom        string
	accessPolicyFile         string
	accessPolicy             *access.Policy // read from accessPolicyFile by check
	ttlBackendErr, ttlUsrErr func() error
	pscSecretOf, smtpURLOf   func() string
}

// defineAuthFlags defines them on serve's flag set; check, called after
// parsing, reads the environment variables the flags left and checks the
// values.
func defineAuthFlags(fs *flag.FlagSet) *authFlags {
	a := &authFlags{}
	fs.StringVar(&a.mode, "auth", env("DCC_AUTH", "on"), "on: every FHIR request needs a bearer token (metadata, smart-configuration, /healthz, /readyz and /metrics excepted); off: no protection, for local development only (DCC_AUTH)")
	fs.StringVar(&a.tlsCert, "tls-cert", env("DCC_TLS_CERT", ""), "serve TLS (1.2 or later) with this PEM certificate chain; with --tls-key (DCC_TLS_CERT)")
	fs.StringVar(&a.tlsKey, "tls-key", env("DCC_TLS_KEY", ""), "the PEM private key of --tls-cert (DCC_TLS_KEY)")
	fs.StringVar(&a.metricsListen, "metrics-listen", env("DCC_METRICS_LISTEN", ""), "serve /metrics on this address instead of --listen (DCC_METRICS_LISTEN)")
	fs.StringVar(&a.accessPolicyFile, "access-policy", env("DCC_ACCESS_POLICY", ""), "the profession table of the care-circle rules, a JSON file (docs/security.md, \"The policy file\"); empty: the built-in one (DCC_ACCESS_POLICY)")
	fs.StringVar(&a.dataDir, "data-dir", env("DCC_DATA_DIR", ""), "folder of admin-credentials.json, written at the first start (DCC_DATA_DIR; default the SQLite file's folder; required with MongoDB)")
	a.ttlBackendErr = durationFlag(fs, &a.ttlBackend, "token-ttl-backend", "DCC_TOKEN_TTL_BACKEND", 5*time.Minute, "lifetime of the access tokens of backend clients (client credentials)")
	a.ttlUsrErr = durationFlag(fs, &a.ttlUser, "token-ttl-user", "DCC_TOKEN_TTL_USER", time.Hour, "lifetime of the access tokens of apps used by a professional")
	fs.StringVar(&a.pscDiscovery, "psc-discovery-url", env("DCC_PSC_DISCOVERY_URL", ""), "Pro Santé Connect's discovery document, whole: https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration (production), https://auth.bas.psc.esante.gouv.fr/… (sandbox); empty: no Pro Santé Connect login (DCC_PSC_DISCOVERY_URL)")
	fs.StringVar(&a.pscClient, "psc-client-id", env("DCC_PSC_CLIENT_ID", ""), "this server's client id at Pro Santé Connect (DCC_PSC_CLIENT_ID)")
	a.pscSecretOf = secretFlag(fs, &a.pscSecret, "psc-client-secret", "DCC_PSC_CLIENT_SECRET",
		"this server's client secret at Pro Santé Connect; prefer DCC_PSC_CLIENT_SECRET or --psc-client-secret-file, since a command line is visible to every user of the machine (DCC_PSC_CLIENT_SECRET)")
	fs.StringVar(&a.pscSecretFile, "psc-client-secret-file", env("DCC_PSC_CLIENT_SECRET_FILE", ""), "a file holding the Pro Santé Connect client secret (DCC_PSC_CLIENT_SECRET_FILE)")
	fs.StringVar(&a.pscACR, "psc-acr", env("DCC_PSC_ACR", "eidas1,eidas2,eidas3"), "acr values accepted in Pro Santé Connect ID tokens, comma-separated (DCC_PSC_ACR)")
	a.smtpURLOf = secretFlag(fs, &a.smtpURL, "smtp-url", "DCC_SMTP_URL", "mail server for password-reset mail: smtp://host:port (STARTTLS when offered); empty: no reset mail (DCC_SMTP_URL)")
	fs.StringVar(&a.smtpFrom, "smtp-from", env("DCC_SMTP_FROM", ""), "sender address of password-reset mail (DCC_SMTP_FROM)")
	return a
}

// secretFlag defines a string flag for a secret (or a URL that may carry
// one) whose environment variable is read only after parsing, so that
// --help never prints its value as the default. The function returned
// gives the flag's value, else the variable's.
func secretFlag(fs *flag.FlagSet, p *string, name, envKey, usage string) func() string {
	fs.StringVar(p, name, "", usage)
	return func() string {
		if *p == "" {
			*p = os.Getenv(envKey)
		}
		return *p
	}
}

// durationFlag defines a duration flag whose default is its environment
// variable's value, else def; the function returned reports a malformed
// variable the flag did not override, or a duration that is not positive.
func durationFlag(fs *flag.FlagSet, p *time.Duration, name, envKey string, def time.Duration, usage string) func() error {
	v, set := os.LookupEnv(envKey)
	var envErr error
	if set {
		d, err := time.ParseDuration(v)
		if err != nil {
			envErr = fmt.Errorf("%s=%q: not a duration such as 5m", envKey, v)
		} else {
			def = d
		}
	}
	fs.DurationVar(p, name, def, usage+" ("+envKey+")")
	return func() error {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
		if !given && envErr != nil {
			return envErr
		}
		if *p <= 0 {
			return fmt.Errorf("--%s %v: must be a positive duration", name, *p)
		}
		return nil
	}
}

// check reads what the environment gives after the flags and checks the
// combination; storage is serve's --storage (the default data folder).
func (a *authFlags) check(fs *flag.FlagSet, storage string) error {
	switch a.mode {
	case "on", "off":
	default:
		return fmt.Errorf("--auth %q: want on or off", a.mode)
	}
	if a.accessPolicyFile != "" {
		p, err := access.Load(a.accessPolicyFile)
		if err != nil {
			return fmt.Errorf("--access-policy: %w", err)
		}
		a.accessPolicy = p
	}
	if (a.tlsCert == "") != (a.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if err := a.ttlBackendErr(); err != nil {
		return err
	}
	if err := a.ttlUsrErr(); err != nil {
		return err
	}
	if a.pscSecret != "" && a.pscSecretFile != "" {
		return errors.New("give --psc-client-secret or --psc-client-secret-file, not both")
	}
	if a.pscSecret == "" && a.pscSecretFile != "" {
		b, err := os.ReadFile(a.pscSecretFile)
		if err != nil {
			return fmt.Errorf("--psc-client-secret-file: %w", err)
		}
		a.pscSecret = strings.TrimRight(string(b), "\r\n")
	}
	a.pscSecretOf()
	a.smtpURLOf()
	if a.pscDiscovery != "" && (a.pscClient == "" || a.pscSecret == "") {
		return errors.New("--psc-discovery-url needs --psc-client-id and the client secret (DCC_PSC_CLIENT_SECRET or --psc-client-secret-file)")
	}
	if a.smtpURL != "" {
		u, err := url.Parse(a.smtpURL)
		if err != nil || u.Scheme != "smtp" || u.Host == "" {
			return fmt.Errorf("--smtp-url %s: want smtp://host:port", app.Redact(a.smtpURL))
		}
		if a.smtpFrom == "" {
			return errors.New("--smtp-url needs --smtp-from")
		}
	}
	if err := app.CheckStorage(storage); err != nil {
		return err
	}
	if a.dataDir == "" {
		a.dataDir = defaultDataDir(storage)
	}
	if a.mode == "on" && a.dataDir == "" {
		return errors.New("with MongoDB storage, --data-dir names the folder of admin-credentials.json")
	}
	return nil
}

// config is the authorization server's part of app.Config (nil: --auth
// off); baseURL is the FHIR base clients see.
func (a *authFlags) config(baseURL string) *auth.Config {
	if a.mode == "off" {
		return nil
	}
	c := &auth.Config{
		TokenTTLBackend: a.ttlBackend, TokenTTLUser: a.ttlUser,
		SecureCookies: strings.HasPrefix(baseURL, "https://"),
		SMTPURL:       a.smtpURL, SMTPFrom: a.smtpFrom,
	}
	if a.pscDiscovery != "" {
		var acr []string
		for _, v := range strings.Split(a.pscACR, ",") {
			if v = strings.TrimSpace(v); v != "" {
				acr = append(acr, v)
			}
		}
		c.PSC = &auth.PSCConfig{DiscoveryURL: a.pscDiscovery, ClientID: a.pscClient, ClientSecret: a.pscSecret, ACR: acr}
	}
	return c
}

// defaultDataDir is the folder of a SQLite database file ("" for MongoDB).
func defaultDataDir(storage string) string {
	if path, ok := app.SQLitePath(storage); ok {
		return filepath.Dir(path)
	}
	return ""
}

// defaultBaseURL is the FHIR base of a listen address: the host as given,
// localhost when it is empty or unspecified (0.0.0.0, ::).
func defaultBaseURL(listen string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + "://" + listen + "/fhir"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/fhir"
}

// checkBaseURL refuses a base URL clients could not use as one.
func checkBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--base-url %q: want http(s)://host[:port]/path", base)
	}
	return nil
}

// loopbackURL reports whether a URL's host is a loopback address or
// localhost (where plain HTTP does not cross a network).
func loopbackURL(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
