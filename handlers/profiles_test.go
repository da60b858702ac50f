package handlers_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dccCase is one resource of the DCC test corpus with what must happen to it.
type dccCase struct {
	name string
	body []byte
	typ  string
	// want is "" for a valid resource, else the expected issue code and the
	// expected expression (normalised, see normExpr).
	code, expr string
}

var exprNoise = regexp.MustCompile(`\[\d+\]|\[x\]|\.ofType\([A-Za-z]+\)|\('[^']*'\)`)

// normExpr drops indexes, choice suffixes and extension URLs, so the
// corpus's expectations compare with the validators' FHIRPath locations.
func normExpr(e string) string { return exprNoise.ReplaceAllString(e, "") }

// dccCorpus reads testdata/dcc (the profile examples and their invalid
// variants) and adds mutations of every valid example: an unknown element,
// a wrong JSON type and an extension without url.
func dccCorpus(t *testing.T) (valid, invalid []dccCase) {
	dir := filepath.Join("..", "testdata", "dcc")
	var exp map[string]struct{ Code, Expression string }
	raw, err := os.ReadFile(filepath.Join(dir, "expectations.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Strings(files)
	for _, f := range files {
		name := filepath.Base(f)
		if name == "expectations.json" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		typ, _ := m["resourceType"].(string)
		if strings.Contains(name, ".valid") {
			valid = append(valid, dccCase{name: name, body: b, typ: typ})
			mut := func(what, code, expr string, change func(map[string]any)) {
				var c map[string]any
				_ = json.Unmarshal(b, &c)
				change(c)
				body, _ := json.Marshal(c)
				invalid = append(invalid, dccCase{name: name + "+" + what, body: body, typ: typ, code: code, expr: expr})
			}
			mut("unknown-element", "structure", typ+".colour", func(c map[string]any) { c["colour"] = "blue" })
			mut("wrong-json-type", "structure", typ+".language", func(c map[string]any) { c["language"] = 42 })
			mut("extension-without-url", "", typ+".extension", func(c map[string]any) {
				ext, _ := c["extension"].([]any)
				c["extension"] = append(ext, map[string]any{"valueString": "no url"})
			})
			continue
		}
		e, ok := exp[name]
		if !ok {
			t.Fatalf("%s has no expectation", name)
		}
		invalid = append(invalid, dccCase{name: name, body: b, typ: typ, code: e.Code, expr: normExpr(e.Expression)})
	}
	return valid, invalid
}

// TestDCCProfilesThroughREST: every valid DCC example is accepted, every
// invalid one (and every mutation) is rejected with the expected issue and
// location, and nothing of the rejected ones is stored.
func TestDCCProfilesThroughREST(t *testing.T) {
	valid, invalid := dccCorpus(t)
	if len(invalid) < 100 {
		t.Fatalf("only %d invalid resources in the corpus", len(invalid))
	}
	forEach(t, func(t *testing.T, f *fixture) {
		for _, c := range valid {
			var m map[string]any
			_ = json.Unmarshal(c.body, &m)
			id, _ := m["id"].(string)
			r := f.do("PUT", "/"+c.typ+"/"+id, c.body)
			if r.status != 201 && r.status != 200 {
				t.Errorf("%s: %d %s", c.name, r.status, r.body)
			}
		}
		before := len(entries(f.do("GET", "/_history?_count=1000", nil)))
		for _, c := range invalid {
			r := f.do("POST", "/"+c.typ, c.body)
			if r.status != 422 && r.status != 400 {
				t.Errorf("%s: accepted with %d", c.name, r.status)
				continue
			}
			if !hasIssue(r, c.code, c.expr) {
				t.Errorf("%s: no issue %s at %s in %s", c.name, c.code, c.expr, r.body)
			}
		}
		if after := len(entries(f.do("GET", "/_history?_count=1000", nil))); after != before {
			t.Fatalf("rejected resources stored %d versions", after-before)
		}
		t.Logf("%d valid accepted, %d invalid rejected", len(valid), len(invalid))
	})
}

func hasIssue(r *resp, code, expr string) bool {
	issues, _ := dig(r.json, "issue").([]any)
	for _, is := range issues {
		if dig(is, "severity") != "error" && dig(is, "severity") != "fatal" {
			continue
		}
		if code != "" && dig(is, "code") != code {
			continue
		}
		exprs, _ := dig(is, "expression").([]any)
		for _, e := range exprs {
			if s, _ := e.(string); normExpr(s) == expr || strings.HasPrefix(normExpr(s), expr+".") {
				return true
			}
		}
	}
	return false
}
