package handlers_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/audit"
)

// TestRegion is issue 10's "Done when": the region of
// region_fixture_test.go, through the started server on every engine, and
// the table of who sees what — each care-circle rule, each profession,
// consent deny, break-the-glass with and without the header, the
// laboratory system's limits — and, for every (professional, patient)
// pair outside the circle, every way into the data: no answer holds a
// byte of what the professional may not see (the markers), nor a count of
// it (the same answer as for a patient that does not exist).
func TestRegion(t *testing.T) {
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			began := time.Now()
			r := startRegion(t, e)
			t.Logf("%s: region built in %v", e.name, time.Since(began).Round(time.Millisecond))
			parts := []struct {
				name string
				run  func(t *testing.T, r *region)
			}{
				{"care circle", rgCircle},
				{"profession", rgProfession},
				{"counts and pages", rgCounts}, // off SQLite: the denied pairs' counts
				{"denied pairs", rgDenied},
				{"break-the-glass", rgBreakGlass},
				{"laboratory", rgLaboratory},
				{"audit trail", rgAudit}, // on SQLite (startRegion)
				{"at once", rgAtOnce},    // changes the region: last
			}
			for _, p := range parts {
				if !r.full && (p.name == "counts and pages" || p.name == "audit trail") {
					continue
				}
				r.run(t, p.name, func(t *testing.T) {
					start, sent := time.Now(), r.sent.Load()
					p.run(t, r)
					n := r.sent.Load() - sent
					took := time.Since(start)
					t.Logf("%s: %v, %d requests (%v each)", p.name, took.Round(time.Millisecond), n, (took / time.Duration(max(n, 1))).Round(time.Millisecond))
				})
			}
		})
	}
}

// rgCircle: each rule admits its professional, and nobody else reaches
// the patient (the patient's own record, read and searched).
func rgCircle(t *testing.T, r *region) {
	rows := []struct {
		rule, user string
		patient    int
	}{
		{"1 care team (Practitioner)", "dr-a", 1},
		{"1 care team (PractitionerRole)", "nurse-a", 1},
		{"1 care team, community pharmacist", "pharm-a", 1},
		{"2 general practitioner", "dr-b", 2},
		{"1 care team of a generalPractitioner's patient", "nurse-b", 2},
		{"3 serviceProvider's staff, ended a year ago", "dr-a", 3},
		{"3 serviceProvider's staff, nurse", "nurse-a", 3},
		{"3 serviceProvider's staff, establishment pharmacist", "pharm-h", 3},
		{"4 requester of the ServiceRequest", "path", 4},
		{"5 participant of the tumour board", "dr-b", 5},
		{"consent deny recorded at the doctor's Organization", "dr-a", 6},
	}
	for _, row := range rows {
		u, p := r.user(row.user), rgP(row.patient)
		if !u.sees(p.n) {
			t.Fatalf("the table and the users disagree on %s/%s", row.user, p.id())
		}
		res := r.as(t, u, "read", "GET", "/Patient/"+p.id(), nil)
		if res.status != 200 || !strings.Contains(string(res.body), p.mark("pat")) {
			t.Errorf("rule %s: %s reads %s: %d %.300s", row.rule, u.name, p.id(), res.status, res.body)
		}
		if !r.full {
			continue // off SQLite: the read alone
		}
		res = r.as(t, u, "search", "GET", "/CarePlan?subject="+p.ref(), nil)
		if res.status != 200 || res.entries() != 2 {
			t.Errorf("rule %s: %s searches %s's CarePlans: %d, %d entries %.300s", row.rule, u.name, p.id(), res.status, res.entries(), res.body)
		}
	}
	// A profession the policy does not name sees nothing of the patients
	// of its Organization's Encounters.
	for _, path := range []string{"/Patient/rg-p3", "/CarePlan?patient=rg-p3", "/Patient?_summary=count", "/Patient/rg-p3/$everything"} {
		res := r.as(t, r.dentist, "unconfigured profession", "GET", path, nil)
		if res.status == 200 && (res.entries() > 0 || res.total() > 0 || res.str("resourceType") == "Patient") {
			t.Errorf("a dentist (profession 40, not in the policy) %s: %d %.300s", path, res.status, res.body)
		}
	}
	// Out of every circle: an Encounter ended four years ago (P7), and
	// doctor B, in P6's care team, where the patient objects to sharing
	// outside Organization A.
	for _, c := range []struct {
		why, user string
		patient   int
	}{
		{"3 ended four years ago", "dr-a", 7},
		{"3 ended four years ago (nurse)", "nurse-a", 7},
		{"consent deny recorded by another Organization", "dr-b", 6},
		{"no Organization: serviceProvider's staff rule does not apply", "pharm-a", 3},
		{"the case's serviceProvider is nobody's", "nurse-b", 5},
	} {
		u, p := r.user(c.user), rgP(c.patient)
		if res := r.as(t, u, "read", "GET", "/Patient/"+p.id(), nil); res.status == 200 {
			t.Errorf("%s: %s reads %s", c.why, u.name, p.id())
		}
	}
}

// rgType is what a search of one type of a visible patient returns: the
// number of entries for a doctor and for a limited profession (-1: 403).
type rgType struct {
	typ             string
	doctor, limited func(u *rgUser, p rgPatient) int
}

func rgN(n int) func(*rgUser, rgPatient) int { return func(*rgUser, rgPatient) int { return n } }

// rgCommunication: a doctor sees every Communication of the patient
// (P1 has two), a limited profession those addressed to them.
var rgCommunication = rgType{"Communication", func(_ *rgUser, p rgPatient) int {
	if p.n == 1 {
		return 2
	}
	return 1
}, func(u *rgUser, p rgPatient) int { // limited: those addressed to them
	if u.name == "nurse-a" && p.n == 1 {
		return 1
	}
	return 0
}}

var rgTypes = []rgType{
	{"Patient", rgN(1), rgN(1)},
	{"Condition", rgN(1), rgN(1)},
	{"CarePlan", rgN(2), rgN(2)},
	{"MedicationRequest", rgN(0), rgN(0)},
	{"Observation", rgN(1), rgN(-1)},
	{"Encounter", func(_ *rgUser, p rgPatient) int {
		if p.n == 3 || p.n == 5 || p.n == 7 {
			return 1
		}
		return 0
	}, rgN(-1)},
	{"DocumentReference", rgN(2), rgN(1)}, // limited: the PPS (18776-5) only
	rgCommunication,
}

// rgProfession: doctors and establishment pharmacists see the whole
// compartment of their patients; nurses and community pharmacists
// Patient, CarePlan, the Medication*, AllergyIntolerance, Condition, the
// Communications addressed to them and the PPS, nothing else.
func rgProfession(t *testing.T, r *region) {
	for _, u := range r.sampled() {
		circle := u.circle
		if !r.full {
			circle = circle[:1]
		}
		for _, n := range circle {
			p := rgP(n)
			for _, ty := range rgTypes {
				want := ty.doctor(u, p)
				if u.limited {
					want = ty.limited(u, p)
				}
				q := "/" + ty.typ + "?patient=" + p.ref()
				if ty.typ == "Patient" {
					q = "/Patient?_id=" + p.id()
				}
				res := r.as(t, u, "search", "GET", q, nil)
				switch {
				case want < 0 && res.status != 403:
					t.Errorf("%s searches %s of %s: %d, want 403 (the profession does not see it) %.300s", u.name, ty.typ, p.id(), res.status, res.body)
				case want >= 0 && (res.status != 200 || res.entries() != want):
					t.Errorf("%s searches %s of %s: %d with %d entries, want %d %.300s", u.name, ty.typ, p.id(), res.status, res.entries(), want, res.body)
				}
			}
			// by id: what the profession does not see is not read
			for _, k := range []struct{ typ, kind string }{{"Observation", "obs"}, {"DocumentReference", "doc"}, {"DocumentReference", "pps"}, {"Communication", "com"}} {
				res := r.as(t, u, "read", "GET", "/"+k.typ+"/"+p.res(k.kind), nil)
				seen := !u.limited || k.kind == "pps"
				if seen != (res.status == 200) {
					t.Errorf("%s reads %s/%s: %d (sees it: %v)", u.name, k.typ, p.res(k.kind), res.status, seen)
				}
			}
			res := r.as(t, u, "$everything", "GET", "/Patient/"+p.id()+"/$everything", nil)
			if !u.limited && (res.status != 200 || !strings.Contains(string(res.body), p.mark("obs"))) {
				t.Errorf("%s: $everything of %s: %d %.300s", u.name, p.id(), res.status, res.body)
			}
		}
	}
}

// rgCounts: a type's total counts the caller's patients only, and paging
// through a search reaches them and nothing else.
func rgCounts(t *testing.T, r *region) {
	for _, u := range r.sampled() {
		n, comms := len(u.circle), rgCommunications(u)
		for _, c := range []struct {
			typ             string
			doctor, limited int
		}{
			{"Patient", n, n}, {"Condition", n, n}, {"CarePlan", 2 * n, 2 * n}, {"DocumentReference", 2 * n, n},
			{"Observation", n, -1}, {"Communication", comms, comms},
		} {
			want := c.doctor
			if u.limited {
				want = c.limited
			}
			res := r.as(t, u, "count", "GET", "/"+c.typ+"?_summary=count", nil)
			switch {
			case want < 0 && res.status != 403:
				t.Errorf("%s counts %s: %d, want 403", u.name, c.typ, res.status)
			case want >= 0 && (res.status != 200 || res.total() != want):
				t.Errorf("%s counts %s: %d total %d, want %d %.300s", u.name, c.typ, res.status, res.total(), want, res.body)
			}
		}
		if res := r.as(t, u, "name search", "GET", "/Patient?name=rgmk", nil); res.status != 200 || res.entries() != n {
			t.Errorf("%s: Patient?name=rgmk: %d, %d entries, want %d", u.name, res.status, res.entries(), n)
		}
		// paging: every page of CarePlan?_count=1, each link re-checked
		var got []string
		next := "/CarePlan?_count=1"
		for i := 0; next != "" && i < 20; i++ {
			res := r.as(t, u, "page", "GET", next, nil)
			if res.status != 200 {
				t.Errorf("%s: page %d: %d %.300s", u.name, i, res.status, res.body)
				break
			}
			got = append(got, secRefs(res)...)
			next = res.link("next")
		}
		var want []string
		for _, c := range u.circle {
			want = append(want, "CarePlan/"+rgP(c).res("cp"), "CarePlan/"+rgP(c).res("cpx"))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the pages of CarePlan?_count=1 hold %v, want %v", u.name, got, want)
		}
		// history of the type and of the system: other patients' entries left out
		for _, h := range []string{"/CarePlan/_history", "/_history", "/Patient/_history"} {
			res := r.as(t, u, "history", "GET", h, nil)
			if res.status != 200 && res.status != 403 {
				t.Errorf("%s: %s: %d %.300s", u.name, h, res.status, res.body)
			}
		}
	}
}

// rgProbe is one way into a patient's data.
type rgProbe struct {
	name, method, path string
	body               any
	// compare: the answer must be the one for a patient that does not
	// exist (status, total, entries): nothing is learnt of the patient.
	compare bool
	// write: must fail, and the patient's CarePlan stay as stored.
	write bool
}

// rgProbes are the ways of u into patient p, from v, a patient of u's
// circle.
func rgProbes(base string, u *rgUser, v, p rgPatient) []rgProbe {
	cp := p.res("cp")
	overwrite := func(id string) map[string]any {
		m := map[string]any{"resourceType": "CarePlan", "status": "revoked", "intent": "plan", "subject": rgRef(p.ref()),
			"identifier": []any{map[string]any{"system": rgCPIdent, "value": cp}}, "description": "overwritten by " + u.name}
		if id != "" {
			m["id"] = id
		}
		return m
	}
	tx := func(entry map[string]any) map[string]any {
		return map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{entry}}
	}
	return []rgProbe{
		{name: "read", method: "GET", path: "/Patient/" + p.id(), compare: true},
		{name: "read CarePlan", method: "GET", path: "/CarePlan/" + cp, compare: true},
		{name: "vread", method: "GET", path: "/Patient/" + p.id() + "/_history/1", compare: true},
		{name: "history", method: "GET", path: "/CarePlan/" + cp + "/_history", compare: true},
		{name: "search by _id", method: "GET", path: "/Patient?_id=" + p.id(), compare: true},
		{name: "search CarePlan by _id", method: "GET", path: "/CarePlan?_id=" + cp, compare: true},
		{name: "search by identifier", method: "GET", path: "/Patient?identifier=" + url.QueryEscape(rgIPP+"|ipp-"+p.id()), compare: true},
		{name: "_summary=count", method: "GET", path: "/CarePlan?subject=" + p.ref() + "&_summary=count", compare: true},
		{name: "_summary=count of a patient search", method: "GET", path: "/CarePlan?patient=" + p.id() + "&_summary=count", compare: true},
		{name: "_include", method: "GET", path: "/CarePlan?_id=" + v.res("cpx") + "&_include=CarePlan:based-on"},
		{name: "_include:iterate", method: "GET", path: "/CarePlan?_id=" + v.res("cpx") + "&_include=CarePlan:based-on&_include:iterate=CarePlan:subject"},
		{name: "_revinclude", method: "GET", path: "/CarePlan?_id=" + v.res("cp") + "&_revinclude=CarePlan:based-on"},
		{name: "_revinclude from the Patient", method: "GET", path: "/Patient?_id=" + v.id() + "&_revinclude=CarePlan:subject"},
		{name: "chain into the patient", method: "GET", path: "/CarePlan?subject:Patient.given=" + p.given(), compare: true},
		{name: "chain from a visible resource", method: "GET", path: "/CarePlan?_id=" + v.res("cpx") + "&based-on.subject:Patient.given=" + p.given(), compare: true},
		{name: "chain, sorted", method: "GET", path: "/CarePlan?based-on.subject:Patient.identifier=" + url.QueryEscape(rgIPP+"|ipp-"+p.id()) + "&_sort=-_lastUpdated", compare: true},
		{name: "_has into the patient", method: "GET", path: "/Patient?_has:CarePlan:subject:_id=" + cp, compare: true},
		{name: "_has from a visible resource", method: "GET", path: "/CarePlan?_id=" + v.res("cp") + "&_has:CarePlan:based-on:subject=" + p.ref(), compare: true},
		{name: "compartment search", method: "GET", path: "/Patient/" + p.id() + "/CarePlan", compare: true},
		{name: "compartment search of Observations", method: "GET", path: "/Patient/" + p.id() + "/Observation", compare: true},
		{name: "compartment search, count", method: "GET", path: "/Patient/" + p.id() + "/CarePlan?_summary=count", compare: true},
		{name: "$everything", method: "GET", path: "/Patient/" + p.id() + "/$everything", compare: true},
		{name: "transaction GET", method: "POST", path: "/", body: tx(map[string]any{"request": map[string]any{"method": "GET", "url": "Patient/" + p.id()}}), compare: true},
		{name: "batch GET of a search", method: "POST", path: "/", body: map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{
			map[string]any{"request": map[string]any{"method": "GET", "url": "CarePlan?subject=" + p.ref()}}}}},
		{name: "transaction PUT", method: "POST", path: "/", body: tx(map[string]any{"fullUrl": base + "/CarePlan/" + cp, "resource": overwrite(cp),
			"request": map[string]any{"method": "PUT", "url": "CarePlan/" + cp}}), write: true},
		{name: "conditional update", method: "PUT", path: "/CarePlan?identifier=" + url.QueryEscape(rgCPIdent+"|"+cp), body: overwrite(""), write: true},
		{name: "update", method: "PUT", path: "/CarePlan/" + cp, body: overwrite(cp), write: true},
		{name: "delete", method: "DELETE", path: "/CarePlan/" + cp, write: true},
		{name: "$validate of the instance", method: "GET", path: "/CarePlan/" + cp + "/$validate", compare: true},
	}
}

// rgCommunications is the number of Communications u sees.
func rgCommunications(u *rgUser) int {
	n := 0
	for _, c := range u.circle {
		if u.limited {
			n += rgCommunication.limited(u, rgP(c))
		} else {
			n += rgCommunication.doctor(u, rgP(c))
		}
	}
	return n
}

// rgSample are the denied pairs tried off SQLite: a nurse refused by an
// Encounter too old (every pair, on SQLite; FerretDB answers a
// professional's request in about a second).
var rgSample = map[string]int{"nurse-a": 7}

// rgDenied: for every professional and every patient outside their
// circle, every way in (rgProbes), and a page link of another user's
// search replayed with their token.
func rgDenied(t *testing.T, r *region) {
	// page links of searches by someone who sees the patient (the
	// administrator when nobody does)
	pages := map[int]string{}
	for _, p := range rgAll {
		tok := r.admin
		for _, u := range r.users {
			if u.sees(p.n) {
				tok = u.token
				break
			}
		}
		res := r.raw(tok, "GET", "/CarePlan?subject="+p.ref()+"&_count=1", nil)
		if pages[p.n] = res.link("next"); pages[p.n] == "" {
			t.Errorf("no next link to replay for %s: %d %.300s", p.id(), res.status, res.body)
		}
	}
	// tally and failed count, per probe, the pairs tried and those that
	// failed: the summary logged at the end says which ways in leak.
	tally, failed := map[string]int{}, map[string]int{}
	defer func() {
		var lines []string
		for name, n := range tally {
			lines = append(lines, fmt.Sprintf("%-40s %3d of %3d pairs failed", name, failed[name], n))
		}
		slices.Sort(lines)
		t.Logf("denied pairs, per way in:\n%s", strings.Join(lines, "\n"))
	}()
	for _, u := range r.users {
		if !r.full && rgSample[u.name] == 0 {
			continue
		}
		v := rgP(u.circle[0])
		absent := map[string]*secResp{}
		for _, pr := range rgProbes(r.base, u, v, rgAbsent) {
			if pr.compare {
				absent[pr.name] = r.as(t, u, pr.name+" (absent patient)", pr.method, pr.path, pr.body)
			}
		}
		for _, p := range rgAll {
			if u.sees(p.n) || !r.full && rgSample[u.name] != p.n {
				continue
			}
			t.Run(u.name+"/"+p.id(), func(t *testing.T) {
				for _, pr := range rgProbes(r.base, u, v, p) {
					tally[pr.name]++
					res := r.as(t, u, pr.name, pr.method, pr.path, pr.body)
					bad := u.leaks(res) != nil
					if res.status >= 500 {
						bad = true
						t.Errorf("%s: %s %s: %d %.300s", pr.name, pr.method, pr.path, res.status, res.body)
					}
					if pr.write {
						if res.status < 400 {
							bad = true
							t.Errorf("%s: %s %s succeeded: %d %.300s", pr.name, pr.method, pr.path, res.status, res.body)
						}
						if got := r.raw(r.admin, "GET", "/CarePlan/"+p.res("cp"), nil); got.status != 200 || got.str("meta", "versionId") != "1" || !strings.Contains(string(got.body), p.mark("cp")) {
							failed[pr.name]++
							t.Fatalf("%s changed %s's CarePlan: %d %.300s", pr.name, p.id(), got.status, got.body)
						}
					}
					if a := absent[pr.name]; pr.compare && a != nil && (a.status != res.status || a.total() != res.total() || a.entries() != res.entries()) {
						bad = true
						t.Errorf("%s tells %s from a patient that does not exist: %d total %d entries %d, absent %d total %d entries %d: %.300s",
							pr.name, p.id(), res.status, res.total(), res.entries(), a.status, a.total(), a.entries(), res.body)
					}
					if bad {
						failed[pr.name]++
					}
				}
				if next := pages[p.n]; next != "" {
					tally["replayed page link"]++
					res := r.as(t, u, "replayed page link", "GET", next, nil)
					if res.status == 200 && res.entries() > 0 {
						failed["replayed page link"]++
						t.Errorf("a page link of another user's search of %s, replayed: %d entries", p.id(), res.entries())
					}
				}
			})
		}
	}
}

// rgBreakGlass: doctor A opens P2 (outside their circle) in an emergency.
func rgBreakGlass(t *testing.T, r *region) {
	drA, nurse := r.user("dr-a"), r.user("nurse-a")
	p := rgP(2)
	const reason = "Patient inconscient aux urgences, traitement en cours inconnu"
	hasBTG := func(res *secResp) bool {
		s := strings.ToLower(string(res.body))
		return strings.Contains(s, "break-the-glass") || strings.Contains(s, "break-glass")
	}

	// without the header: 403, saying break-the-glass is possible, the
	// same answer for a patient that does not exist
	denied := r.as(t, drA, "read without the header", "GET", "/Patient/"+p.id(), nil)
	absent := r.as(t, drA, "read of an absent patient", "GET", "/Patient/"+rgAbsent.id(), nil)
	if denied.status != 403 || denied.str("resourceType") != "OperationOutcome" || !hasBTG(denied) {
		t.Errorf("without X-Break-Glass: %d %.400s", denied.status, denied.body)
	}
	if absent.status != denied.status || strings.ReplaceAll(string(absent.body), rgAbsent.id(), "ID") != strings.ReplaceAll(string(denied.body), p.id(), "ID") {
		t.Errorf("an absent patient is told apart: %d %.300s, denied %d %.300s", absent.status, absent.body, denied.status, denied.body)
	}

	before := r.raw(r.admin, "GET", "/Communication?subject="+p.ref()+"&_summary=count", nil).total()
	for _, c := range []struct{ name, path, mark string }{
		{"read", "/Patient/" + p.id(), p.mark("pat")},
		{"search with patient=", "/Observation?patient=" + p.id(), p.mark("obs")},
		{"compartment search", "/Patient/" + p.id() + "/DocumentReference", p.mark("doc")},
		{"$everything", "/Patient/" + p.id() + "/$everything", p.mark("cond")},
	} {
		res := r.raw(drA.token, "GET", c.path, nil, "X-Break-Glass", reason)
		if res.status != 200 || !strings.Contains(string(res.body), c.mark) {
			t.Errorf("break-the-glass %s: %d %.300s", c.name, res.status, res.body)
		}
	}
	notes := r.raw(r.admin, "GET", "/Communication?subject="+p.ref()+"&category="+url.QueryEscape("https://dcc.example.fr/fhir/CodeSystem/dcc-notification|break-the-glass"), nil)
	if notes.status != 200 || notes.entries() == 0 || !strings.Contains(string(notes.body), "Practitioner/rg-dr-a") || !strings.Contains(string(notes.body), "CareTeam/rg-ct-2") {
		t.Errorf("no break-the-glass Communication to P2's care team: %d %.400s", notes.status, notes.body)
	}
	if after := r.raw(r.admin, "GET", "/Communication?subject="+p.ref()+"&_summary=count", nil).total(); after <= before {
		t.Errorf("Communications of %s: %d before, %d after", p.id(), before, after)
	}

	// the glass is broken for one request only
	if res := r.as(t, drA, "read after break-the-glass", "GET", "/Patient/"+p.id(), nil); res.status != 403 {
		t.Errorf("the next request without the header: %d", res.status)
	}
	for _, c := range []struct {
		name   string
		u      *rgUser
		path   string
		reason string
		status int
	}{
		{"a reason under 10 characters", drA, "/Patient/" + p.id(), "urgence", 400},
		{"a nurse", nurse, "/Patient/" + p.id(), reason, 403},
		{"no patient named", drA, "/Observation", reason, 400},
	} {
		res := r.raw(c.u.token, "GET", c.path, nil, "X-Break-Glass", c.reason)
		if res.status != c.status || strings.Contains(string(res.body), p.prefix()) {
			t.Errorf("break-the-glass by %s: %d, want %d %.300s", c.name, res.status, c.status, res.body)
		}
	}
}

// rgLaboratory: the platform's system token sees the ServiceRequests and
// Tasks addressed to it and what they reference, and writes results for
// those requests only.
func rgLaboratory(t *testing.T, r *region) {
	lab := &rgUser{name: "laboratory", token: r.lab, circle: []int{4}, limited: true}
	// what the laboratory sees of P4: the request, the task, the patient
	allowed := []string{rgP(4).mark("pat"), rgP(4).mark("sr"), rgP(4).mark("task")}
	lab.extraVisible = allowed
	const hidden = 0 // 403 or 404: not addressed to it, or absent, alike
	for _, c := range []struct {
		name, path     string
		status         int
		entries, total int // -1: not checked
	}{
		{"its ServiceRequests", "/ServiceRequest", 200, 1, -1},
		{"its ServiceRequests, counted", "/ServiceRequest?_summary=count", 200, -1, 1},
		{"its Tasks", "/Task", 200, 1, -1},
		{"the request addressed to it", "/ServiceRequest/rg-sr-4", 200, -1, -1},
		{"the patient of its request", "/Patient/rg-p4", 200, -1, -1},
		{"its request and the patient", "/ServiceRequest?_id=rg-sr-4&_include=ServiceRequest:subject", 200, 2, -1},
		{"a request addressed elsewhere", "/ServiceRequest/rg-sr-1", hidden, -1, -1},
		{"another patient", "/Patient/rg-p1", hidden, -1, -1},
		{"the patients", "/Patient", 200, 1, -1},
		{"another patient's Observation", "/Observation/rg-obs-1", hidden, -1, -1},
		{"Observations", "/Observation", 200, 0, -1},
		{"Conditions, counted", "/Condition?_summary=count", 200, -1, 0},
	} {
		res := r.as(t, lab, c.name, "GET", c.path, nil)
		if c.status == hidden && (res.status == 403 || res.status == 404) {
			continue
		}
		if res.status != c.status || (c.entries >= 0 && res.entries() != c.entries) || (c.total >= 0 && res.total() != c.total) {
			t.Errorf("laboratory, %s: %d with %d entries (total %d), want %d, %d entries (total %d): %.300s",
				c.name, res.status, res.entries(), res.total(), c.status, c.entries, c.total, res.body)
		}
	}
	written := 0
	result := func(sr, patient, marker string) map[string]any {
		return map[string]any{"resourceType": "Observation", "status": "final", "code": rgCoding("http://loinc.org", "21908-9"),
			"subject": rgRef(patient), "basedOn": []any{rgRef("ServiceRequest/" + sr)}, "valueString": marker}
	}
	report := func(sr, patient string) map[string]any {
		return map[string]any{"resourceType": "DiagnosticReport", "status": "final", "code": rgCoding("http://loinc.org", "21908-9"),
			"subject": rgRef(patient), "basedOn": []any{rgRef("ServiceRequest/" + sr)}}
	}
	for _, c := range []struct {
		name, typ string
		body      map[string]any
		ok        bool
	}{
		{"an Observation for its request", "Observation", result("rg-sr-4", "Patient/rg-p4", "rg-lab-result"), true},
		{"a DiagnosticReport for its request", "DiagnosticReport", report("rg-sr-4", "Patient/rg-p4"), true},
		{"an Observation for another's request", "Observation", result("rg-sr-1", "Patient/rg-p1", "rg-lab-intrusion"), false},
		{"a DiagnosticReport for another's request", "DiagnosticReport", report("rg-sr-1", "Patient/rg-p1"), false},
		{"an Observation of another patient, naming its request", "Observation", result("rg-sr-4", "Patient/rg-p1", "rg-lab-intrusion"), false},
		{"an Observation for no request", "Observation", secObs("", "Patient/rg-p4", "x", nil), false},
	} {
		res := r.as(t, lab, c.name, "POST", "/"+c.typ, c.body)
		if c.ok != (res.status == 201) {
			t.Errorf("laboratory writes %s: %d (want success %v) %.300s", c.name, res.status, c.ok, res.body)
		}
		if res.status == 201 && c.typ == "Observation" {
			written++
		}
	}
	// its results, and no other
	if res := r.as(t, lab, "its results", "GET", "/Observation", nil); res.status != 200 || res.entries() != min(written, 1) {
		t.Errorf("laboratory searches Observations after writing its result: %d, %d entries %.300s", res.status, res.entries(), res.body)
	}
}

// rgAtOnce: the circle follows the stored resources at once — a new
// Encounter at Organization B opens P7 to B's doctor, and the end of
// doctor A's CareTeam membership closes P1 to them.
func rgAtOnce(t *testing.T, r *region) {
	drA, drB := r.user("dr-a"), r.user("dr-b")
	if res := r.as(t, drB, "before the Encounter", "GET", "/Patient/rg-p7", nil); res.status == 200 {
		t.Fatalf("doctor B reads P7 before any relation: %d", res.status)
	}
	r.put(map[string]any{"resourceType": "Encounter", "id": "rg-enc-7b", "status": "in-progress", "subject": rgRef("Patient/rg-p7"),
		"class":           map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"serviceProvider": rgRef("Organization/rg-org-b"), "period": map[string]any{"start": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)}})
	if res := r.raw(drB.token, "GET", "/Patient/rg-p7", nil); res.status != 200 {
		t.Errorf("a new Encounter at Organization B does not open P7 to doctor B: %d %.300s", res.status, res.body)
	}
	ct := r.raw(r.admin, "GET", "/CareTeam/rg-ct-1", nil).json
	ct["participant"].([]any)[0].(map[string]any)["period"] = map[string]any{"end": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)}
	delete(ct, "meta")
	r.put(ct)
	if res := r.raw(drA.token, "GET", "/Patient/rg-p1", nil); res.status == 200 {
		t.Errorf("doctor A's ended membership leaves P1 open: %d", res.status)
	}
	if res := r.raw(r.user("nurse-a").token, "GET", "/Patient/rg-p1", nil); res.status != 200 {
		t.Errorf("nurse A's membership goes with doctor A's: %d", res.status)
	}
}

// rgAudit: the requests above left their AuditEvents, found by patient and
// agent — the refused ones as failures, the break-the-glass ones with
// their purpose BTG and reason; a professional without the auditor role
// reads none; the chain verifies.
func rgAudit(t *testing.T, r *region) {
	drA, nurse := r.user("dr-a"), r.user("nurse-a")
	p := rgP(2) // opened by dr-a by break-the-glass (rgBreakGlass)
	q := "/AuditEvent?patient=" + p.ref() + "&agent=" + drA.practitioner()
	all := r.raw(r.admin, "GET", q+"&_count=500", nil)
	if all.status != 200 || len(secRefs(all)) == 0 {
		t.Fatalf("AuditEvents of dr-a on %s: %d %.300s", p.id(), all.status, all.body)
	}
	if !strings.Contains(string(all.body), `"BTG"`) || !strings.Contains(string(all.body), "Patient inconscient aux urgences") {
		t.Errorf("no break-the-glass event (purpose BTG, the reason) among %d", len(secRefs(all)))
	}
	if n := r.raw(r.admin, "GET", q+"&outcome=4&_summary=count", nil).total(); n < 1 {
		t.Errorf("the refused requests of dr-a on %s (without the header) left no failure event: %d", p.id(), n)
	}
	if n := r.raw(r.admin, "GET", "/AuditEvent?agent="+nurse.practitioner()+"&_summary=count", nil).total(); n < 1 {
		t.Errorf("nurse-a's requests left no AuditEvent: %d", n)
	}
	if res := r.raw(nurse.token, "GET", "/AuditEvent?patient="+rgP(1).ref(), nil); res.status != 403 {
		t.Errorf("a nurse searches AuditEvents: %d %.200s", res.status, res.body)
	}
	if res := r.raw(r.admin, "DELETE", "/AuditEvent/"+strings.TrimPrefix(secRefs(all)[0], "AuditEvent/"), nil); res.status != 405 {
		t.Errorf("the administrator deletes an AuditEvent: %d %.200s", res.status, res.body)
	}
	rep, err := audit.Verify(r.ctx, r.st)
	if err != nil || rep.Events == 0 {
		t.Fatalf("the chain: %+v %v", rep, err)
	}
	t.Logf("audit chain: %d events verified", rep.Events)
}
