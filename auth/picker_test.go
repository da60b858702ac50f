package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/service"
)

func (h *webHarness) patient(id, body string) {
	h.t.Helper()
	if _, err := h.svc.Update(context.Background(), "Patient", id, []byte(body), service.Preconditions{}); err != nil {
		h.t.Fatal(err)
	}
}

func TestStandalonePicker(t *testing.T) {
	h := newWebHarness(t, nil)
	h.patient("p1", `{"resourceType":"Patient","id":"p1","name":[{"family":"Martin","given":["Jeanne"]}],"birthDate":"1960-02-03","identifier":[{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"260026000000001"}]}`)
	h.patient("p2", `{"resourceType":"Patient","id":"p2","name":[{"family":"Martin","given":["<script>alert(1)</script>"]}]}`)
	h.patient("p3", `{"resourceType":"Patient","id":"p3","name":[{"family":"Durand"}]}`)
	b := h.browser()
	scope := "launch/patient patient/*.rs user/Patient.rs openid"
	picker := b.login(b.get(h.authorizeURL(map[string]string{"scope": scope})), "alice", testPassword)
	if !strings.Contains(picker.body, `action="picker"`) || !strings.Contains(picker.body, `name="name"`) || !strings.Contains(picker.body, `name="identifier"`) {
		t.Fatalf("not the picker (%d): %s", picker.status, picker.body)
	}
	// Consent cannot be given before a patient is chosen.
	if r := b.submit(picker, "/auth/consent", map[string]string{"decision": "allow"}); r.redirect() != nil {
		t.Errorf("consent before the patient was chosen: %v", r.header.Get("Location"))
	}
	found := b.submit(picker, "/auth/picker", map[string]string{"name": "martin"})
	if !strings.Contains(found.body, `value="p1"`) || !strings.Contains(found.body, `value="p2"`) || strings.Contains(found.body, `value="p3"`) {
		t.Errorf("search by name: %s", found.body)
	}
	if !strings.Contains(found.body, "MARTIN Jeanne · né·e le 1960-02-03 · 260026000000001") {
		t.Errorf("row of p1 missing: %s", found.body)
	}
	if strings.Contains(found.body, "<script") || !strings.Contains(found.body, "&lt;script&gt;") {
		t.Errorf("a patient's name is not escaped: %s", found.body)
	}
	byID := b.submit(picker, "/auth/picker", map[string]string{"identifier": "urn:oid:1.2.250.1.213.1.4.8|260026000000001"})
	if !strings.Contains(byID.body, `value="p1"`) || strings.Contains(byID.body, `value="p2"`) {
		t.Errorf("search by identifier: %s", byID.body)
	}
	if r := b.submit(picker, "/auth/picker", nil); !strings.Contains(r.body, "Indiquez un nom") {
		t.Errorf("an empty search: %s", r.body)
	}
	if r := b.submit(picker, "/auth/picker", map[string]string{"patient": "nope"}); r.status != http.StatusBadRequest {
		t.Errorf("an unknown patient chosen: %d", r.status)
	}
	consent := b.submit(found, "/auth/picker", map[string]string{"patient": "p1"})
	if !strings.Contains(consent.body, "Patient/p1") {
		t.Errorf("consent does not name the patient: %s", consent.body)
	}
	_, code, _ := h.codeOf(b.approve(consent))
	if code.Patient != "p1" || !code.NeedPatientBanner || code.Scope != "patient/*.rs user/Patient.rs launch/patient openid" {
		t.Errorf("code %+v", code)
	}

	// Cancel.
	again := b.get(h.authorizeURL(map[string]string{"scope": scope}))
	if u := b.submit(again, "/auth/picker", map[string]string{"cancel": "1"}).redirect(); u == nil || u.Query().Get("error") != "access_denied" {
		t.Errorf("cancel: %v", u)
	}
	// An EHR launch with a patient needs no picker.
	l := &Launch{ClientID: "ehr", Context: Context{Patient: "p3"}}
	if err := h.s.web.save(context.Background(), KindLaunch, Digest("L"), l, h.clock.Now().Add(5*60e9), true); err != nil {
		t.Fatal(err)
	}
	withLaunch := b.get(h.authorizeURL(map[string]string{"scope": "launch " + scope, "launch": "L"}))
	if _, code, _ := h.codeOf(b.approve(withLaunch)); code.Patient != "p3" {
		t.Errorf("launch patient %+v", code)
	}
}

// The picker shows and takes only what the user-level scopes allow: with
// search (the service narrows the search), or read only (the server's
// search narrowed by the read scope's restriction).
func TestPickerUserScopes(t *testing.T) {
	for _, userScope := range []string{"user/Patient.rs?gender=female", "user/Patient.r?gender=female"} {
		t.Run(userScope, func(t *testing.T) {
			h := newWebHarness(t, nil)
			scope := "launch/patient patient/*.rs " + userScope
			h.client(&Client{ID: "reader", Kind: "public", Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: scope})
			h.patient("f", `{"resourceType":"Patient","id":"f","gender":"female","name":[{"family":"Leroy"}]}`)
			h.patient("m", `{"resourceType":"Patient","id":"m","gender":"male","name":[{"family":"Leroy"}]}`)
			b := h.browser()
			picker := b.login(b.get(h.authorizeURL(map[string]string{"client_id": "reader", "scope": scope})), "alice", testPassword)
			found := b.submit(picker, "/auth/picker", map[string]string{"name": "leroy"})
			if !strings.Contains(found.body, `value="f"`) || strings.Contains(found.body, `value="m"`) {
				t.Errorf("the user scope does not narrow the picker: %s", found.body)
			}
			if r := b.submit(found, "/auth/picker", map[string]string{"patient": "m"}); r.status != http.StatusBadRequest || r.redirect() != nil {
				t.Errorf("a patient outside the user scope was taken: %d %v", r.status, r.header.Get("Location"))
			}
			if _, code, _ := h.codeOf(b.submit(found, "/auth/picker", map[string]string{"patient": "f"})); code.Patient != "f" {
				t.Errorf("code %+v", code)
			}
		})
	}
}

// confinedTo grants everything, confined to a set of patients (what the
// access gate gives a professional: their care circle).
type confinedTo []string

func (c confinedTo) Grant(byte, string) (service.Grant, error) {
	return service.Grant{Confined: true, Patients: c}, nil
}

// TestPickerNarrowed: the picker finds and accepts only the patients the
// FHIR API would show the user (Config.Narrow: the care circle).
func TestPickerNarrowed(t *testing.T) {
	var asked *User
	h := newWebHarness(t, func(c *Config) {
		c.Narrow = func(_ context.Context, _ service.Access, u *User) (service.Access, error) {
			asked = u
			return confinedTo{"p1"}, nil
		}
	})
	h.patient("p1", `{"resourceType":"Patient","id":"p1","name":[{"family":"Martin","given":["Jeanne"]}]}`)
	h.patient("p2", `{"resourceType":"Patient","id":"p2","name":[{"family":"Martin","given":["Paul"]}]}`)
	b := h.browser()
	picker := b.login(b.get(h.authorizeURL(map[string]string{"scope": "launch/patient patient/*.rs user/Patient.rs openid"})), "alice", testPassword)
	found := b.submit(picker, "/auth/picker", map[string]string{"name": "martin"})
	if !strings.Contains(found.body, `value="p1"`) || strings.Contains(found.body, `value="p2"`) {
		t.Errorf("search by name, narrowed to p1: %s", found.body)
	}
	if asked == nil || asked.Username != "alice" {
		t.Errorf("Narrow asked for %+v", asked)
	}
	if r := b.submit(picker, "/auth/picker", map[string]string{"patient": "p2"}); r.status != http.StatusBadRequest {
		t.Errorf("a patient outside the circle chosen: %d", r.status)
	}
}
