package mongo_test

import (
	"context"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/store"
	mstore "github.com/dccfhir/dccfhir/store/mongo"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
	"github.com/dccfhir/dccfhir/store/storetest"
)

// TestRecordsReopen reconnects to the same database.
func TestRecordsReopen(t *testing.T) {
	uri := mongotest.URI(t)
	storetest.RecordsReopen(t, func(t *testing.T) store.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := mstore.Open(ctx, uri)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
