package handlers_test

import (
	"os"
	"testing"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
)

// The HTTP suite also runs on MongoDB: FerretDB embedded in the test
// process, or the real MongoDB of DCC_TEST_MONGODB_URI.
func init() {
	engines = append(engines, engine{"mongodb", func(t *testing.T) store.Store { return mongotest.Open(t) }})
}

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }
