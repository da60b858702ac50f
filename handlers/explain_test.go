package handlers_test

import (
	"strings"
	"testing"
)

// TestSearchExplain: __explain=true adds the plan as an OperationOutcome
// entry (search.mode outcome) first in the searchset, with the driving
// clause and, per engine, the SQL and its EXPLAIN QUERY PLAN (SQLite) or
// the filter document and the chain's id set (MongoDB); the matches are
// those of the same search without it.
func TestSearchExplain(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		male := patient("Durand")
		male["gender"] = "male"
		r := f.do("POST", "/Patient", male)
		f.want(r, 201)
		maleID := r.str("id")
		r = f.do("POST", "/Patient", patient("Martin"))
		f.want(r, 201)
		femaleID := r.str("id")
		for _, pid := range []string{maleID, femaleID} {
			f.want(f.do("POST", "/Observation", map[string]any{"resourceType": "Observation", "status": "final",
				"code": map[string]any{"text": "weight"}, "subject": map[string]any{"reference": "Patient/" + pid}}), 201)
		}

		plain := f.do("GET", "/Observation?patient.gender=male", nil)
		f.want(plain, 200)
		if n := len(outcomes(plain)); n != 0 {
			t.Errorf("without __explain: %d outcome entries: %s", n, plain.body)
		}
		if n := len(entries(plain)); n != 1 {
			t.Fatalf("%d entries, want the one Observation: %s", n, plain.body)
		}
		f.want(f.do("GET", "/Observation?patient.gender=male&__explain=false", nil), 200)
		if n := len(outcomes(f.do("GET", "/Observation?patient.gender=male&__explain=false", nil))); n != 0 {
			t.Errorf("__explain=false: %d outcome entries", n)
		}

		r = f.do("GET", "/Observation?patient.gender=male&__explain=true", nil, "Prefer", "handling=strict")
		f.want(r, 200)
		es := entries(r)
		if len(es) != 2 {
			t.Fatalf("%d entries, want the plan and the match: %s", len(es), r.body)
		}
		if mode := dig(es[0], "search", "mode"); mode != "outcome" || dig(es[0], "resource", "resourceType") != "OperationOutcome" {
			t.Fatalf("first entry is not the plan outcome: %v", es[0])
		}
		if dig(es[1], "resource", "id") != dig(entries(plain)[0], "resource", "id") {
			t.Errorf("the match differs from the search without __explain")
		}
		if self := selfLink(r); strings.Contains(self, "__explain") {
			t.Errorf("self link %s keeps __explain", self)
		}
		plan := diagnostics(es[0])
		want := []string{"driving clause: patient", "gender=male (chain)", "clause order: 1.", "includes: none"}
		switch {
		case strings.HasSuffix(t.Name(), "/sqlite"):
			want = append(want, "sqlite driver: clause 1 (patient)", "sqlite sql: SELECT rid", "sqlite arguments: [", "sqlite query plan:", "idx_ref_target")
		case strings.HasSuffix(t.Name(), "/mongodb"):
			want = append(want, "mongodb evaluation:", `mongodb filter: {"$and":`, "mongodb id set: chain patient: the targets matching gender: 1 id of at most 10000")
		}
		for _, w := range want {
			if !strings.Contains(plan, w) {
				t.Errorf("plan lacks %q:\n%s", w, plan)
			}
		}

		r = f.do("GET", "/Observation?patient.gender=male&__explain=yes", nil)
		f.want(r, 400)
		if !strings.Contains(string(r.body), `"expression":["__explain"]`) {
			t.Errorf("a bad __explain does not name it: %s", r.body)
		}
	})
}

// outcomes are the searchset entries with search.mode outcome.
func outcomes(r *resp) []any {
	var out []any
	for _, e := range entries(r) {
		if dig(e, "search", "mode") == "outcome" {
			out = append(out, e)
		}
	}
	return out
}

// diagnostics joins the diagnostics of an entry's OperationOutcome, a line each.
func diagnostics(entry any) string {
	issues, _ := dig(entry, "resource", "issue").([]any)
	var b strings.Builder
	for _, is := range issues {
		d, _ := dig(is, "diagnostics").(string)
		b.WriteString(d + "\n")
	}
	return b.String()
}

func selfLink(r *resp) string {
	links, _ := dig(r.json, "link").([]any)
	for _, l := range links {
		if dig(l, "relation") == "self" {
			s, _ := dig(l, "url").(string)
			return s
		}
	}
	return ""
}
