package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// TestAuditCommands: verify says ok, export writes the events, and an
// event altered in the database makes verify fail (exit 1) naming it.
func TestAuditCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	storage := "sqlite:" + path
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
	for i := 0; i < 3; i++ {
		if err := w.Record(context.Background(), &audit.Event{Interaction: "read", Status: 200, Username: "dr", Resources: []string{"Patient/p1"}}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	st.Close()

	var out bytes.Buffer
	if err := auditVerify([]string{"--storage", storage}, &out); err != nil || !strings.HasPrefix(out.String(), "ok 3 events") {
		t.Fatalf("verify: %v %q", err, out.String())
	}
	out.Reset()
	if err := auditExport([]string{"--storage", storage, "--since", "2000-01-01T00:00:00Z", "--format", "ndjson"}, &out); err != nil || strings.Count(out.String(), "\n") != 3 {
		t.Fatalf("export: %v %q", err, out.String())
	}
	if err := auditExport([]string{"--storage", storage, "--since", "yesterday"}, &out); err == nil {
		t.Error("export --since yesterday accepted")
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE history SET json = CAST(replace(CAST(json AS TEXT), '"dr"', '"mallory"') AS BLOB) WHERE type = 'AuditEvent' AND id = ?`, audit.ID(2)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = auditVerify([]string{"--storage", storage}, &out)
	if err == nil || !strings.Contains(err.Error(), "AuditEvent/"+audit.ID(2)) {
		t.Fatalf("verify of an altered event: %v", err)
	}
	if code := run([]string{"audit", "verify", "--storage", storage}); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}
