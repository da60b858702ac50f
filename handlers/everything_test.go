package handlers_test

import (
	"strconv"
	"strings"
	"testing"
)

func TestEverything(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		for _, id := range []string{"p1", "p2"} {
			f.want(f.do("PUT", "/Patient/"+id, withID(patient("Every"), id)), 201)
		}
		f.want(f.do("POST", "/Observation", reviewObs("", "p1", "A", "")), 201)
		f.want(f.do("POST", "/Observation", reviewObs("", "p1", "B", "")), 201)
		f.want(f.do("POST", "/Observation", reviewObs("", "p2", "C", "")), 201)
		f.want(f.do("POST", "/Condition", map[string]any{"resourceType": "Condition", "subject": map[string]any{"reference": "Patient/p1"}}), 201)
		f.want(f.do("POST", "/Organization", map[string]any{"resourceType": "Organization", "name": "not in any compartment"}), 201)
		for _, c := range []struct {
			method, path string
			status, n    int
			expr         string
		}{
			{"GET", "/Patient/p1/$everything", 200, 4, ""},
			{"POST", "/Patient/p1/$everything", 200, 4, ""},
			{"GET", "/Patient/p2/$everything", 200, 2, ""},
			{"GET", "/Patient/p1/$everything?_type=Condition", 200, 1, ""},
			{"GET", "/Patient/p1/$everything?_type=Patient,Observation", 200, 3, ""},
			{"GET", "/Patient/p1/$everything?_since=2000-01-01T00:00:00Z", 200, 4, ""},
			{"GET", "/Patient/p1/$everything?_since=2999-01-01T00:00:00Z", 200, 0, ""},
			{"GET", "/Patient/p1/$everything?_since=yesterday", 400, 0, "_since"},
			{"GET", "/Patient/p1/$everything?start=2020-01-01", 400, 0, "start"},
			{"GET", "/Patient/p1/$everything?name=x", 400, 0, "name"},
			{"GET", "/Patient/p9/$everything", 404, 0, ""},
		} {
			r := f.do(c.method, c.path, nil)
			if r.status != c.status {
				t.Fatalf("%s %s: %d, want %d: %s", c.method, c.path, r.status, c.status, r.body)
			}
			if c.status != 200 {
				if c.expr != "" && r.str("issue", "0", "expression", "0") != c.expr {
					t.Errorf("%s: outcome %s", c.path, r.body)
				}
				continue
			}
			if n := len(entries(r)); n != c.n {
				t.Errorf("%s %s: %d entries, want %d: %s", c.method, c.path, n, c.n, r.body)
			}
			if strings.Contains(string(r.body), "Patient/p2\"") && strings.HasPrefix(c.path, "/Patient/p1/") {
				t.Errorf("%s: another patient's data: %s", c.path, r.body)
			}
		}
		// paged: every resource once, the links followable
		seen := map[string]bool{}
		r := f.do("GET", "/Patient/p1/$everything?_count=1", nil)
		for range 10 {
			f.want(r, 200)
			for _, e := range entries(r) {
				seen[e.(map[string]any)["fullUrl"].(string)] = true
			}
			next := ""
			for i := range 3 {
				if r.str("link", strconv.Itoa(i), "relation") == "next" {
					next = r.str("link", strconv.Itoa(i), "url")
				}
			}
			if next == "" {
				break
			}
			r = f.do("GET", strings.TrimPrefix(next, f.base), nil)
		}
		if len(seen) != 4 {
			t.Errorf("pages gave %d resources, want 4: %v", len(seen), seen)
		}
	})
}

// A patient/ token for p1: its own $everything, nothing of p2's (404, as a
// read of p2 is).
func TestEverythingConfined(t *testing.T) {
	f := reviewServer(t)
	for _, c := range []reviewCase{
		{name: "own", tok: "tok-patient", method: "GET", path: "/Patient/p1/$everything", status: 200, has: []string{"Observation/o1", "Patient/p1"}, hasNot: []string{"o2", "Beta"}},
		{name: "another patient", tok: "tok-patient", method: "GET", path: "/Patient/p2/$everything", status: 404, hasNot: []string{"o2", "Beta"}},
		{name: "no read of Patient", tok: "tok-obs-crs", method: "GET", path: "/Patient/p1/$everything", status: 403},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}
