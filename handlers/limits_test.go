package handlers_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir/search"
)

// qs builds an encoded query string from name, value pairs, in order.
func qs(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(pairs[i]) + "=" + url.QueryEscape(pairs[i+1]))
	}
	return b.String()
}

// repeat is n pairs name=value(i).
func repeat(n int, name string, value func(i int) string) []string {
	out := make([]string, 0, 2*n)
	for i := 0; i < n; i++ {
		out = append(out, name, value(i))
	}
	return out
}

// list is n values joined by commas.
func list(n int, value func(i int) string) string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = value(i)
	}
	return strings.Join(vs, ",")
}

// hops is a chain of n links: the first, then n-1 more.
func hops(first, link string, n int) string {
	return first + strings.Repeat("."+link, n-1)
}

// hasHops is n _has levels over Patient.link.
func hasHops(n int) string { return strings.Repeat("_has:Patient:link:", n) }

// provHops is a parameter of n hops that reach every resource type (a
// Provenance target can be anything), the most variables a hop binds.
func provHops(n int) string {
	k := ""
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			k += "_has:Provenance:target:"
		} else {
			k += "target."
		}
	}
	return k + "_id"
}

// limitCase is one search at or over a limit of fhir/search/limits.go.
type limitCase struct {
	name  string
	typ   string
	query string
	// limit is the constant a 400 must name ("" for a search that must
	// succeed); param is the parameter its issue.expression must name.
	limit, param string
	// matches is how many resources a successful search must find (-1: any).
	matches int
}

func limitCases() []limitCase {
	code := func(i int) string { return fmt.Sprintf("http://loinc.org|c%d", i) }
	year := func(i int) string { return fmt.Sprintf("ge%d", 1800+i) }
	a := func(int) string { return "a" }
	var everything []string
	// Every limit reached in one search, the heaviest clause first (the
	// parser orders parameters by name, and SQLite's expression depth adds
	// up along the AND of all clauses): 100 parameters, 10 of them chained
	// 4 hops deep, 1,000 values, 20 includes, 8 sort keys, 100 elements.
	d := search.MaxChainDepth
	everything = append(everything, hasHops(d)+"birthdate", list(search.MaxChainedValues, year))
	for i := 0; i < 5; i++ {
		everything = append(everything, provHops(d), list(search.MaxChainedValues, func(j int) string { return fmt.Sprintf("x%d-%d", i, j) }))
	}
	for i := 0; i < 4; i++ {
		everything = append(everything, provHops(d), "x")
	}
	for i := 0; i < 20; i++ {
		everything = append(everything, []string{"_include:iterate", "_revinclude:iterate", "_revinclude", "_include"}[i%4],
			[]string{"Patient:link", "Patient:link", "Observation:subject", "Patient:general-practitioner"}[i%4])
	}
	everything = append(everything, "_sort", "name,-birthdate,_id,gender,family,-_lastUpdated,address,telecom",
		"_elements", list(100, func(i int) string { return fmt.Sprintf("e%d", i) }))
	for i := 0; i < 68; i++ {
		n := 5 // 56 × 6 + 12 × 5: 396 values, 1,000 in all
		if i < 56 {
			n = 6
		}
		everything = append(everything, "name", list(n, a))
	}
	return []limitCase{
		// at the limits: a 200
		{"params at MaxParams", "Patient", qs(repeat(search.MaxParams, "name", func(int) string { return "l" })...), "", "", 6},
		{"values at MaxValuesPerParam", "Observation", qs("code", list(search.MaxValuesPerParam, code)), "", "", 1},
		{"dates at MaxValuesPerParam", "Patient", qs("birthdate", list(search.MaxValuesPerParam, year)), "", "", 6},
		{"values at MaxValues, heaviest kinds", "Observation", qs(
			"code-value-quantity", list(200, func(i int) string { return fmt.Sprintf("http://loinc.org|c%d$ge%d|http://unitsofmeasure.org|mg", i, i) }),
			"date", list(200, year),
			"value-quantity", list(200, func(i int) string { return fmt.Sprintf("ap%d|http://unitsofmeasure.org|mg", i) }),
			"code:text", list(200, func(i int) string { return fmt.Sprintf("w%d", i) }),
			"subject", list(200, func(i int) string { return fmt.Sprintf("Patient/l%d", i) }),
		), "", "", 1},
		{"typed chain at MaxChainDepth", "Observation", qs(hops("subject:Patient", "link:Patient", search.MaxChainDepth)+".name", fmt.Sprintf("L%d", search.MaxChainDepth-1)), "", "", 1},
		{"chain at MaxChainDepth", "Observation", qs(hops("subject", "link", search.MaxChainDepth)+".name", fmt.Sprintf("L%d", search.MaxChainDepth-1)), "", "", 1},
		{"chained values at MaxChainedValues", "Patient", qs(hasHops(search.MaxChainDepth)+"birthdate", list(search.MaxChainedValues, year)), "", "", 2},
		{"_has at MaxChainDepth", "Patient", qs(hasHops(search.MaxChainDepth)+"family", "L0"), "", "", 1},
		{"chains at MaxChains", "Patient", qs(repeat(search.MaxChains, provHops(search.MaxChainDepth), func(i int) string { return "x" })...), "", "", 0},
		{"includes at MaxIncludes", "Patient", qs(append(repeat(search.MaxIncludes/2, "_include:iterate", func(int) string { return "Patient:link" }),
			repeat(search.MaxIncludes/2, "_revinclude:iterate", func(int) string { return "Patient:link" })...)...), "", "", -1},
		{"repeated sort key (was a 500 on MongoDB)", "Patient", qs("_sort", "name,-name,name"), "", "", 6},
		{"sort at MaxSortKeys", "Patient", qs("_sort", "name,-birthdate,_id,gender,family,-_lastUpdated,address,telecom,name,-name"), "", "", 6},
		{"elements at MaxElements", "Patient", qs("_elements", list(search.MaxElements, func(i int) string { return fmt.Sprintf("e%d", i) })), "", "", 6},
		{"value at MaxValueBytes", "Patient", qs("name", strings.Repeat("a", search.MaxValueBytes)), "", "", 0},
		{"contains at MaxValueBytes", "Patient", qs("name:contains", strings.Repeat("a", search.MaxValueBytes)), "", "", 0},
		{"text at MaxValueBytes", "Observation", qs("code:text", strings.Repeat("%_\\", search.MaxValueBytes/3)), "", "", 0},
		{"query at MaxQueryBytes", "Patient", qs("name", list(16, func(int) string { return strings.Repeat("b", search.MaxValueBytes-1) })[:search.MaxQueryBytes-len("name=")]), "", "", 0},
		{"every limit at once", "Patient", qs(everything...), "", "", -1},

		// over them: a 400 naming the limit and the parameter
		{"2,000 names (was a 500)", "Patient", qs(repeat(2000, "name", func(i int) string { return fmt.Sprintf("a%d", i) })...), "MaxParams", "name", 0},
		{"5,000 codes (was a 500)", "Observation", qs("code", list(5000, func(i int) string { return fmt.Sprintf("c%d", i) })), "MaxValuesPerParam", "code", 0},
		{"params over MaxParams", "Patient", qs(append(repeat(search.MaxParams, "name", a), "gender", "male")...), "MaxParams", "name", 0},
		{"values over MaxValuesPerParam", "Observation", qs("code", list(search.MaxValuesPerParam+1, code)), "MaxValuesPerParam", "code", 0},
		{"values over MaxValues", "Observation", qs(append(repeat(5, "code", func(int) string { return list(200, code) }), "date", "2020")...), "MaxValues", "date", 0},
		{"chain over MaxChainDepth", "Observation", qs(hops("subject", "link", search.MaxChainDepth+1)+".name", "L5"), "MaxChainDepth", hops("subject", "link", search.MaxChainDepth+1) + ".name", 0},
		{"_has over MaxChainDepth", "Patient", qs(hasHops(search.MaxChainDepth+1)+"family", "L0"), "MaxChainDepth", hasHops(search.MaxChainDepth+1) + "family", 0},
		{"chain and _has over MaxChainDepth", "Observation", qs("subject:Patient."+hasHops(search.MaxChainDepth)+"family", "L0"), "MaxChainDepth", "subject:Patient." + hasHops(search.MaxChainDepth) + "family", 0},
		{"chained values over MaxChainedValues", "Observation", qs("subject:Patient.name", list(search.MaxChainedValues+1, a)), "MaxChainedValues", "subject:Patient.name", 0},
		{"chains over MaxChains", "Patient", qs(repeat(search.MaxChains+1, "link.name", func(i int) string { return "x" })...), "MaxChains", "link.name", 0},
		{"includes over MaxIncludes", "Patient", qs(repeat(search.MaxIncludes+1, "_include", func(int) string { return "Patient:link" })...), "MaxIncludes", "_include", 0},
		{"sort over MaxSortKeys", "Patient", qs("_sort", "name,-birthdate,_id,gender,family,-_lastUpdated,address,telecom,given"), "MaxSortKeys", "_sort", 0},
		{"elements over MaxElements", "Patient", qs("_elements", list(search.MaxElements+1, func(i int) string { return fmt.Sprintf("e%d", i) })), "MaxElements", "_elements", 0},
		{"value over MaxValueBytes", "Patient", qs("name", "a,"+strings.Repeat("a", search.MaxValueBytes+1)), "MaxValueBytes", "name", 0},
		{"query over MaxQueryBytes", "Patient", qs("name", list(17, func(int) string { return strings.Repeat("b", search.MaxValueBytes-1) })[:search.MaxQueryBytes-len("name=")+1]), "MaxQueryBytes", "name", 0},
	}
}

// limitData stores what the at-limit searches find: Patients L0 → L1 →
// … → L5 linked in a line, an Observation on L0 (coded c7, dated 2020,
// 7 mg) and a Provenance.
func limitData(t *testing.T, f *fixture) {
	for i := 5; i >= 0; i-- {
		p := patient(fmt.Sprintf("L%d", i))
		p["id"] = fmt.Sprintf("l%d", i)
		p["birthDate"] = fmt.Sprintf("19%02d-01-01", 50+i)
		if i < 5 {
			p["link"] = []any{map[string]any{"other": map[string]any{"reference": fmt.Sprintf("Patient/l%d", i+1)}, "type": "seealso"}}
		}
		f.want(f.do("PUT", "/Patient/"+p["id"].(string), p), 201)
	}
	f.want(f.do("POST", "/Observation", map[string]any{"resourceType": "Observation", "status": "final",
		"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "c7", "display": "w7 thing"}}},
		"subject":           map[string]any{"reference": "Patient/l0"},
		"effectiveDateTime": "2020-05-01",
		"valueQuantity":     map[string]any{"value": 7, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
	}), 201)
	f.want(f.do("POST", "/Provenance", map[string]any{"resourceType": "Provenance", "recorded": "2020-01-01T00:00:00Z",
		"target": []any{map[string]any{"reference": "Patient/l0"}},
		"agent":  []any{map[string]any{"who": map[string]any{"display": "someone"}}},
	}), 201)
}

// TestSearchLimits: every search a client can write is a 200 or a 400; at
// each limit of fhir/search/limits.go the search is answered on both
// engines (through GET, POST _search and a batch entry), one past it is a
// 400 OperationOutcome naming the limit and the parameter.
func TestSearchLimits(t *testing.T) {
	cases := limitCases()
	forEach(t, func(t *testing.T, f *fixture) {
		limitData(t, f)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				check := func(via string, status int, body map[string]any, raw []byte) {
					t.Helper()
					if c.limit == "" {
						if status != 200 {
							t.Fatalf("%s: %d, want 200: %.600s", via, status, raw)
						}
						if n := len(matches(body)); c.matches >= 0 && n != c.matches {
							t.Errorf("%s: %d matches, want %d", via, n, c.matches)
						}
						return
					}
					if status != 400 || dig(body, "resourceType") != "OperationOutcome" {
						t.Fatalf("%s: %d, want a 400 OperationOutcome: %.600s", via, status, raw)
					}
					is, _ := dig(body, "issue", "0").(map[string]any)
					diag, _ := is["diagnostics"].(string)
					if !strings.Contains(diag, c.limit) || (is["code"] != "too-costly" && is["code"] != "too-long") {
						t.Errorf("%s: issue %v does not name %s", via, is, c.limit)
					}
					if expr := dig(is, "expression", "0"); expr != c.param {
						t.Errorf("%s: expression %v, want %q", via, expr, c.param)
					}
				}
				r := f.do("GET", "/"+c.typ+"?"+c.query, nil)
				check("GET", r.status, r.json, r.body)

				r = f.do("POST", "/"+c.typ+"/_search", c.query, "Content-Type", "application/x-www-form-urlencoded")
				check("POST _search", r.status, r.json, r.body)

				r = f.do("POST", "", bundle("batch", txEntry("", "GET", c.typ+"?"+c.query, nil)))
				f.want(r, 200)
				e, _ := dig(r.json, "entry", "0").(map[string]any)
				st := 0
				fmtSscan(strings.Fields(fmt.Sprint(dig(e, "response", "status")))[0], &st)
				body, _ := dig(e, "resource").(map[string]any)
				if body == nil {
					body, _ = dig(e, "response", "outcome").(map[string]any)
				}
				check("batch GET", st, body, r.body)
			})
		}
	})
}

// TestConditionalCriteriaLimits: the criteria of a conditional create go
// through the same parser, so the same limits hold there.
func TestConditionalCriteriaLimits(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		r := f.do("POST", "/Patient", patient("Cond"), "If-None-Exist", qs("identifier", list(search.MaxValuesPerParam+1, func(i int) string { return fmt.Sprintf("http://x|%d", i) })))
		f.want(r, 400)
		if !strings.Contains(string(r.body), "MaxValuesPerParam") {
			t.Fatalf("outcome does not name the limit: %s", r.body)
		}
		r = f.do("POST", "/Patient", patient("Cond"), "If-None-Exist", qs("identifier", list(search.MaxValuesPerParam, func(i int) string { return fmt.Sprintf("http://x|%d", i) })))
		f.want(r, 201)
	})
}

// matches lists the entries of a searchset with search.mode match.
func matches(b map[string]any) []any {
	var out []any
	es, _ := dig(b, "entry").([]any)
	for _, e := range es {
		if dig(e, "search", "mode") == "match" {
			out = append(out, e)
		}
	}
	return out
}

// TestSearchLimitsNextLink: the next links of a search at the limits are
// within them too (the canonical form adds _count and spells out chains),
// so a client can page through it.
func TestSearchLimitsNextLink(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		limitData(t, f)
		pairs := append(repeat(search.MaxParams-1, "name", func(int) string { return "l" }), "link.name", "l", "_count", "2")
		path := "/Patient?" + qs(pairs...)
		seen := 0
		for pages := 0; path != ""; pages++ {
			if pages == 5 {
				t.Fatal("more pages than matches")
			}
			r := f.do("GET", path, nil)
			f.want(r, 200)
			seen += len(matches(r.json))
			path = ""
			ls, _ := dig(r.json, "link").([]any)
			for _, l := range ls {
				if dig(l, "relation") == "next" {
					path, _ = dig(l, "url").(string)
				}
			}
		}
		if seen != 5 { // L0..L4 link to another Patient
			t.Fatalf("%d matches over the pages, want 5", seen)
		}
	})
}

// TestValueSetExpansionLimit: :in expands a value set into OR'ed codes
// after the parser has checked the search, so the expansion is held to the
// same bound on values per parameter: ucum-common (1,363 codes, a 500 on
// SQLite before: expression tree deeper than 1,000) is a 400 naming the
// limit; a small value set still searches.
func TestValueSetExpansionLimit(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		r := f.do("GET", "/Observation?code:in=http://hl7.org/fhir/ValueSet/ucum-common", nil)
		if r.status != 400 || r.str("resourceType") != "OperationOutcome" || r.str("issue", "0", "code") != "too-costly" ||
			!strings.Contains(r.str("issue", "0", "diagnostics"), "MaxValuesPerParam") || r.str("issue", "0", "expression", "0") != "code:in" {
			t.Fatalf("%d: %.400s", r.status, r.body)
		}
		f.want(f.do("GET", "/Observation?status:in=http://hl7.org/fhir/ValueSet/observation-status", nil), 200)
		// resource-types has 148 codes: within the plain bound (200), over the
		// chained one (100)
		const rt = "http://hl7.org/fhir/ValueSet/resource-types"
		f.want(f.do("GET", "/Observation?code:in="+rt, nil), 200)
		r = f.do("GET", "/Observation?patient.identifier:in="+rt, nil)
		if r.status != 400 || !strings.Contains(r.str("issue", "0", "diagnostics"), "MaxChainedValues") {
			t.Fatalf("chained: %d: %.400s", r.status, r.body)
		}
		// seven of them are 1,036 values, over the bound of the whole search
		q := strings.Repeat("code:in="+rt+"&", 7)
		r = f.do("GET", "/Observation?"+q, nil)
		if r.status != 400 || !strings.Contains(r.str("issue", "0", "diagnostics"), "MaxValues") {
			t.Fatalf("seven expansions: %d: %.400s", r.status, r.body)
		}
	})
}
