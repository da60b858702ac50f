package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dccfhir/dccfhir/fhir"
)

// metrics are the Prometheus series of one server, in a registry of its own
// so several servers (tests) can live in one process.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	storageErrors prometheus.Counter
	panics        prometheus.Counter
	// refusals counts the requests the token check refused, by reason
	// (the reason* constants).
	refusals [reasons]prometheus.Counter
}

// Why a request was refused, the reason label of dccfhir_auth_refused_total.
const (
	reasonNoToken = iota
	reasonInvalidToken
	reasonInsufficientScope
	reasonTokenInQuery
	reasons
)

var reasonLabels = [reasons]string{"no_token", "invalid_token", "insufficient_scope", "token_in_query"}

func newMetrics(authEnabled bool) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dccfhir_http_requests_total", Help: "FHIR requests by interaction, resource type and HTTP status.",
	}, []string{"interaction", "type", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dccfhir_http_request_duration_seconds", Help: "FHIR request latency by interaction and resource type.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"interaction", "type"})
	m.storageErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dccfhir_storage_errors_total", Help: "Requests that failed with an internal (storage) error.",
	})
	m.panics = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dccfhir_panics_total", Help: "Requests whose handling panicked (answered 500; each is also an internal error).",
	})
	enabled := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dccfhir_auth_enabled", Help: "1 when the FHIR API requires an access token, 0 when protection is off (--auth off).",
	})
	if authEnabled {
		enabled.Set(1)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dccfhir_auth_refused_total", Help: "Requests refused by the token check, by reason (no_token, invalid_token, insufficient_scope, token_in_query).",
	}, []string{"reason"})
	for i, l := range reasonLabels {
		m.refusals[i] = refused.WithLabelValues(l) // every reason is shown from the start, at 0
	}
	m.reg.MustRegister(m.requests, m.latency, m.storageErrors, m.panics, enabled, refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) refused(reason int) { m.refusals[reason].Inc() }

func (m *metrics) observe(interaction, typ string, status int, d time.Duration) {
	m.requests.WithLabelValues(interaction, typ, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(interaction, typ).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// MetricsHandler serves the Prometheus metrics of the server. It needs no
// token and carries no patient data (labels are interactions, resource
// types, statuses and reasons). The FHIR listener serves it at /metrics
// unless Config.SeparateMetrics moves it to a listener of the caller's.
func (s *Server) MetricsHandler() http.Handler { return s.metricsHandler }

// metricType keeps label cardinality bounded: unknown types count as one.
func metricType(t string) string {
	if fhir.KnownType(t) {
		return t
	}
	return "unknown"
}
