package importer

import (
	"context"
	"encoding/json"
	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/profiles"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store/sqlite"
	"github.com/dccfhir/dccfhir/tools/generate"
)

// validatorOnce is the server's validator, loaded once for the package.
var validatorOnce = sync.OnceValues(func() (*profiles.Validator, error) {
	v, _, err := profiles.New(profiles.Options{})
	return v, err
})

// server is an in-process dccfhir on SQLite; wrap, when set, sits in front
// of the handler (fault injection).
func server(t *testing.T, wrap func(http.Handler) http.Handler) (string, *service.Service) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := validatorOnce()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/fhir"
	a, err := app.New(context.Background(), app.Config{Store: st, Validator: v, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTP: handlers.Config{BaseURL: base}})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler
	if wrap != nil {
		h = wrap(h)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return base, a.Service
}

var types = []string{"Organization", "Practitioner", "PractitionerRole", "Questionnaire", "Patient", "Consent", "Condition", "Observation",
	"Encounter", "QuestionnaireResponse", "Composition", "CarePlan", "Specimen", "ServiceRequest", "Task", "DiagnosticReport", "Communication"}

// counts asks the server how many resources of each type it holds.
func counts(t *testing.T, base string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, typ := range types {
		res, err := http.Get(base + "/" + typ + "?_summary=count")
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Total int `json:"total"`
		}
		json.NewDecoder(res.Body).Decode(&b)
		res.Body.Close()
		out[typ] = b.Total
	}
	return out
}

func total(c map[string]int) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func region(t *testing.T, n int, f generate.Format) string {
	t.Helper()
	g, err := generate.New(generate.Config{Patients: n, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "region")
	if err := g.WriteDir(context.Background(), dir, generate.WriteOptions{Format: f, Gzip: true}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestResume interrupts an import part-way, with one Bundle stored by the
// server but answered with a 500 (so the importer sends it again), then
// resumes it: the result must equal a clean import, nothing duplicated and
// nothing missing.
func TestResume(t *testing.T) {
	for _, f := range []generate.Format{generate.FormatBundle, generate.FormatNDJSON} {
		t.Run(string(f), func(t *testing.T) {
			dir := region(t, 40, f)
			opts := Options{Workers: 3, BatchSize: 25}

			refBase, _ := server(t, nil)
			opts.Journal = filepath.Join(t.TempDir(), "ref.journal")
			sum, err := Run(context.Background(), NewHTTPSink(refBase, 3), []string{dir}, opts)
			if err != nil || len(sum.Failures) > 0 {
				t.Fatalf("reference import: %v %+v", err, sum.Failures)
			}
			want := counts(t, refBase)
			if want["Patient"] != 40 {
				t.Fatalf("reference import has %d patients", want["Patient"])
			}

			// the faulty server: the 6th bundle is stored but its answer lost;
			// the context is cancelled after the 12th request
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var n atomic.Int32
			base, _ := server(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					k := n.Add(1)
					if k == 12 {
						cancel()
					}
					if k == 6 {
						h.ServeHTTP(httptest.NewRecorder(), r)
						http.Error(w, "lost answer", http.StatusBadGateway)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			opts.Journal = filepath.Join(t.TempDir(), "journal")
			_, err = Run(ctx, NewHTTPSink(base, 3), []string{dir}, opts)
			if err == nil {
				t.Fatal("interrupted import reported no error")
			}
			mid := counts(t, base)
			if total(mid) >= total(want) {
				t.Fatalf("the interruption came too late: %v", mid)
			}
			sum, err = Run(context.Background(), NewHTTPSink(base, 3), []string{dir}, opts)
			if err != nil || len(sum.Failures) > 0 {
				t.Fatalf("resumed import: %v %+v", err, sum.Failures)
			}
			if sum.Skipped == 0 {
				t.Error("the resumed import skipped nothing")
			}
			got := counts(t, base)
			for _, typ := range types {
				if got[typ] != want[typ] {
					t.Errorf("%s: %d after resume, %d in a clean import", typ, got[typ], want[typ])
				}
			}
			t.Logf("after the interruption: %d of %d resources; after resuming: %v (skipped %d units)", total(mid), total(want), got, sum.Skipped)
		})
	}
}

// TestStorageSink imports straight into the service (no HTTP) and re-runs
// the import without a journal: conditional creates keep it duplicate-free.
func TestStorageSink(t *testing.T) {
	dir := region(t, 15, generate.FormatBundle)
	base, svc := server(t, nil)
	for run := 0; run < 2; run++ {
		sum, err := Run(context.Background(), ServiceSink{svc}, []string{dir}, Options{Workers: 2, Journal: filepath.Join(t.TempDir(), "j")})
		if err != nil || len(sum.Failures) > 0 {
			t.Fatalf("run %d: %v %+v", run, err, sum.Failures)
		}
		if run == 1 && sum.Resources() == 0 {
			t.Fatal("second run wrote nothing at all")
		}
		if run == 1 {
			for typ, c := range sum.Created {
				if c > 0 {
					t.Errorf("second run created %d %s", c, typ)
				}
			}
		}
	}
	if c := counts(t, base); c["Patient"] != 15 {
		t.Errorf("%d patients", c["Patient"])
	}
}
