package search

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// TestLimits checks each limit of limits.go at and one past its value
// (handlers/limits_test.go runs the same on both engines over HTTP).
func TestLimits(t *testing.T) {
	vals := func(n int, f string) string {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = fmt.Sprintf(f, i)
		}
		return strings.Join(vs, ",")
	}
	for _, tc := range []struct {
		typ    string
		params url.Values
		limit  string // "" when it must parse
		param  string
	}{
		{"Patient", url.Values{"name": repeated(MaxParams, "a")}, "", ""},
		{"Patient", url.Values{"name": repeated(MaxParams+1, "a")}, "MaxParams", "name"},
		{"Patient", url.Values{"name": repeated(MaxParams, "a"), "_count": {"1"}, "_sort": {"name"}, "_include": {"Patient:link"}}, "", ""},
		{"Observation", url.Values{"code": {vals(MaxValuesPerParam, "c%d")}}, "", ""},
		{"Observation", url.Values{"code": {vals(MaxValuesPerParam+1, "c%d")}}, "MaxValuesPerParam", "code"},
		{"Observation", url.Values{"code": {vals(MaxValuesPerParam, "c%d") + ",,"}}, "", ""}, // empty values do not count
		{"Observation", url.Values{"patient.name": {vals(MaxChainedValues, "n%d")}}, "", ""},
		{"Observation", url.Values{"patient.name": {vals(MaxChainedValues+1, "n%d")}}, "MaxChainedValues", "patient.name"},
		{"Observation", url.Values{"code": repeated(MaxValues/MaxValuesPerParam, vals(MaxValuesPerParam, "c%d"))}, "", ""},
		{"Observation", url.Values{"code": repeated(MaxValues/MaxValuesPerParam, vals(MaxValuesPerParam, "c%d")), "date": {"2020"}}, "MaxValues", "date"},
		{"Observation", url.Values{"subject" + strings.Repeat(".link", MaxChainDepth-1) + ".name": {"x"}}, "", ""},
		{"Observation", url.Values{"subject" + strings.Repeat(".link", MaxChainDepth) + ".name": {"x"}}, "MaxChainDepth", "subject" + strings.Repeat(".link", MaxChainDepth) + ".name"},
		{"Patient", url.Values{strings.Repeat("_has:Patient:link:", MaxChainDepth) + "name": {"x"}}, "", ""},
		{"Patient", url.Values{strings.Repeat("_has:Patient:link:", MaxChainDepth+1) + "name": {"x"}}, "MaxChainDepth", strings.Repeat("_has:Patient:link:", MaxChainDepth+1) + "name"},
		{"Patient", url.Values{"link.name": repeated(MaxChains, "x")}, "", ""},
		{"Patient", url.Values{"link.name": repeated(MaxChains+1, "x")}, "MaxChains", "link.name"},
		{"Patient", url.Values{"_include": repeated(MaxIncludes, "Patient:link")}, "", ""},
		{"Patient", url.Values{"_include": repeated(MaxIncludes, "Patient:link"), "_revinclude": {"Patient:link"}}, "MaxIncludes", "_revinclude"},
		{"Patient", url.Values{"_sort": {"name,birthdate,gender,family,given,address,telecom,_id,name,-name"}}, "", ""},
		{"Patient", url.Values{"_sort": {"name,birthdate,gender,family,given,address,telecom,_id,-_lastUpdated"}}, "MaxSortKeys", "_sort"},
		{"Patient", url.Values{"_elements": {vals(MaxElements, "e%d") + ",e0"}}, "", ""},
		{"Patient", url.Values{"_elements": {vals(MaxElements+1, "e%d")}}, "MaxElements", "_elements"},
		{"Patient", url.Values{"name": {strings.Repeat("a", MaxValueBytes)}}, "", ""},
		{"Patient", url.Values{"name": {"a," + strings.Repeat("a", MaxValueBytes+1)}}, "MaxValueBytes", "name"},
		{"Patient", url.Values{"_include": {"Patient:" + strings.Repeat("a", MaxValueBytes)}}, "MaxValueBytes", "_include"},
		{"", url.Values{"_type": {"Patient," + strings.Repeat("a", MaxValueBytes+1)}}, "MaxValueBytes", "_type"},
		{"Patient", url.Values{"name": {fill(MaxQueryBytes - len("name="))}}, "", ""},
		{"Patient", url.Values{"name": {fill(MaxQueryBytes - len("name=") + 1)}}, "MaxQueryBytes", "name"},
		{"Patient", url.Values{"name": {fill(MaxQueryBytes - len("name="))}, "_page": {fill(MaxQueryBytes)}, "_count": repeated(MaxQueryBytes, "7")}, "", ""},
		{"Patient", url.Values{"name": {fill(MaxQueryBytes - len("name=") - len("_sort=name"))}, "_sort": {"name"}}, "", ""},
		{"Patient", url.Values{"name": {fill(MaxQueryBytes - len("name=") - len("_sort=name") + 1)}, "_sort": {"name"}}, "MaxQueryBytes", "name"},
		// the canonical form spells out the chain's type: over the limit
		{"Observation", url.Values{"patient.name": {fill(MaxQueryBytes - len("patient.name="))}}, "MaxQueryBytes", "patient:Patient.name"},
		{"Patient", url.Values{"name": {strings.Repeat("\\", MaxValueBytes)}}, "", ""}, // 4,096 bytes unescaped
	} {
		_, _, err := Parse(Default(), tc.typ, tc.params)
		name := fmt.Sprintf("%s %.120v", tc.typ, tc.params)
		if tc.limit == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var fe *fhir.Error
		if !errors.As(err, &fe) || fe.Status != 400 {
			t.Errorf("%s: err = %v, want a 400 naming %s", name, err, tc.limit)
			continue
		}
		is := fe.Issues[0]
		if !strings.Contains(is.Diagnostics, tc.limit) || (is.Code != "too-costly" && is.Code != "too-long") {
			t.Errorf("%s: %s %q, want %s", name, is.Code, is.Diagnostics, tc.limit)
		}
		if !reflect.DeepEqual(is.Expression, []string{tc.param}) {
			t.Errorf("%s: expression %v, want %s", name, is.Expression, tc.param)
		}
	}
}

// fill is a value of n bytes: values of 4,000 bytes, comma-separated.
func fill(n int) string {
	s := strings.Repeat(strings.Repeat("a", 3999)+",", n/4000+1)
	return s[:n]
}

func repeated(n int, v string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestSortKeysOnce: a repeated sort key is dropped (the first occurrence
// decides the order; MongoDB refuses a sort naming a field twice).
func TestSortKeysOnce(t *testing.T) {
	q, _ := mustParse(t, "Patient", "_sort=-name,birthdate,name&_sort=birthdate,_id")
	want := []query.SortKey{{Param: "name", Type: query.TypeString, Desc: true}, {Param: "birthdate", Type: query.TypeDate}, {Param: "_id", Type: query.TypeToken}}
	if !reflect.DeepEqual(q.Sort, want) {
		t.Errorf("sort = %+v, want %+v", q.Sort, want)
	}
}

// TestErrorsNameTheParameter: every parse error's issue.expression is the
// parameter as written.
func TestErrorsNameTheParameter(t *testing.T) {
	for _, tc := range []struct{ typ, in, param string }{
		{"Patient", "birthdate=2020-13", "birthdate"},
		{"Observation", "subject:Bogus.name=1", "subject:Bogus.name"},
		{"Patient", "_has:Observation:code:code=1", "_has:Observation:code:code"},
		{"Patient", "_count=ten", "_count"},
		{"Observation", "patient.name:nonsense=1", "patient.name:nonsense"},
		{"Patient", "identifier:of-type=||", "identifier:of-type"},
		{"Patient", "identifier:of-type=s|c|", "identifier:of-type"},
	} {
		vals, _ := url.ParseQuery(tc.in)
		_, _, err := Parse(Default(), tc.typ, vals)
		var fe *fhir.Error
		if !errors.As(err, &fe) || !reflect.DeepEqual(fe.Issues[0].Expression, []string{tc.param}) {
			t.Errorf("%s?%s: %v, want an issue at %s", tc.typ, tc.in, err, tc.param)
		}
	}
}
