package audit_test

import (
	"context"
	"time"

	"github.com/dccfhir/dccfhir/store"
	mstore "github.com/dccfhir/dccfhir/store/mongo"
)

func openMongoStore(uri string) (store.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return mstore.Open(ctx, uri)
}
