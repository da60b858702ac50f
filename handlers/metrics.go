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
}

func newMetrics() *metrics {
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
	m.reg.MustRegister(m.requests, m.latency, m.storageErrors, m.panics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(interaction, typ string, status int, d time.Duration) {
	m.requests.WithLabelValues(interaction, typ, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(interaction, typ).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// metricType keeps label cardinality bounded: unknown types count as one.
func metricType(t string) string {
	if fhir.KnownType(t) {
		return t
	}
	return "unknown"
}
