package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/storetest"

	sqlite3 "modernc.org/sqlite/lib"
)

// TestWriteAfterIOError: a write that fails with an I/O error, in BEGIN, in
// its statements or in COMMIT, reports that error alone (not a ROLLBACK's
// "no transaction is active" beside it), discards the write connection,
// and the next write succeeds on a new one, every acknowledged write still
// there. The faults are the driver's simulated wal-index faults
// (SQLITE_IOERR_IN_PAGE, what a -shm truncated under the mapping gives),
// raised at each site a write reaches in turn.
func TestWriteAfterIOError(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		write func(s *Store, key string) error
		read  func(s *Store, key string) error
	}{
		{"Update",
			func(s *Store, key string) error {
				return s.Update(ctx, func(tx store.Tx) error {
					return tx.Put(ctx, storetest.NewWrite("Patient", key, 1, storetest.At(1), nil))
				})
			},
			func(s *Store, key string) error { _, err := s.Read(ctx, "Patient", key); return err }},
		{"PutRecord",
			func(s *Store, key string) error {
				return s.PutRecord(ctx, &store.Record{Kind: "t", Key: key, Value: []byte(key)})
			},
			func(s *Store, key string) error { _, err := s.GetRecord(ctx, "t", key); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openTemp(t)
			var acked []string
			write := func(key string) {
				t.Helper()
				if err := c.write(s, key); err != nil {
					t.Fatalf("write %s: %v", key, err)
				}
				acked = append(acked, key)
			}
			write("first")
			sites := 0
			for n := int32(1); n < 1000; n++ {
				sqlite3.SehInject(n)
				err := c.write(s, fmt.Sprint("faulted", n))
				reached := sqlite3.SehPending() == 0
				sqlite3.SehInject(0)
				if !reached { // the write ran to completion before site n
					if err != nil {
						t.Fatalf("write with no fault: %v", err)
					}
					break
				}
				sites++
				if !connBroken(err) {
					t.Fatalf("fault at site %d: %v, want an I/O error", n, err)
				}
				if strings.Contains(err.Error(), "rollback") {
					t.Errorf("fault at site %d: %v", n, err)
				}
				if s.wconn != nil {
					t.Errorf("fault at site %d: the write connection was kept", n)
				}
				write(fmt.Sprint("after", n))
			}
			if sites == 0 {
				t.Fatal("no fault site reached")
			}
			for _, key := range acked {
				if err := c.read(s, key); err != nil {
					t.Fatalf("acknowledged %s: %v", key, err)
				}
			}
			t.Logf("%d fault sites", sites)
		})
	}
}
