package handlers_test

import (
	"slices"
	"testing"
)

// TestForgedCursors: a page cursor the server did not issue is the
// client's mistake on every engine and endpoint: a 400 naming _page.
func TestForgedCursors(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		f.want(f.do("POST", "/Patient", patient("Cursor")), 201)
		for _, p := range []string{"/Patient?_page=garbage", "/Patient/_history?_page=garbage", "/_history?_page=garbage", "/Patient?_page=AAAA"} {
			r := f.do("GET", p, nil)
			f.want(r, 400)
			issue, _ := dig(r.json, "issue", "0").(map[string]any)
			expr, _ := issue["expression"].([]any)
			if issue["code"] != "invalid" || !slices.Contains(expr, any("_page")) {
				t.Errorf("%s: %s, want an invalid issue at _page", p, r.body)
			}
		}
	})
}
