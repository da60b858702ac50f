package auth

import (
	"net/url"
	"testing"
	"time"
)

// An app that logs out revokes the access token it holds; revoking an
// access token revokes its family (revoke.go). When that access token has
// already expired (the usual case at the end of a working day), its
// family's refresh token must not stay usable for 30 days.
func TestRevokeExpiredAccessToken(t *testing.T) {
	e, _ := userEnv(t)
	code, verifier := e.appCode("offline_access patient/*.rs")
	first := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "")
	if first.status != 200 || first.str("refresh_token") == "" {
		t.Fatalf("%d %s", first.status, first.raw)
	}
	e.clock.Add(2 * time.Hour) // the access token expired an hour ago
	if r := e.post("/auth/revoke", url.Values{"client_id": {"app"}, "token": {first.str("access_token")}}, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if r := e.post("/auth/token", refreshForm(first.str("refresh_token"), "app", ""), ""); r.status == 200 {
		t.Error("the family of the revoked (expired) access token still refreshes: the app's logout left a 30-day refresh token alive")
	}
}

// A client removed and registered again under the same id (a new app, or
// the same one after its secret or redirect URIs leaked) must not redeem
// the codes issued to the removed registration.
