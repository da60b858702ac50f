package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/storetest"
)

// openTemp opens a fresh database in a test's temporary directory.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sub", "fhir.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}
