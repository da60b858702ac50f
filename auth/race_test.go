package auth

import (
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Single use under concurrency: of eight simultaneous presentations of one
// code, one refresh token or one assertion, exactly one gets tokens.
func TestSingleUseConcurrent(t *testing.T) {
	e, _ := userEnv(t)
	k := newClientKeyFor(t, jwa.ES384, "k")
	e.addClient(ClientSpec{ID: "sys", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.rs"})
	code, verifier := e.appCode("offline_access patient/*.rs")
	rt := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "").str("refresh_token")
	code2, verifier2 := e.appCode("patient/*.rs")
	assertion := signJWS(t, k.priv, k.header(), e.assertionClaims("sys"))
	for _, tc := range []struct {
		name string
		send func() *answer
	}{
		{"code", func() *answer { return e.post("/auth/token", codeForm(code2, appRedirect, verifier2, "app"), "") }},
		{"refresh token", func() *answer { return e.post("/auth/token", refreshForm(rt, "app", ""), "") }},
		{"assertion", func() *answer { return e.post("/auth/token", backendForm(assertion, ""), "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var wg sync.WaitGroup
			ok := 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if a := tc.send(); a.status == 200 {
						mu.Lock()
						ok++
						mu.Unlock()
					} else if a.status != 400 && a.status != 401 {
						t.Errorf("%d %s", a.status, a.raw)
					}
				}()
			}
			wg.Wait()
			if ok != 1 {
				t.Errorf("%d of 8 got tokens, want 1", ok)
			}
		})
	}
}
