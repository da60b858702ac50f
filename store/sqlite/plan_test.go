package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// TestQueryPlans guards the plans the engine relies on: one clause drives
// through its value index, the others are checked by a seek on their
// table's (res, param) key, never by scanning a value index per row.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	load(t, s, 0, 300)
	tok := func(p, code string) query.Clause {
		return query.Clause{Param: p, Type: query.TypeToken, Values: []query.Value{{Code: code}}}
	}
	for _, c := range []struct {
		name    string
		q       *query.Query
		want    []string // substrings the plan must have
		notWant []string
	}{
		{"two tokens sorted", &query.Query{Types: []string{"Observation"}, Count: 20,
			Sort:  []query.SortKey{{Param: "date", Type: query.TypeDate, Desc: true}},
			Where: []query.Clause{tok("category", "vital-signs"), tok("status", "final")}},
			[]string{"INDEX idx_token_code (param=? AND code=?)", "EXISTS USING PRIMARY KEY (res=? AND param=?)"},
			[]string{"EXISTS USING COVERING INDEX", "SCAN r"}},
		{"reference drives", &query.Query{Types: []string{"Observation"}, Count: 20,
			Where: []query.Clause{tok("code", "1001-1"), {Param: "patient", Type: query.TypeReference, Values: []query.Value{{RefType: "Patient", RefID: "pat0001"}}}}},
			[]string{"INDEX idx_ref_target (type=? AND id=? AND param=?)", "EXISTS USING PRIMARY KEY (res=? AND param=?)"},
			[]string{"EXISTS USING COVERING INDEX", "SCAN r"}},
		{"string prefix", &query.Query{Types: []string{"Observation"}, Count: 20,
			Where: []query.Clause{{Param: "_text", Type: query.TypeString, Values: []query.Value{{Str: "body"}}}}},
			[]string{"INDEX idx_string_norm (param=? AND norm>? AND norm<?)"}, []string{"SCAN r"}},
		{"date range drives", &query.Query{Types: []string{"Observation"}, Count: 20,
			Where: []query.Clause{{Param: "date", Type: query.TypeDate, Values: []query.Value{{Prefix: query.GE, DateLow: 1577836800000000, DateHigh: 1577923199999999}}}}},
			[]string{"INDEX idx_date_low (param=?"}, []string{"SCAN r"}},
		{"chain starts from the matching targets", &query.Query{Types: []string{"Observation"}, Count: 20,
			Where: []query.Clause{{Param: "patient", Type: query.TypeReference, TargetTypes: []string{"Patient"},
				Chain: &query.Clause{Param: "gender", Type: query.TypeToken, Values: []query.Value{{Code: "male"}}}}}},
			[]string{"INDEX idx_token_code (param=? AND code=?)", "idx_ref_target (type=? AND id=? AND param=?)"}, []string{"SCAN"}},
		{"a long reference list drives through the target index", &query.Query{Types: []string{"Observation"}, Count: 20,
			Where: []query.Clause{{Param: "patient", Type: query.TypeReference, Values: refValues("Patient", 100)}}},
			[]string{"json_each", "INDEX idx_ref_target (type=? AND id=? AND param=?)"}, []string{"SCAN r"}},
		{"_id uses the resource key", &query.Query{Types: []string{"Observation"}, Count: 20,
			Where: []query.Clause{tok("_id", "obs0000001"), tok("status", "final")}},
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
			all := queryPlan(t, s, f)
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

// queryPlan is the EXPLAIN QUERY PLAN of f, one detail per line.
func queryPlan(t *testing.T, s *Store, f *frag) string {
	t.Helper()
	plan, err := explainQueryPlan(context.Background(), s.rdb, f)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestIncludePlans: an include step is key lookups from the ids it is
// given, never a scan of idx_ref or resource.
func TestIncludePlans(t *testing.T) {
	s := openTemp(t)
	load(t, s, 0, 300)
	for _, c := range []struct {
		name string
		f    *frag
		want []string
	}{
		{"targets", targetsSQL("Observation", `["obs0000001","obs0000002"]`, "subject", "Patient"),
			[]string{"SEARCH s USING COVERING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)", "SEARCH x USING PRIMARY KEY (res=? AND param=?", "SEARCH r USING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)"}},
		{"targets of any parameter", targetsSQL("Observation", `["obs0000001"]`, "*", ""),
			[]string{"SEARCH s USING COVERING INDEX sqlite_autoindex_resource_1 (type=? AND id=?)", "SEARCH x USING PRIMARY KEY (res=?)"}},
		{"referrers", referrersSQL("Patient", `["pat0001","pat0002"]`, "Observation", "subject"),
			[]string{"SEARCH x USING COVERING INDEX idx_ref_target (type=? AND id=? AND param=?)", "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)"}},
		{"referrers of any type and parameter", referrersSQL("Patient", `["pat0001"]`, "*", "*"),
			[]string{"SEARCH x USING COVERING INDEX idx_ref_target (type=? AND id=?)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := queryPlan(t, s, c.f)
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("plan lacks %q:\n%s\nfor %s", w, all, c.f.b.String())
				}
			}
			if strings.Contains(all, "SCAN x") || strings.Contains(all, "SCAN r") || strings.Contains(all, "SCAN s") {
				t.Errorf("plan scans:\n%s", all)
			}
		})
	}
}

// TestExplain: Explain names the driver SQLite uses and gives the
// statements with their plans.
func TestExplain(t *testing.T) {
	s := openTemp(t)
	load(t, s, 0, 20)
	tok := func(p, mod, code string) query.Clause {
		return query.Clause{Param: p, Type: query.TypeToken, Modifier: mod, Values: []query.Value{{Code: code}}}
	}
	for _, c := range []struct {
		name  string
		q     *query.Query
		notes map[string]string // label → a substring of its text
	}{
		{"token drives", &query.Query{Types: []string{"Observation"}, Count: 10, Where: []query.Clause{tok("status", "", "final"), tok("code", "not", "x")}},
			map[string]string{"driver": "clause 1 (status)", "sql": "SELECT rid FROM", "arguments": `"status"`, "query plan": "idx_token_code"}},
		{"_id", &query.Query{Types: []string{"Observation"}, Count: 10, Where: []query.Clause{tok("status", "", "final"), tok("_id", "", "obs0000001")}},
			map[string]string{"driver": "(type, id) key", "query plan": "sqlite_autoindex_resource_1"}},
		{"nothing drives, total only", &query.Query{Types: []string{"Observation"}, Total: true, Where: []query.Clause{tok("code", "not", "x")}},
			map[string]string{"driver": "none", "count sql": "SELECT COUNT(*)", "count query plan": "resource"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := s.Explain(context.Background(), c.q)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, n := range e.Notes {
				got[n.Label] = n.Text
			}
			for label, want := range c.notes {
				if !strings.Contains(got[label], want) {
					t.Errorf("%s: %q lacks %q (notes %v)", label, got[label], want, e.Notes)
				}
			}
			if _, ok := got["sql"]; ok != (c.q.Count > 0) {
				t.Errorf("page sql given: %v, want %v", ok, c.q.Count > 0)
			}
		})
	}
}

// refValues are n plain references typ/pat0000...
func refValues(typ string, n int) []query.Value {
	out := make([]query.Value, n)
	for i := range out {
		id := fmt.Sprintf("pat%04d", i)
		out[i] = query.Value{RefType: typ, RefID: id, Raw: typ + "/" + id}
	}
	return out
}
