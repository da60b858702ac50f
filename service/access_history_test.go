package service_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/service"
)

// historyAll pages a history to its end, returning "Type/id/version" of
// each version and the number of answers read.
func historyAll(t *testing.T, ctx context.Context, s *service.Service, typ string, q url.Values) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for {
		p, err := s.History(ctx, typ, "", q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if p.Total != -1 {
			t.Errorf("a narrowed history has a total (%d)", p.Total)
		}
		for _, v := range p.Versions {
			got = append(got, fmt.Sprintf("%s/%s/%d", v.Type, v.ID, v.Version))
		}
		if p.Next == "" {
			return got, pages
		}
		q = url.Values{"_count": q["_count"], service.PageParam: {p.Next}, "_total": {"accurate"}}
	}
}

// TestAccessTypeHistory: a type or system history under a confined
// grant lists the versions whose own content is within it, deletions
// left out, a restriction checked as for an older version, at most 8
// store pages per answer, paging on from the store's cursor without
// losing a version.
func TestAccessTypeHistory(t *testing.T) {
	lab := circle("p1")
	lab.Restriction = url.Values{"category": {obsCat + "|laboratory"}}
	// o2 of p2, written 60 times more: the newest 60 versions are not p1's
	var noise []stored
	for i := range 60 {
		noise = append(noise, stored{"Observation", obs("o2", "p2", "laboratory", fmt.Sprint("Z", i))})
	}
	moved := []stored{{"Observation", obs("o6", "p2", "laboratory", "A")}, {"Observation", obs("o6", "p1", "laboratory", "A")}}
	cases := []struct {
		name  string
		grant service.Grant
		more  []stored
		typ   string
		want  string
	}{
		{"the patient's versions, deletions left out", circle("p1"), deleted, "Observation",
			"Observation/o10/1 Observation/o5/1 Observation/o4/1 Observation/o3/1 Observation/o1/1"},
		{"a version moved into the compartment: that one alone", circle("p1"), moved, "Observation",
			"Observation/o6/2 Observation/o5/1 Observation/o4/1 Observation/o3/1 Observation/o1/1"},
		{"within the restriction", lab, deleted, "Observation",
			"Observation/o10/1 Observation/o4/1 Observation/o1/1"},
		{"a restriction another kind than token: nothing", service.Grant{Confined: true, Patients: []string{"p1"}, Restriction: url.Values{"date": {"ge2000"}}}, nil, "Observation", ""},
		{"Task by its patient parameter", circle("p2"), nil, "Task", "Task/t2/1"},
		{"system history: the set's and shared data, not Binary", circle("p2"), nil, "",
			"Encounter/e2/1 Device/dev2/1 Task/t2/1 Condition/c5/1 Observation/o2/1 Patient/p2/1 Medication/m1/1 Organization/org2/1 Organization/org1/1 Practitioner/dr1/1"},
		{"system history: a patient's deletions left out", circle("p1"), deleted, "",
			"Observation/o10/1 Encounter/e1/1 Device/dev1/1 Task/t1/1 Condition/c4/1 Condition/c3/1 Condition/c2/1 Condition/c1/1 Observation/o5/1 Observation/o4/1 Observation/o3/1 Observation/o1/1 Patient/p1/1 Medication/m1/1 Organization/org2/1 Organization/org1/1 Practitioner/dr1/1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, engines()[0])
			storeAccessData(t, f.svc, c.more...)
			ctx := service.WithAccess(context.Background(), fixed{c.grant})
			got, _ := historyAll(t, ctx, f.svc, c.typ, url.Values{"_count": {"100"}, "_total": {"accurate"}})
			if strings.Join(got, " ") != c.want {
				t.Errorf("got  %s\nwant %s", strings.Join(got, " "), c.want)
			}
		})
	}
	t.Run("at most 8 store pages per answer, no version lost", func(t *testing.T) {
		f := newFixture(t, engines()[0])
		storeAccessData(t, f.svc, noise...)
		all, _ := historyAll(t, context.Background(), f.svc, "Observation", url.Values{"_count": {"100"}})
		var want []string
		for _, v := range all {
			if id := strings.Split(v, "/")[1]; id != "o2" {
				want = append(want, v)
			}
		}
		ctx := service.WithAccess(context.Background(), fixed{circle("p1")})
		first, err := f.svc.History(ctx, "Observation", "", url.Values{"_count": {"5"}})
		if err != nil {
			t.Fatal(err)
		}
		// 8 pages of 5 read 40 of o2's 60 newer versions: nothing yet
		if len(first.Versions) != 0 || first.Next == "" {
			t.Fatalf("first page: %d versions, next %q; want none, and a cursor", len(first.Versions), first.Next)
		}
		got, pages := historyAll(t, ctx, f.svc, "Observation", url.Values{"_count": {"5"}})
		if !slices.Equal(got, want) {
			t.Errorf("paged: %v, want %v", got, want)
		}
		// the second reads o2's 20 others, then p1's 4
		if pages != 2 {
			t.Errorf("%d answers, want 2", pages)
		}
	})
}
