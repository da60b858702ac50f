package access

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
)

// labEnv is two laboratories' orders: lab1 performs sr1 (p1) and owns
// t1, whose focus is sr3 (no performer); lab2 performs sr2 (p2) and owns
// t2; lab3 has nothing.
func labEnv(t *testing.T) *circleEnv {
	e := newCircleEnv(t)
	e.put("Patient", "p3", map[string]any{})
	sr := func(id, patient, performer, specimen string) {
		r := map[string]any{"status": "active", "intent": "order", "subject": refTo("Patient/" + patient),
			"code": map[string]any{"text": "NGS"}, "specimen": []any{refTo("Specimen/" + specimen)}}
		if performer != "" {
			r["performer"] = []any{refTo(performer)}
		}
		if id == "sr1" {
			r["reasonReference"] = []any{refTo("Condition/c1")}
		}
		e.put("ServiceRequest", id, r)
	}
	sr("sr1", "p1", "Organization/lab1", "s1")
	sr("sr2", "p2", "Organization/lab2", "s2")
	sr("sr3", "p3", "", "s3")
	for _, s := range []struct{ id, patient string }{{"s1", "p1"}, {"s2", "p2"}, {"s3", "p3"}} {
		e.put("Specimen", s.id, map[string]any{"subject": refTo("Patient/" + s.patient)})
	}
	e.put("Condition", "c1", map[string]any{"subject": refTo("Patient/p1")})
	e.put("Condition", "c2", map[string]any{"subject": refTo("Patient/p2")})
	e.put("Task", "t1", map[string]any{"status": "requested", "intent": "order", "owner": refTo("Organization/lab1"),
		"for": refTo("Patient/p3"), "focus": refTo("ServiceRequest/sr3")})
	e.put("Task", "t2", map[string]any{"status": "requested", "intent": "order", "owner": refTo("Organization/lab2"),
		"for": refTo("Patient/p2"), "focus": refTo("ServiceRequest/sr2")})
	result := func(typ, id, patient, sr string) {
		e.put(typ, id, map[string]any{"status": "final", "code": map[string]any{"text": "KRAS"},
			"subject": refTo("Patient/" + patient), "basedOn": []any{refTo("ServiceRequest/" + sr)}})
	}
	result("DiagnosticReport", "dr1", "p1", "sr1")
	result("DiagnosticReport", "dr2", "p2", "sr2")
	result("Observation", "o1", "p1", "sr1")
	result("Observation", "o2", "p2", "sr2")
	result("Observation", "o3", "p3", "sr3")
	e.put("Organization", "lab1", map[string]any{"name": "Lab 1"})
	// lab1's requests done with: sr4 long ago (no longer listed), sr5
	// lately (still)
	done := func(id, ago string) {
		d, _ := time.ParseDuration(ago)
		e.svc.Now = func() time.Time { return time.Now().Add(-d) }
		e.put("ServiceRequest", id, map[string]any{"status": "completed", "intent": "order", "subject": refTo("Patient/p1"),
			"code": map[string]any{"text": "NGS"}, "performer": []any{refTo("Organization/lab1")}})
		e.svc.Now = time.Now
	}
	done("sr4", "2000h")
	done("sr5", "48h")
	return e
}

func TestSystemSees(t *testing.T) {
	e := labEnv(t)
	g := &Gate{Circle: e.c, Policy: Default()}
	ctx := context.Background()
	for _, c := range []struct {
		name, org, typ string
		want           []string // the ids a search finds; nil: 403
	}{
		{"lab1's ServiceRequests: performer, and a Task's focus; done lately, not long ago", "Organization/lab1", "ServiceRequest", []string{"sr1", "sr3", "sr5"}},
		{"lab1's Tasks", "Organization/lab1", "Task", []string{"t1"}},
		{"the Patients its requests are about", "Organization/lab1", "Patient", []string{"p1", "p3"}},
		{"the Specimens its requests name", "Organization/lab1", "Specimen", []string{"s1", "s3"}},
		{"the Condition a request gives as reason", "Organization/lab1", "Condition", []string{"c1"}},
		{"DiagnosticReports based on its requests", "Organization/lab1", "DiagnosticReport", []string{"dr1"}},
		{"Observations based on its requests", "Organization/lab1", "Observation", []string{"o1", "o3"}},
		{"reference data as the scopes say", "Organization/lab1", "Organization", []string{"lab1"}},
		{"nothing else", "Organization/lab1", "CarePlan", nil},
		{"lab2's own", "Organization/lab2", "Observation", []string{"o2"}},
		{"lab2's Specimens", "Organization/lab2", "Specimen", []string{"s2"}},
		{"a laboratory with nothing addressed: no Observation", "Organization/lab3", "Observation", []string{}},
		{"a laboratory with nothing addressed: no Patient", "Organization/lab3", "Patient", []string{}},
		{"a laboratory with nothing addressed: no ServiceRequest", "Organization/lab3", "ServiceRequest", []string{}},
		{"no search of every type", "Organization/lab1", "*", nil},
	} {
		a, _, err := g.For(ctx, Caller{Scopes: everything{}, Organization: c.org})
		if err != nil {
			t.Fatal(err)
		}
		if c.typ == "*" {
			if _, err := a.Grant('s', "*"); status(err) != 403 {
				t.Errorf("%s: %v; want a 403", c.name, err)
			}
			continue
		}
		wantSearch(service.WithAccess(ctx, a), t, c.name, e.svc, c.typ, c.want)
	}
	// a read of another laboratory's request is refused, with the same
	// answer as an unknown one (the 403 of Grant.Refusal once the service
	// answers reads with it, until then its 404)
	a, _, _ := g.For(ctx, Caller{Scopes: everything{}, Organization: "Organization/lab1"})
	_, other := e.svc.Read(service.WithAccess(ctx, a), "ServiceRequest", "sr2")
	_, unknown := e.svc.Read(service.WithAccess(ctx, a), "ServiceRequest", "nosuch")
	if s := status(other); (s != 403 && s != 404) || s != status(unknown) {
		t.Errorf("read another laboratory's ServiceRequest: %v; an unknown one: %v", other, unknown)
	}
	// a backend client with no Organization: its scopes alone
	if a, _, _ := g.For(ctx, Caller{Scopes: everything{}}); a != (everything{}) {
		t.Errorf("a backend client with no organization: %T", a)
	}
}

// TestSystemGrant: what the service is asked to enforce, writes included.
func TestSystemGrant(t *testing.T) {
	e := labEnv(t)
	g := &Gate{Circle: e.c, Policy: Default()}
	a, _, err := g.For(context.Background(), Caller{Scopes: everything{}, Organization: "Organization/lab1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		letter      byte
		typ         string
		restriction url.Values
		patients    []string // nil: not confined
	}{
		{'c', "Observation", url.Values{"based-on": {"ServiceRequest/sr1,ServiceRequest/sr3,ServiceRequest/sr5"}}, []string{"p1", "p3"}},
		{'u', "DiagnosticReport", url.Values{"based-on": {"ServiceRequest/sr1,ServiceRequest/sr3,ServiceRequest/sr5"}}, []string{"p1", "p3"}},
		{'s', "Task", url.Values{"owner": {"Organization/lab1"}}, nil},
		{'r', "ServiceRequest", url.Values{"_id": {"sr1,sr3,sr5"}}, nil},
		{'c', "ServiceRequest", url.Values{"_id": {"sr1,sr3,sr5"}}, nil},
		{'r', "Specimen", url.Values{"_id": {"s1,s3"}}, nil},
		{'c', "Specimen", nil, []string{"p1", "p3"}}, // a derived Specimen, for its patients
		// its writes of Tasks and requests stay with its patients: a Task
		// it writes (for: another patient) cannot widen its lists
		{'c', "Task", url.Values{"owner": {"Organization/lab1"}}, []string{"p1", "p3"}},
		{'u', "Task", url.Values{"owner": {"Organization/lab1"}}, []string{"p1", "p3"}},
		{'u', "ServiceRequest", url.Values{"_id": {"sr1,sr3,sr5"}}, []string{"p1", "p3"}},
	} {
		gr, err := a.Grant(c.letter, c.typ)
		if err != nil {
			t.Errorf("%c %s: %v", c.letter, c.typ, err)
			continue
		}
		if gr.Restriction.Encode() != c.restriction.Encode() || gr.Confined != (c.patients != nil) || !slices.Equal(gr.Patients, c.patients) || gr.Refusal == nil {
			t.Errorf("%c %s: %+v; want restriction %v, patients %v", c.letter, c.typ, gr, c.restriction, c.patients)
		}
	}
	// the writes the service refuses under it: an Observation of
	// another laboratory's request, or of its own request's patient for
	// another's request
	for _, w := range []struct{ name, patient, sr string }{
		{"based on another laboratory's request", "p2", "sr2"},
		{"about a patient of another laboratory's request", "p2", "sr1"},
	} {
		b, _ := json.Marshal(map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "KRAS"},
			"subject": refTo("Patient/" + w.patient), "basedOn": []any{refTo("ServiceRequest/" + w.sr)}})
		if _, err := e.svc.Create(service.WithAccess(context.Background(), a), "Observation", b, service.Preconditions{}); status(err) != 403 {
			t.Errorf("create an Observation %s: %v; want a 403", w.name, err)
		}
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Task", "status": "requested", "intent": "order", "owner": refTo("Organization/lab1"),
		"for": refTo("Patient/p2"), "focus": refTo("ServiceRequest/sr2")})
	if _, err := e.svc.Create(service.WithAccess(context.Background(), a), "Task", b, service.Preconditions{}); status(err) != 403 {
		t.Errorf("create a Task of its own for another patient: %v; want a 403", err)
	}
	if _, err := a.Grant('s', "AuditEvent"); status(err) != 403 {
		t.Errorf("a laboratory searches AuditEvents: %v", err)
	}
}

func status(err error) int {
	var fe *fhir.Error
	if asFHIR(err, &fe) && fe != nil {
		return fe.Status
	}
	return 0
}

// TestSystemEstablishment: an establishment (an Organization of type
// Healthcare Provider) reaches the compartments of the patients it
// manages or has Encounters of, and of its requests'.
func TestSystemEstablishment(t *testing.T) {
	e := labEnv(t)
	e.put("Organization", "chu", map[string]any{"name": "CHU", "type": []any{map[string]any{"coding": []any{
		map[string]any{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}}}}})
	e.put("Patient", "p1", map[string]any{"managingOrganization": refTo("Organization/chu")})
	e.put("Encounter", "e2", map[string]any{"status": "finished", "class": map[string]any{"code": "AMB"}, "subject": refTo("Patient/p2"),
		"serviceProvider": refTo("Organization/chu"), "period": map[string]any{"start": "2001-01-01", "end": "2001-01-02"}})
	g := &Gate{Circle: e.c, Policy: Default()}
	ctx := context.Background()
	a, _, err := g.For(ctx, Caller{Scopes: everything{}, Organization: "Organization/chu"})
	if err != nil {
		t.Fatal(err)
	}
	ctx = service.WithAccess(ctx, a)
	for _, c := range []struct {
		typ  string
		want []string // nil: 403
	}{
		{"Patient", []string{"p1", "p2"}},
		{"Observation", []string{"o1", "o2"}},
		{"Specimen", []string{"s1", "s2"}},
		{"Task", []string{"t2"}},
		{"CarePlan", []string{}},
		{"Organization", []string{"chu", "lab1"}},
		{"Binary", nil},
	} {
		wantSearch(ctx, t, c.typ, e.svc, c.typ, c.want)
	}
	if _, err := a.Grant('s', "AuditEvent"); status(err) != 403 {
		t.Errorf("an establishment searches its patients' AuditEvents: %v; want a 403", err)
	}
	if gr, err := a.Grant('c', "Patient"); err != nil || gr.Restriction.Get("organization") != "Organization/chu" || gr.Confined {
		t.Errorf("creating a Patient: %+v, %v; want one it manages", gr, err)
	}
	for _, w := range []struct{ typ, body string }{
		{"Patient", `{"resourceType":"Patient","managingOrganization":{"reference":"Organization/other"}}`},
		{"Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p3"}}`},
	} {
		if _, err := e.svc.Create(ctx, w.typ, []byte(w.body), service.Preconditions{}); status(err) != 403 {
			t.Errorf("create %s: %v; want a 403", w.body, err)
		}
	}
}

// TestSystemTooMany: more requests under way than a restriction may list
// refuses the types listed from them (403), not the Tasks.
func TestSystemTooMany(t *testing.T) {
	e := newCircleEnv(t)
	for i := range search.MaxValuesPerParam + 1 {
		e.put("ServiceRequest", fmt.Sprintf("sr%d", i), map[string]any{"status": "active", "intent": "order", "subject": refTo("Patient/p1"),
			"code": map[string]any{"text": "NGS"}, "performer": []any{refTo("Organization/lab1")}})
	}
	g := &Gate{Circle: e.c, Policy: Default()}
	a, _, _ := g.For(context.Background(), Caller{Scopes: everything{}, Organization: "Organization/lab1"})
	ctx := service.WithAccess(context.Background(), a)
	for _, c := range []struct {
		typ    string
		status int
	}{{"ServiceRequest", 403}, {"Observation", 403}, {"Patient", 0}, {"Task", 0}} {
		if _, err := e.svc.Search(ctx, c.typ, url.Values{}, false); status(err) != c.status {
			t.Errorf("%s: %v; want status %d", c.typ, err, c.status)
		}
	}
}

// TestSystemCache: a laboratory's lists are reused while nothing is
// written, and a new request addressed to it is seen at once.
func TestSystemCache(t *testing.T) {
	e := labEnv(t)
	g := &Gate{Circle: e.c, Policy: Default()}
	ids := func() string {
		t.Helper()
		a, _, _ := g.For(context.Background(), Caller{Scopes: everything{}, Organization: "Organization/lab1"})
		gr, err := a.Grant('r', "ServiceRequest")
		if err != nil {
			t.Fatal(err)
		}
		return gr.Restriction.Get("_id")
	}
	if got := ids(); got != "sr1,sr3,sr5" {
		t.Fatalf("lab1's requests: %s", got)
	}
	en, ok := g.cache.get("Organization/lab1", g.stamp())
	if !ok || en.lists == nil {
		t.Fatal("lab1's lists are not cached")
	}
	lists := *en.lists
	lists.ids = map[string][]string{"ServiceRequest": {"cached"}}
	en.lists = &lists
	g.cache.put("Organization/lab1", en)
	if got := ids(); got != "cached" {
		t.Errorf("nothing written: %s; want the cached lists", got)
	}
	e.put("ServiceRequest", "sr6", map[string]any{"status": "active", "intent": "order", "subject": refTo("Patient/p1"),
		"code": map[string]any{"text": "NGS"}, "performer": []any{refTo("Organization/lab1")}})
	if got := ids(); got != "sr1,sr3,sr5,sr6" {
		t.Errorf("after a new request: %s", got)
	}
}

// wantSearch checks that a search of every typ, as ctx's access allows,
// finds the ids want (sorted), or is refused with a 403 when want is nil.
func wantSearch(ctx context.Context, t *testing.T, name string, svc *service.Service, typ string, want []string) {
	t.Helper()
	resp, err := svc.Search(ctx, typ, url.Values{}, false)
	if want == nil {
		if status(err) != 403 {
			t.Errorf("%s: %v; want a 403", name, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	got := []string{}
	for _, r := range resp.Result.Resources {
		got = append(got, r.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: %v; want %v", name, got, want)
	}
}
