package auth

import (
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// BenchmarkVerify is the token check every FHIR request pays: cached (the
// signature checked once per token; the revocation, client and user
// looked up on every call) for a backend and a user token, and uncached
// (jwx's parse and RS256 verification).
func BenchmarkVerify(b *testing.B) {
	e, _ := userEnv(b)
	k := newClientKeyFor(b, jwa.ES384, "k")
	e.addClient(ClientSpec{ID: "sys", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.cruds"})
	backend := e.backendToken(k, "sys", "")
	code, verifier := e.appCode("launch/patient patient/*.rs")
	user := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "").str("access_token")
	for _, tc := range []struct{ name, token string }{{"backend", backend}, {"user", user}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.srv.Verify(e.ctx, tc.token); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			e.srv.tokens.verified.init(e.clock.Now)
			if _, err := e.srv.Verify(e.ctx, user); err != nil {
				b.Fatal(err)
			}
		}
	})
}
