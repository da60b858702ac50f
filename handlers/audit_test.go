package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// startAudited starts a protected server with the audit trail on, as
// serve does by default; it returns the app to stop its trail.
func startAudited(t *testing.T, e engine) (*fixture, *app.App) {
	t.Helper()
	st := e.open(t)
	f := &fixture{t: t, st: st}
	f.srv = httptest.NewUnstartedServer(nil)
	f.base = "http://" + f.srv.Listener.Addr().String() + "/fhir"
	a, err := app.New(context.Background(), app.Config{Store: st, Validator: fullValidator(t), Registry: search.Default(),
		HTTP: handlers.Config{BaseURL: f.base, Logger: testLogger()}, Logger: testLogger(),
		Auth: &auth.Config{TokenTTLBackend: authTokenTTL}, DataDir: t.TempDir(), Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, f.auth, f.token = a.Service, a.Auth, adminToken(t, a)
	f.srv.Config.Handler = a.Handler
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { a.Close() })
	return f, a
}

// auditCount is the number of AuditEvents matching query, searched in the
// service as the server's own work (no caller).
func (f *fixture) auditCount(query string) int {
	f.t.Helper()
	vals, err := url.ParseQuery(query)
	if err != nil {
		f.t.Fatal(err)
	}
	vals.Set("_summary", "count")
	r, err := f.svc.Search(context.Background(), "AuditEvent", vals, true)
	if err != nil {
		f.t.Fatalf("AuditEvent?%s: %v", query, err)
	}
	return r.Result.Total
}

func TestAuditTrail(t *testing.T) {
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			f, a := startAudited(t, e)
			ctx := context.Background()
			client := "agent:identifier=" + audit.SysClient + "|" + clientOf(t, f)

			if r := f.do("PUT", "/Patient/p1", map[string]any{"resourceType": "Patient", "id": "p1"}); r.status != 201 {
				t.Fatalf("PUT Patient/p1: %d %s", r.status, r.body)
			}
			r := f.do("POST", "/Observation", map[string]any{"resourceType": "Observation", "status": "final",
				"code": map[string]any{"text": "x"}, "subject": map[string]any{"reference": "Patient/p1"}})
			if r.status != 201 {
				t.Fatalf("POST Observation: %d %s", r.status, r.body)
			}
			obs := r.str("id")
			if r := f.do("GET", "/Observation/"+obs, nil); r.status != 200 {
				t.Fatalf("read: %d", r.status)
			}
			if r := f.do("GET", "/Observation?subject=Patient/p1", nil); r.status != 200 {
				t.Fatalf("search: %d", r.status)
			}
			if r := f.do("GET", "/Patient/p2", nil); r.status != 404 {
				t.Fatalf("read of an absent patient: %d", r.status)
			}
			if r := f.do("GET", "/Patient/p1", nil, "Authorization", "Bearer nope"); r.status != 401 {
				t.Fatalf("bad token: %d", r.status)
			}

			// a refused client at the token endpoint: a failed Login
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"x.y.z"}}
			tr, err := http.PostForm(f.base[:len(f.base)-len("/fhir")]+"/auth/token", form)
			if err != nil {
				t.Fatal(err)
			}
			tr.Body.Close()
			if tr.StatusCode < 400 {
				t.Fatalf("token for nobody: %d", tr.StatusCode)
			}

			// a batch that writes and reads: the write entry's event, and the batch's
			if r := f.do("POST", "", bundle("batch",
				txEntry("", "PUT", "Organization/o1", map[string]any{"resourceType": "Organization", "id": "o1", "name": "CHU"}),
				txEntry("", "GET", "Observation?subject=Patient/p1", nil))); r.status != 200 {
				t.Fatalf("batch: %d %s", r.status, r.body)
			}
			// a token in the query: refused, and never kept in the trail
			if r := f.do("GET", "/Observation?subject=Patient/p1&access_token=tok-in-the-url-42", nil); r.status != 400 {
				t.Fatalf("access_token in the query: %d", r.status)
			}

			for _, c := range []struct {
				query string
				want  int
			}{
				{"subtype=batch&outcome=0&" + client, 1},
				{"entity=Organization/o1&" + client, 1},
				{"type=http://dicom.nema.org/resources/ontology/DCM|110114&subtype=110122&outcome=4&agent:identifier=" + audit.SysClient + "|nobody", 1},
				// each request, found by patient and by agent
				{"patient=Patient/p1&subtype=update&action=U&outcome=0&entity=Patient/p1&" + client, 1},
				// the create: one event, written in the create's transaction
				{"patient=Patient/p1&subtype=create&action=C&entity=Observation/" + obs + "&" + client, 1},
				// (the patient of a read comes from the access gate: notePatient)
				{"subtype=read&action=R&entity=Observation/" + obs + "&" + client, 1},
				{"patient=Patient/p1&subtype=search-type&action=E&entity-role=24&" + client, 1},
				{"patient=Patient/p2&subtype=read&outcome=4&" + client, 1},
				// the refused token: a failure, no user, the address kept
				{"patient=Patient/p1&subtype=read&outcome=4&address=127.0.0.1", 1},
				{"type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest&date=ge2020-01-01", 9},
			} {
				if n := f.auditCount(c.query); n != c.want {
					t.Errorf("AuditEvent?%s: %d, want %d", c.query, n, c.want)
				}
			}
			rep, err := audit.Verify(ctx, f.st)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Events != 10 {
				t.Errorf("verify: %d events, want 10", rep.Events)
			}
			var exported strings.Builder
			if _, err := audit.Export(ctx, f.st, time.Time{}, &exported); err != nil {
				t.Fatal(err)
			}
			if q := base64.StdEncoding.EncodeToString([]byte("tok-in-the-url-42")); strings.Contains(exported.String(), "tok-in-the-url-42") || strings.Contains(exported.String(), q[:16]) {
				t.Error("the trail keeps an access_token sent in a query")
			}

			// the trail down: reads and writes get a 503, not an unrecorded answer
			a.Audit.Close()
			r = f.do("GET", "/Patient/p1", nil)
			if r.status != 503 || r.header.Get("ETag") != "" || r.str("resourceType") != "OperationOutcome" || r.str("issue", "0", "code") != "transient" {
				t.Errorf("read with the trail down: %d %v %s", r.status, r.header, r.body)
			}
			r = f.do("PUT", "/Patient/p3", map[string]any{"resourceType": "Patient", "id": "p3"})
			if r.status != 503 {
				t.Errorf("write with the trail down: %d %s", r.status, r.body)
			}
			// (a deployment without transactions, FerretDB, keeps the
			// Put made before the trail failed: the answer is still 503)
			if _, err := f.svc.Read(ctx, "Patient", "p3"); err == nil && f.st.Features().Transactions {
				t.Error("the write the trail could not record was stored")
			}
		})
	}
}

// clientOf is the client id of the fixture's token.
func clientOf(t *testing.T, f *fixture) string {
	p, err := f.auth.Verify(context.Background(), f.token)
	if err != nil {
		t.Fatal(err)
	}
	return p.ClientID
}

// BenchmarkReadByIDAudit is a read by id through the whole handler, with a
// token checked, from parallel clients (8 per core), with the audit trail
// off and on: what each read's AuditEvent costs once the group-commit
// writer batches concurrent reads' events (docs/benchmarks.md).
//
// The in-process variants call the handler directly (the harshest
// ratio: nothing but the server's work); the http variants go through a
// loopback TCP server and a keep-alive client, as clients do.
func BenchmarkReadByIDAudit(b *testing.B) {
	for _, v := range []struct {
		name    string
		on, net bool
	}{{"audit-off", false, false}, {"audit-on", true, false}, {"http/audit-off", false, true}, {"http/audit-on", true, true}} {
		on := v.on
		b.Run(v.name, func(b *testing.B) {
			dir := b.TempDir()
			st, err := sqlite.Open(filepath.Join(dir, "db.sqlite"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			base := "http://127.0.0.1:1/fhir"
			a, err := app.New(context.Background(), app.Config{Store: st, Logger: testLogger(), HTTP: handlers.Config{BaseURL: base},
				Auth: &auth.Config{}, DataDir: dir, Audit: on})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			ctx := context.Background()
			if _, err := a.Service.Update(ctx, "Patient", "p1", []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Durand"}]}`), service.Preconditions{}); err != nil {
				b.Fatal(err)
			}
			raw, err := os.ReadFile(a.Credentials)
			if err != nil {
				b.Fatal(err)
			}
			var cred auth.AdminCredentials
			if err := json.Unmarshal(raw, &cred); err != nil {
				b.Fatal(err)
			}
			tok, err := auth.IssueToken(ctx, a.Auth.Registry(), auth.TokenRequest{ClientID: cred.ClientID, Key: cred.Key, BaseURL: base})
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8)
			b.ReportAllocs()
			if v.net {
				srv := httptest.NewServer(a.Handler)
				defer srv.Close()
				tr := &http.Transport{MaxIdleConnsPerHost: 64}
				defer tr.CloseIdleConnections()
				hc := &http.Client{Transport: tr}
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					req, _ := http.NewRequest("GET", srv.URL+"/fhir/Patient/p1", nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					for pb.Next() {
						r, err := hc.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, r.Body)
						r.Body.Close()
						if r.StatusCode != http.StatusOK {
							b.Errorf("status %d", r.StatusCode)
							return
						}
					}
				})
				return
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", base+"/Patient/p1", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				for pb.Next() {
					w := httptest.NewRecorder()
					a.Handler.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return
					}
				}
			})
			b.StopTimer()
			if on {
				if n, err := audit.Verify(ctx, st); err != nil || n.Events < b.N {
					b.Fatalf("verify: %v %v, want %d events", n, err, b.N)
				}
			}
		})
	}
}
