package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/profiles"
)

// env returns the environment value of key, or def.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// serveConfig is the server's configuration: each flag also reads an
// environment variable (the flag wins).
type serveConfig struct {
	listen, baseURL, storage, logLevel string
	packages, requiredProfiles         string
	unknownProfileError                bool
	maxBody                            int64
	condDeleteMultiple                 bool
	shutdownTimeout                    time.Duration
	// memoryLimit is the Go runtime's soft memory limit in bytes (0: none);
	// memoryLimitSet is false when GOMEMLIMIT from the environment rules.
	memoryLimit    int64
	memoryLimitSet bool
	// auth holds the flags of protection, TLS, metrics, tokens, Pro Santé
	// Connect and mail.
	auth *authFlags
	// audit: the audit trail on (--audit on), and its retention (0: keep
	// every event).
	audit          bool
	auditRetention time.Duration
}

// defaultStorage is the storage of serve and of the tools working on its
// state (token, client, user, keys) when neither --storage nor
// DCC_STORAGE says otherwise.
const defaultStorage = "sqlite:./data/dccfhir.db"

// defaultMemoryLimit bounds the Go heap the way GOMEMLIMIT would. Without
// it the heap of a bulk load (two concurrent 10 MB transaction Bundles,
// each prepared in full before its commit) grows to twice its live size
// before the collector runs; with it the collector runs earlier, so the
// server's resident memory stays near 300 MB at some throughput cost
// during bulk loads, and none at ordinary traffic (docs/benchmarks.md).
const defaultMemoryLimit = "192MiB"

func parseServe(args []string) (*serveConfig, error) {
	c := &serveConfig{}
	var err error
	fs := newFlagSet("serve", "[flags]", "runs the FHIR R4 server; every flag also reads the environment variable named in its help (the flag wins).")
	fs.StringVar(&c.listen, "listen", env("DCC_LISTEN", "127.0.0.1:8080"), "address to listen on (DCC_LISTEN)")
	fs.StringVar(&c.baseURL, "base-url", env("DCC_BASE_URL", ""), "the FHIR base URL as clients see it, e.g. https://dcc.example.fr/fhir behind a TLS-terminating proxy: links, Location, and the audience of access tokens (DCC_BASE_URL; default http://<listen>/fhir, https with --tls-cert)")
	fs.StringVar(&c.storage, "storage", env("DCC_STORAGE", defaultStorage), "sqlite:PATH or a mongodb:// / mongodb+srv:// URI (DCC_STORAGE)")
	fs.StringVar(&c.logLevel, "log-level", env("DCC_LOG_LEVEL", "info"), "debug, info, warn or error (DCC_LOG_LEVEL)")
	fs.StringVar(&c.packages, "packages", env("DCC_PACKAGES", ""), "extra FHIR packages to load, comma-separated: .tgz files, folders or NAME@VERSION from the cache (DCC_PACKAGES)")
	fs.StringVar(&c.requiredProfiles, "required-profiles", env("DCC_REQUIRED_PROFILES", ""), "profiles every resource of a type must conform to: Type=url,Type=url (DCC_REQUIRED_PROFILES)")
	unknownProfile := unknownProfileFlags(fs)
	// the environment's value is checked after the flags, which may override it
	maxBodyEnv := env("DCC_MAX_BODY_BYTES", strconv.Itoa(32<<20))
	maxBody, maxBodyErr := strconv.ParseInt(maxBodyEnv, 10, 64)
	fs.Int64Var(&c.maxBody, "max-body-bytes", maxBody, "request size limit in bytes (DCC_MAX_BODY_BYTES)")
	fs.BoolVar(&c.condDeleteMultiple, "conditional-delete-multiple", env("DCC_CONDITIONAL_DELETE_MULTIPLE", "true") == "true",
		"a conditional delete removes every match; false: more than one match is a 412 (DCC_CONDITIONAL_DELETE_MULTIPLE)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	memLimit := fs.String("memory-limit", env("DCC_MEMORY_LIMIT", defaultMemoryLimit),
		"soft limit of the Go heap, e.g. 192MiB, 1GiB, 0 for none (DCC_MEMORY_LIMIT; GOMEMLIMIT, when set, wins over the default)")
	c.auth = defineAuthFlags(fs)
	auditMode := fs.String("audit", env("DCC_AUDIT", "on"), "on: every request to /fhir and /auth is recorded as a hash-chained AuditEvent, before its answer; off: no trail (DCC_AUDIT)")
	auditRetention := fs.String("audit-retention", env("DCC_AUDIT_RETENTION", "0"),
		"purge, every hour, the AuditEvents older than this duration (e.g. 8760h); 0 keeps everything; `dccfhir audit export` archives first (DCC_AUDIT_RETENTION)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	switch *auditMode {
	case "on", "off":
		c.audit = *auditMode == "on"
	default:
		return nil, fmt.Errorf("--audit %q: want on or off", *auditMode)
	}
	if c.auditRetention, err = time.ParseDuration(*auditRetention); err != nil || c.auditRetention < 0 {
		return nil, fmt.Errorf("--audit-retention %q: want a duration such as 8760h, or 0", *auditRetention)
	}
	if err := c.auth.check(fs, c.storage); err != nil {
		return nil, err
	}
	maxBodySet := false
	fs.Visit(func(f *flag.Flag) { maxBodySet = maxBodySet || f.Name == "max-body-bytes" })
	switch {
	case !maxBodySet && maxBodyErr != nil:
		return nil, fmt.Errorf("DCC_MAX_BODY_BYTES=%q: not a number of bytes", maxBodyEnv)
	case c.maxBody <= 0:
		return nil, fmt.Errorf("--max-body-bytes %d: must be a positive number of bytes", c.maxBody)
	}
	if c.unknownProfileError, err = unknownProfile(); err != nil {
		return nil, err
	}
	_, own := os.LookupEnv("DCC_MEMORY_LIMIT")
	c.memoryLimitSet = own || os.Getenv("GOMEMLIMIT") == ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "memory-limit" {
			c.memoryLimitSet = true
		}
	})
	n, err := parseBytes(*memLimit)
	if err != nil {
		return nil, fmt.Errorf("--memory-limit: %w", err)
	}
	c.memoryLimit = n
	if c.baseURL == "" {
		c.baseURL = defaultBaseURL(c.listen, c.auth.tlsCert != "")
	}
	if err := checkBaseURL(c.baseURL); err != nil {
		return nil, err
	}
	return c, nil
}

// parseBytes reads a size: a number of bytes, optionally with a unit
// (KiB, MiB, GiB, KB, MB, GB; B), as GOMEMLIMIT takes them.
func parseBytes(s string) (int64, error) {
	v := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size such as 192MiB", s)
	}
	return n * mult, nil
}

func serve(args []string) error {
	cfg, err := parseServe(args)
	if err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(log)
	if cfg.memoryLimitSet {
		limit := cfg.memoryLimit
		if limit == 0 {
			limit = math.MaxInt64
		}
		debug.SetMemoryLimit(limit)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	prof, err := profileOptions(cfg.packages, cfg.requiredProfiles, cfg.unknownProfileError)
	if err != nil {
		return err
	}
	var tlsConf *tls.Config
	if cfg.auth.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.auth.tlsCert, cfg.auth.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	warnAuth(log, cfg)
	a, err := app.New(ctx, app.Config{
		Storage: cfg.storage, Profiles: prof, Publish: true, Logger: log,
		HTTP: handlers.Config{BaseURL: cfg.baseURL, MaxBodyBytes: cfg.maxBody, ConditionalDeleteMultiple: cfg.condDeleteMultiple},
		Auth: cfg.auth.config(cfg.baseURL), DataDir: cfg.auth.dataDir, AccessPolicy: cfg.auth.accessPolicy, MetricsApart: cfg.auth.metricsListen != "",
		Audit: cfg.audit, AuditRetention: cfg.auditRetention,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := a.Close(); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()
	// Loading the definitions (R4, DCC, FR Core) and publishing them leave
	// tens of MB of garbage that an idle server would otherwise keep until
	// the runtime's two-minute forced collection; give it back now.
	debug.FreeOSMemory()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConf}
	errc := make(chan error, 2)
	go func() {
		if tlsConf != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	var msrv *http.Server
	if a.Metrics != nil {
		mln, err := net.Listen("tcp", cfg.auth.metricsListen)
		if err != nil {
			srv.Close()
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		mux := http.NewServeMux() // the metrics address serves nothing else
		mux.Handle("GET /metrics", a.Metrics)
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- msrv.Serve(mln) }()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	log.Info("dccfhir listening", "addr", ln.Addr().String(), "base", cfg.baseURL, "storage", app.Redact(cfg.storage),
		"auth", cfg.auth.mode, "tls", tlsConf != nil)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if msrv != nil {
		msrv.Close() // a scrape has nothing to finish
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// warnAuth logs what an operator must know of the protection at start:
// that there is none (--auth off), or that tokens would travel in clear.
func warnAuth(log *slog.Logger, cfg *serveConfig) {
	switch {
	case cfg.auth.mode == "off":
		log.Warn("authentication is OFF (--auth off): anyone who reaches the port can read and change every record; for local development only")
	case strings.HasPrefix(cfg.baseURL, "http://") && !loopbackURL(cfg.baseURL):
		log.Warn("the base URL is plain HTTP: tokens and passwords would cross the network in clear; serve TLS (--tls-cert, --tls-key) or set --base-url https://… behind a TLS-terminating proxy",
			"base", cfg.baseURL)
	case loopbackURL(cfg.baseURL) && !loopbackListen(cfg.listen):
		log.Warn("listening beyond this machine with a localhost base URL: tokens name it as their audience, so clients elsewhere cannot use them; set --base-url to the URL clients use",
			"listen", cfg.listen, "base", cfg.baseURL)
	}
}

// loopbackListen reports whether a listen address accepts only local
// connections.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// profileOptions reads the validation flags the server and `dccfhir
// validate` share.
func profileOptions(pkgs, required string, unknownError bool) (profiles.Options, error) {
	req, err := profiles.ParseRequired(required)
	if err != nil {
		return profiles.Options{}, err
	}
	var list []string
	if pkgs != "" {
		list = strings.Split(pkgs, ",")
	}
	return profiles.Options{Packages: list, Required: req, UnknownProfileError: unknownError}, nil
}

// loadValidator builds the validator of `dccfhir validate`, logging what
// could not be loaded.
func loadValidator(pkgs, required string, unknownError bool, log *slog.Logger) (*profiles.Validator, error) {
	opts, err := profileOptions(pkgs, required, unknownError)
	if err != nil {
		return nil, err
	}
	return app.LoadValidator(opts, log)
}

// unknownProfileFlags defines --unknown-profile (warning or error: what a
// claimed meta.profile the server has not loaded is) and its old boolean
// alias --unknown-profile-warning (true: warning, false: error), which set
// the same mode, the last one given winning. The returned function, called
// after parsing, tells whether the mode is error: from the flags, else
// DCC_UNKNOWN_PROFILE, else DCC_UNKNOWN_PROFILE_WARNING, else warning (what
// the HL7 validator does, so that data from elsewhere loads).
func unknownProfileFlags(fs *flag.FlagSet) func() (bool, error) {
	mode := &profileMode{}
	fs.Var(mode, "unknown-profile", "the `mode` for a claimed meta.profile the server has not loaded: warning (the resource is checked against base R4 and the profiles known, and accepted with the warning) or error (refused, 422); default warning (DCC_UNKNOWN_PROFILE)")
	fs.Var(profileModeAlias{mode}, "unknown-profile-warning", "old form of --unknown-profile: true is warning, false is error (DCC_UNKNOWN_PROFILE_WARNING)")
	return func() (bool, error) {
		if mode.v == "" {
			if v, ok := os.LookupEnv("DCC_UNKNOWN_PROFILE"); ok {
				if err := mode.Set(v); err != nil {
					return false, fmt.Errorf("DCC_UNKNOWN_PROFILE: %w", err)
				}
			} else if v, ok := os.LookupEnv("DCC_UNKNOWN_PROFILE_WARNING"); ok {
				if err := (profileModeAlias{mode}).Set(v); err != nil {
					return false, fmt.Errorf("DCC_UNKNOWN_PROFILE_WARNING: %w", err)
				}
			}
		}
		return mode.v == "error", nil
	}
}

// profileMode is the value of --unknown-profile ("" until set).
type profileMode struct{ v string }

func (m *profileMode) String() string {
	if m == nil || m.v == "" {
		return "warning"
	}
	return m.v
}

func (m *profileMode) Set(s string) error {
	if s != "warning" && s != "error" {
		return fmt.Errorf("%q: want warning or error", s)
	}
	m.v = s
	return nil
}

// profileModeAlias is --unknown-profile-warning, a boolean setting the mode.
type profileModeAlias struct{ m *profileMode }

func (a profileModeAlias) IsBoolFlag() bool { return true }

func (a profileModeAlias) String() string {
	if a.m == nil || a.m.v == "" {
		return "" // not shown as a default: --unknown-profile has it
	}
	return strconv.FormatBool(a.m.v == "warning")
}

func (a profileModeAlias) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q: want true or false", s)
	}
	a.m.v = map[bool]string{true: "warning", false: "error"}[b]
	return nil
}
