package auth

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEpochReaderFreshness: a caller is never answered by a read that
// began before it arrived, and concurrent callers share reads.
func TestEpochReaderFreshness(t *testing.T) {
	var e epochReader
	var version atomic.Int64 // the "stored" epoch
	var reads atomic.Int64
	fetch := func(context.Context) (string, error) {
		reads.Add(1)
		v := version.Load()
		time.Sleep(200 * time.Microsecond) // a store read takes time
		return strconv.FormatInt(v, 10), nil
	}
	const callers = 64
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				// a change commits, then this caller's request arrives: it must see it
				want := version.Add(1)
				got, err := e.read(context.Background(), fetch)
				if err != nil {
					t.Error(err)
					return
				}
				// the value read is at least as new as the change this caller made
				if g, _ := strconv.ParseInt(got, 10, 64); g < want {
					t.Errorf("read epoch %d, older than change %d made before the call", g, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := reads.Load(); n >= callers*50 {
		t.Errorf("%d reads for %d calls: none shared", n, callers*50)
	}
	t.Logf("%d store reads for %d checks", reads.Load(), callers*50)
}
