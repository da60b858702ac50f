package handlers_test

import (
	"strings"
	"testing"
)

func TestCompartmentSearch(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		for _, id := range []string{"p1", "p2"} {
			p := patient("Comp")
			p["id"] = id
			f.want(f.do("PUT", "/Patient/"+id, p), 201)
		}
		obs := func(pid string) map[string]any {
			return map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "subject": map[string]any{"reference": "Patient/" + pid}}
		}
		f.want(f.do("POST", "/Observation", obs("p1")), 201)
		f.want(f.do("POST", "/Observation", obs("p1")), 201)
		f.want(f.do("POST", "/Observation", obs("p2")), 201)
		abs := obs("p1")
		abs["subject"] = map[string]any{"reference": f.base + "/Patient/p1"} // an absolute reference to this server
		f.want(f.do("POST", "/Observation", abs), 201)
		f.want(f.do("POST", "/Condition", map[string]any{"resourceType": "Condition", "subject": map[string]any{"reference": "Patient/p1"}}), 201)
		f.want(f.do("POST", "/Organization", map[string]any{"resourceType": "Organization", "name": "not in any patient compartment"}), 201)

		cases := []struct {
			path string
			n    int
		}{
			{"/Patient/p1/Observation", 3},
			{"/Observation?subject=Patient/p1", 3},
			{"/Patient/p2/Observation", 1},
			{"/Patient/p1/Condition", 1},
			{"/Patient/p1/*", 5},
			{"/Patient/p1/*?_type=Condition,Organization", 1},
			{"/Patient/p3/Observation", 0},
		}
		for _, c := range cases {
			r := f.do("GET", c.path, nil)
			f.want(r, 200)
			if n := len(entries(r)); n != c.n {
				t.Errorf("%s: %d entries, want %d: %s", c.path, n, c.n, r.body)
			}
			if self := r.str("link", "0", "url"); !strings.Contains(self, strings.Split(c.path, "?")[0]) || strings.Contains(self, "_compartment") {
				t.Errorf("%s: self link %s", c.path, self)
			}
		}
		f.want(f.do("GET", "/Patient/p1/Organization", nil), 400)
		f.want(f.do("GET", "/Observation/o1/Patient", nil), 404)
	})
}
