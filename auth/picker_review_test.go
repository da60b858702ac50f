package auth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A read-only Patient scope restricted by a repeated parameter (an AND:
// a birth-date range) must narrow the picker's search as it narrows
// reads; joining the values with a comma turns the AND into an OR and
// lists every patient.
func TestPickerRepeatedRestrictionIsAnd(t *testing.T) {
	h := newWebHarness(t, nil)
	userScope := "user/Patient.r?birthdate=ge1950-01-01&birthdate=le1960-12-31"
	scope := "launch/patient patient/*.rs " + userScope
	h.client(&Client{ID: "reader", Kind: "public", Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: scope})
	h.patient("in", `{"resourceType":"Patient","id":"in","birthDate":"1955-05-05","name":[{"family":"Leroy"}]}`)
	h.patient("old", `{"resourceType":"Patient","id":"old","birthDate":"1930-01-01","name":[{"family":"Leroy"}]}`)
	h.patient("young", `{"resourceType":"Patient","id":"young","birthDate":"1990-01-01","name":[{"family":"Leroy"}]}`)
	b := h.browser()
	picker := b.login(b.get(h.authorizeURL(map[string]string{"client_id": "reader", "scope": scope})), "alice", testPassword)
	found := b.submit(picker, "/auth/picker", map[string]string{"name": "leroy"})
	if !strings.Contains(found.body, `value="in"`) {
		t.Fatalf("the patient inside the range is not listed: %s", found.body)
	}
	for _, id := range []string{"old", "young"} {
		if strings.Contains(found.body, `value="`+id+`"`) {
			t.Errorf("the picker lists %s, outside user/Patient.r's birth-date range (the restriction's AND became an OR)", id)
		}
	}
}

// A read-only Patient scope restricted by something the server cannot
// enforce allows no read at all (service: "nothing is allowed"); the
// picker's fallback search, run with the server's own access and the
// restriction added as plain parameters, must not list every patient.
func TestPickerUnenforceableRestriction(t *testing.T) {
	for _, userScope := range []string{
		"user/Patient.r?no-such-param=x",          // unknown parameter: a lenient search ignores it
		"user/Patient.r?_count=1",                 // not a condition
		"user/Patient.r?gender=female&_sort=name", // a condition plus a control parameter
	} {
		t.Run(userScope, func(t *testing.T) {
			h := newWebHarness(t, nil)
			scope := "launch/patient patient/*.rs " + userScope
			h.client(&Client{ID: "reader", Kind: "public", Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: scope})
			h.patient("m", `{"resourceType":"Patient","id":"m","gender":"male","name":[{"family":"Leroy"}]}`)
			b := h.browser()
			picker := b.login(b.get(h.authorizeURL(map[string]string{"client_id": "reader", "scope": scope})), "alice", testPassword)
			found := b.submit(picker, "/auth/picker", map[string]string{"name": "leroy"})
			if strings.Contains(found.body, `value="m"`) {
				t.Errorf("the picker lists a patient the scope lets nobody read: %s", found.body)
			}
		})
	}
}

// An app re-registered without a redirect URI (it leaked, its domain
// lapsed) must not have a code sent there by an authorize request made
// before the change and completed after it.
func TestPendingRedirectAfterReregistration(t *testing.T) {
	h := newWebHarness(t, nil)
	h.client(&Client{ID: "trusted", Kind: "public", Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: "openid patient/*.rs", Created: h.clock.Now()})
	b := h.browser()
	login := b.get(h.authorizeURL(map[string]string{"client_id": "trusted", "scope": "openid"}))
	if err := h.s.reg.RemoveClient(context.Background(), "trusted"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Second)
	if _, err := h.s.reg.AddClient(context.Background(), ClientSpec{ID: "trusted", Kind: "public", Trusted: true, RedirectURIs: []string{"https://new.example/cb"}, Scopes: "openid patient/*.rs"}); err != nil {
		t.Fatal(err)
	}
	if u := b.login(login, "alice", testPassword).redirect(); u != nil && u.Query().Get("code") != "" {
		t.Errorf("a code was sent to %s, no longer a redirect URI of the client", u.Host+u.Path)
	}
}
