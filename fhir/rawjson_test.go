package fhir

import (
	"strings"
	"testing"
)

func TestStamp(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"adds id and meta after resourceType", `{"resourceType":"Patient","gender":"female"}`,
			`{"resourceType":"Patient","id":"a","meta":{"versionId":"2","lastUpdated":"L"},"gender":"female"}`},
		{"replaces id, keeps other meta", `{ "resourceType" : "Patient", "id":"old", "meta":{"profile":["p"],"versionId":"9"}, "x":[1.50, {"a":"b\"c"}] }`,
			`{"resourceType":"Patient","id":"a","meta":{"versionId":"2","lastUpdated":"L","profile":["p"]},"x":[1.50,{"a":"b\"c"}]}`},
		{"unicode and escapes untouched", `{"resourceType":"Patient","name":[{"given":["Hélène","\u00e9"]}]}`,
			`{"resourceType":"Patient","id":"a","meta":{"versionId":"2","lastUpdated":"L"},"name":[{"given":["Hélène","\u00e9"]}]}`},
	}
	for _, c := range cases {
		got, err := Stamp([]byte(c.in), "a", "2", "L")
		if err != nil || string(got) != c.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", c.name, got, err, c.want)
		}
	}
	if _, err := Stamp([]byte(`[1]`), "a", "1", "L"); err == nil {
		t.Error("array accepted")
	}
}

func TestRewriteReferences(t *testing.T) {
	in := `{"resourceType":"Observation","subject":{"reference":"urn:uuid:1"},"text":{"div":"\"reference\":\"urn:uuid:1\""},` +
		`"extension":[{"url":"u","valueReference":{"reference":"urn:uuid:1"}}],"contained":[{"resourceType":"Specimen","subject":{"reference":"Patient?identifier=a|b"}}],"performer":[{"reference":"Practitioner/x"}]}`
	m := map[string]string{"urn:uuid:1": "Patient/p1", "Patient?identifier=a|b": "Patient/p2"}
	fn := func(r string) (string, bool, error) { v, ok := m[r]; return v, ok, nil }
	out, err := RewriteReferences([]byte(in), fn)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Count(s, `"reference":"Patient/p1"`) != 2 || !strings.Contains(s, `"reference":"Patient/p2"`) || !strings.Contains(s, `"Practitioner/x"`) {
		t.Fatalf("rewrite: %s", s)
	}
	if !strings.Contains(s, `\"reference\":\"urn:uuid:1\"`) {
		t.Fatalf("text inside a string value was rewritten: %s", s)
	}
}

func TestValidID(t *testing.T) {
	for id, ok := range map[string]bool{"a": true, "A-1.b": true, strings.Repeat("x", 64): true, "": false, strings.Repeat("x", 65): false, "a_b": false, "a/b": false, "é": false} {
		if ValidID(id) != ok {
			t.Errorf("ValidID(%q) != %v", id, ok)
		}
	}
}

func TestSummarize(t *testing.T) {
	in := []byte(`{"resourceType":"Patient","id":"p","meta":{"versionId":"1"},"text":{"status":"generated"},"gender":"male","contact":[{}],"_birthDate":{"extension":[]},"birthDate":"2000"}`)
	cases := []struct {
		summary  string
		elements []string
		has      []string
		hasNot   []string
	}{
		{"true", nil, []string{`"gender"`, `"birthDate"`, `"_birthDate"`, "SUBSETTED"}, []string{`"text"`, `"contact"`}},
		{"text", nil, []string{`"text"`, `"id"`}, []string{`"gender"`}},
		{"data", nil, []string{`"gender"`, `"contact"`}, []string{`"text"`}},
		{"", []string{"gender"}, []string{`"gender"`, `"meta"`}, []string{`"birthDate"`, `"text"`}},
	}
	for _, c := range cases {
		out, err := Summarize("Patient", in, c.summary, c.elements)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range c.has {
			if !strings.Contains(string(out), h) {
				t.Errorf("%s %v: missing %s in %s", c.summary, c.elements, h, out)
			}
		}
		for _, h := range c.hasNot {
			if strings.Contains(string(out), h) {
				t.Errorf("%s %v: has %s in %s", c.summary, c.elements, h, out)
			}
		}
	}
}

func TestRewriteReferencesWhitespace(t *testing.T) {
	in := "{\n  \"subject\" : { \"reference\" :\t\"urn:uuid:1\" },\n  \"note\": [{\"text\": \"x, \\\"reference\\\": \\\"urn:uuid:1\\\"\"}]\n}"
	out, err := RewriteReferences([]byte(in), func(r string) (string, bool, error) { return "Patient/p", r == "urn:uuid:1", nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"subject\" : { \"reference\" :\t\"Patient/p\" },\n  \"note\": [{\"text\": \"x, \\\"reference\\\": \\\"urn:uuid:1\\\"\"}]\n}"; string(out) != want {
		t.Fatalf("got %s", out)
	}
}

func TestElements(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string // nil with fail
		fail bool
	}{
		{"empty", `[]`, []string{}, false},
		{"empty with spaces", " [ \n ] \n", []string{}, false},
		{"scalars", `[1, -2.5e3,true,null, "x"]`, []string{`1`, `-2.5e3`, `true`, `null`, `"x"`}, false},
		{"nested, kept verbatim", `[ {"a": [1, {"b": "]"}]} , [ [] ,{}] ]`, []string{`{"a": [1, {"b": "]"}]}`, `[ [] ,{}]`}, false},
		{"brackets and escapes in strings", `["a\"],[", "\\", "{"]`, []string{`"a\"],["`, `"\\"`, `"{"`}, false},
		{"not an array", `{"a":1}`, nil, true},
		{"null", `null`, nil, true},
		{"empty input", ``, nil, true},
		{"truncated", `[{"a":1},{"b":`, nil, true},
		{"truncated after element", `[1`, nil, true},
		{"unterminated string", `["abc`, nil, true},
		{"trailing comma", `[1,]`, nil, true},
		{"missing element", `[1,,2]`, nil, true},
		{"missing comma", `[1 2]`, nil, true},
		{"content after the array", `[1] x`, nil, true},
		{"second array", `[1][2]`, nil, true},
	}
	for _, c := range cases {
		got, err := Elements([]byte(c.in))
		if c.fail {
			if err == nil {
				t.Errorf("%s: %q accepted as %q", c.name, c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
			continue
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Errorf("%s: element %d is %q, want %q", c.name, i, got[i], c.want[i])
			}
		}
	}
	// the elements are sub-slices of the input, not copies
	in := []byte(`[{"x":1}]`)
	got, _ := Elements(in)
	if len(got) != 1 || &got[0][0] != &in[1] {
		t.Error("element is not a sub-slice of the input")
	}
}
