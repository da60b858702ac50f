package handlers_test

import (
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/fhir/search"
)

// The access review's holes, through HTTP: real scope strings (auth/scope)
// on a protected server, patient/ tokens launched for Patient/p1.

// reviewTokens are the tokens of the review's cases: token → scopes.
var reviewTokens = map[string]string{
	"tok-patient":  "launch/patient patient/*.cruds",
	"tok-sp-user":  "user/SearchParameter.cruds",
	"tok-obs-c":    "system/Observation.c",
	"tok-obs-cs":   "system/Observation.cs",
	"tok-obs-crs":  "system/Observation.crs",
	"tok-obs-u":    "system/Observation.u",
	"tok-obs-ru":   "system/Observation.ru",
	"tok-obs-date": "user/Observation.rs?date=ge2024-01-01",
}

// reviewServer is a protected server holding two patients' data, on a
// parameter registry of its own (a case that wrongly succeeded in adding a
// SearchParameter must not reach other tests).
func reviewServer(t *testing.T) *fixture {
	t.Helper()
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	opt := func(c *handlersConfig) {
		c.Auth = newTestAuth(c.BaseURL)
		a := c.Auth.(*testAuth)
		for tok, sc := range reviewTokens {
			set, bad := scope.Parse(sc)
			if len(bad) > 0 {
				t.Fatalf("%s: %v", sc, bad)
			}
			a.tokens[tok] = &auth.Principal{ClientID: "app", Scope: sc, Access: set.Access("p1")}
		}
	}
	f := startWith(t, sqliteEngine(), reg, opt)
	for _, d := range []struct {
		path string
		body any
	}{
		{"/Patient/p1", withID(patient("Alpha"), "p1")},
		{"/Patient/p2", withID(patient("Beta"), "p2")},
		{"/Practitioner/dr1", map[string]any{"resourceType": "Practitioner", "id": "dr1", "name": []any{map[string]any{"family": "Doc"}}}},
		{"/Organization/org2", map[string]any{"resourceType": "Organization", "id": "org2", "name": "Two"}},
		{"/Observation/o1", reviewObs("o1", "p1", "A", "")},
		{"/Observation/o2", reviewObs("o2", "p2", "Z", "")},
		{"/Task/t1", reviewTask("t1", "p1")},
		{"/Task/t2", reviewTask("t2", "p2")},
	} {
		f.want(f.do("PUT", d.path, d.body, bearer(tokAll)...), 201)
	}
	return f
}

// reviewObs is an Observation of patient subject with code code, effective
// at date when set.
func reviewObs(id, subject, code, date string) map[string]any {
	o := map[string]any{"resourceType": "Observation", "status": "final",
		"code":    map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": code}}},
		"subject": map[string]any{"reference": "Patient/" + subject}}
	if id != "" {
		o["id"] = id
	}
	if date != "" {
		o["effectiveDateTime"] = date
	}
	return o
}

func reviewTask(id, patient string) map[string]any {
	return map[string]any{"resourceType": "Task", "id": id, "status": "requested", "intent": "order", "for": map[string]any{"reference": "Patient/" + patient}}
}

// reviewSP replaces Observation.performer by a constant Patient/p1.
var reviewSP = map[string]any{"resourceType": "SearchParameter", "url": "http://example.org/sp/performer", "name": "performer", "status": "active",
	"description": "x", "code": "performer", "base": []any{"Observation"}, "type": "reference", "target": []any{"Patient"}, "expression": "'Patient/p1'"}

// reviewCase is one request and what its answer must be: the status, and
// strings its body must hold and must not.
type reviewCase struct {
	name, tok, method, path string
	body                    any
	hdr                     []string
	status                  int
	has, hasNot             []string
}

func (c reviewCase) run(t *testing.T, f *fixture) {
	t.Helper()
	r := f.do(c.method, c.path, c.body, append(bearer(c.tok), c.hdr...)...)
	if r.status != c.status {
		t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, r.status, c.status, r.body)
	}
	if c.status == 403 && r.header.Get("WWW-Authenticate") != `Bearer realm="dccfhir", error="insufficient_scope"` {
		t.Errorf("403 with WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	for _, h := range c.has {
		if !strings.Contains(string(r.body), h) {
			t.Errorf("the answer lacks %q: %s", h, r.body)
		}
	}
	for _, h := range c.hasNot {
		if strings.Contains(string(r.body), h) {
			t.Errorf("the answer holds %q: %s", h, r.body)
		}
	}
}

// TestAccessReviewConfinement (H1): patient/ scopes confine Task and
// Device by their patient, read reference data unconfined, write none of
// it, and refuse the other types outside the compartment.
func TestAccessReviewConfinement(t *testing.T) {
	f := reviewServer(t)
	for _, c := range []reviewCase{
		{name: "another patient's Task", tok: "tok-patient", method: "GET", path: "/Task/t2", status: 404, has: []string{"Task/t2 is not known"}},
		{name: "the patient's Task", tok: "tok-patient", method: "GET", path: "/Task/t1", status: 200, has: []string{`"id":"t1"`}},
		{name: "a search for another patient's Tasks", tok: "tok-patient", method: "GET", path: "/Task?patient=p2", status: 200, hasNot: []string{`"entry"`}},
		{name: "a search of Tasks", tok: "tok-patient", method: "GET", path: "/Task", status: 200, has: []string{"Task/t1"}, hasNot: []string{"Task/t2"}},
		{name: "reference data is read", tok: "tok-patient", method: "GET", path: "/Practitioner/dr1", status: 200},
		{name: "reference data is not deleted", tok: "tok-patient", method: "DELETE", path: "/Practitioner/dr1", status: 403, has: []string{"system/Practitioner.d"}},
		{name: "reference data is not overwritten", tok: "tok-patient", method: "PUT", path: "/Organization/org2", body: map[string]any{"resourceType": "Organization", "id": "org2", "name": "Mine"}, status: 403},
		{name: "another type is refused", tok: "tok-patient", method: "GET", path: "/Binary?_id=b1", status: 403, has: []string{"user/Binary.s or system/Binary.s"}},
		{name: "a SearchParameter by a patient app", tok: "tok-patient", method: "POST", path: "/SearchParameter", body: reviewSP, status: 403},
		{name: "a SearchParameter by a user/ scope", tok: "tok-sp-user", method: "POST", path: "/SearchParameter", body: reviewSP, status: 403, has: []string{"system/*.u"}},
		{name: "the data is unchanged", tok: tokAll, method: "GET", path: "/Organization/org2", status: 200, has: []string{`"Two"`}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// TestAccessReviewCustomParameter (H1): a SearchParameter the
// administrator installs cannot put p2's Observations in p1's compartment.
func TestAccessReviewCustomParameter(t *testing.T) {
	f := reviewServer(t)
	f.want(f.do("POST", "/SearchParameter", reviewSP, bearer(tokAll)...), 201)
	f.want(f.do("PUT", "/Observation/o9", reviewObs("o9", "p2", "Z", ""), bearer(tokAll)...), 201)
	for _, c := range []reviewCase{
		{name: "p2's new Observation", tok: "tok-patient", method: "GET", path: "/Observation/o9", status: 404},
		{name: "p1's search", tok: "tok-patient", method: "GET", path: "/Observation", status: 200, has: []string{"Observation/o1"}, hasNot: []string{"Observation/o9"}},
		{name: "p1's compartment", tok: tokAll, method: "GET", path: "/Patient/p1/Observation", status: 200, hasNot: []string{"Observation/o9"}},
		{name: "the parameter searches", tok: tokAll, method: "GET", path: "/Observation?performer=Patient/p1", status: 200, has: []string{"Observation/o9"}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// TestAccessReviewOnlyThePatient (H2): a patient/ write must leave the
// resource in the launch patient's compartment alone.
func TestAccessReviewOnlyThePatient(t *testing.T) {
	f := reviewServer(t)
	both := reviewObs("o6", "p2", "P", "")
	both["performer"] = []any{map[string]any{"reference": "Patient/p1"}}
	f.want(f.do("PUT", "/Observation/o6", both, bearer(tokAll)...), 201)
	moved := reviewObs("", "p2", "P", "")
	moved["performer"] = []any{map[string]any{"reference": "Patient/p1"}}
	for _, c := range []reviewCase{
		{name: "a create for another patient naming the patient", tok: "tok-patient", method: "POST", path: "/Observation", body: moved, status: 403},
		{name: "an update of another patient's naming the patient", tok: "tok-patient", method: "PUT", path: "/Observation/o6", body: both, status: 403},
		{name: "a patch of another patient's naming the patient", tok: "tok-patient", method: "PATCH", path: "/Observation/o6", body: `[{"op":"replace","path":"/status","value":"amended"}]`, hdr: []string{"Content-Type", "application/json-patch+json"}, status: 403},
		{name: "a delete of another patient's naming the patient", tok: "tok-patient", method: "DELETE", path: "/Observation/o6", status: 403},
		{name: "it is read", tok: "tok-patient", method: "GET", path: "/Observation/o6", status: 200},
		{name: "and unchanged", tok: tokAll, method: "GET", path: "/Observation/o6/_history", status: 200, hasNot: []string{`"versionId":"2"`}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// TestAccessReviewConditional (H3): a conditional match is a search ('s'
// too, both grants narrowing it), and shows the match only to whom may
// read it.
func TestAccessReviewConditional(t *testing.T) {
	f := reviewServer(t)
	ine := []string{"If-None-Exist", "code=Z"}
	batch := map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{map[string]any{
		"resource": reviewObs("", "p2", "Z", ""), "request": map[string]any{"method": "POST", "url": "Observation", "ifNoneExist": "code=Z"}}}}
	for _, c := range []reviewCase{
		{name: "c alone", tok: "tok-obs-c", method: "POST", path: "/Observation", body: reviewObs("", "p2", "Z", ""), hdr: ine, status: 403, has: []string{"search of Observation"}, hasNot: []string{"Patient/p2"}},
		{name: "c and s: the match withheld", tok: "tok-obs-cs", method: "POST", path: "/Observation", body: reviewObs("", "p2", "Z", ""), hdr: ine, status: 200,
			has: []string{`"resourceType":"OperationOutcome"`, "not returned"}, hasNot: []string{"Patient/p2", "loinc"}},
		{name: "c and s, asking for the representation", tok: "tok-obs-cs", method: "POST", path: "/Observation", body: reviewObs("", "p2", "Z", ""), hdr: append([]string{"Prefer", "return=representation"}, ine...), status: 200,
			hasNot: []string{"Patient/p2", "loinc"}},
		{name: "c, r and s: the match", tok: "tok-obs-crs", method: "POST", path: "/Observation", body: reviewObs("", "p2", "Z", ""), hdr: ine, status: 200, has: []string{"Patient/p2"}},
		{name: "a batch entry, c and s", tok: "tok-obs-cs", method: "POST", path: "", body: batch, status: 200, has: []string{"200 OK", "not returned"}, hasNot: []string{"Patient/p2", "loinc"}},
		{name: "a batch entry, c alone", tok: "tok-obs-c", method: "POST", path: "", body: batch, status: 200, has: []string{"403"}, hasNot: []string{"Patient/p2", "loinc"}},
		{name: "nothing was created", tok: tokAll, method: "GET", path: "/Observation?code=Z&_summary=count", status: 200, has: []string{`"total":1`}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// TestAccessReviewPatch (H4): a patch's result is returned only to whom
// may read it.
func TestAccessReviewPatch(t *testing.T) {
	f := reviewServer(t)
	jp := []string{"Content-Type", "application/json-patch+json"}
	amend := `[{"op":"replace","path":"/status","value":"amended"}]`
	batch := map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{map[string]any{
		"resource": map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "operation", "part": []any{
			map[string]any{"name": "type", "valueCode": "replace"}, map[string]any{"name": "path", "valueString": "Observation.status"}, map[string]any{"name": "value", "valueCode": "amended"}}}}},
		"request": map[string]any{"method": "PATCH", "url": "Observation/o2"}}}}
	for _, c := range []reviewCase{
		{name: "u alone", tok: "tok-obs-u", method: "PATCH", path: "/Observation/o2", body: amend, hdr: jp, status: 200,
			has: []string{`"resourceType":"OperationOutcome"`, "not returned"}, hasNot: []string{"Patient/p2", "loinc"}},
		{name: "u alone, asking for the representation", tok: "tok-obs-u", method: "PATCH", path: "/Observation/o2", body: amend, hdr: append([]string{"Prefer", "return=representation"}, jp...), status: 200,
			hasNot: []string{"Patient/p2", "loinc"}},
		{name: "u alone, a batch entry", tok: "tok-obs-u", method: "POST", path: "", body: batch, status: 200, has: []string{"200 OK", "not returned"}, hasNot: []string{"Patient/p2", "loinc"}},
		{name: "u and r", tok: "tok-obs-ru", method: "PATCH", path: "/Observation/o2", body: amend, hdr: jp, status: 200, has: []string{"Patient/p2"}},
		{name: "u alone, an update returns what it sent", tok: "tok-obs-u", method: "PUT", path: "/Observation/o2", body: reviewObs("o2", "p2", "Y", ""), status: 200, has: []string{`"code":"Y"`}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// TestAccessReviewVersions (H5, H6): older versions fail closed under a
// restriction the index cannot check, and under a narrowing grant every
// refused vread is the one 404 of an unknown resource.
func TestAccessReviewVersions(t *testing.T) {
	f := reviewServer(t)
	f.want(f.do("PUT", "/Observation/o7", reviewObs("o7", "p2", "D", "2019-05-01"), bearer(tokAll)...), 201)
	f.want(f.do("PUT", "/Observation/o7", reviewObs("o7", "p2", "D", "2024-02-01"), bearer(tokAll)...), 200)
	f.want(f.do("PUT", "/Observation/o10", reviewObs("o10", "p2", "D", ""), bearer(tokAll)...), 201)
	f.want(f.do("DELETE", "/Observation/o10", nil, bearer(tokAll)...), 204)
	jp := []string{"Content-Type", "application/json-patch+json"}
	for _, c := range []reviewCase{
		{name: "the current version within the date", tok: "tok-obs-date", method: "GET", path: "/Observation/o7/_history/2", status: 200, has: []string{"2024-02-01"}},
		{name: "an older version outside the date", tok: "tok-obs-date", method: "GET", path: "/Observation/o7/_history/1", status: 404, hasNot: []string{"2019"}},
		{name: "the history within the date", tok: "tok-obs-date", method: "GET", path: "/Observation/o7/_history", status: 200, has: []string{"2024-02-01"}, hasNot: []string{"2019"}},
		{name: "another patient's version", tok: "tok-patient", method: "GET", path: "/Observation/o2/_history/1", status: 404, has: []string{"Observation/o2 is not known"}},
		{name: "another patient's missing version", tok: "tok-patient", method: "GET", path: "/Observation/o2/_history/7", status: 404, has: []string{"Observation/o2 is not known"}, hasNot: []string{"version"}},
		{name: "an unknown resource's version", tok: "tok-patient", method: "GET", path: "/Observation/nope/_history/1", status: 404, has: []string{"Observation/nope is not known"}, hasNot: []string{"version"}},
		{name: "the patient's missing version", tok: "tok-patient", method: "GET", path: "/Observation/o1/_history/7", status: 404, has: []string{"Observation/o1 is not known"}},
		{name: "a patch of another patient's deleted", tok: "tok-patient", method: "PATCH", path: "/Observation/o10", body: `[{"op":"replace","path":"/status","value":"amended"}]`, hdr: jp, status: 404, has: []string{"Observation/o10 is not known"}},
		{name: "unnarrowed, a missing version says so", tok: tokAll, method: "GET", path: "/Observation/o1/_history/7", status: 404, has: []string{"has no version 7"}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}
