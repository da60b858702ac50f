package auth

import (
	"net/url"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// No token, code, verifier, assertion or secret reaches a log line, on
// success or refusal.
func TestNoSecretsInLogs(t *testing.T) {
	e, secret := userEnv(t)
	k := newClientKeyFor(t, jwa.ES384, "k")
	e.addClient(ClientSpec{ID: "sys", Kind: "backend", JWKS: k.jwks, Scopes: "system/*.rs"})
	var secrets []string
	keep := func(vs ...string) {
		for _, v := range vs {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	keep(secret)
	code, verifier := e.appCode("openid fhirUser offline_access patient/*.rs")
	a := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	keep(code, verifier, a.str("access_token"), a.str("refresh_token"), a.str("id_token"))
	e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "") // replay
	b := e.post("/auth/token", refreshForm(a.str("refresh_token"), "app", ""), "")
	keep(b.str("access_token"), b.str("refresh_token"))
	e.post("/auth/token", refreshForm(a.str("refresh_token"), "app", ""), "") // reuse
	assertion := signJWS(t, k.priv, k.header(), e.assertionClaims("sys"))
	c := e.post("/auth/token", backendForm(assertion, ""), "")
	keep(assertion, c.str("access_token"))
	e.post("/auth/token", backendForm(assertion, ""), "") // replayed jti
	code2, verifier2 := e.issueCode(Code{ClientID: "web", RedirectURI: "https://web.example/cb", Scope: "user/*.rs", Username: "dr"})
	keep(code2, verifier2)
	e.post("/auth/token", codeForm(code2, "https://web.example/cb", verifier2, ""), "web:wrong-"+secret)
	e.post("/auth/introspect", url.Values{"client_id": {"app"}, "token": {c.str("access_token")}}, "")
	e.post("/auth/revoke", url.Values{"client_id": {"app"}, "token": {b.str("refresh_token")}}, "")
	e.whoami(c.str("access_token"))
	e.whoami(a.str("access_token") + "x")

	logs := e.logbuf.String()
	if !strings.Contains(logs, "token issued") || !strings.Contains(logs, "refused") {
		t.Fatalf("the flows were not logged:\n%s", logs)
	}
	for _, s := range secrets {
		// A part long enough to be the secret, not a common word.
		probe := s
		if len(probe) > 24 {
			probe = probe[len(probe)-24:]
		}
		if strings.Contains(logs, probe) {
			t.Errorf("a secret value is in the logs:\n%s", logs)
		}
	}
}
