package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search"
)

// TestQueryPlans guards the plans the engine relies on: one clause drives
// through its value index, the others are checked by a seek on their
// table's (res, param) key, never by scanning a value index per row.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	load(t, s, 0, 300)
	tok := func(p, code string) search.Clause {
		return search.Clause{Param: p, Type: search.TypeToken, Values: []search.Value{{Code: code}}}
	}
	for _, c := range []struct {
		name    string
		q       *search.Query
		want    []string // substrings the plan must have
		notWant []string
	}{
		{"two tokens sorted", &search.Query{Types: []string{"Observation"}, Count: 20,
			Sort:  []search.SortKey{{Param: "date", Type: search.TypeDate, Desc: true}},
			Where: []search.Clause{tok("category", "vital-signs"), tok("status", "final")}},
			[]string{"INDEX idx_token_code (param=? AND code=?)", "EXISTS USING PRIMARY KEY (res=? AND param=?)"},
			[]string{"EXISTS USING COVERING INDEX", "SCAN r"}},
		{"reference drives", &search.Query{Types: []string{"Observation"}, Count: 20,
			Where: []search.Clause{tok("code", "1001-1"), {Param: "patient", Type: search.TypeReference, Values: []search.Value{{RefType: "Patient", RefID: "pat0001"}}}}},
			[]string{"INDEX idx_ref_target (type=? AND id=? AND param=?)", "EXISTS USING PRIMARY KEY (res=? AND param=?)"},
			[]string{"EXISTS USING COVERING INDEX", "SCAN r"}},
		{"string prefix", &search.Query{Types: []string{"Observation"}, Count: 20,
			Where: []search.Clause{{Param: "_text", Type: search.TypeString, Values: []search.Value{{Str: "body"}}}}},
			[]string{"INDEX idx_string_norm (param=? AND norm>? AND norm<?)"}, []string{"SCAN r"}},
		{"date range drives", &search.Query{Types: []string{"Observation"}, Count: 20,
			Where: []search.Clause{{Param: "date", Type: search.TypeDate, Values: []search.Value{{Prefix: search.GE, DateLow: 1577836800000000, DateHigh: 1577923199999999}}}}},
			[]string{"INDEX idx_date_low (param=?"}, []string{"SCAN r"}},
		{"chain starts from the matching targets", &search.Query{Types: []string{"Observation"}, Count: 20,
			Where: []search.Clause{{Param: "patient", Type: search.TypeReference, TargetTypes: []string{"Patient"},
				Chain: &search.Clause{Param: "gender", Type: search.TypeToken, Values: []search.Value{{Code: "male"}}}}}},
			[]string{"INDEX idx_token_code (param=? AND code=?)", "idx_ref_target (type=? AND id=? AND param=?)"}, []string{"SCAN"}},
		{"_id uses the resource key", &search.Query{Types: []string{"Observation"}, Count: 20,
			Where: []search.Clause{tok("_id", "obs0000001"), tok("status", "final")}},
			[]string{"USING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)"}, []string{"SCAN r"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			where, err := (&compiler{}).where(c.q)
			if err != nil {
				t.Fatal(err)
			}
			var keys []sortKey
			for _, k := range c.q.Sort {
				sk, err := sortExpr(k)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, sk)
			}
			f := pageSQL(where, keys, nil, 21)
			rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+f.b.String(), f.a...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			all := strings.Join(plan, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("plan lacks %q:\n%s\nfor %s", w, all, f.b.String())
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(all, w) {
					t.Errorf("plan has %q:\n%s\nfor %s", w, all, f.b.String())
				}
			}
		})
	}
}
