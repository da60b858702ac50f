package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// LongList is the length of the lists testLongLists searches with: a
// care circle of a large practice, confined as one clause of Patient/ids.
const LongList = 40000

// testLongLists: one reference clause of LongList plain Type/ids of one
// type (the confinement of a care circle) and one _id clause as long are
// answered, matching as their short forms do — no engine limit on bound
// variables, expression depth or document size is reached.
func testLongLists(t *testing.T, s store.Store) {
	ctx := context.Background()
	subj := func(id, patient string) *store.Write {
		return NewWrite("Observation", id, 1, At(len(id)), &query.Index{Refs: []query.RefEntry{ref("subject", "Patient", patient)}})
	}
	Put(t, s,
		subj("in1", "q00007"), subj("in2", "q39999"), subj("out", "r1"),
		NewWrite("Observation", "group", 1, At(9), &query.Index{Refs: []query.RefEntry{ref("subject", "Group", "q00007")}}))
	refs := query.Clause{Param: "subject", Type: query.TypeReference}
	ids := query.Clause{Param: "_id", Type: query.TypeToken}
	for i := range LongList {
		id := fmt.Sprintf("q%05d", i)
		refs.Values = append(refs.Values, query.Value{RefType: "Patient", RefID: id, Raw: "Patient/" + id})
		ids.Values = append(ids.Values, query.Value{Code: id, Raw: id})
	}
	ids.Values[LongList-1] = query.Value{Code: "in2", Raw: "in2"}
	ids.Values[0] = query.Value{Code: "group", Raw: "group"}
	for _, c := range []struct {
		name string
		cl   query.Clause
		want []string
	}{
		{"a reference clause of one type", refs, []string{"Observation/in1", "Observation/in2"}},
		{"an _id clause", ids, []string{"Observation/group", "Observation/in2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.Search(ctx, &query.Query{Types: []string{"Observation"}, Where: []query.Clause{c.cl}, Count: 10, Total: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := sorted(keys(res.Resources, false)); !slices.Equal(got, c.want) || res.Total != len(c.want) {
				t.Errorf("got %v (total %d), want %v", got, res.Total, c.want)
			}
		})
	}
}
