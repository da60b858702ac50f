package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dccfhir/dccfhir/internal/r4pkg"
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

// decodeStd is what Decode did before it had its own parser: encoding/json
// with UseNumber, the reference the parser must agree with on valid input.
func decodeStd(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("content after the value")
	}
	return v, nil
}

func TestDecodeValueMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `[[],{}]`, `null`, `true`, `false`, `0`, `-0`, `1.50`, `-12.5e+3`, `1E-7`, `123456789012345678901234567890`,
		`""`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20AC\ud83d\ude00"`, `"Hélène 😀 €"`, `"\u0000\u001f"`,
		` { "a" : [ 1 , { "b" : null } ] , "c" : "x" } `, "\t\r\n[1]\n",
		`{"resourceType":"Patient","name":[{"family":"Durand","given":["Hélène"]}],"birthDate":"1970-03-04","multipleBirthInteger":2}`,
	} {
		want, err := decodeStd([]byte(in))
		if err != nil {
			t.Fatalf("%s: reference: %v", in, err)
		}
		got, err := DecodeValue([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v (%v)\nwant %#v", in, got, err, want)
		}
	}
}

// TestDecodeR4Examples decodes every official R4 example both ways.
func TestDecodeR4Examples(t *testing.T) {
	files, err := r4pkg.Read(func(name string) bool { return strings.HasSuffix(name, ".json") })
	if err != nil {
		t.Skipf("R4 package not available: %v", err)
	}
	n := 0
	for name, b := range files {
		want, werr := decodeStd(b)
		got, gerr := DecodeValue(b)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got error %v, encoding/json %v (trees equal: %v)", name, gerr, werr, reflect.DeepEqual(got, want))
		}
		if n++; testing.Short() && n >= 300 {
			break
		}
	}
}

func TestDecodeRefusesBadText(t *testing.T) {
	const pre = `{"resourceType":"Patient","name":[{"family":"a`
	const post = `b"}]}`
	at := len(pre) // the offset of whatever follows pre
	cases := []struct {
		name, body string
		offset     int
		msg, expr  string
	}{
		{"stray byte", pre + "\xff" + post, at, "invalid UTF-8 (ff", "Patient.name[0].family"},
		{"overlong slash", pre + "\xc0\xaf" + post, at, "invalid UTF-8 (c0 af", "Patient.name[0].family"},
		{"encoded surrogate", pre + "\xed\xa0\x80" + post, at, "invalid UTF-8 (ed a0 80", "Patient.name[0].family"},
		{"truncated sequence", pre + "\xc3" + post, at, "invalid UTF-8", "Patient.name[0].family"},
		{"beyond U+10FFFF", pre + "\xf4\x90\x80\x80" + post, at, "invalid UTF-8", "Patient.name[0].family"},
		{"bad byte after valid non-ASCII", pre + "é€\\n\xff" + post, at + len("é€\\n"), "invalid UTF-8", "Patient.name[0].family"},
		{"lone high surrogate", pre + `\ud800` + post, at, `\ud800 is a high surrogate`, "Patient.name[0].family"},
		{"lone low surrogate", pre + `\udc00` + post, at, `\udc00 is a low surrogate`, "Patient.name[0].family"},
		{"high then non-surrogate", pre + `\ud800\u0041` + post, at, `\ud800 is a high surrogate`, "Patient.name[0].family"},
		{"two highs", pre + `\ud83d\ud83d` + post, at, `is a high surrogate`, "Patient.name[0].family"},
		{"high at the end", pre + `\ud83d"}]}`, at, `is a high surrogate`, "Patient.name[0].family"},
		{"raw control character", pre + "\x01" + post, at, `control character '\x01'`, "Patient.name[0].family"},
		{"raw newline", pre + "\n" + post, at, `control character '\n'`, "Patient.name[0].family"},
		{"bad escape", pre + `\x41` + post, at, `invalid escape`, "Patient.name[0].family"},
		{"short \\u", pre + `\u12"}]}`, at, `invalid \u escape`, "Patient.name[0].family"},
		{"bad key", `{"resourceType":"Patient","na` + "\xff" + `me":1}`, 29, "invalid UTF-8", "Patient"},
		{"type unknown", `{"x":["` + "\xff" + `"]}`, 7, "invalid UTF-8", ""},
		{"leading zero", `{"resourceType":"Patient","multipleBirthInteger":01}`, 50, "invalid character '1' after an object member", "Patient"},
		{"trailing garbage", `{"resourceType":"Patient"} x`, 27, "after the JSON value", ""},
		{"truncated", `{"resourceType":"Patient",`, 26, "unexpected end of JSON input", "Patient"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeValue([]byte(c.body))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
			if se.Offset != c.offset || !strings.Contains(se.Msg, c.msg) || se.Expression() != c.expr {
				t.Fatalf("got offset %d, %q, expression %q; want %d, %q, %q", se.Offset, se.Error(), se.Expression(), c.offset, c.msg, c.expr)
			}
			if _, ferr := Decode([]byte(c.body)); ferr == nil || ferr.Status != 400 || !strings.Contains(ferr.Issues[0].Diagnostics, "at byte offset "+strconv.Itoa(c.offset)) {
				t.Fatalf("Decode: %v", ferr)
			}
			// Members (the Bundle splitter) refuses the same strings.
			if strings.HasPrefix(c.body, pre) {
				if _, err := Members([]byte(c.body)); err == nil {
					t.Fatal("Members accepted it")
				}
			}
		})
	}
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if _, err := DecodeValue([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Fatalf("nesting beyond %d: %v", maxDepth, err)
	}
}

// FuzzDecode checks the parser against encoding/json: on UTF-8 input
// without lone surrogate escapes both accept the same texts and build the
// same tree; the parser never accepts what encoding/json refuses.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u00e9\ud83d\ude00"]}`, `"\ud800"`, "\"\xff\"", `[true,false,null]`, `{"a":{"b":[]}}`, `-0.0e-0`, `{"a":1,"b":{"a":2},"a":3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gerr := DecodeValue(b)
		want, werr := decodeStd(b)
		if gerr == nil {
			if werr != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: accepted as %#v; encoding/json: %#v, %v", b, got, want, werr)
			}
			return
		}
		var se *SyntaxError
		if !errors.As(gerr, &se) || se.Offset < 0 || se.Offset > len(b) {
			t.Fatalf("%q: error %v without a sane offset", b, gerr)
		}
		if strings.Contains(se.Msg, "duplicate object key") {
			if werr == nil && !repeatsKey(b) {
				t.Fatalf("%q: refused (%v) though no object repeats a key", b, gerr)
			}
			return
		}
		if werr == nil && utf8.Valid(b) && !strings.Contains(se.Msg, "surrogate") {
			t.Fatalf("%q: refused (%v) though valid", b, gerr)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	files, err := r4pkg.Read(func(name string) bool {
		return name == "Patient-example.json" || name == "Observation-example.json" || name == "Bundle-bundle-transaction.json" || name == "Questionnaire-qs1.json"
	})
	if err != nil || len(files) == 0 {
		b.Skipf("R4 package not available: %v", err)
	}
	var all [][]byte
	size := 0
	for _, f := range files {
		all = append(all, f)
		size += len(f)
	}
	for _, impl := range []struct {
		name string
		fn   func([]byte) (any, error)
	}{{"fhir", DecodeValue}, {"encoding-json", decodeStd}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, f := range all {
					if _, err := impl.fn(f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestDecodeRefusesDuplicateKeys: a key written twice, at any depth, is a
// syntax error at the second key's offset (the stored bytes would keep
// both, the validated tree only one).
func TestDecodeRefusesDuplicateKeys(t *testing.T) {
	for _, c := range []struct {
		in   string
		at   int
		path string
	}{
		{`{"resourceType":"Patient","resourceType":"Observation"}`, 26, "Patient.resourceType"},
		{`{"resourceType":"Patient","name":[{"family":"a","family":"b"}]}`, 48, "Patient.name[0].family"},
	} {
		_, err := Decode([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), "duplicate object key") || !strings.Contains(err.Error(), "byte offset "+strconv.Itoa(c.at)) {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if len(err.Issues) == 0 || len(err.Issues[0].Expression) == 0 || err.Issues[0].Expression[0] != c.path {
			t.Errorf("%s: expression %+v, want %s", c.in, err.Issues, c.path)
		}
	}
}

// repeatsKey reports whether some object of the JSON text b (valid for
// encoding/json) holds a key twice, by encoding/json's own tokens.
func repeatsKey(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		keys  map[string]bool
		isObj bool
		key   bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.isObj {
					top.key = true // this value ends, the next token is a key
				}
				stack = append(stack, &frame{keys: map[string]bool{}, isObj: v == '{', key: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.isObj && top.key {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.isObj {
			top.key = true // a scalar value ended
		}
	}
}

func TestRepeatsKey(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":1,"b":{"a":2},"a":3}`:           true,
		`{"a":{"a":1},"b":[{"a":1},{"a":2}]}`: false,
		`[{"x":[1,{"y":1,"y":2}]}]`:           true,
		`{"a":"a","b":"a"}`:                   false,
	} {
		if got := repeatsKey([]byte(in)); got != want {
			t.Errorf("repeatsKey(%s) = %v", in, got)
		}
	}
}
