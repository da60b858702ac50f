// Package app assembles dccfhir from its configuration: the storage engine,
// the validator, the service, the authorization server and the HTTP
// handler. The binary (`dccfhir serve`, `dccfhir import`) and the tests
// build the server through New, so what the tests run is what the binary
// runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/access"
	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/profiles"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/mongo"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// Config is everything a server is built from. The zero value of each field
// is the server's default.
type Config struct {
	// Storage names the engine when Store is nil: sqlite:PATH or a
	// mongodb:// / mongodb+srv:// URI.
	Storage string
	// Store is an engine the caller opened (the tests' engines); the App
	// then leaves closing it to the caller.
	Store store.Store
	// Profiles configures the validator when Validator is nil.
	Profiles profiles.Options
	// Validator is a validator already loaded (tests share one: loading the
	// packages takes a while).
	Validator *profiles.Validator
	// Registry holds the search parameters (nil: search.Default(), shared
	// by the process; tests adding SearchParameters pass their own).
	Registry *search.Registry
	// HTTP configures the handler; its Validator, Terminology and Ready are
	// filled in by New when nil.
	HTTP handlers.Config
	// Publish stores the conformance resources of the loaded packages at
	// start, so they are readable and searchable (serve does; most tests do
	// not need them).
	Publish bool
	// Logger receives start-up messages (nil: slog.Default()).
	Logger *slog.Logger
	// Auth protects the FHIR API: New builds the authorization server it
	// configures (its Store, Service, BaseURL and Logger are New's) and
	// bootstraps the administrator on an empty store. nil: the API is
	// unprotected. Protection on by default is the binary's: serve passes
	// one unless --auth off; tests that do not concern security, and
	// `import --storage`, which serves nothing, pass none.
	Auth *auth.Config
	// AccessPolicy is the profession table of the care-circle rules
	// (--access-policy; nil: access.Default()). With Auth, every user
	// token is narrowed by the access gate (access.Gate).
	AccessPolicy *access.Policy
	// DataDir receives admin-credentials.json at the first start with Auth
	// (required with Auth).
	DataDir string
	// MetricsApart serves /metrics on App.Metrics instead of App.Handler
	// (serve --metrics-listen).
	MetricsApart bool
	// Audit records every request to the FHIR API and /auth as an
	// AuditEvent (serve --audit on, its default; off here so that tests
	// not about the trail do not pay for it). AuditRetention purges, every
	// hour, the events older than it (0: keep everything).
	Audit          bool
	AuditRetention time.Duration
}

// App is an assembled server.
type App struct {
	Store     store.Store
	Validator *profiles.Validator
	Service   *service.Service
	Handler   http.Handler
	// Auth is the authorization server (nil without Config.Auth).
	Auth *auth.Server
	// Credentials is the admin-credentials.json this start wrote ("" when
	// the store already had its administrator, or without Config.Auth).
	Credentials string
	// Metrics serves the metrics when Config.MetricsApart (else nil); the
	// caller mounts it at /metrics on a listener of its own.
	Metrics http.Handler
	gate    *access.Gate // the access gate, with Auth
	// Audit is the audit trail's writer (nil without Config.Audit).
	Audit      *audit.Writer
	stopRetain context.CancelFunc
	ownStore   bool
}

// New builds the server: it opens the storage (unless given), loads the
// validator, loads the SearchParameters stored by earlier runs, publishes
// the conformance resources when asked, and builds the HTTP handler.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &App{Store: cfg.Store, Validator: cfg.Validator}
	if a.Store == nil {
		if a.Store, err = OpenStore(ctx, cfg.Storage); err != nil {
			return nil, fmt.Errorf("open storage: %w", err)
		}
		a.ownStore = true
		defer func() {
			if err != nil {
				a.Store.Close()
			}
		}()
	}
	if a.Validator == nil {
		if a.Validator, err = LoadValidator(cfg.Profiles, log); err != nil {
			return nil, err
		}
	}
	reg := cfg.Registry
	if reg == nil {
		reg = search.Default()
	}
	hc := cfg.HTTP
	hc.BaseURL = strings.TrimRight(hc.BaseURL, "/")
	if hc.Logger == nil {
		hc.Logger = log
	}
	if hc.Validator == nil {
		hc.Validator = a.Validator
	}
	if hc.Terminology == nil {
		hc.Terminology = a.Validator.Set
	}
	if hc.Ready == nil {
		hc.Ready = a.Store.Ping
	}

	svc := service.New(a.Store, reg)
	svc.Validate = service.Chain(service.BaseValidate, a.Validator.Check)
	svc.ValueSetCodes = a.Validator.ValueSetCodes
	svc.BaseURL = hc.BaseURL
	a.Service = svc
	if n, err := svc.LoadSearchParameters(ctx); err != nil {
		return nil, fmt.Errorf("loading stored SearchParameters: %w", err)
	} else if n > 0 {
		log.Info("custom search parameters loaded", "count", n)
	}
	if cfg.Publish {
		if n, errs := Publish(ctx, svc, a.Validator); n > 0 || len(errs) > 0 {
			log.Info("published conformance resources", "written", n, "failed", len(errs))
			for _, e := range errs {
				log.Warn("conformance resource not published", "err", e)
			}
		}
	}
	if cfg.Auth != nil {
		a.gate = gate(svc, cfg.AccessPolicy)
		if err := a.startAuth(ctx, cfg, svc, hc.BaseURL, log); err != nil {
			return nil, err
		}
		protect(&hc, a.Auth)
		hc.Gate = a.gate
	}
	hc.SeparateMetrics = hc.SeparateMetrics || cfg.MetricsApart
	if cfg.Audit {
		a.startAudit(cfg, reg, &hc, log)
	}
	h := handlers.New(svc, hc)
	a.Handler = h
	if hc.SeparateMetrics {
		a.Metrics = h.MetricsHandler()
	}
	return a, nil
}

// LoadValidator loads the validator of opts, logging what could not be
// loaded (missing package dependencies); serve and `dccfhir validate`
// share it.
func LoadValidator(opts profiles.Options, log *slog.Logger) (*profiles.Validator, error) {
	v, warnings, err := profiles.New(opts)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	return v, nil
}

// startAudit starts the trail's writer and, with a retention, its hourly purge.
func (a *App) startAudit(cfg Config, reg *search.Registry, hc *handlers.Config, log *slog.Logger) {
	a.Audit = audit.NewWriter(audit.Config{Store: a.Store, Registry: reg, BaseURL: hc.BaseURL})
	hc.Audit = a.Audit
	if cfg.AuditRetention > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		a.stopRetain = cancel
		go a.Audit.Retain(ctx, cfg.AuditRetention, time.Hour, func(n int, err error) {
			if err != nil {
				log.Error("audit retention", "err", err)
				return
			}
			log.Info("audit retention: events purged", "count", n, "older than", cfg.AuditRetention.String())
		})
	}
}

// Close stops the audit trail and closes the storage the App opened itself.
func (a *App) Close() error {
	if a.stopRetain != nil {
		a.stopRetain()
	}
	if a.Audit != nil {
		a.Audit.Close()
	}
	if a.ownStore {
		return a.Store.Close()
	}
	return nil
}

// OpenStore opens the storage engine a URI names.
func OpenStore(ctx context.Context, uri string) (store.Store, error) {
	if err := CheckStorage(uri); err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(uri, "sqlite:"):
		path, _ := SQLitePath(uri)
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
		return sqlite.Open(path)
	default:
		return mongo.Open(ctx, uri)
	}
}

// CheckStorage says whether uri names a storage OpenStore can open, before
// anything is opened (so a mistyped --storage is named as such, not taken
// for a MongoDB deployment).
func CheckStorage(uri string) error {
	switch {
	case strings.HasPrefix(uri, "sqlite:"), strings.HasPrefix(uri, "mongodb://"), strings.HasPrefix(uri, "mongodb+srv://"):
		return nil
	case uri == "":
		return errors.New("no storage given")
	}
	return fmt.Errorf("storage %q: use sqlite:PATH or a mongodb:// URI", Redact(uri))
}

// SQLitePath is the database file of a sqlite:PATH storage URI (false for
// any other engine).
func SQLitePath(uri string) (string, bool) {
	if !strings.HasPrefix(uri, "sqlite:") {
		return "", false
	}
	return strings.TrimPrefix(strings.TrimPrefix(uri, "sqlite:"), "//"), true
}

// Redact is a storage URI fit for logs and error messages: the user
// information (password, or a whole token standing as user name) and the
// query (which may carry authMechanismProperties, TLS key passwords…) are
// replaced by "xxxxx" / dropped. A URI that does not parse is hidden whole.
func Redact(uri string) string {
	if strings.HasPrefix(uri, "sqlite:") {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return "(storage URI hidden: it is not scheme://host/…)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String()
}
