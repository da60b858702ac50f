package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
)

// op builds one "operation" parameter from name/JSON-value pairs, e.g.
// op("type", `{"valueCode":"add"}`).
func op(t *testing.T, kv ...string) string {
	t.Helper()
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		v := kv[i+1]
		parts = append(parts, fmt.Sprintf(`{"name":%q,%s}`, kv[i], v[1:len(v)-1]))
	}
	return `{"name":"operation","part":[` + strings.Join(parts, ",") + `]}`
}

func params(ops ...string) string {
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ops, ",") + `]}`
}

func TestApplyFHIRPathPatch(t *testing.T) {
	tp := func(s string) string { return `{"valueCode":"` + s + `"}` }
	ps := func(s string) string { return `{"valueString":"` + s + `"}` }
	pi := func(n int) string { return fmt.Sprintf(`{"valueInteger":%d}`, n) }
	tests := []struct {
		name, rt, doc, patch, want string
		status                     int
		expr                       string
	}{
		{"replace keeps nothing of old primitive extension",
			"Patient", `{"resourceType":"Patient","birthDate":"2000","_birthDate":{"id":"x"}}`,
			params(op(t, "type", tp("replace"), "path", ps("Patient.birthDate"), "value", `{"valueDate":"2001"}`)),
			`{"resourceType":"Patient","birthDate":"2001"}`, 0, ""},
		{"delete given keeps _given aligned",
			"Patient", `{"resourceType":"Patient","name":[{"given":["a","b","c"],"_given":[null,null,{"id":"c"}]}]}`,
			params(op(t, "type", tp("delete"), "path", ps("Patient.name[0].given[0]"))),
			`{"resourceType":"Patient","name":[{"given":["b","c"],"_given":[null,{"id":"c"}]}]}`, 0, ""},
		{"delete last extension drops _given",
			"Patient", `{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null,{"id":"b"}]}]}`,
			params(op(t, "type", tp("delete"), "path", ps("Patient.name[0].given[1]"))),
			`{"resourceType":"Patient","name":[{"given":["a"]}]}`, 0, ""},
		{"insert primitive with extension",
			"Patient", `{"resourceType":"Patient","name":[{"given":["a","c"]}]}`,
			params(op(t, "type", tp("insert"), "path", ps("Patient.name[0].given"), "index", pi(1), "value", `{"valueString":"b","_valueString":{"id":"b"}}`)),
			`{"resourceType":"Patient","name":[{"given":["a","b","c"],"_given":[null,{"id":"b"},null]}]}`, 0, ""},
		{"insert into empty list",
			"Patient", `{"resourceType":"Patient"}`,
			params(op(t, "type", tp("insert"), "path", ps("Patient.identifier"), "index", pi(0), "value", `{"valueIdentifier":{"value":"1"}}`)),
			`{"resourceType":"Patient","identifier":[{"value":"1"}]}`, 0, ""},
		{"delete prunes emptied parents",
			"Patient", `{"resourceType":"Patient","contact":[{"name":{"text":"x"}}]}`,
			params(op(t, "type", tp("delete"), "path", ps("Patient.contact[0].name.text"))),
			`{"resourceType":"Patient"}`, 0, ""},
		{"delete of nothing is a no-op",
			"Patient", `{"resourceType":"Patient"}`,
			params(op(t, "type", tp("delete"), "path", ps("Patient.birthDate"))),
			`{"resourceType":"Patient"}`, 0, ""},
		{"add choice element by base name",
			"Observation", `{"resourceType":"Observation","status":"final"}`,
			params(op(t, "type", tp("add"), "path", ps("Observation"), "name", ps("value"), "value", `{"valueQuantity":{"value":1.50}}`)),
			`{"resourceType":"Observation","status":"final","valueQuantity":{"value":1.50}}`, 0, ""},
		{"replace choice changes its type",
			"Observation", `{"resourceType":"Observation","valueQuantity":{"value":1}}`,
			params(op(t, "type", tp("replace"), "path", ps("Observation.value"), "value", `{"valueString":"n/a"}`)),
			`{"resourceType":"Observation","valueString":"n/a"}`, 0, ""},
		{"anonymous value puts repeating parts in arrays",
			"Patient", `{"resourceType":"Patient"}`,
			params(op(t, "type", tp("add"), "path", ps("Patient"), "name", ps("contact"), "value",
				`{"part":[{"name":"telecom","valueContactPoint":{"value":"1"}},{"name":"gender","valueCode":"other"}]}`)),
			`{"resourceType":"Patient","contact":[{"telecom":[{"value":"1"}],"gender":"other"}]}`, 0, ""},
		{"move primitive with its extension",
			"Patient", `{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[{"id":"a"},null]}]}`,
			params(op(t, "type", tp("move"), "path", ps("Patient.name[0].given"), "source", pi(0), "destination", pi(1))),
			`{"resourceType":"Patient","name":[{"given":["b","a"],"_given":[null,{"id":"a"}]}]}`, 0, ""},
		{"full FHIRPath in path (fhir/fhirpath engine)",
			"Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:a","value":"1"},{"system":"http://b","value":"2"}]}`,
			params(op(t, "type", tp("delete"), "path", ps("Patient.identifier.where(system.startsWith('urn:'))"))),
			`{"resourceType":"Patient","identifier":[{"system":"http://b","value":"2"}]}`, 0, ""},
		{"computed value is not patchable",
			"Patient", `{"resourceType":"Patient","gender":"male"}`,
			params(op(t, "type", tp("delete"), "path", ps("Patient.gender.upper()"))),
			``, 400, "Parameters.parameter[0]"},
		{"input is not modified on failure",
			"Patient", `{"resourceType":"Patient","gender":"male"}`,
			params(op(t, "type", tp("delete"), "path", ps("Patient.gender")), op(t, "type", tp("replace"), "path", ps("Patient.birthDate"), "value", `{"valueDate":"2000"}`)),
			``, 422, "Parameters.parameter[1]"},
		{"add to existing single element", "Patient", `{"resourceType":"Patient","gender":"male"}`,
			params(op(t, "type", tp("add"), "path", ps("Patient"), "name", ps("gender"), "value", `{"valueCode":"female"}`)),
			``, 422, "Parameters.parameter[0]"},
		{"add unknown element", "Patient", `{"resourceType":"Patient"}`,
			params(op(t, "type", tp("add"), "path", ps("Patient"), "name", ps("colour"), "value", `{"valueCode":"red"}`)),
			``, 400, "Parameters.parameter[0]"},
		{"replace matching many", "Patient", `{"resourceType":"Patient","name":[{"family":"a"},{"family":"b"}]}`,
			params(op(t, "type", tp("replace"), "path", ps("Patient.name.family"), "value", `{"valueString":"c"}`)),
			``, 422, "Parameters.parameter[0]"},
		{"insert index out of bounds", "Patient", `{"resourceType":"Patient","identifier":[{"value":"1"}]}`,
			params(op(t, "type", tp("insert"), "path", ps("Patient.identifier"), "index", pi(2), "value", `{"valueIdentifier":{"value":"2"}}`)),
			``, 422, "Parameters.parameter[0]"},
		{"move destination out of bounds", "Patient", `{"resourceType":"Patient","identifier":[{"value":"1"},{"value":"2"}]}`,
			params(op(t, "type", tp("move"), "path", ps("Patient.identifier"), "source", pi(0), "destination", pi(2))),
			``, 422, "Parameters.parameter[0]"},
		{"insert into a non-list", "Patient", `{"resourceType":"Patient","gender":"male"}`,
			params(op(t, "type", tp("insert"), "path", ps("Patient.gender"), "index", pi(0), "value", `{"valueCode":"x"}`)),
			``, 422, "Parameters.parameter[0]"},
		{"not Parameters", "Patient", `{"resourceType":"Patient"}`, `{"resourceType":"Patient"}`, ``, 400, ""},
		{"unknown type", "Patient", `{"resourceType":"Patient"}`, params(op(t, "type", tp("frob"), "path", ps("Patient"))), ``, 400, "Parameters.parameter[0]"},
		{"missing value", "Patient", `{"resourceType":"Patient"}`, params(op(t, "type", tp("replace"), "path", ps("Patient.gender"))), ``, 400, "Parameters.parameter[0]"},
		{"missing index", "Patient", `{"resourceType":"Patient"}`, params(op(t, "type", tp("insert"), "path", ps("Patient.identifier"), "value", `{"valueIdentifier":{}}`)), ``, 400, "Parameters.parameter[0]"},
		{"parameter not an operation", "Patient", `{"resourceType":"Patient"}`, `{"resourceType":"Parameters","parameter":[{"name":"x"}]}`, ``, 400, "Parameters.parameter[0]"},
		{"unknown part", "Patient", `{"resourceType":"Patient"}`, params(op(t, "type", tp("delete"), "path", ps("Patient.gender"), "colour", ps("red"))), ``, 400, "Parameters.parameter[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := decodeJSON(t, tc.doc).(map[string]any)
			orig := deepCopy(doc)
			got, err := ApplyFHIRPathPatch(tc.rt, doc, decodeJSON(t, tc.patch).(map[string]any))
			if !fhir.Equal(doc, orig) {
				t.Errorf("input document was modified: %v", doc)
			}
			if tc.want == "" {
				var fe *fhir.Error
				if !errors.As(err, &fe) || fe.Status != tc.status {
					t.Fatalf("got %v, %v; want *fhir.Error %d", got, err, tc.status)
				}
				if tc.expr != "" && (len(fe.Issues[0].Expression) == 0 || fe.Issues[0].Expression[0] != tc.expr) {
					t.Errorf("issue expression %v, want %s", fe.Issues[0].Expression, tc.expr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if want := decodeJSON(t, tc.want); !fhir.Equal(got, want) {
				g, _ := json.Marshal(got)
				t.Errorf("got %s, want %s", g, tc.want)
			}
		})
	}
}

func TestSimpleLocate(t *testing.T) {
	doc := decodeJSON(t, `{"resourceType":"Patient","identifier":[{"use":"official","period":{"start":"1"}},{"use":"usual"}],"gender":"male"}`).(map[string]any)
	tests := []struct {
		expr, want string
	}{
		{"Patient", "[[]]"},
		{"Observation", "[]"},
		{"Patient.gender", "[[{gender -1}]]"},
		{"Patient.identifier", "[[{identifier 0}] [{identifier 1}]]"},
		{"Patient.identifier[1].use", "[[{identifier 1} {use -1}]]"},
		{"Patient.identifier.where(use = 'official').period", "[[{identifier 0} {period -1}]]"},
		{"Patient.identifier.last()", "[[{identifier 1}]]"},
		{"Patient.identifier.first().period.start", "[[{identifier 0} {period -1} {start -1}]]"},
		{"Patient.birthDate", "[]"},
	}
	for _, tc := range tests {
		got, err := simpleLocate(tc.expr, doc)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if s := fmt.Sprint(got); s != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, s, tc.want)
		}
	}
	if _, err := simpleLocate("Patient.name.exists()", doc); err == nil {
		t.Error("unsupported function accepted")
	}
}
