package auth

import (
	"context"
	"net/http"
	"testing"
)

// Cookieless GETs (no login, no form posted) must not each write a
// record to the store: an anonymous client would otherwise fill the
// database and hold its single writer at the rate it can send GETs.
func TestAnonymousGETsWriteNothing(t *testing.T) {
	h := newWebHarness(t, nil)
	const n = 50
	for range n {
		resp, err := http.Get(h.srv.URL + "/auth/password-reset") // a fresh client: no cookie
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = http.Get(h.authorizeURL(nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	sessions, _ := h.st.ListRecords(context.Background(), KindSession)
	pending, _ := h.st.ListRecords(context.Background(), KindPending)
	if len(sessions)+len(pending) > 10 {
		t.Errorf("%d anonymous GETs stored %d sessions and %d pending requests (kept 1 h and 10 min)", 2*n, len(sessions), len(pending))
	}
}
