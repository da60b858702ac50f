package app

import "net/http"

// metricsApart splits the handler in two for --metrics-listen: the API
// (answering /metrics 404, so the metrics are only where the operator put
// them) and the metrics alone (every other path 404).
//
// TODO(merge): the handlers branch serves /metrics apart itself
// (handlers.Config.SeparateMetrics, (*handlers.Server).MetricsHandler).
// Once merged, New's lines
//
//	a.Handler = handlers.New(svc, hc)
//	if cfg.MetricsApart {
//		a.Handler, a.Metrics = metricsApart(a.Handler)
//	}
//
// become
//
//	hc.SeparateMetrics = cfg.MetricsApart
//	h := handlers.New(svc, hc)
//	a.Handler = h
//	if cfg.MetricsApart {
//		a.Metrics = h.MetricsHandler()
//	}
//
// and this file goes.
func metricsApart(h http.Handler) (api, metrics http.Handler) {
	api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	return api, metrics
}
