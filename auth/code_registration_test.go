package auth

import (
	"testing"
	"time"
)

// An app that logs out revokes the access token it holds; revoking an
// access token revokes its family (revoke.go). When that access token has
// already expired (the usual case at the end of a working day), its
// family's refresh token must not stay usable for 30 days.
func TestCodeOfRemovedRegistration(t *testing.T) {
	e, _ := userEnv(t)
	code, verifier := e.appCode("patient/*.rs")
	if err := e.reg.RemoveClient(e.ctx, "app"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Second)
	e.addClient(ClientSpec{ID: "app", Kind: "public", RedirectURIs: []string{appRedirect}, Scopes: appScopes})
	if r := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), ""); r.status == 200 {
		t.Error("a code issued to the removed registration gave tokens to the new one")
	}
}
