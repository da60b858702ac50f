package handlers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/auth/psc/psctest"
)

// TestSecurityE2E is issue 9's end-to-end security suite: every grant,
// Pro Santé Connect, scope enforcement, compartment narrowing, accounts
// (lockout, reset by e-mail), revocation and the attack table, through
// the started server, built as serve builds it, on every engine (one
// server per engine, shared by the parts in order: later parts use what
// earlier ones set up), then a scan of that server's whole log for every
// secret the suite saw.
func TestSecurityE2E(t *testing.T) {
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			began := time.Now()
			f := startSecurity(t, e)
			parts := []struct {
				name string
				run  func(t *testing.T, f *secFixture)
			}{
				{"grants", secGrants},
				{"pro sante connect", secPSC},
				{"scopes", secScopes},
				{"compartment", secCompartment},
				{"attacks", secAttacks},
				{"revocation", secRevocation},
				{"accounts", secAccounts}, // moves the clock by 15, then 30 minutes: last
			}
			for _, p := range parts {
				f.run(t, p.name, func(t *testing.T) {
					start := time.Now()
					p.run(t, f)
					t.Logf("%s: %v", p.name, time.Since(start).Round(time.Millisecond))
				})
			}
			f.scanLogs(t)
			t.Logf("%s: the security suite took %v", e.name, time.Since(began).Round(time.Millisecond))
		})
	}
}

// secGrants: each grant end to end.
func secGrants(t *testing.T, f *secFixture) {
	f.run(t, "authorization code with PKCE, login and consent", func(t *testing.T) {
		b := f.browser()
		state := "état +/=&%20 ünïcode " + secRandomID()
		a := &secAuthz{scope: "openid fhirUser offline_access user/*.rs user/Patient.c", state: state}
		p := b.get(f.authorizeURL(a))
		if !p.isLogin() {
			t.Fatalf("authorize did not show the login page: %d %.400s", p.status, p.body)
		}
		if !strings.Contains(p.body, `name="csrf_token"`) || !strings.Contains(p.body, "psc/start?pending=") || !strings.Contains(p.body, `href="password-reset"`) {
			t.Errorf("the login page lacks its CSRF token, the Pro Santé Connect link or the reset link")
		}
		if ck := p.header.Get("Set-Cookie"); !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") || !strings.Contains(ck, "Path=/auth") || strings.Contains(ck, "Secure") {
			t.Errorf("session cookie over plain http: %q", ck)
		}
		p = b.login(t, p, secUser, secPassword)
		if !p.isConsent() || !strings.Contains(p.body, "Dossier e2e") {
			t.Fatalf("no consent page after login: %d %.400s", p.status, p.body)
		}
		p = b.approve(t, p)
		u := p.appRedirect()
		if u == nil {
			t.Fatalf("no redirect to the app: %d %s", p.status, p.header.Get("Location"))
		}
		if got := u.Query().Get("state"); got != state {
			t.Errorf("state came back as %q, sent %q", got, state)
		}
		code := u.Query().Get("code")
		f.secrets.add("authorization code", code)
		r := f.exchange(a, code, "")
		if r.status != 200 || r.str("token_type") != "Bearer" || r.str("refresh_token") == "" || r.str("id_token") == "" ||
			r.str("fhirUser") != f.base+"/Practitioner/e2e-dr" || r.json["expires_in"] != float64(3600) {
			t.Fatalf("token response: %d %s", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
			t.Errorf("a token response may be cached: %v", r.header)
		}
		if got := strings.Fields(r.str("scope")); len(got) != 5 {
			t.Errorf("granted %q, asked openid fhirUser offline_access user/*.rs user/Patient.c", r.str("scope"))
		}
		// The ID token: signed by a key of /auth/jwks, for this app, with
		// the request's nonce and the user's Practitioner.
		set, err := jwk.Parse(f.send(secRequest("GET", f.issuer+"/auth/jwks", "")).body)
		if err != nil {
			t.Fatal(err)
		}
		id, err := jwt.Parse([]byte(r.str("id_token")), jwt.WithKeySet(set), jwt.WithIssuer(f.issuer), jwt.WithAudience(secApp),
			jwt.WithRequiredClaim("exp"), jwt.WithClock(jwt.ClockFunc(f.clock.Now)))
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		if c := id.PrivateClaims(); id.Subject() != secUser || c["nonce"] != a.nonce || c["fhirUser"] != f.base+"/Practitioner/e2e-dr" {
			t.Errorf("ID token claims: %s %v", id.Subject(), c)
		}
		at := r.str("access_token")
		if res := f.fhir("GET", "/Practitioner/e2e-dr", at, nil); res.status != 200 {
			t.Errorf("the user token reads its Practitioner: %d %s", res.status, res.body)
		}
		if res := f.fhir("GET", "/Observation?code="+secCodes+"|B", at, nil); res.status != 200 || len(secRefs(res)) != 1 {
			t.Errorf("user/*.rs is not confined: %d %s", res.status, res.body)
		}
		if res := f.fhir("DELETE", "/Observation/e2e-ob", at, nil); res.status != 403 {
			t.Errorf("user/*.rs deleting: %d", res.status)
		}
		f.dr = b

		// The same browser, logged in: a confidential app's code, by client_secret_basic.
		w := &secAuthz{client: secWeb, redirect: secWebRedirect, scope: "openid user/*.rs"}
		q := b.code(t, w, "", "")
		r = f.exchange(w, q.Get("code"), secWeb+":"+f.webSecret)
		if r.status != 200 || !secSameFields(r.str("scope"), "openid user/*.rs") {
			t.Fatalf("confidential app: %d %s", r.status, r.body)
		}
		if res := f.fhir("GET", "/Patient/e2e-pb", r.str("access_token"), nil); res.status != 200 {
			t.Errorf("confidential app's token: %d", res.status)
		}

		// The user refuses: the app gets access_denied, its state, no code.
		d := &secAuthz{scope: "user/*.rs", state: "deny-" + secRandomID()}
		p = b.get(f.authorizeURL(d))
		if !p.isConsent() {
			t.Fatalf("no consent page: %d", p.status)
		}
		u = b.submit(p, "/auth/consent", map[string]string{"decision": "deny"}).appRedirect()
		if u == nil || u.Query().Get("error") != "access_denied" || u.Query().Get("state") != d.state || u.Query().Has("code") {
			t.Errorf("consent refused: %v", u)
		}
	})

	f.run(t, "refresh with rotation and reuse detection", func(t *testing.T) {
		if f.dr == nil {
			t.Skip("needs the logged-in browser")
		}
		first := f.userTokens(t, f.dr, &secAuthz{scope: "offline_access user/*.rs"}, "", "")
		rt1 := first.str("refresh_token")
		second := f.post("/auth/token", secRefreshForm(rt1, secApp), "")
		rt2 := second.str("refresh_token")
		if second.status != 200 || rt2 == "" || rt2 == rt1 || second.str("access_token") == first.str("access_token") {
			t.Fatalf("refresh: %d %s", second.status, second.body)
		}
		if res := f.fhir("GET", "/Patient/e2e-pa", second.str("access_token"), nil); res.status != 200 {
			t.Fatalf("refreshed token: %d %s", res.status, res.body)
		}
		third := f.post("/auth/token", secRefreshForm(rt2, secApp), "")
		if third.status != 200 {
			t.Fatalf("second refresh: %d %s", third.status, third.body)
		}
		// rt1 again: the family is revoked, access tokens included.
		secWantOAuthError(t, "reuse of a rotated refresh token", f.post("/auth/token", secRefreshForm(rt1, secApp), ""), 400, "invalid_grant")
		for i, tok := range []string{first.str("access_token"), second.str("access_token"), third.str("access_token")} {
			secWantInvalidToken(t, fmt.Sprintf("access token %d of the family after reuse", i+1), f.fhir("GET", "/Patient/e2e-pa", tok, nil))
		}
		secWantOAuthError(t, "the newest refresh token after reuse", f.post("/auth/token", secRefreshForm(third.str("refresh_token"), secApp), ""), 400, "invalid_grant")
	})

	f.run(t, "backend services", func(t *testing.T) {
		for _, c := range []struct{ name, client, scope string }{
			{"ES384, registered JWKS", secES, "system/Patient.rs"},
			{"RS384, registered JWKS", secRS, "system/Patient.rs"},
			{"RS384, JWKS URL", secURL, ""},
		} {
			r := f.backend(c.client, c.scope)
			if r.status != 200 || r.str("token_type") != "Bearer" || r.json["expires_in"] != float64(300) || r.str("scope") != "system/Patient.rs" ||
				r.json["refresh_token"] != nil || r.json["id_token"] != nil {
				t.Errorf("%s: %d %s", c.name, r.status, r.body)
				continue
			}
			at := r.str("access_token")
			if res := f.fhir("GET", "/Patient/e2e-pa", at, nil); res.status != 200 {
				t.Errorf("%s: read %d %s", c.name, res.status, res.body)
			}
			if res := f.fhir("GET", "/Observation/e2e-oa", at, nil); res.status != 403 {
				t.Errorf("%s: a type not granted read %d", c.name, res.status)
			}
			in := f.post("/auth/introspect", url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {f.assertion(c.client)}, "token": {at}}, "")
			if in.status != 200 || in.json["active"] != true || in.str("client_id") != c.client || in.str("scope") != "system/Patient.rs" {
				t.Errorf("%s: introspection by itself: %d %s", c.name, in.status, in.body)
			}
		}
	})

	f.run(t, "EHR launch", func(t *testing.T) {
		if f.dr == nil {
			t.Skip("needs the logged-in browser")
		}
		ehr := f.backendToken(secEHR, "")
		launch := func(body string) string {
			t.Helper()
			r := f.launch(ehr, body)
			if r.status != 200 || r.str("launch") == "" {
				t.Fatalf("launch %s: %d %s", body, r.status, r.body)
			}
			f.secrets.add("launch id", r.str("launch"))
			return r.str("launch")
		}
		l := launch(`{"patient": "Patient/e2e-pa", "encounter": "Encounter/e2e-ea"}`)
		a := &secAuthz{scope: "launch openid fhirUser patient/*.rs", launch: l}
		r := f.userTokens(t, f.dr, a, "", "")
		if r.str("patient") != "e2e-pa" || r.str("encounter") != "e2e-ea" || r.json["need_patient_banner"] != true || r.str("fhirUser") != f.base+"/Practitioner/e2e-dr" {
			t.Fatalf("launch context: %s", r.body)
		}
		f.patientToken, f.patientIDTok = r.str("access_token"), r.str("id_token")
		if res := f.fhir("GET", "/Patient/e2e-pa", f.patientToken, nil); res.status != 200 {
			t.Errorf("the launch patient: %d %s", res.status, res.body)
		}
		if res := f.fhir("GET", "/Encounter/e2e-ea", f.patientToken, nil); res.status != 200 {
			t.Errorf("the launch encounter: %d %s", res.status, res.body)
		}
		if res := f.fhir("GET", "/Patient/e2e-pb", f.patientToken, nil); res.status != 404 {
			t.Errorf("another patient: %d %s", res.status, res.body)
		}
		secWantRefs(t, "a Patient search", f.fhir("GET", "/Patient", f.patientToken, nil), "Patient/e2e-pa")

		// By the patient's INS, no encounter, and write scopes: confined writes.
		l = launch(`{"patient": "` + secINS + `|` + secINSVal + `"}`)
		a = &secAuthz{scope: "launch patient/*.cruds", launch: l}
		r = f.userTokens(t, f.dr, a, "", "")
		if r.str("patient") != "e2e-pa" || r.json["encounter"] != nil {
			t.Fatalf("launch by identifier: %s", r.body)
		}
		w := r.str("access_token")
		if res := f.fhir("POST", "/Observation", w, secObs("", "Patient/e2e-pa", "W", nil)); res.status != 201 {
			t.Errorf("a write in the compartment: %d %s", res.status, res.body)
		}
		for _, c := range []struct {
			name, method, path string
			body               any
		}{
			{"create for another patient", "POST", "/Observation", secObs("", "Patient/e2e-pb", "W", nil)},
			{"update of another patient's", "PUT", "/Observation/e2e-ob", secObs("e2e-ob", "Patient/e2e-pb", "B", nil)},
			{"moving one's own to another patient", "PUT", "/Observation/e2e-oa", secObs("e2e-oa", "Patient/e2e-pb", "A", nil)},
			{"delete of another patient's", "DELETE", "/Observation/e2e-ob", nil},
		} {
			if res := f.fhir(c.method, c.path, w, c.body); res.status != 403 || res.str("resourceType") != "OperationOutcome" {
				t.Errorf("%s: %d %s", c.name, res.status, res.body)
			}
		}
		// Conditional writes match within the compartment only: another
		// patient's resource is no match.
		if res := f.fhir("DELETE", "/Observation?code="+secCodes+"|B", w, nil); res.status >= 300 {
			t.Errorf("conditional delete matching another patient's only: %d %s", res.status, res.body)
		}
		if res := f.fhir("PATCH", "/Observation?code="+secCodes+"|B", w, `[{"op":"replace","path":"/status","value":"amended"}]`,
			"Content-Type", "application/json-patch+json"); res.status != 404 && res.status != 412 {
			t.Errorf("conditional patch matching another patient's only: %d %s", res.status, res.body)
		}
		if res := f.fhir("GET", "/Observation/e2e-ob", f.adminToken(), nil); res.status != 200 || res.str("meta", "versionId") != "1" || res.str("status") != "final" {
			t.Errorf("another patient's Observation changed: %d %s", res.status, res.body)
		}
	})
}

// run runs fn as the subtest name of t, the fixture failing into it.
func (f *secFixture) run(t *testing.T, name string, fn func(t *testing.T)) {
	t.Run(name, func(st *testing.T) {
		f.t = st
		defer func() { f.t = t }()
		fn(st)
	})
}

// launch posts /auth/launch with token.
func (f *secFixture) launch(token, body string) *secResp {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.issuer+"/auth/launch", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return f.send(req)
}

// secPSC: a Pro Santé Connect login makes the professional's Practitioner,
// Organization and PractitionerRole; a second login reuses them.
func secPSC(t *testing.T, f *secFixture) {
	f.psc.Set(psctest.Behaviour{})
	admin := f.adminToken()
	count := func(typ string) int {
		t.Helper()
		r := f.fhir("GET", "/"+typ+"?_summary=count", admin, nil)
		n, ok := r.json["total"].(float64)
		if r.status != 200 || !ok {
			t.Fatalf("count of %s: %d %s", typ, r.status, r.body)
		}
		return int(n)
	}
	login := func() (fhirUser string) {
		t.Helper()
		b := f.browser()
		a := &secAuthz{scope: "openid fhirUser user/*.rs", idp: "psc", state: "psc-" + secRandomID()}
		p := b.get(f.authorizeURL(a))
		if !p.isConsent() {
			t.Fatalf("Pro Santé Connect login did not reach the consent page: %d %s %.600s", p.status, p.url, p.body)
		}
		if !strings.Contains(p.body, "psc-899700218896") {
			t.Errorf("the consent page does not name the account")
		}
		p = b.approve(t, p)
		u := p.appRedirect()
		if u == nil || u.Query().Get("state") != a.state {
			t.Fatalf("no code redirect: %d %s", p.status, p.header.Get("Location"))
		}
		f.secrets.add("ID token of Pro Santé Connect", f.psc.LastIDToken())
		r := f.exchange(a, u.Query().Get("code"), "")
		if r.status != 200 || !strings.HasPrefix(r.str("fhirUser"), f.base+"/Practitioner/") {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		pr := strings.TrimPrefix(r.str("fhirUser"), f.base+"/")
		if res := f.fhir("GET", "/"+pr, r.str("access_token"), nil); res.status != 200 {
			t.Errorf("the professional's token reads its Practitioner: %d", res.status)
		}
		return pr
	}
	before := map[string]int{}
	for _, typ := range []string{"Practitioner", "Organization", "PractitionerRole"} {
		before[typ] = count(typ)
	}
	pract := login()
	// What the claims made, found by their identifiers.
	r := f.fhir("GET", "/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|899700218896", admin, nil)
	secWantRefs(t, "the Practitioner of the idNatPs", r, pract)
	if fam := r.str("entry", "0", "resource", "name", "0", "family"); fam != "MARTIN" {
		t.Errorf("Practitioner's family name %q", fam)
	}
	r = f.fhir("GET", "/Organization?identifier=https://finess.esante.gouv.fr|750000018", admin, nil)
	if len(secRefs(r)) != 1 {
		t.Fatalf("the Organization of the FINESS: %d %s", r.status, r.body)
	}
	org := secRefs(r)[0]
	r = f.fhir("GET", "/PractitionerRole?practitioner="+pract, admin, nil)
	if len(secRefs(r)) != 1 || r.str("entry", "0", "resource", "organization", "reference") != org ||
		r.str("entry", "0", "resource", "code", "0", "coding", "0", "code") != "10" ||
		r.str("entry", "0", "resource", "code", "0", "coding", "0", "system") != "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante" {
		t.Errorf("the PractitionerRole: %d %s", r.status, r.body)
	}
	after := map[string]int{}
	for typ, n := range before {
		if after[typ] = count(typ); after[typ] != n+1 {
			t.Errorf("%s: %d before the first login, %d after", typ, n, after[typ])
		}
	}
	if u, err := f.reg.User(f.ctx, "psc-899700218896"); err != nil || u.Practitioner != pract || u.PasswordHash != "" {
		t.Errorf("the account of the login: %+v %v", u, err)
	}

	// The second login reuses all three.
	if again := login(); again != pract {
		t.Errorf("second login: %s, first %s", again, pract)
	}
	for typ, n := range after {
		if got := count(typ); got != n {
			t.Errorf("%s: %d after the first login, %d after the second", typ, n, got)
		}
	}
}

// secScopes: every interaction letter allowed and refused with tokens of
// exactly one letter, and batch / transaction entries.
func secScopes(t *testing.T, f *secFixture) {
	admin := f.adminToken()
	for _, id := range []string{"e2e-sl", "e2e-sl-del"} {
		if r := f.fhir("PUT", "/Observation/"+id, admin, secObs(id, "Patient/e2e-pb", "SL", nil)); r.status != 201 && r.status != 200 {
			t.Fatalf("seed %s: %d %s", id, r.status, r.body)
		}
	}
	patch := `[{"op":"replace","path":"/status","value":"amended"}]`
	interactions := []struct {
		name         string
		letter       byte
		method, path string
		body         any
		ctype        string
		status       int // when allowed
	}{
		{"create", 'c', "POST", "/Observation", secObs("", "Patient/e2e-pb", "SL-new", nil), "", 201},
		{"read", 'r', "GET", "/Observation/e2e-sl", nil, "", 200},
		{"vread", 'r', "GET", "/Observation/e2e-sl/_history/1", nil, "", 200},
		{"instance history", 'r', "GET", "/Observation/e2e-sl/_history", nil, "", 200},
		{"update", 'u', "PUT", "/Observation/e2e-sl", secObs("e2e-sl", "Patient/e2e-pb", "SL", nil), "", 200},
		{"patch", 'u', "PATCH", "/Observation/e2e-sl", patch, "application/json-patch+json", 200},
		{"delete", 'd', "DELETE", "/Observation/e2e-sl-del", nil, "", 204},
		{"search", 's', "GET", "/Observation?code=" + secCodes + "|SL", nil, "", 200},
		{"type history", 's', "GET", "/Observation/_history?_count=5", nil, "", 200},
	}
	for _, letter := range []byte("cruds") {
		scope := "system/Observation." + string(letter)
		r := f.backend(secES, scope)
		if r.status != 200 || r.str("scope") != scope {
			t.Fatalf("a token of %s: %d %s", scope, r.status, r.body)
		}
		tok := r.str("access_token")
		for _, in := range interactions {
			var hdr []string
			if in.ctype != "" {
				hdr = []string{"Content-Type", in.ctype}
			}
			res := f.fhir(in.method, in.path, tok, in.body, hdr...)
			if in.letter == letter {
				if res.status != in.status {
					t.Errorf("%s allows %s: %d %s", scope, in.name, res.status, res.body)
				}
				continue
			}
			need := "Observation." + string(in.letter)
			if res.status != 403 || !strings.Contains(res.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
				res.str("resourceType") != "OperationOutcome" || res.str("issue", "0", "code") != "forbidden" ||
				!strings.Contains(res.str("issue", "0", "diagnostics"), need) {
				t.Errorf("%s refuses %s: %d %q %s", scope, in.name, res.status, res.header.Get("WWW-Authenticate"), res.body)
			}
		}
	}
	// What the refused interactions left: e2e-sl updated and patched once
	// each (by the u token), e2e-sl-del deleted once (by the d token).
	if r := f.fhir("GET", "/Observation/e2e-sl", admin, nil); r.str("meta", "versionId") != "3" || r.str("status") != "amended" {
		t.Errorf("e2e-sl after the letters: %s", r.body)
	}
	if r := f.fhir("GET", "/Observation?code="+secCodes+"|SL-new&_summary=count", admin, nil); r.json["total"] != float64(1) {
		t.Errorf("creates that went through: %s", r.body)
	}

	entry := func(method, url string, res map[string]any) map[string]any {
		e := map[string]any{"request": map[string]any{"method": method, "url": url}}
		if res != nil {
			e["resource"] = res
			e["fullUrl"] = "urn:uuid:" + secUUID()
		}
		return e
	}
	bundle := func(typ string, entries ...map[string]any) map[string]any {
		es := make([]any, len(entries))
		for i, e := range entries {
			es[i] = e
		}
		return map[string]any{"resourceType": "Bundle", "type": typ, "entry": es}
	}
	tok := f.backendToken(secES, "system/Observation.c system/Patient.r")
	countCode := func(code string) float64 {
		r := f.fhir("GET", "/Observation?code="+secCodes+"|"+code+"&_summary=count", admin, nil)
		n, _ := r.json["total"].(float64)
		return n
	}
	f.run(t, "transaction with a forbidden entry", func(t *testing.T) {
		r := f.fhir("POST", "", tok, bundle("transaction",
			entry("POST", "Observation", secObs("", "Patient/e2e-pb", "TX", nil)),
			entry("POST", "Patient", map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": "Gamma"}}})))
		if r.status != 403 || r.str("resourceType") != "OperationOutcome" || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") ||
			!strings.Contains(r.str("issue", "0", "diagnostics"), "Patient.c") {
			t.Errorf("transaction: %d %q %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
		if n := countCode("TX"); n != 0 {
			t.Errorf("the refused transaction stored %v Observation(s)", n)
		}
		if r := f.fhir("GET", "/Patient?family=Gamma&_summary=count", admin, nil); r.json["total"] != float64(0) {
			t.Errorf("the refused transaction stored a Patient: %s", r.body)
		}
		// The same without the forbidden entry goes through (where the
		// engine has transactions: else it is refused as unsupported).
		r = f.fhir("POST", "", tok, bundle("transaction", entry("POST", "Observation", secObs("", "Patient/e2e-pb", "TX", nil))))
		switch {
		case !f.st.Features().Transactions:
			if r.status != 400 || !strings.Contains(string(r.body), "transactions") {
				t.Errorf("a transaction without multi-document transactions: %d %s", r.status, r.body)
			}
		case r.status != 200 || countCode("TX") != 1:
			t.Errorf("allowed transaction: %d %s", r.status, r.body)
		}
	})
	f.run(t, "batch answers per entry", func(t *testing.T) {
		r := f.fhir("POST", "", tok, bundle("batch",
			entry("POST", "Observation", secObs("", "Patient/e2e-pb", "BA", nil)),
			entry("POST", "Patient", map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": "Delta"}}}),
			entry("GET", "Patient/e2e-pa", nil),
			entry("GET", "Encounter/e2e-ea", nil),
			entry("DELETE", "Observation/e2e-oa", nil)))
		if r.status != 200 || r.str("type") != "batch-response" {
			t.Fatalf("batch: %d %s", r.status, r.body)
		}
		for i, want := range []string{"201", "403", "200", "403", "403"} {
			if got := r.str("entry", fmt.Sprint(i), "response", "status"); !strings.HasPrefix(got, want) {
				t.Errorf("batch entry %d: %q, want %s", i, got, want)
			}
			if want == "403" && r.str("entry", fmt.Sprint(i), "response", "outcome", "resourceType") != "OperationOutcome" {
				t.Errorf("batch entry %d: no OperationOutcome: %s", i, r.body)
			}
		}
		if countCode("BA") != 1 {
			t.Errorf("the allowed batch entry was not stored")
		}
		if r := f.fhir("GET", "/Patient?family=Delta&_summary=count", admin, nil); r.json["total"] != float64(0) {
			t.Errorf("the refused batch entry stored a Patient: %s", r.body)
		}
		if r := f.fhir("GET", "/Observation/e2e-oa", admin, nil); r.status != 200 {
			t.Errorf("the refused batch delete deleted: %d", r.status)
		}
	})
}

// secSameFields compares space-separated lists as sets.
func secSameFields(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// secUUID is a random UUID-shaped string.
func secUUID() string {
	b := []byte(secRandomID() + secRandomID())
	h := fmt.Sprintf("%x", b)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// secCompartment: a patient/ token (EHR launch, Patient/e2e-pa) sees its
// compartment only, through every way a search can reach a resource.
func secCompartment(t *testing.T, f *secFixture) {
	tok := f.patientToken
	if tok == "" {
		t.Skip("needs the EHR launch token")
	}
	admin := f.adminToken()
	for _, c := range []struct {
		name, query string
		want        []string
		// admin is what the same search finds unrestricted: the proof the
		// narrowing is what leaves the rest out.
		admin []string
	}{
		{"search", "/Observation?code=" + secCodes + "|A," + secCodes + "|B," + secCodes + "|C," + secCodes + "|X," + secCodes + "|P",
			[]string{"Observation/e2e-oa", "Observation/e2e-oc", "Observation/e2e-op"},
			[]string{"Observation/e2e-oa", "Observation/e2e-ob", "Observation/e2e-oc", "Observation/e2e-op", "Observation/e2e-ox"}},
		{"search by another patient", "/Observation?subject=Patient/e2e-pb", nil, nil},
		{"_include of another patient's member", "/Observation?_id=e2e-oc&_include=Observation:has-member",
			[]string{"Observation/e2e-oc"}, []string{"Observation/e2e-oc", "Observation/e2e-ob"}},
		{"_include of another Patient as performer", "/Observation?_id=e2e-op&_include=Observation:performer",
			[]string{"Observation/e2e-op"}, []string{"Observation/e2e-op", "Patient/e2e-pb"}},
		{"_include within the compartment", "/Observation?_id=e2e-oa&_include=Observation:subject&_include=Observation:performer",
			[]string{"Observation/e2e-oa", "Patient/e2e-pa", "Practitioner/e2e-dr"}, nil},
		{"_revinclude of another patient's", "/Encounter?_id=e2e-ea&_revinclude=Observation:encounter",
			[]string{"Encounter/e2e-ea", "Observation/e2e-oa"}, []string{"Encounter/e2e-ea", "Observation/e2e-oa", "Observation/e2e-ob"}},
		{"_revinclude through a parameter outside the compartment", "/Patient?_id=e2e-pa&_revinclude=Observation:focus",
			[]string{"Patient/e2e-pa"}, []string{"Patient/e2e-pa", "Observation/e2e-ox"}},
		{"chain into another Patient", "/Observation?performer:Patient.name=Beta", nil, []string{"Observation/e2e-op"}},
		{"chain into another patient's Observation", "/Observation?has-member.code=" + secCodes + "|B", nil, []string{"Observation/e2e-oc"}},
		{"chain within the compartment", "/Observation?subject:Patient.name=Alpha&code=" + secCodes + "|A", []string{"Observation/e2e-oa"}, nil},
		{"_has on another patient's", "/Patient?_has:Observation:focus:code=" + secCodes + "|X", nil, []string{"Patient/e2e-pa"}},
		{"_has within the compartment", "/Patient?_has:Observation:subject:code=" + secCodes + "|A", []string{"Patient/e2e-pa"}, nil},
		// e2e-op, Alpha's, is in Beta's compartment too (Beta performed it).
		{"_include=* of another patient's", "/Observation?_id=e2e-op,e2e-oc&_include=*",
			[]string{"Observation/e2e-oc", "Observation/e2e-op", "Patient/e2e-pa"}, []string{"Observation/e2e-oc", "Observation/e2e-op", "Patient/e2e-pa", "Patient/e2e-pb", "Observation/e2e-ob"}},
		{":iterate from the patient's into another's", "/Observation?_id=e2e-oc&_include=Observation:has-member&_include:iterate=Observation:subject",
			[]string{"Observation/e2e-oc", "Patient/e2e-pa"}, []string{"Observation/e2e-oc", "Patient/e2e-pa", "Observation/e2e-ob", "Patient/e2e-pb"}},
		{"a chain through _has into another patient's", "/Observation?subject:Patient._has:Observation:focus:code=" + secCodes + "|X&code=" + secCodes + "|A", nil,
			[]string{"Observation/e2e-oa"}},
		{"_has through a chain into another patient's", "/Patient?_has:Observation:focus:subject:Patient.name=Beta", nil, []string{"Patient/e2e-pa"}},
		{"compartment search of another patient", "/Patient/e2e-pb/Observation?code=" + secCodes + "|B," + secCodes + "|P," + secCodes + "|X",
			[]string{"Observation/e2e-op"}, []string{"Observation/e2e-ob", "Observation/e2e-op", "Observation/e2e-ox"}},
		{"shared data is not confined", "/Practitioner?_id=e2e-dr", []string{"Practitioner/e2e-dr"}, nil},
	} {
		secWantRefs(t, c.name, f.fhir("GET", c.query, tok, nil), c.want...)
		if c.admin != nil {
			secWantRefs(t, c.name+" (admin)", f.fhir("GET", c.query, admin, nil), c.admin...)
		}
	}
	// Paging: every page is narrowed, the pages of an unrestricted search
	// included (a next link does not carry the access of who got it).
	pages := func(tok, first string) []string {
		t.Helper()
		var all []string
		next := f.base + first
		for i := 0; next != "" && i < 20; i++ {
			req, _ := http.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			r := f.send(req)
			if r.status != 200 {
				t.Fatalf("page %d: %d %s", i, r.status, r.body)
			}
			all = append(all, secRefs(r)...)
			next = ""
			links, _ := r.json["link"].([]any)
			for _, l := range links {
				if m, _ := l.(map[string]any); m["relation"] == "next" {
					next, _ = m["url"].(string)
				}
			}
		}
		slices.Sort(all)
		return all
	}
	byCode := "/Observation?_count=1&code=" + secCodes + "|A," + secCodes + "|B," + secCodes + "|C," + secCodes + "|X," + secCodes + "|P"
	own := []string{"Observation/e2e-oa", "Observation/e2e-oc", "Observation/e2e-op"}
	if got := pages(tok, byCode); !slices.Equal(got, own) {
		t.Errorf("the pages of a narrowed search: %v", got)
	}
	r := f.fhir("GET", byCode, admin, nil)
	for _, l := range r.json["link"].([]any) {
		if m := l.(map[string]any); m["relation"] == "next" {
			u := strings.TrimPrefix(m["url"].(string), f.base)
			for _, id := range pages(tok, u) {
				if !slices.Contains(own, id) {
					t.Errorf("an admin's next link followed with a patient token gives %s", id)
				}
			}
		}
	}
	// A batch's GET entries are narrowed as the requests would be.
	r = f.fhir("POST", "", tok, map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{
		map[string]any{"request": map[string]any{"method": "GET", "url": "Observation/e2e-ob"}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "Observation?code=" + secCodes + "|B"}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "Observation/e2e-oa"}},
	}})
	if r.status != 200 || !strings.HasPrefix(r.str("entry", "0", "response", "status"), "404") ||
		r.str("entry", "1", "resource", "type") != "searchset" || dig(r.json, "entry", "1", "resource", "entry") != nil || r.str("entry", "2", "resource", "id") != "e2e-oa" {
		t.Errorf("batch GETs under a patient/ scope: %d %s", r.status, r.body)
	}
	// A read of another patient's resource is the 404 of an unknown one,
	// same words (service/access.go): nothing says it exists.
	unknown := f.fhir("GET", "/Observation/e2e-none", tok, nil)
	for _, path := range []string{"/Observation/e2e-ob", "/Observation/e2e-ob/_history/1", "/Observation/e2e-ob/_history", "/Patient/e2e-pb"} {
		r := f.fhir("GET", path, tok, nil)
		if r.status != 404 || r.str("resourceType") != "OperationOutcome" {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	other := f.fhir("GET", "/Observation/e2e-ob", tok, nil)
	if got, want := other.str("issue", "0", "diagnostics"), strings.ReplaceAll(unknown.str("issue", "0", "diagnostics"), "e2e-none", "e2e-ob"); got != want || unknown.status != 404 {
		t.Errorf("another patient's read says %q, an unknown one's %q", got, want)
	}
	// Type history lists the launch patient's versions only, with no total.
	hist := f.fhir("GET", "/Observation/_history", tok, nil)
	if got := secRefs(hist); hist.status != 200 || !slices.Contains(got, "Observation/e2e-oa") || slices.Contains(got, "Observation/e2e-ob") || slices.Contains(got, "Observation/e2e-ox") {
		t.Errorf("type history under a patient/ scope: %d %v, want Alpha's versions only", hist.status, got)
	}
	if _, ok := hist.json["total"]; ok {
		t.Errorf("type history under a patient/ scope has a total: %s", hist.body)
	}
	codes := "code=" + secCodes + "|A," + secCodes + "|B," + secCodes + "|C," + secCodes + "|X," + secCodes + "|P"
	// The other ways to the same search.
	req, _ := http.NewRequest("POST", f.base+"/Observation/_search", strings.NewReader(codes))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	secWantRefs(t, "POST _search", f.send(req), "Observation/e2e-oa", "Observation/e2e-oc", "Observation/e2e-op")
	secWantRefs(t, "system search with _type", f.fhir("GET", "?_type=Observation&"+codes, tok, nil), "Observation/e2e-oa", "Observation/e2e-oc", "Observation/e2e-op")
	secWantRefs(t, "search by _id of another patient's", f.fhir("GET", "/Observation?_id=e2e-ob,e2e-ox", tok, nil))
	// Counts are of the compartment too.
	for _, q := range []string{"/Observation?" + codes + "&_summary=count", "/Observation?" + codes + "&_total=accurate&_count=1"} {
		if r := f.fhir("GET", q, tok, nil); r.status != 200 || r.json["total"] != float64(3) {
			t.Errorf("%s: total %v (%d), want 3", q, r.json["total"], r.status)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"HEAD", "/Observation/e2e-ob"},
		{"GET", "/Observation/e2e-ob/$validate"},
	} {
		if r := f.fhir(c.method, c.path, tok, nil); r.status != 404 {
			t.Errorf("%s %s of another patient's: %d %s", c.method, c.path, r.status, r.body)
		}
	}
}

// secRevocation: RFC 7009 revocation, a removed client and a disabled
// account stop their tokens at the next request.
func secRevocation(t *testing.T, f *secFixture) {
	f.run(t, "RFC 7009 revoke", func(t *testing.T) {
		if f.dr == nil {
			t.Skip("needs the logged-in browser")
		}
		r := f.userTokens(t, f.dr, &secAuthz{scope: "offline_access user/*.rs"}, "", "")
		at, rt := r.str("access_token"), r.str("refresh_token")
		if res := f.fhir("GET", "/Patient/e2e-pa", at, nil); res.status != 200 {
			t.Fatalf("before: %d", res.status)
		}
		if res := f.post("/auth/revoke", url.Values{"client_id": {secApp}, "token": {at}}, ""); res.status != 200 {
			t.Fatalf("revoke: %d %s", res.status, res.body)
		}
		secWantInvalidToken(t, "a revoked access token", f.fhir("GET", "/Patient/e2e-pa", at, nil))
		secWantOAuthError(t, "the refresh token of a revoked access token", f.post("/auth/token", secRefreshForm(rt, secApp), ""), 400, "invalid_grant")

		// A confidential client revokes its refresh token with its secret.
		w := &secAuthz{client: secWeb, redirect: secWebRedirect, scope: "offline_access user/*.rs"}
		q := f.dr.code(t, w, "", "")
		r = f.exchange(w, q.Get("code"), secWeb+":"+f.webSecret)
		if res := f.post("/auth/revoke", url.Values{"token": {r.str("refresh_token")}}, secWeb+":"+f.webSecret); res.status != 200 {
			t.Fatalf("revoke: %d %s", res.status, res.body)
		}
		secWantInvalidToken(t, "the access token of a revoked refresh token", f.fhir("GET", "/Patient/e2e-pa", r.str("access_token"), nil))
	})
	f.run(t, "client removed", func(t *testing.T) {
		k := newSecKey(t, "ES384", "tmp-key")
		f.keys["e2e-tmp"] = k
		f.addPrivate("e2e-tmp key", k.priv)
		if _, err := f.reg.AddClient(f.ctx, auth.ClientSpec{ID: "e2e-tmp", Kind: "backend", JWKS: k.jwks, Scopes: "system/Patient.r"}); err != nil {
			t.Fatal(err)
		}
		tok := f.backendToken("e2e-tmp", "")
		if res := f.fhir("GET", "/Patient/e2e-pa", tok, nil); res.status != 200 {
			t.Fatalf("before: %d", res.status)
		}
		if err := f.reg.RemoveClient(f.ctx, "e2e-tmp"); err != nil {
			t.Fatal(err)
		}
		secWantInvalidToken(t, "the token of a removed client", f.fhir("GET", "/Patient/e2e-pa", tok, nil))
		secWantOAuthError(t, "a removed client asking a token", f.backend("e2e-tmp", ""), 401, "invalid_client")
		// Registered again under the same id, with the same key, within the
		// same second as the token's iat (whole seconds): the old token
		// stays dead (it names the registration it was issued under), new
		// ones work.
		f.clock.Advance(10 * time.Millisecond)
		if _, err := f.reg.AddClient(f.ctx, auth.ClientSpec{ID: "e2e-tmp", Kind: "backend", JWKS: k.jwks, Scopes: "system/Patient.r"}); err != nil {
			t.Fatal(err)
		}
		secWantInvalidToken(t, "a removed client's token after it is registered again", f.fhir("GET", "/Patient/e2e-pa", tok, nil))
		if res := f.fhir("GET", "/Patient/e2e-pa", f.backendToken("e2e-tmp", ""), nil); res.status != 200 {
			t.Errorf("a token of the client registered again: %d", res.status)
		}
	})
	f.run(t, "app removed and registered again", func(t *testing.T) {
		if f.dr == nil {
			t.Skip("needs the logged-in browser")
		}
		const id, redirect = "e2e-tmpapp", "https://tmp.e2e.example/cb"
		spec := auth.ClientSpec{ID: id, Kind: "public", RedirectURIs: []string{redirect}, Scopes: "offline_access user/*.rs"}
		if _, err := f.reg.AddClient(f.ctx, spec); err != nil {
			t.Fatal(err)
		}
		a := &secAuthz{client: id, redirect: redirect, scope: "offline_access user/*.rs"}
		p := f.dr.get(f.authorizeURL(a))
		u := f.dr.approve(t, p).header.Get("Location")
		lu, _ := url.Parse(u)
		f.secrets.add("authorization code", lu.Query().Get("code"))
		r := f.exchange(a, lu.Query().Get("code"), "")
		if r.status != 200 || r.str("refresh_token") == "" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if err := f.reg.RemoveClient(f.ctx, id); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		if _, err := f.reg.AddClient(f.ctx, spec); err != nil {
			t.Fatal(err)
		}
		secWantInvalidToken(t, "its access token", f.protectedRead(r.str("access_token")))
		secWantOAuthError(t, "its refresh token", f.post("/auth/token", secRefreshForm(r.str("refresh_token"), id), ""), 400, "invalid_grant")
	})
	f.run(t, "account disabled", func(t *testing.T) {
		b := f.browser()
		r := f.userTokens(t, b, &secAuthz{scope: "offline_access user/*.rs"}, secGoneUser, secGonePass)
		at := r.str("access_token")
		if res := f.fhir("GET", "/Patient/e2e-pa", at, nil); res.status != 200 {
			t.Fatalf("before: %d", res.status)
		}
		if err := f.reg.DisableUser(f.ctx, secGoneUser); err != nil {
			t.Fatal(err)
		}
		secWantInvalidToken(t, "the token of a disabled account", f.fhir("GET", "/Patient/e2e-pa", at, nil))
		secWantOAuthError(t, "the refresh token of a disabled account", f.post("/auth/token", secRefreshForm(r.str("refresh_token"), secApp), ""), 400, "invalid_grant")
		// Its browser session is over too: the next authorize asks for a login.
		if p := b.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"})); !p.isLogin() {
			t.Errorf("a disabled account's session still logged in: %d %.300s", p.status, p.body)
		}
	})
}

// secAccounts: lockout, the same answer for an unknown account, password
// reset by e-mail; last, as it moves the clock by 15, then 30 minutes.
func secAccounts(t *testing.T, f *secFixture) {
	loginPage := func(t *testing.T, b *secBrowser) *secPage {
		t.Helper()
		p := b.get(f.authorizeURL(&secAuthz{scope: "user/*.rs"}))
		if !p.isLogin() {
			t.Fatalf("no login page: %d %.300s", p.status, p.body)
		}
		return p
	}
	fail := func(t *testing.T, b *secBrowser, user string, n int) *secPage {
		t.Helper()
		p := loginPage(t, b)
		for i := range n {
			p = b.login(t, p, user, fmt.Sprintf("not the password %d of %s", i, user))
			if !p.isLogin() || p.alert() == "" {
				t.Fatalf("failure %d: %d %.300s", i+1, p.status, p.body)
			}
		}
		return p
	}
	b := f.browser()
	p := fail(t, b, secLockUser, 5)
	refusal := p.alert()
	locked := b.login(t, p, secLockUser, secLockPass)
	if !locked.isLogin() || locked.alert() != refusal || locked.status != p.status {
		t.Fatalf("the right password after 5 failures: %d %q, want the refusal %q", locked.status, locked.alert(), refusal)
	}
	// An unknown account: the same answers.
	u := f.browser()
	up := fail(t, u, "e2e-nobody", 5)
	ul := u.login(t, up, "e2e-nobody", secLockPass)
	if ul.status != locked.status || ul.alert() != refusal || up.alert() != refusal {
		t.Errorf("an unknown account's answers %d %q differ from a locked one's %d %q", ul.status, ul.alert(), locked.status, refusal)
	}

	f.run(t, "password reset by e-mail", func(t *testing.T) {
		b := f.browser()
		form := b.get(f.issuer + "/auth/password-reset")
		if form.status != 200 || !strings.Contains(form.body, `name="username"`) {
			t.Fatalf("reset form: %d %.300s", form.status, form.body)
		}
		unknown := b.submit(form, "/auth/password-reset", map[string]string{"username": "e2e-nobody"})
		known := b.submit(form, "/auth/password-reset", map[string]string{"username": secLockUser})
		if unknown.status != 200 || known.status != 200 || secStripTokens(unknown.body) != secStripTokens(known.body) {
			t.Errorf("the reset answer tells accounts apart: %d / %d", unknown.status, known.status)
		}
		to, body := f.nextMail(t)
		if to != secLockMail {
			t.Fatalf("the reset mail went to %q", to)
		}
		link := secResetLink.FindString(body)
		if link == "" || !strings.HasPrefix(link, f.issuer+"/auth/password-reset/confirm?token=") {
			t.Fatalf("no reset link in the mail: %s", body)
		}
		lu, _ := url.Parse(link)
		f.secrets.add("reset link token", lu.Query().Get("token"))
		confirm := b.get(link)
		if confirm.status != 200 || !strings.Contains(confirm.body, `name="password"`) {
			t.Fatalf("the link's form: %d %.300s", confirm.status, confirm.body)
		}
		const newPass = "marée haute au phare vert"
		f.secrets.add("new password", newPass)
		if done := b.submit(confirm, "/auth/password-reset/confirm", map[string]string{"password": newPass}); done.status != 200 || strings.Contains(done.body, `name="password"`) {
			t.Fatalf("confirm: %d %.300s", done.status, done.body)
		}
		// The link served once.
		if again := b.submit(confirm, "/auth/password-reset/confirm", map[string]string{"password": "une autre phrase encore"}); again.status != 400 {
			t.Errorf("the link used twice: %d", again.status)
		}
		if again := b.get(link); again.status != 400 {
			t.Errorf("the link opened after use: %d", again.status)
		}
		if m := f.mail.Pending(); len(m) != 0 {
			t.Errorf("%d more mail(s): the unknown account got one?", len(m))
		}
		// The reset cleared the lockout: the old password fails, the new one logs in.
		l := f.browser()
		p := l.login(t, loginPage(t, l), secLockUser, secLockPass)
		if !p.isLogin() {
			t.Fatalf("the old password logged in")
		}
		if p = l.login(t, p, secLockUser, newPass); !p.isConsent() {
			t.Fatalf("the new password: %d %q", p.status, p.alert())
		}
	})

	f.run(t, "locked for 15 minutes", func(t *testing.T) {
		// secUser is needed by nothing after this part: lock it.
		b := f.browser()
		fail(t, b, secUser, 5)
		// What else the 15 minutes end: a backend token (5 minutes,
		// verified once and cached), a login page's pending request (10).
		tok := f.backendToken(secES, "system/Patient.r")
		if r := f.protectedRead(tok); r.status != 200 {
			t.Fatalf("backend token: %d", r.status)
		}
		stale := loginPage(t, b)
		f.clock.Advance(14 * time.Minute)
		if p := b.login(t, loginPage(t, b), secUser, secPassword); !p.isLogin() || p.alert() != refusal {
			t.Fatalf("14 minutes after: %d %q", p.status, p.alert())
		}
		if r := f.protectedRead(tok); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "expired") {
			t.Errorf("a backend token 14 minutes old: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		if p := b.login(t, stale, secLockUser, "marée haute au phare vert"); p.status != 400 || p.isConsent() {
			t.Errorf("a login page 14 minutes old: %d %.200s", p.status, p.body)
		}
		f.clock.Advance(time.Minute + time.Second)
		if p := b.login(t, loginPage(t, b), secUser, secPassword); !p.isConsent() {
			t.Fatalf("15 minutes after: %d %q", p.status, p.alert())
		}
	})

	f.run(t, "reset link dead after 30 minutes", func(t *testing.T) {
		b := f.browser()
		form := b.get(f.issuer + "/auth/password-reset")
		b.submit(form, "/auth/password-reset", map[string]string{"username": secLockUser})
		_, body := f.nextMail(t)
		link := secResetLink.FindString(body)
		lu, _ := url.Parse(link)
		f.secrets.add("reset link token", lu.Query().Get("token"))
		if p := b.get(link); p.status != 200 {
			t.Fatalf("a fresh link: %d", p.status)
		}
		f.clock.Advance(30*time.Minute + time.Second)
		if p := b.get(link); p.status != 400 || strings.Contains(p.body, `name="password"`) {
			t.Errorf("a link 30 minutes old: %d", p.status)
		}
		// An account without an address of its own: its Practitioner's.
		b.submit(form, "/auth/password-reset", map[string]string{"username": secUser})
		to, body := f.nextMail(t)
		if to != "claire.durand@hopital.example" || !secResetLink.MatchString(body) {
			t.Errorf("the reset mail of %s went to %q", secUser, to)
		}
		if l := secResetLink.FindString(body); l != "" {
			lu, _ := url.Parse(l)
			f.secrets.add("reset link token", lu.Query().Get("token"))
		}
	})
}

// secStripTokens removes the per-page random values (CSRF token, pending id)
// from a page, to compare two answers.
func secStripTokens(body string) string {
	return secHidden.ReplaceAllString(body, `<input type="hidden" name="$1">`)
}

// scanLogs fails when any secret the suite saw is in the server's log:
// the whole value, its first or last 24 characters, or a JWT's payload
// or signature.
func (f *secFixture) scanLogs(t *testing.T) {
	logs := f.logs.String()
	if !strings.Contains(logs, "token issued") || !strings.Contains(logs, "refused") || !strings.Contains(logs, "Pro Santé Connect login") {
		t.Fatalf("the log does not show the flows (%d bytes)", len(logs))
	}
	// The scan finds what it looks for: a canary, whole and in parts.
	canary := "eyJ" + secRandomID() + "." + secRandomID() + secRandomID() + "." + secRandomID() + secRandomID()
	parts := strings.Split(canary, ".")
	for _, planted := range []string{canary, canary[:30], parts[1], parts[2][5:]} {
		if len(secFindLeaks("level=INFO msg=x v="+planted+"\n", map[string]string{canary: "canary"})) != 1 {
			t.Fatalf("the scan misses %q of a secret", planted)
		}
	}
	secrets := f.secrets.all()
	for _, l := range secFindLeaks(logs, secrets) {
		t.Error(l)
	}
	t.Logf("log scan: %d secrets checked against %d bytes (%d lines) of log", len(secrets), len(logs), bytes.Count([]byte(logs), []byte("\n")))
}

// secFindLeaks says which secrets are in logs: whole, by their first or last
// 24 characters, or by a JWT's payload or signature.
func secFindLeaks(logs string, secrets map[string]string) []string {
	var out []string
	for v, what := range secrets {
		probes := []string{v}
		if len(v) >= 32 {
			probes = append(probes, v[:24], v[len(v)-24:])
		}
		if parts := strings.Split(v, "."); len(parts) == 3 {
			probes = append(probes, parts[1], parts[2])
		}
		for _, p := range probes {
			i := strings.Index(logs, p)
			if len(p) < 12 || i < 0 {
				continue
			}
			line := logs[strings.LastIndexByte(logs[:i], '\n')+1:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			out = append(out, fmt.Sprintf("%s is in the log: %.300s", what, line))
			break
		}
	}
	return out
}
