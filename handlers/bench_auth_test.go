package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// BenchmarkReadByID is a read by id through the whole handler, without
// protection and with a token checked on every request: the per-request
// cost of authentication, without the network (dccfhir bench measures it
// through the network, docs/benchmarks.md).
func BenchmarkReadByID(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "auth-off"
		if on {
			name = "auth-on"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			st, err := sqlite.Open(filepath.Join(dir, "db.sqlite"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			base := "http://127.0.0.1:1/fhir"
			cfg := app.Config{Store: st, Logger: testLogger(), HTTP: handlers.Config{BaseURL: base}}
			if on {
				cfg.Auth, cfg.DataDir = &auth.Config{}, dir
			}
			a, err := app.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := a.Service.Update(ctx, "Patient", "p1", []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Durand"}]}`), service.Preconditions{}); err != nil {
				b.Fatal(err)
			}
			var hdr string
			if on {
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
				hdr = "Bearer " + tok
			}
			req := httptest.NewRequest("GET", base+"/Patient/p1", nil)
			if hdr != "" {
				req.Header.Set("Authorization", hdr)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				a.Handler.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
