package auth

import (
	"net/url"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Unauthenticated requests must not make the server run an unbounded
// number of argon2id hashes (19 MiB each) at once: 16 token requests
// with a wrong HTTP Basic secret for a known confidential client (client
// ids are public) should not hold much more than a few hashes' memory.
func TestArgonConcurrencyBounded(t *testing.T) {
	e := newEnv(t)
	e.addClient(ClientSpec{ID: "web", Kind: "confidential", RedirectURIs: []string{"https://app.example/cb"}, Scopes: "user/*.rs"})
	defer debug.SetGCPercent(debug.SetGCPercent(5)) // collect freed hashes at once: measure what is held
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := e.post("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, "web:wrong-secret")
			if r.status != 401 {
				t.Errorf("wrong secret: %d %s", r.status, r.raw)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	<-sampled
	grew := (peak.Load() - base) >> 20
	t.Logf("heap in use grew by %d MiB for %d wrong-secret requests", grew, n)
	if limit := uint64(4 * argonMemory >> 10); grew > 2*limit { // twice: freed hashes wait for the GC
		t.Errorf("%d concurrent wrong-secret requests held %d MiB of argon2id memory at once (want a bound, e.g. %d MiB for 4 hashes)", n, grew, limit)
	}
}
