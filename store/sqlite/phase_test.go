package sqlite

import (
	"context"
	"testing"
	"time"
	"path/filepath"
	"os"

	"github.com/dccfhir/dccfhir/store"
)

func TestPhases(t *testing.T) {
	dir := os.Getenv("PHASEDIR")
	if dir == "" { t.Skip() }
	s, err := Open(filepath.Join(dir, "p.db"))
	if err != nil { t.Fatal(err) }
	defer s.Close()
	ctx := context.Background()
	var tput, tflush, tcommit, tbegin time.Duration
	for b := 0; b < 20; b++ {
		t0 := time.Now()
		s.wmu.Lock()
		s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE")
		t1 := time.Now()
		tx := &tx{s: s, dirty: map[int64]struct{}{}}
		for i := 0; i < 700; i++ {
			if err := tx.Put(ctx, benchWrite(b*700+i)); err != nil { t.Fatal(err) }
		}
		t2 := time.Now()
		if err := tx.flush(ctx); err != nil { t.Fatal(err) }
		t3 := time.Now()
		s.wconn.ExecContext(ctx, "COMMIT")
		t4 := time.Now()
		s.wmu.Unlock()
		s.committed()
		tbegin += t1.Sub(t0); tput += t2.Sub(t1); tflush += t3.Sub(t2); tcommit += t4.Sub(t3)
	}
	t.Logf("begin %v put %v flush %v commit %v", tbegin, tput, tflush, tcommit)
	_ = store.ErrConflict
}
