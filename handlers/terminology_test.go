package handlers_test

import (
	"strings"
	"testing"
)

func TestTerminologyOperations(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		gender := "http://hl7.org/fhir/ValueSet/administrative-gender"
		r := f.do("GET", "/ValueSet/$expand?url="+gender, nil)
		f.want(r, 200)
		if r.str("resourceType") != "ValueSet" || !strings.Contains(string(r.body), `"code":"female"`) {
			t.Fatalf("$expand: %s", r.body)
		}
		r = f.do("GET", "/ValueSet/$expand?url="+gender+"&filter=fem&count=1", nil)
		if n := len(dig(r.json, "expansion", "contains").([]any)); n != 1 {
			t.Fatalf("filter/count: %s", r.body)
		}
		r = f.do("POST", "/ValueSet/$validate-code", `{"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"`+gender+`"},{"name":"code","valueCode":"f"},{"name":"system","valueUri":"http://hl7.org/fhir/administrative-gender"}]}`)
		f.want(r, 200)
		if !strings.Contains(string(r.body), `"valueBoolean":false`) {
			t.Fatalf("$validate-code false: %s", r.body)
		}
		r = f.do("GET", "/ValueSet/$validate-code?url="+gender+"&system=http://hl7.org/fhir/administrative-gender&code=male", nil)
		if !strings.Contains(string(r.body), `"valueBoolean":true`) {
			t.Fatalf("$validate-code true: %s", r.body)
		}
		r = f.do("GET", "/CodeSystem/$lookup?system=http://hl7.org/fhir/administrative-gender&code=male", nil)
		f.want(r, 200)
		if !strings.Contains(string(r.body), "Male") {
			t.Fatalf("$lookup: %s", r.body)
		}
		f.want(f.do("GET", "/CodeSystem/$lookup?system=http://hl7.org/fhir/administrative-gender&code=nope", nil), 404)
		f.want(f.do("GET", "/ValueSet/$expand?url=http://example.org/none", nil), 404)
		f.want(f.do("GET", "/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/condition-code", nil), 422)
		f.want(f.do("GET", "/CodeSystem/$lookup", nil), 400)

		// a stored ValueSet: instance-level $expand, and ordinary reads still route
		vs := map[string]any{"resourceType": "ValueSet", "id": "vs1", "url": "http://example.org/vs1", "status": "active",
			"compose": map[string]any{"include": []any{map[string]any{"system": "http://hl7.org/fhir/administrative-gender", "concept": []any{map[string]any{"code": "male"}}}}}}
		f.want(f.do("PUT", "/ValueSet/vs1", vs), 201)
		f.want(f.do("GET", "/ValueSet/vs1", nil), 200)
		f.want(f.do("GET", "/ValueSet/vs1/_history", nil), 200)
		r = f.do("GET", "/ValueSet/vs1/$expand", nil)
		f.want(r, 200)
		if n := len(dig(r.json, "expansion", "contains").([]any)); n != 1 {
			t.Fatalf("instance $expand: %s", r.body)
		}
		f.want(f.do("POST", "/ValueSet/$validate", vs), 200)

		// :in and :not-in search
		for _, g := range []string{"male", "female", "other"} {
			p := patient("In")
			p["gender"] = g
			f.want(f.do("POST", "/Patient", p), 201)
		}
		if n := len(entries(f.do("GET", "/Patient?gender:in="+gender, nil))); n != 3 {
			t.Fatalf(":in all genders: %d", n)
		}
		// the DCC guide's value sets are loaded too
		r = f.do("GET", "/Patient?gender:not-in="+gender, nil)
		f.want(r, 200)
		if n := len(entries(r)); n != 0 {
			t.Fatalf(":not-in: %d", n)
		}
		if self := r.str("link", "0", "url"); !strings.Contains(self, "gender:not-in=") {
			t.Fatalf("self link lost the modifier: %s", self)
		}
		f.want(f.do("GET", "/Patient?gender:in=http://example.org/unknown-vs", nil), 400)
	})
}
