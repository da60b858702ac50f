package validator

import (
	"context"
	"encoding/json"
	"testing"
)

func TestCheckPrimitive(t *testing.T) {
	tests := []struct {
		typ  string
		v    any
		ok   bool
		warn bool
	}{
		{"boolean", true, true, false},
		{"boolean", "true", false, false},
		{"integer", json.Number("-12"), true, false},
		{"integer", json.Number("1.0"), false, false},
		{"integer", json.Number("2147483648"), false, false},
		{"positiveInt", json.Number("0"), false, false},
		{"positiveInt", json.Number("1"), true, false},
		{"unsignedInt", json.Number("0"), true, false},
		{"unsignedInt", json.Number("-1"), false, false},
		{"decimal", json.Number("1.50e3"), true, false},
		{"decimal", "1.5", false, false},
		{"string", "", false, false},
		{"string", " padded ", false, true},
		{"string", "fine", true, false},
		{"markdown", "  indented", true, false},
		{"code", "a b", true, false},
		{"code", "a  b", false, false},
		{"code", " a", false, false},
		{"id", "a-B.9", true, false},
		{"id", "a_b", false, false},
		{"uri", "http://x.org/a", true, false},
		{"uri", "http://x.org/a b", false, false},
		{"oid", "urn:oid:1.2.840.10008", true, false},
		{"oid", "urn:oid:3.1", false, false},
		{"oid", "urn:oid:1.02", false, false},
		{"uuid", "urn:uuid:a76d9bbf-f293-4fb7-ad4c-2851cac77162", true, false},
		{"uuid", "urn:uuid:A76D9BBF-F293-4FB7-AD4C-2851CAC77162", false, false},
		{"date", "2024", true, false},
		{"date", "2024-02", true, false},
		{"date", "2024-02-29", true, false},
		{"date", "2023-02-29", false, false},
		{"date", "2024-2-1", false, false},
		{"dateTime", "2024-02-29T23:59:60.123+14:00", true, false},
		{"dateTime", "2024-02-29T10:00:00", false, false},
		{"dateTime", "2024-02T10:00:00Z", false, false},
		{"dateTime", "2024-02-29T24:00:00Z", false, false},
		{"instant", "2024-02-29T10:00:00Z", true, false},
		{"instant", "2024-02-29", false, false},
		{"time", "23:59:59.5", true, false},
		{"time", "23:59", false, false},
		{"base64Binary", "aGVs bG8=", true, false},
		{"base64Binary", "aGVsbG8", false, false},
		{"base64Binary", "a/+=", true, false},
		{"xhtml", `<div xmlns="http://www.w3.org/1999/xhtml">x</div>`, true, false},
		{"xhtml", `<p>x</p>`, false, false},
		// control characters: none but tab, CR and LF, in every string-based type
		{"string", "a\tb\r\nc", true, false},
		{"string", "a\x00b", false, false},
		{"string", "a\x01b", false, false},
		{"string", "a\x1fb", false, false},
		{"string", "a\x0bb", false, false},
		{"string", "a\x7fb", true, false},
		{"markdown", "# t\x0c", false, false},
		{"code", "a\x01", false, false},
		{"uri", "http://x.org/\x02", false, false},
		{"canonical", "http://x.org/\x1b", false, false},
		{"xhtml", "<div xmlns=\"http://www.w3.org/1999/xhtml\">\x08</div>", false, false},
	}
	for _, tt := range tests {
		msg, warn := checkPrimitive(primByName[tt.typ], tt.typ, tt.v)
		if (msg == "") != tt.ok && !(tt.warn && warn) || warn != tt.warn {
			t.Errorf("%s %v: msg=%q warn=%v, want ok=%v warn=%v", tt.typ, tt.v, msg, warn, tt.ok, tt.warn)
		}
	}
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		ref  string
		kind refKind
		typ  string
	}{
		{"Patient/123", refRelative, "Patient"},
		{"Patient/123/_history/2", refRelative, "Patient"},
		{"#p1", refLocal, ""},
		{"#", refLocal, ""},
		{"http://example.org/fhir/Patient/1", refAbsolute, ""},
		{"urn:uuid:a76d9bbf-f293-4fb7-ad4c-2851cac77162", refAbsolute, ""},
		{"urn:oid:1.2.3", refAbsolute, ""},
		{"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999911579", refConditional, "Practitioner"},
		{"Patient", refInvalid, ""},
		{"Patient/", refInvalid, ""},
		{"patient/1", refInvalid, ""},
		{"DomainResource/1", refInvalid, ""},
		{"urn:uuid:nope", refInvalid, ""},
		{"Patient/1 2", refInvalid, ""},
		{"Foo?x=1", refInvalid, ""},
	}
	for _, tt := range tests {
		k, typ := parseReference(tt.ref)
		if k != tt.kind || typ != tt.typ {
			t.Errorf("%q: got %d %q, want %d %q", tt.ref, k, typ, tt.kind, tt.typ)
		}
	}
}

func TestCheckAdapter(t *testing.T) {
	v := testValidator()
	tests := []struct {
		name   string
		res    map[string]any
		status int // 0 for nil
	}{
		{"valid", map[string]any{"resourceType": "Patient", "id": "a", "gender": "male"}, 0},
		{"warning only", map[string]any{"resourceType": "Patient", "id": "a", "name": []any{map[string]any{"family": " Doe"}}}, 0},
		{"invalid", map[string]any{"resourceType": "Patient", "id": "a", "gender": "f"}, 422},
	}
	for _, tt := range tests {
		_, err := v.Check(context.Background(), "Patient", tt.res)
		switch {
		case tt.status == 0 && err != nil:
			t.Errorf("%s: unexpected %v", tt.name, err)
		case tt.status != 0 && (err == nil || err.Status != tt.status):
			t.Errorf("%s: got %v, want status %d", tt.name, err, tt.status)
		}
	}
}

func TestConditionalReferenceInBundle(t *testing.T) {
	v := testValidator()
	obs := func() map[string]any {
		return map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"},
			"subject": map[string]any{"reference": "Patient?identifier=x|1"}}
	}
	if is := v.ValidateEntry("Observation", obs()); len(is) != 0 {
		t.Errorf("ValidateEntry: %v", is)
	}
	if is := v.Validate("Observation", obs()); len(is) != 1 {
		t.Errorf("Validate: %v", is)
	}
	b := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{map[string]any{
		"resource": obs(), "request": map[string]any{"method": "POST", "url": "Observation"}}}}
	if is := v.Validate("Bundle", b); len(is) != 0 {
		t.Errorf("Bundle: %v", is)
	}
}

// TestTables checks the generated tables against the model: every
// required value set is either expanded or listed as unchecked.
func TestTables(t *testing.T) {
	v := testValidator()
	for _, ct := range v.types {
		for _, f := range ct.fields {
			if f.vsURL != "" && f.vs == nil && uncheckedValueSets[f.vsURL] == "" {
				t.Errorf("%s.%s: value set %s neither expanded nor listed", ct.name, f.name, f.vsURL)
			}
		}
	}
	if len(v.Invariants()) < 100 {
		t.Errorf("only %d invariants", len(v.Invariants()))
	}
}

// TestConcurrent shares one Validator between goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	v := testValidator()
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				res := map[string]any{"resourceType": "Patient", "id": "a", "gender": "f",
					"contained":            []any{map[string]any{"resourceType": "Organization", "id": "o", "name": "x"}},
					"managingOrganization": map[string]any{"reference": "#o"}}
				if is := v.Validate("Patient", res); len(is) != 1 || is[0].Expression[0] != "Patient.gender" {
					t.Errorf("got %v", is)
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
