package access

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

// The rules run over a real service on SQLite; each test stores the
// resources of its rule and checks, table by table, who is in the circle.

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

type circleEnv struct {
	t   testing.TB
	svc *service.Service
	c   *Circle
}

func newCircleEnv(t testing.TB) *circleEnv {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "dcc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st, search.Default())
	e := &circleEnv{t: t, svc: svc, c: &Circle{Service: svc, Now: func() time.Time { return now }}}
	e.put("Patient", "p1", map[string]any{"name": []any{map[string]any{"family": "Un"}}})
	e.put("Patient", "p2", map[string]any{"name": []any{map[string]any{"family": "Deux"}}})
	return e
}

func (e *circleEnv) put(typ, id string, r map[string]any) {
	e.t.Helper()
	r["resourceType"], r["id"] = typ, id
	b, _ := json.Marshal(r)
	if _, err := e.svc.Update(context.Background(), typ, id, b, service.Preconditions{}); err != nil {
		e.t.Fatalf("%s/%s: %v", typ, id, err)
	}
}

func refTo(r string) map[string]any { return map[string]any{"reference": r} }

var (
	drA = &Professional{Practitioner: "Practitioner/a", Roles: []string{"PractitionerRole/ra"}, Organizations: []string{"Organization/h1"}}
	drB = &Professional{Practitioner: "Practitioner/b", Roles: []string{"PractitionerRole/rb"}, Organizations: []string{"Organization/h2"}}
	drC = &Professional{Practitioner: "Practitioner/c"} // no role, no organization
)

type circleCase struct {
	name    string
	pro     *Professional
	patient string
	want    Reason
}

func (e *circleEnv) check(cases []circleCase) {
	e.t.Helper()
	for _, c := range cases {
		got, err := e.c.Of(context.Background(), c.pro, c.patient)
		if err != nil || got != c.want {
			e.t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
		// the set agrees with the rule, one patient at a time
		set, err := e.c.Patients(context.Background(), c.pro)
		if in := slices.Contains(set, c.patient); err != nil || in != (c.want != NotInCircle) {
			e.t.Errorf("%s: Patients = %v, %v; want Patient/%s in it: %v", c.name, set, err, c.patient, c.want != NotInCircle)
		}
	}
}

func TestCircleCareTeam(t *testing.T) {
	e := newCircleEnv(t)
	e.put("CareTeam", "ct1", map[string]any{"status": "active", "subject": refTo("Patient/p1"), "participant": []any{
		map[string]any{"member": refTo("Practitioner/a")},
		map[string]any{"member": refTo("PractitionerRole/rb"), "period": map[string]any{"end": "2026-12-06"}}, // ended yesterday
	}})
	e.put("CareTeam", "ct2", map[string]any{"status": "inactive", "subject": refTo("Patient/p2"), "participant": []any{map[string]any{"member": refTo("Practitioner/a")}}})
	e.put("CareTeam", "ct3", map[string]any{"status": "active", "subject": refTo("Patient/p2"), "participant": []any{
		map[string]any{"member": refTo("Practitioner/c"), "period": map[string]any{"end": "2026-12"}}, // ends with this month
	}})
	e.check([]circleCase{
		{"a member", drA, "p1", CareTeamMember},
		{"a membership ended", drB, "p1", NotInCircle},
		{"a team of another patient", drC, "p1", NotInCircle},
		{"an inactive team", drA, "p2", NotInCircle},
		{"a membership ending this month", drC, "p2", CareTeamMember},
	})
	// the membership ends: access closes at once
	e.put("CareTeam", "ct1", map[string]any{"status": "active", "subject": refTo("Patient/p1"), "participant": []any{
		map[string]any{"member": refTo("Practitioner/a"), "period": map[string]any{"end": "2026-12-07T11:00:00Z"}},
	}})
	e.check([]circleCase{{"after the membership ended", drA, "p1", NotInCircle}})
}

func TestCircleGeneralPractitioner(t *testing.T) {
	e := newCircleEnv(t)
	e.put("Patient", "p1", map[string]any{"generalPractitioner": []any{refTo("PractitionerRole/rb")}})
	e.check([]circleCase{
		{"through a role", drB, "p1", GeneralPractitioner},
		{"another professional", drA, "p1", NotInCircle},
		{"another patient", drB, "p2", NotInCircle},
	})
}

func TestCircleEncounter(t *testing.T) {
	e := newCircleEnv(t)
	e.check([]circleCase{{"before any encounter", drC, "p1", NotInCircle}})
	e.put("Encounter", "e1", map[string]any{"status": "finished", "class": map[string]any{"code": "AMB"}, "subject": refTo("Patient/p1"),
		"participant": []any{map[string]any{"individual": refTo("Practitioner/c")}}, "period": map[string]any{"start": "2015-01-01", "end": "2015-01-02"}})
	e.put("Encounter", "e2", map[string]any{"status": "finished", "class": map[string]any{"code": "AMB"}, "subject": refTo("Patient/p1"),
		"serviceProvider": refTo("Organization/h1"), "period": map[string]any{"start": "2024-06-01", "end": "2024-06-02"}})
	e.put("Encounter", "e3", map[string]any{"status": "finished", "class": map[string]any{"code": "AMB"}, "subject": refTo("Patient/p2"),
		"serviceProvider": refTo("Organization/h2"), "period": map[string]any{"start": "2020-01-01", "end": "2020-01-02"}})
	e.put("Encounter", "e4", map[string]any{"status": "in-progress", "class": map[string]any{"code": "IMP"}, "subject": refTo("Patient/p2"),
		"serviceProvider": refTo("Organization/h1"), "period": map[string]any{"start": "2019-01-01"}})
	e.check([]circleCase{
		{"a participant, long ago", drC, "p1", EncounterRelation}, // a new Encounter opens access at once
		{"staff of the service provider, within 3 years", drA, "p1", EncounterRelation},
		{"staff of another provider", drB, "p1", NotInCircle},
		{"staff of a provider, ended more than 3 years ago", drB, "p2", NotInCircle},
		{"staff of a provider, not ended", drA, "p2", EncounterRelation},
	})
}

func TestCircleOrders(t *testing.T) {
	e := newCircleEnv(t)
	e.put("ServiceRequest", "sr1", map[string]any{"status": "active", "intent": "order", "subject": refTo("Patient/p1"),
		"code": map[string]any{"text": "NGS"}, "requester": refTo("PractitionerRole/ra"), "performer": []any{refTo("Organization/h2")}})
	e.put("Task", "t1", map[string]any{"status": "requested", "intent": "order", "for": refTo("Patient/p2"), "owner": refTo("Practitioner/c")})
	e.check([]circleCase{
		{"requester through a role", drA, "p1", OrderRelation},
		{"performer through the organization", drB, "p1", OrderRelation},
		{"not on the order", drC, "p1", NotInCircle},
		{"task owner", drC, "p2", OrderRelation},
		{"not on the task", drA, "p2", NotInCircle},
	})
}

func TestEnded(t *testing.T) {
	for _, c := range []struct {
		end  string
		want bool
	}{
		{"", false}, {"2026-12-07T11:59:59Z", true}, {"2026-12-07T12:00:01Z", false}, {"2026-12-07", false}, {"2026-12-06", true},
		{"2026-12", false}, {"2026-11", true}, {"2026", false}, {"2025", true}, {"garbage", false},
	} {
		if got := ended(c.end, now); got != c.want {
			t.Errorf("ended(%q) = %v", c.end, got)
		}
	}
}

func TestCircleTumourBoard(t *testing.T) {
	e := newCircleEnv(t)
	meeting := func(id string, participants ...string) {
		var ps []any
		for _, p := range participants {
			ps = append(ps, map[string]any{"individual": refTo(p)})
		}
		e.put("Encounter", id, map[string]any{"meta": map[string]any{"profile": []any{MeetingProfile}}, "status": "finished",
			"class": map[string]any{"code": "VR"}, "participant": ps, "period": map[string]any{"start": "2026-11-02T14:00:00Z"}})
	}
	meeting("m1", "PractitionerRole/ra", "Practitioner/c")
	meeting("m2", "PractitionerRole/rb")
	// an Encounter drC took part in, not a meeting: its partOf children do not count
	e.put("Encounter", "visit", map[string]any{"status": "finished", "class": map[string]any{"code": "AMB"}, "subject": refTo("Patient/p1"),
		"participant": []any{map[string]any{"individual": refTo("Practitioner/b")}}, "period": map[string]any{"start": "2010-01-01", "end": "2010-01-01"}})
	e.put("Encounter", "case1", map[string]any{"status": "finished", "class": map[string]any{"code": "VR"}, "subject": refTo("Patient/p2"), "partOf": refTo("Encounter/m1")})
	e.check([]circleCase{
		{"a participant through a role", drA, "p2", TumourBoard},
		{"a participant in person", drC, "p2", TumourBoard},
		{"a participant of another meeting", drB, "p2", NotInCircle},
		{"not presented", drA, "p1", NotInCircle},
	})
	// the case is presented at m2 too: access opens at once
	e.put("Encounter", "case2", map[string]any{"status": "finished", "class": map[string]any{"code": "VR"}, "subject": refTo("Patient/p2"), "partOf": refTo("Encounter/m2")})
	e.check([]circleCase{{"after the case was presented", drB, "p2", TumourBoard}})
}
