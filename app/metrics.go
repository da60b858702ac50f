package app

import "net/http"

// metricsApart splits the handler in two for --metrics-listen: the API
// (answering /metrics 404, so the metrics are only where the operator put
// them) and the metrics alone (every other path 404).
//
// TODO(merge): if the handlers helper provides its own way to serve
// /metrics apart, this function becomes the one call to it.
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
