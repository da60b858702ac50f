package audit_test

import (
	"context"
	"testing"

	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/fhir/search"
)

// BenchmarkRecord is the cost of one event recorded from parallel clients
// (the group commit batches them).
func BenchmarkRecord(b *testing.B) {
	st, _, _ := engines[0].open(b)
	w := audit.NewWriter(audit.Config{Store: st, Registry: search.Default(), BaseURL: "http://x/fhir"})
	defer w.Close()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if err := w.Record(context.Background(), event(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
