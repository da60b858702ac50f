package main

import (
	"flag"
	"net/http"

	"github.com/dccfhir/dccfhir/tools/importer"
)

// bearerFlag is --token of the commands that post to a server (import,
// generate --server): a protected server wants one on every request. The
// environment's DCC_TOKEN is read after parsing, so --help never shows it.
func bearerFlag(fs *flag.FlagSet) func() string {
	var tok string
	return secretFlag(fs, &tok, "token", "DCC_TOKEN",
		`with --server: the bearer token sent on every request, e.g. "$(dccfhir token)" (DCC_TOKEN, which other users cannot see in the process list)`)
}

// httpSink is the importer's HTTP sink, sending token when there is one.
func httpSink(server string, workers int, token string) *importer.HTTPSink {
	sink := importer.NewHTTPSink(server, workers)
	if token != "" {
		sink.Client.Transport = bearer{token: token, next: sink.Client.Transport}
	}
	return sink
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
