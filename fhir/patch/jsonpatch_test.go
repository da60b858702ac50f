package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
)

// testCasesDir is the shared FHIR test-case tree, beside the repository.
var testCasesDir = filepath.Join("..", "..", "..", "shared", "data", "fhir-test-cases", "r4", "patch")

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func TestApplyJSONPatch(t *testing.T) {
	tests := []struct {
		name, doc, patch, want string
		status                 int // expected *fhir.Error status when want is ""
	}{
		{"add member", `{"a":1}`, `[{"op":"add","path":"/b","value":{"c":[1]}}]`, `{"a":1,"b":{"c":[1]}}`, 0},
		{"add array end", `{"a":[1]}`, `[{"op":"add","path":"/a/-","value":2}]`, `{"a":[1,2]}`, 0},
		{"add array index", `{"a":[1,3]}`, `[{"op":"add","path":"/a/1","value":2}]`, `{"a":[1,2,3]}`, 0},
		{"add past end", `{"a":[1]}`, `[{"op":"add","path":"/a/2","value":2}]`, ``, 422},
		{"add leading zero", `{"a":[1]}`, `[{"op":"add","path":"/a/01","value":2}]`, ``, 422},
		{"remove", `{"a":1,"b":2}`, `[{"op":"remove","path":"/a"}]`, `{"b":2}`, 0},
		{"remove missing", `{"a":1}`, `[{"op":"remove","path":"/x"}]`, ``, 422},
		{"replace root", `{"a":1}`, `[{"op":"replace","path":"","value":{"b":2}}]`, `{"b":2}`, 0},
		{"replace missing", `{"a":1}`, `[{"op":"replace","path":"/x","value":1}]`, ``, 422},
		{"move into child", `{"a":{"b":1}}`, `[{"op":"move","from":"/a","path":"/a/c"}]`, ``, 422},
		{"copy deep", `{"a":{"b":1}}`, `[{"op":"copy","from":"/a","path":"/c"},{"op":"replace","path":"/c/b","value":2}]`, `{"a":{"b":1},"c":{"b":2}}`, 0},
		{"test decimal equal", `{"a":1.0}`, `[{"op":"test","path":"/a","value":1}]`, `{"a":1.0}`, 0},
		{"test fails", `{"a":[1,2]}`, `[{"op":"test","path":"/a","value":[2,1]}]`, ``, 422},
		{"escapes", `{"a/b":{"m~n":1}}`, `[{"op":"remove","path":"/a~1b/m~0n"}]`, `{"a/b":{}}`, 0},
		{"test null value", `{"a":null}`, `[{"op":"test","path":"/a","value":null}]`, `{"a":null}`, 0},
		{"not an array", `{}`, `{"op":"add"}`, ``, 400},
		{"unknown op", `{}`, `[{"op":"frob","path":"/a"}]`, ``, 400},
		{"missing value", `{}`, `[{"op":"add","path":"/a"}]`, ``, 400},
		{"missing from", `{"a":1}`, `[{"op":"move","path":"/b"}]`, ``, 400},
		{"bad pointer", `{}`, `[{"op":"add","path":"a","value":1}]`, ``, 400},
		{"root to scalar", `{}`, `[{"op":"replace","path":"","value":1}]`, ``, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := decodeJSON(t, tc.doc).(map[string]any)
			orig := deepCopy(doc)
			got, err := ApplyJSONPatch(doc, []byte(tc.patch))
			if !fhir.Equal(doc, orig) {
				t.Errorf("input document was modified: %v", doc)
			}
			if tc.want == "" {
				var fe *fhir.Error
				if !errors.As(err, &fe) || fe.Status != tc.status {
					t.Fatalf("got %v, %v; want *fhir.Error %d", got, err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if want := decodeJSON(t, tc.want); !fhir.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestJSONPatchSuite runs the JSON Patch cases of FHIR/fhir-test-cases.
func TestJSONPatchSuite(t *testing.T) {
	p := filepath.Join(testCasesDir, "json-patch-tests.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("JSON Patch suite not available at %s: %v", p, err)
	}
	var cases []struct {
		Comment  string          `json:"comment"`
		Doc      json.RawMessage `json:"doc"`
		Patch    json.RawMessage `json:"patch"`
		Expected json.RawMessage `json:"expected"`
		Error    string          `json:"error"`
		Disabled bool            `json:"disabled"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	pass := 0
	for _, c := range cases {
		t.Run(c.Comment, func(t *testing.T) {
			if c.Disabled {
				t.Skip("disabled in the suite")
			}
			doc, ferr := fhir.Decode(c.Doc)
			if ferr != nil {
				t.Fatal(ferr)
			}
			got, err := ApplyJSONPatch(doc, c.Patch)
			switch {
			case c.Error != "":
				if err == nil {
					t.Fatalf("want error %q, got %v", c.Error, got)
				}
				var fe *fhir.Error
				if !errors.As(err, &fe) || fe.Status/100 != 4 {
					t.Fatalf("want a 4xx *fhir.Error, got %v", err)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			default:
				if want := decodeJSON(t, string(c.Expected)); !fhir.Equal(got, want) {
					t.Fatalf("got %v, want %v", got, want)
				}
			}
			pass++
		})
	}
	t.Logf("JSON Patch suite: %d of %d cases pass", pass, len(cases))
}
