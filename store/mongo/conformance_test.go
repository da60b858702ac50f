package mongo_test

import (
	"testing"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
	"github.com/dccfhir/dccfhir/store/storetest"
)

// TestConformance runs the shared store suite on the MongoDB engine (the
// embedded FerretDB, or DCC_TEST_MONGODB_URI).
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("store conformance suite on the MongoDB engine (-short)")
	}
	storetest.Run(t, func(t *testing.T) store.Store { return mongotest.Open(t) })
}
