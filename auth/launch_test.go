package auth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/dccfhir/dccfhir/service"
)

const insSystem = "urn:oid:1.2.250.1.213.1.4.8"

func (e *env) put(typ, id, body string) {
	e.t.Helper()
	if _, err := e.svc.Update(e.ctx, typ, id, []byte(body), service.Preconditions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) launch(token, ctype, body string) *answer {
	req, _ := http.NewRequest("POST", e.ts.URL+"/auth/launch", strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

func TestEHRLaunch(t *testing.T) {
	e, _ := userEnv(t)
	e.put("Patient", "pat1", `{"resourceType":"Patient","id":"pat1","identifier":[{"system":"`+insSystem+`","value":"1800175108205"}]}`)
	e.put("Patient", "pat2", `{"resourceType":"Patient","id":"pat2","identifier":[{"system":"`+insSystem+`","value":"twin"}]}`)
	e.put("Patient", "pat3", `{"resourceType":"Patient","id":"pat3","identifier":[{"system":"`+insSystem+`","value":"twin"}]}`)
	e.put("Encounter", "enc1", `{"resourceType":"Encounter","id":"enc1","status":"in-progress","class":{"code":"AMB"},"subject":{"reference":"Patient/pat1"}}`)
	e.put("Encounter", "enc2", `{"resourceType":"Encounter","id":"enc2","status":"in-progress","class":{"code":"AMB"},"subject":{"reference":"Patient/pat2"}}`)
	k := newClientKeyFor(t, jwa.ES384, "k")
	e.addClient(ClientSpec{ID: "ehr", Kind: "backend", JWKS: k.jwks, Scopes: "system/Patient.rs", Launch: true})
	e.addClient(ClientSpec{ID: "lab", Kind: "backend", JWKS: k.jwks, Scopes: "system/Patient.rs"})
	ehr := e.backendToken(k, "ehr", "")

	for _, tc := range []struct {
		body      string
		patient   string
		encounter string
		banner    bool
	}{
		{`{"patient":"Patient/pat1"}`, "pat1", "", true},
		{`{"patient":"` + insSystem + `|1800175108205","encounter":"Encounter/enc1","need_patient_banner":false}`, "pat1", "enc1", false},
	} {
		a := e.launch(ehr, "application/json", tc.body)
		if a.status != 200 || a.str("launch") == "" || a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %s", tc.body, a.status, a.raw)
		}
		rec, err := e.st.TakeRecord(e.ctx, KindLaunch, Digest(a.str("launch")))
		if err != nil {
			t.Fatal(err)
		}
		var l Launch
		_ = json.Unmarshal(rec.Value, &l)
		if l.ClientID != "ehr" || l.Patient != tc.patient || l.Encounter != tc.encounter || l.NeedPatientBanner != tc.banner {
			t.Errorf("%s: launch %+v", tc.body, l)
		}
		if d := rec.Expires.Sub(e.clock.Now()); d != launchTTL {
			t.Errorf("launch lives %v", d)
		}
		if _, err := e.st.TakeRecord(e.ctx, KindLaunch, Digest(a.str("launch"))); err == nil {
			t.Error("a launch taken twice")
		}
	}

	code, verifier := e.appCode("patient/*.rs")
	user := e.post("/auth/token", codeForm(code, appRedirect, verifier, "app"), "").str("access_token")
	for _, tc := range []struct {
		name, token, ctype, body string
		status                   int
		err                      string
	}{
		{"no token", "", "application/json", `{"patient":"Patient/pat1"}`, 401, "invalid_token"},
		{"a forged token", ehr[:len(ehr)-4] + "AAAA", "application/json", `{"patient":"Patient/pat1"}`, 401, "invalid_token"},
		{"a user's token", user, "application/json", `{"patient":"Patient/pat1"}`, 403, "insufficient_scope"},
		{"a backend not registered with --launch", e.backendToken(k, "lab", ""), "application/json", `{"patient":"Patient/pat1"}`, 403, "insufficient_scope"},
		{"not JSON", ehr, "application/x-www-form-urlencoded", `patient=Patient/pat1`, 415, "invalid_request"},
		{"an unknown member", ehr, "application/json", `{"patient":"Patient/pat1","scope":"system/*.cruds"}`, 400, "invalid_request"},
		{"two objects", ehr, "application/json", `{"patient":"Patient/pat1"}{}`, 400, "invalid_request"},
		{"no patient", ehr, "application/json", `{}`, 400, "invalid_request"},
		{"an unknown patient", ehr, "application/json", `{"patient":"Patient/nobody"}`, 404, "invalid_request"},
		{"an identifier no one carries", ehr, "application/json", `{"patient":"` + insSystem + `|0"}`, 404, "invalid_request"},
		{"an identifier two patients carry", ehr, "application/json", `{"patient":"` + insSystem + `|twin"}`, 400, "invalid_request"},
		{"another type", ehr, "application/json", `{"patient":"Practitioner/p1"}`, 400, "invalid_request"},
		{"an encounter of another patient", ehr, "application/json", `{"patient":"Patient/pat1","encounter":"Encounter/enc2"}`, 400, "invalid_request"},
		{"an unknown encounter", ehr, "application/json", `{"patient":"Patient/pat1","encounter":"Encounter/nope"}`, 404, "invalid_request"},
		{"oversized", ehr, "application/json", `{"patient":"` + strings.Repeat("x", maxAuthBody) + `"}`, 413, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.launch(tc.token, tc.ctype, tc.body)
			if a.status != tc.status || a.str("error") != tc.err || a.body["launch"] != nil {
				t.Fatalf("%d %s", a.status, a.raw)
			}
			if tc.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), `Bearer realm="dccfhir"`) {
				t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	_ = time.Second
}
