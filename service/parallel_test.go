package service

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// TestPanicInParallelPreparation: a panic while a large Bundle's entries
// are prepared on several goroutines reaches the caller's goroutine (where
// the HTTP layer turns it into a 500), instead of ending the process.
func TestPanicInParallelPreparation(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, search.Default())
	s.Validate = func(context.Context, string, map[string]any) ([]fhir.Issue, *fhir.Error) { panic("a validator bug") }
	var entries []any
	for i := 0; i < 20; i++ { // parallel() fans out from 16
		entries = append(entries, map[string]any{
			"resource": map[string]any{"resourceType": "Patient", "id": fmt.Sprint("p", i)},
			"request":  map[string]any{"method": "POST", "url": "Patient"},
		})
	}
	body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	got := func() (p any) {
		defer func() { p = recover() }()
		_, _, _ = s.Bundle(context.Background(), body, BundleOptions{})
		return nil
	}()
	if got != "a validator bug" {
		t.Fatalf("recovered %v", got)
	}
}
