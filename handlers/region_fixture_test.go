package handlers_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth"
)

// The region of issue 10's "Done when": two establishments (A, B), in
// each a doctor, a nurse and a community pharmacist, an establishment
// pharmacist at A, a pathologist, a laboratory platform with a backend
// client registered with its Organization, and seven patients, each in
// one relationship (and one in none), built through the server started as
// `dccfhir serve` builds it (the security suite's machinery: secFixture).
//
// Every resource of patient N carries a marker "rgmkN-<kind>" (in a name,
// a description, a note, a value): a response to a user that holds the
// marker of a resource they may not see is a leak, whatever the request.

const (
	rgApp      = "rg-app"
	rgLab      = "rg-lab-system"
	rgProf     = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
	rgIPP      = "https://region.example/ipp"
	rgCPIdent  = "https://region.example/careplan"
	rgMeeting  = "https://dcc.example.fr/fhir/StructureDefinition/dcc-tumor-board-meeting"
	rgConsent  = "https://dcc.example.fr/fhir/StructureDefinition/dcc-consent-share"
	rgPPS      = "18776-5"
	rgOtherDoc = "11488-4"
	rgPatients = 7 // P1..P7; P0 is the absent patient
)

// rgPatient is one patient of the region (N 0: the absent one, never stored).
type rgPatient struct {
	n        int
	relation string // how the region's professionals relate to them
}

func (p rgPatient) id() string              { return fmt.Sprintf("rg-p%d", p.n) }
func (p rgPatient) ref() string             { return "Patient/" + p.id() }
func (p rgPatient) res(kind string) string  { return fmt.Sprintf("rg-%s-%d", kind, p.n) }
func (p rgPatient) mark(kind string) string { return fmt.Sprintf("rgmk%d-%s", p.n, kind) }

// given is the patient's given name: what searches and chains name them
// by (a marker in a query would come back in the Bundle's self link).
func (p rgPatient) given() string { return fmt.Sprintf("Gvnrgp%dx", p.n) }

// prefix is in every marker of the patient's resources.
func (p rgPatient) prefix() string { return fmt.Sprintf("rgmk%d-", p.n) }

var rgAll = []rgPatient{
	{1, "active CareTeam (doctor A, nurse A, community pharmacist A)"},
	{2, "generalPractitioner doctor B; CareTeam (nurse B, community pharmacist B)"},
	{3, "Encounter at Organization A ended a year ago"},
	{4, "ServiceRequest of the pathologist to the laboratory, Task owned by it"},
	{5, "case presented at a tumour board doctor B attended"},
	{6, "CareTeam of doctors A and B; consent deny recorded by Organization A"},
	{7, "Encounter at Organization A ended four years ago"},
}

func rgP(n int) rgPatient { return rgAll[n-1] }

var rgAbsent = rgPatient{0, "never stored"}

// The kinds of marked resources (no kind is the start of another, so a
// marker is never inside another's) each patient has (P1 also a Communication
// to nurse A "ncom" and a ServiceRequest; P3, P5, P7 an Encounter; P4 a
// ServiceRequest and a Task).
var rgKinds = []string{"pat", "obs", "cond", "cp", "xcp", "com", "pps", "doc", "enc", "sr", "task", "ncom"}

// limitedKinds are what nurses and community pharmacists see of a patient
// of their circle (Communications only when addressed to them: ncom, for
// nurse A).
var limitedKinds = []string{"pat", "cond", "cp", "xcp", "pps"}

// rgUser is a professional with an account.
type rgUser struct {
	name         string // username and Practitioner id suffix
	code         string // profession (rgProf)
	org          string // Organization/ID of their role, "" for none
	circle       []int  // the patients they must see
	limited      bool   // nurse or community pharmacist: part of the compartment
	extraVisible []string
	token        string
}

func (u *rgUser) practitioner() string { return "Practitioner/rg-" + u.name }

func (u *rgUser) sees(n int) bool {
	for _, c := range u.circle {
		if c == n {
			return true
		}
	}
	return false
}

// forbidden are the markers no response to u may hold: every marker of a
// patient outside the circle, and for a limited profession the kinds it
// does not see of the patients inside.
func (u *rgUser) forbidden() []string {
	var out []string
	for _, p := range rgAll {
		if !u.sees(p.n) {
			out = append(out, p.prefix())
			continue
		}
		if !u.limited {
			continue
		}
		for _, k := range rgKinds {
			if !contains(limitedKinds, k) && !contains(u.extraVisible, p.mark(k)) {
				out = append(out, p.mark(k))
			}
		}
	}
	return out
}

// region is the started server with the region stored and every user
// logged in.
type region struct {
	*secFixture
	// full: every user, every patient of each circle and every denied
	// pair (SQLite); otherwise a sample (on FerretDB a request of a
	// professional takes about 2 s, the care circle's dozen searches, so
	// the whole table would take an hour).
	full  bool
	sent  atomic.Int64 // requests sent, for the parts' timings
	users []*rgUser
	// dentist is a profession the policy does not name: sees nothing,
	// although their Organization A had P3's Encounter.
	dentist *rgUser
	admin   string // admin-cli's token (system/*.cruds)
	lab     string // the laboratory system's token
}

// accounts are the users and the dentist.
func (r *region) accounts() []*rgUser { return append(slices.Clone(r.users), r.dentist) }

func (r *region) user(name string) *rgUser {
	for _, u := range r.users {
		if u.name == name {
			return u
		}
	}
	r.t.Fatalf("no user %s", name)
	return nil
}

// sampled are the users whose whole table is checked: all of them on
// SQLite, elsewhere a nurse (the limited professions share one rule: the
// narrowest grants, restrictions included, compiled by the engine).
func (r *region) sampled() []*rgUser {
	if r.full {
		return r.users
	}
	var out []*rgUser
	for _, u := range r.users {
		if u.name == "nurse-a" {
			out = append(out, u)
		}
	}
	return out
}

// rgUsers is the region's professionals and the patients each must see.
func rgUsers() []*rgUser {
	return []*rgUser{
		{name: "dr-a", code: "10", org: "Organization/rg-org-a", circle: []int{1, 3, 6}},
		{name: "dr-b", code: "10", org: "Organization/rg-org-b", circle: []int{2, 5}},
		{name: "nurse-a", code: "60", org: "Organization/rg-org-a", circle: []int{1, 3}, limited: true, extraVisible: []string{rgP(1).mark("ncom")}},
		{name: "nurse-b", code: "60", org: "Organization/rg-org-b", circle: []int{2}, limited: true},
		{name: "pharm-a", code: "21", circle: []int{1}, limited: true},
		{name: "pharm-b", code: "21", circle: []int{2}, limited: true},
		{name: "pharm-h", code: "21", org: "Organization/rg-org-a", circle: []int{3}},
		{name: "path", code: "10", org: "Organization/rg-org-c", circle: []int{4}},
	}
}

func rgPassword(name string) string { return "région " + name + " quatorze lumières" }

// startRegion starts the server of engine e, stores the region and logs
// every professional in through the authorization-code flow.
func startRegion(t *testing.T, e engine) *region {
	t.Helper()
	f := openSecServer(t, e, slog.LevelInfo, func(_ *secFixture, c *app.Config) {
		// The audit trail on SQLite (rgAudit); off SQLite it is tested by
		// TestAuditTrail and the audit package on every engine: on FerretDB
		// an event costs a request about 3 s.
		c.Audit = e.name == "sqlite"
	})

	r := &region{secFixture: f, users: rgUsers(), full: e.name == "sqlite",
		dentist: &rgUser{name: "dentist", code: "40", org: "Organization/rg-org-a"}}
	r.admin = f.adminToken()
	r.register()
	r.seed()
	for _, u := range r.accounts() {
		tok := f.userTokens(t, f.browser(), &secAuthz{client: rgApp, redirect: secAppRedirect, scope: "openid fhirUser user/*.cruds"}, u.name, rgPassword(u.name))
		if got := tok.str("fhirUser"); !strings.HasSuffix(got, u.practitioner()) {
			t.Fatalf("%s's token names fhirUser %q", u.name, got)
		}
		u.token = tok.str("access_token")
	}
	r.lab = f.backendToken(rgLab, "")
	return r
}

// register adds the app, the laboratory's backend client and the accounts.
func (r *region) register() {
	t := r.t
	if _, err := r.reg.AddClient(r.ctx, auth.ClientSpec{ID: rgApp, Name: "Dossier régional", Kind: "public",
		RedirectURIs: []string{secAppRedirect}, Scopes: "openid fhirUser user/*.cruds"}); err != nil {
		t.Fatal(err)
	}
	k := newSecKey(t, jwa.ES384, rgLab+"-key")
	r.keys[rgLab] = k
	if _, err := r.reg.AddClient(r.ctx, auth.ClientSpec{ID: rgLab, Kind: "backend", JWKS: k.jwks, Organization: "Organization/rg-lab",
		Scopes: "system/ServiceRequest.rs system/Task.rus system/Patient.rs system/Observation.crs system/DiagnosticReport.crs system/Condition.rs"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range r.accounts() {
		if err := r.reg.AddUser(r.ctx, auth.UserSpec{Username: u.name, Practitioner: u.practitioner(), Password: rgPassword(u.name)}); err != nil {
			t.Fatalf("user %s: %v", u.name, err)
		}
	}
}

func rgRef(r string) map[string]any { return map[string]any{"reference": r} }

func rgCoding(system, code string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}}
}

// put stores res (with its id) as the administrator.
func (r *region) put(res map[string]any) {
	r.t.Helper()
	path := "/" + res["resourceType"].(string) + "/" + res["id"].(string)
	if got := r.fhir("PUT", path, r.admin, res); got.status != 201 && got.status != 200 {
		r.t.Fatalf("seed %s: %d %s", path, got.status, got.body)
	}
}

// rgTestdata is a DCC example of testdata/dcc, to be edited.
func rgTestdata(t *testing.T, name string) map[string]any {
	b, err := os.ReadFile("../testdata/dcc/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// seed stores the region.
func (r *region) seed() {
	now := time.Now().UTC()
	day := func(d time.Time) string { return d.Format(time.RFC3339) }
	for _, o := range []struct{ id, name string }{
		{"rg-org-a", "Centre hospitalier A"}, {"rg-org-b", "Clinique B"}, {"rg-org-c", "Cabinet d'anatomopathologie"},
		{"rg-lab", "Plateforme de génétique moléculaire"}, {"rg-org-rcp", "3C régional"}, {"rg-org-x", "Hôpital hors région"},
	} {
		r.put(map[string]any{"resourceType": "Organization", "id": o.id, "name": o.name, "active": true})
	}
	r.put(map[string]any{"resourceType": "Practitioner", "id": "rg-dr-x", "name": []any{map[string]any{"family": "Extérieur"}}})
	for _, u := range r.accounts() {
		r.put(map[string]any{"resourceType": "Practitioner", "id": "rg-" + u.name, "name": []any{map[string]any{"family": "Pro " + u.name}}})
		role := map[string]any{"resourceType": "PractitionerRole", "id": "rg-role-" + u.name, "active": true,
			"practitioner": rgRef(u.practitioner()), "code": []any{rgCoding(rgProf, u.code)}}
		if u.org != "" {
			role["organization"] = rgRef(u.org)
		}
		r.put(role)
	}
	for _, p := range rgAll {
		r.put(map[string]any{"resourceType": "Patient", "id": p.id(), "name": []any{map[string]any{"family": p.mark("pat"), "given": []any{p.given()}}},
			"gender": "female", "birthDate": "1960-01-0" + fmt.Sprint(p.n), "identifier": []any{map[string]any{"system": rgIPP, "value": "ipp-" + p.id()}}})
		r.put(map[string]any{"resourceType": "Observation", "id": p.res("obs"), "status": "final", "code": rgCoding("http://loinc.org", "8302-2"),
			"subject": rgRef(p.ref()), "valueString": p.mark("obs")})
		r.put(map[string]any{"resourceType": "Condition", "id": p.res("cond"), "subject": rgRef(p.ref()),
			"code": rgCoding("http://snomed.info/sct", "363358000"), "note": []any{map[string]any{"text": p.mark("cond")}}})
		r.put(map[string]any{"resourceType": "CarePlan", "id": p.res("cp"), "status": "active", "intent": "plan", "subject": rgRef(p.ref()),
			"identifier": []any{map[string]any{"system": rgCPIdent, "value": p.res("cp")}}, "description": p.mark("cp")})
		r.put(map[string]any{"resourceType": "Communication", "id": p.res("com"), "status": "completed", "subject": rgRef(p.ref()),
			"recipient": []any{rgRef("Practitioner/rg-dr-a")}, "payload": []any{map[string]any{"contentString": p.mark("com")}}})
		for _, d := range []struct{ kind, code string }{{"pps", rgPPS}, {"doc", rgOtherDoc}} {
			r.put(map[string]any{"resourceType": "DocumentReference", "id": p.res(d.kind), "status": "current", "subject": rgRef(p.ref()),
				"type": rgCoding("http://loinc.org", d.code), "description": p.mark(d.kind),
				"content": []any{map[string]any{"attachment": map[string]any{"contentType": "text/plain", "data": "cmVnaW9u"}}}})
		}
	}
	// Each patient's second CarePlan is based on every other patient's:
	// an _include, an _revinclude, a chain or a _has from a visible one
	// would cross into the others' if the server did not narrow them.
	for _, p := range rgAll {
		var others []any
		for _, o := range rgAll {
			if o.n != p.n {
				others = append(others, rgRef("CarePlan/"+o.res("cp")))
			}
		}
		r.put(map[string]any{"resourceType": "CarePlan", "id": p.res("cpx"), "status": "active", "intent": "plan", "subject": rgRef(p.ref()),
			"basedOn": others, "description": p.mark("xcp")})
	}

	// P1: rule 1, and a Communication to nurse A.
	r.put(map[string]any{"resourceType": "CareTeam", "id": "rg-ct-1", "status": "active", "subject": rgRef(rgP(1).ref()), "participant": []any{
		map[string]any{"member": rgRef("Practitioner/rg-dr-a")},
		map[string]any{"member": rgRef("PractitionerRole/rg-role-nurse-a")},
		map[string]any{"member": rgRef("Practitioner/rg-pharm-a")},
	}})
	r.put(map[string]any{"resourceType": "Communication", "id": "rg-ncom-1", "status": "completed", "subject": rgRef(rgP(1).ref()),
		"recipient": []any{rgRef("Practitioner/rg-nurse-a")}, "payload": []any{map[string]any{"contentString": rgP(1).mark("ncom")}}})
	// a ServiceRequest of P1 the laboratory is not concerned by
	r.put(map[string]any{"resourceType": "ServiceRequest", "id": "rg-sr-1", "status": "active", "intent": "order", "subject": rgRef(rgP(1).ref()),
		"code": rgCoding("http://loinc.org", "21908-9"), "requester": rgRef("Practitioner/rg-dr-x"), "performer": []any{rgRef("Organization/rg-org-x")},
		"note": []any{map[string]any{"text": rgP(1).mark("sr")}}})

	// P2: rule 2 (doctor B), a CareTeam for the nurse and the pharmacist of B.
	p2 := map[string]any{}
	b := r.fhir("GET", "/Patient/rg-p2", r.admin, nil)
	_ = json.Unmarshal(b.body, &p2)
	p2["generalPractitioner"] = []any{rgRef("Practitioner/rg-dr-b")}
	delete(p2, "meta")
	r.put(p2)
	r.put(map[string]any{"resourceType": "CareTeam", "id": "rg-ct-2", "status": "active", "subject": rgRef(rgP(2).ref()), "participant": []any{
		map[string]any{"member": rgRef("PractitionerRole/rg-role-nurse-b")},
		map[string]any{"member": rgRef("Practitioner/rg-pharm-b")},
	}})

	// P3 and P7: rule 3, one year ago (in), four years ago (out).
	for _, e := range []struct {
		p   rgPatient
		ago int
	}{{rgP(3), 1}, {rgP(7), 4}} {
		end := now.AddDate(-e.ago, 0, 0)
		r.put(map[string]any{"resourceType": "Encounter", "id": e.p.res("enc"), "status": "finished", "subject": rgRef(e.p.ref()),
			"class":           map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
			"serviceProvider": rgRef("Organization/rg-org-a"), "period": map[string]any{"start": day(end.Add(-48 * time.Hour)), "end": day(end)},
			"reasonCode": []any{map[string]any{"text": e.p.mark("enc")}}})
	}

	// P4: rule 4, the molecular circuit.
	r.put(map[string]any{"resourceType": "ServiceRequest", "id": "rg-sr-4", "status": "active", "intent": "order", "subject": rgRef(rgP(4).ref()),
		"code": rgCoding("http://loinc.org", "21908-9"), "requester": rgRef("Practitioner/rg-path"), "performer": []any{rgRef("Organization/rg-lab")},
		"note": []any{map[string]any{"text": rgP(4).mark("sr")}}})
	r.put(map[string]any{"resourceType": "Task", "id": "rg-task-4", "status": "requested", "intent": "order", "for": rgRef(rgP(4).ref()),
		"focus": rgRef("ServiceRequest/rg-sr-4"), "owner": rgRef("Organization/rg-lab"), "description": rgP(4).mark("task")})

	// P5: rule 5, the tumour board doctor B attended (through their role)
	// and the case presented there, with no participant of its own and a
	// serviceProvider nobody of the region works at.
	m := rgTestdata(r.t, "dcc-tumor-board-meeting.valid.json")
	m["id"] = "rg-meeting"
	m["participant"].([]any)[0].(map[string]any)["individual"] = rgRef("PractitionerRole/rg-role-dr-b")
	m["serviceProvider"] = rgRef("Organization/rg-org-rcp")
	r.put(m)
	c := rgTestdata(r.t, "dcc-tumor-board-case.valid.json")
	c["id"] = rgP(5).res("enc")
	c["subject"] = rgRef(rgP(5).ref())
	c["partOf"] = rgRef("Encounter/rg-meeting")
	c["reasonReference"] = []any{rgRef("Condition/" + rgP(5).res("cond"))}
	c["reasonCode"] = []any{map[string]any{"text": rgP(5).mark("enc")}}
	c["serviceProvider"] = rgRef("Organization/rg-org-rcp")
	delete(c, "participant")
	r.put(c)

	// P6: doctors A and B in the CareTeam; the patient objects, recorded by A.
	r.put(map[string]any{"resourceType": "CareTeam", "id": "rg-ct-6", "status": "active", "subject": rgRef(rgP(6).ref()), "participant": []any{
		map[string]any{"member": rgRef("PractitionerRole/rg-role-dr-a")},
		map[string]any{"member": rgRef("Practitioner/rg-dr-b")},
	}})
	cs := rgTestdata(r.t, "dcc-consent-share.valid.json")
	cs["id"] = "rg-consent-6"
	cs["patient"] = rgRef(rgP(6).ref())
	cs["performer"] = []any{rgRef(rgP(6).ref())}
	cs["organization"] = []any{rgRef("Organization/rg-org-a")}
	cs["provision"] = map[string]any{"type": "deny", "period": map[string]any{"start": "2025-01-10"}}
	r.put(cs)
}

// as sends a request as u (path below the base, or an absolute URL) and
// fails when the answer holds a marker u may not see.
func (r *region) as(t *testing.T, u *rgUser, what, method, path string, body any, hdr ...string) *secResp {
	t.Helper()
	res := r.raw(u.token, method, path, body, hdr...)
	if leaked := u.leaks(res); leaked != nil {
		t.Errorf("%s: %s (%s %s) leaks %s (status %d): %.200s", u.name, what, method, path, strings.Join(leaked, " "), res.status, res.body)
	}
	return res
}

// leaks are the markers of res that u may not see.
func (u *rgUser) leaks(res *secResp) []string {
	var out []string
	for _, m := range u.forbidden() {
		if strings.Contains(string(res.body), m) {
			out = append(out, m)
		}
	}
	return out
}

// raw sends a request with token: path below the base or absolute.
func (r *region) raw(token, method, path string, body any, hdr ...string) *secResp {
	r.sent.Add(1)
	if strings.HasPrefix(path, "http") {
		path = strings.TrimPrefix(path, r.base)
	}
	return r.fhir(method, path, token, body, hdr...)
}

// total is a searchset's total, -1 when it has none.
func (s *secResp) total() int {
	if n, ok := s.json["total"].(float64); ok {
		return int(n)
	}
	return -1
}

// entries is the number of a Bundle's entries.
func (s *secResp) entries() int {
	e, _ := s.json["entry"].([]any)
	return len(e)
}

// link is the url of a Bundle's link of relation rel.
func (s *secResp) link(rel string) string {
	links, _ := s.json["link"].([]any)
	for _, l := range links {
		if m, _ := l.(map[string]any); m["relation"] == rel {
			u, _ := m["url"].(string)
			return u
		}
	}
	return ""
}
