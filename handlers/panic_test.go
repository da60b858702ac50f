package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// panicky is a store whose reads panic, standing for any bug below the
// handlers.
type panicky struct{ store.Store }

func (panicky) Read(context.Context, string, string) (*store.Resource, error) {
	panic("a bug in the engine")
}

// TestPanicIsAnOperationOutcome: a panic below a handler is a 500 with an
// OperationOutcome (not a dropped connection), and the server goes on.
func TestPanicIsAnOperationOutcome(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/fhir"
	a, err := app.New(context.Background(), app.Config{Store: panicky{st}, Validator: fullValidator(t), Logger: testLogger(),
		HTTP: handlers.Config{BaseURL: base}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, base: base, st: st, svc: a.Service}
	for i := 0; i < 2; i++ { // the second request shows the server survived
		r := f.do("GET", "/Patient/p1", nil)
		if r.status != 500 || r.str("resourceType") != "OperationOutcome" {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if r := f.do("GET", "/metadata", nil); r.status != 200 {
		t.Fatalf("metadata after a panic: %d", r.status)
	}
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	m, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(m), "dccfhir_panics_total 2") {
		t.Errorf("metrics: no dccfhir_panics_total 2")
	}
}

// TestConditionalWriteKeepsResponseParams: _summary/_elements on a
// conditional update shape its response (they are not criteria).
func TestConditionalWriteKeepsResponseParams(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		p := patient("Summary")
		p["identifier"] = []any{map[string]any{"system": "urn:x", "value": "sum1"}}
		r := f.do("PUT", "/Patient?identifier=urn:x|sum1&_elements=identifier", p)
		f.want(r, 201)
		if r.json["name"] != nil || r.json["identifier"] == nil {
			t.Fatalf("_elements=identifier not applied: %s", r.body)
		}
	})
}
