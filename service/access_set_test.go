package service_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
)

// fixed is an Access giving the same Grant for every letter and type:
// the Access is the input the care circle (package access) builds.
type fixed struct{ g service.Grant }

func (f fixed) Grant(byte, string) (service.Grant, error) { return f.g, nil }

// circle is a grant confined to the compartments of ids.
func circle(ids ...string) service.Grant {
	return service.Grant{Confined: true, Patients: ids}
}

// setCase is one interaction under a fixed grant, checked as accessCase.
type setCase struct {
	name    string
	grant   service.Grant
	op      op
	status  int
	want    string
	err     string
	written int
	more    []stored
}

func (c setCase) run(t *testing.T, s *service.Service) {
	t.Helper()
	storeAccessData(t, s, c.more...)
	ctx := service.WithAccess(context.Background(), fixed{c.grant})
	outcome{c.status, c.want, c.err, c.written}.check(t, s, ctx, c.op)
}

func runSetCases(t *testing.T, cases []setCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newFixture(t, engines()[0]).svc)
		})
	}
}

// many is a care circle of n patients holding p1.
func many(n int) []string {
	ids := []string{"p1"}
	for i := 0; len(ids) < n; i++ {
		ids = append(ids, fmt.Sprintf("q%05d", i))
	}
	slices.Sort(ids)
	return ids
}

// TestAccessPatientSet: a grant confined to a set of patients reaches
// the compartments of each, and writes only what refers to them alone.
func TestAccessPatientSet(t *testing.T) {
	both := circle("p1", "p2")
	runSetCases(t, []setCase{
		{name: "search reaches both compartments", grant: both, op: op{do: "search", typ: "Observation"}, status: 200, want: "Observation/o1 Observation/o2 Observation/o3 Observation/o4 Observation/o5 |"},
		{name: "search of one patient's", grant: circle("p2"), op: op{do: "search", typ: "Observation"}, status: 200, want: "Observation/o2 |"},
		{name: "Patient search", grant: both, op: op{do: "search", typ: "Patient"}, status: 200, want: "Patient/p1 Patient/p2 |"},
		{name: "Task by its patient parameter", grant: both, op: op{do: "search", typ: "Task"}, status: 200, want: "Task/t1 Task/t2 |"},
		{name: "an unsorted set with duplicates", grant: circle("p2", "p1", "p2"), op: op{do: "search", typ: "Encounter"}, status: 200, want: "Encounter/e1 Encounter/e2 |"},
		{name: "read of either", grant: both, op: op{do: "read", typ: "Observation", id: "o2"}, status: 200, want: "Observation/o2"},
		{name: "read outside the set", grant: circle("p1"), op: op{do: "read", typ: "Observation", id: "o2"}, status: 404, err: "Observation/o2 is not known"},
		{name: "no patient: a search matches nothing", grant: circle(), op: op{do: "search", typ: "Observation"}, status: 200, want: "|"},
		{name: "no patient: a read is refused", grant: circle(), op: op{do: "read", typ: "Observation", id: "o1"}, status: 404, err: "Observation/o1 is not known"},
		{name: "no patient: shared data is read", grant: circle(), op: op{do: "read", typ: "Practitioner", id: "dr1"}, status: 200, want: "Practitioner/dr1"},
		{name: "no patient: a create is refused", grant: circle(), op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A")}, status: 403, err: "no patient's compartment"},
		{name: "a write referring to patients of the set", grant: both, op: op{do: "create", typ: "Observation", body: obsBy("", "p1", "p2")}, status: 201, written: 1},
		{name: "a write referring to a patient outside it", grant: both, op: op{do: "create", typ: "Observation", body: obsBy("", "p1", "p9")}, status: 403, err: "the compartments of 2 patients (p1, p2)"},
		{name: "an update of one referring outside it", grant: circle("p2", "p3"), more: []stored{{"Observation", obsBy("o20", "p2", "p1")}}, op: op{do: "update", typ: "Observation", id: "o20", body: obs("o20", "p2", "laboratory", "A")}, status: 403, err: "o20 is outside it"},
		{name: "an update of one referring to the set alone", grant: both, more: []stored{{"Observation", obsBy("o20", "p2", "p1")}}, op: op{do: "update", typ: "Observation", id: "o20", body: obs("o20", "p2", "laboratory", "A")}, status: 200, written: 1},
		{name: "2000 patients: one clause the engine accepts", grant: circle(many(2000)...), op: op{do: "search", typ: "Observation", q: "code=A"}, status: 200, want: "Observation/o1 |"},
		{name: "2000 patients: a read", grant: circle(many(2000)...), op: op{do: "read", typ: "Observation", id: "o1"}, status: 200, want: "Observation/o1"},
		{name: "40000 patients: a search", grant: circle(many(40000)...), op: op{do: "search", typ: "Observation", q: "code=A"}, status: 200, want: "Observation/o1 |"},
		{name: "40000 patients: a compartment search of every type", grant: circle(many(40000)...), op: op{do: "search", comp: "Patient", compID: "p1", q: "_id=o1,o2"}, status: 200, want: "Observation/o1 |"},
		{name: "40000 patients: a type history", grant: circle(many(40000)...), op: op{do: "history", typ: "Encounter"}, status: 200, want: "Encounter/e1"},
		{name: "2000 patients: the message names a few", grant: circle(many(2000)...), op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "A")}, status: 403, err: "the compartments of 2000 patients (p1, q00000, q00001, …)"},
	})
}

// searchCounting is the real store counting its searches.
type searchCounting struct {
	store.Store
	n int
}

func (s *searchCounting) Search(ctx context.Context, q *query.Query) (*store.SearchResult, error) {
	s.n++
	return s.Store.Search(ctx, q)
}

// TestAccessNoPatient: a grant confined to no patient matches nothing
// without asking the store: a search (its plan says Nothing), a read, a
// compartment search.
func TestAccessNoPatient(t *testing.T) {
	f := newFixture(t, engines()[0])
	storeAccessData(t, f.svc)
	counted := &searchCounting{Store: f.svc.Store}
	f.svc.Store = counted
	ctx := service.WithAccess(context.Background(), fixed{circle()})
	resp, err := f.svc.Search(ctx, "Observation", url.Values{"_total": {"accurate"}}, true)
	if err != nil || len(resp.Result.Resources) != 0 || !resp.Plan.Nothing || resp.Result.Total != 0 {
		t.Errorf("search: %v %+v, want nothing, a plan of Nothing, a total of 0", err, resp)
	}
	if _, err := f.svc.Read(ctx, "Observation", "o1"); err == nil {
		t.Errorf("read: no error")
	}
	if resp, err := f.svc.SearchCompartment(ctx, "Patient", "p1", "*", url.Values{}, true); err != nil || len(resp.Result.Resources) != 0 {
		t.Errorf("compartment search: %v", err)
	}
	if counted.n != 0 {
		t.Errorf("%d store searches, want none", counted.n)
	}
	// the same searches under a set of one patient do ask it
	ctx = service.WithAccess(context.Background(), fixed{circle("p1")})
	if _, err := f.svc.Search(ctx, "Observation", url.Values{}, true); err != nil || counted.n != 1 {
		t.Errorf("a set of one: %v, %d searches", err, counted.n)
	}
}
