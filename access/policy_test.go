package access

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	self := []string{"Practitioner/1", "PractitionerRole/2"}
	ps := url.Values{"type": {"http://loinc.org|18776-5"}}
	for _, c := range []struct {
		code string
		org  bool
		typ  string
		sees bool
		want url.Values
	}{
		{"10", true, "Observation", true, nil},
		{"10", false, "DiagnosticReport", true, nil},
		{"21", true, "Observation", true, nil}, // pharmacist of an establishment
		{"21", false, "Observation", false, nil},
		{"21", false, "MedicationRequest", true, nil}, // community pharmacist
		{"21", false, "Communication", true, url.Values{"recipient": {"Practitioner/1,PractitionerRole/2"}}},
		{"21", false, "DocumentReference", true, ps},
		{"60", true, "CarePlan", true, nil},
		{"60", false, "AllergyIntolerance", true, nil},
		{"60", true, "Observation", false, nil},
		{"60", true, "DocumentReference", true, ps},
		{"40", true, "Patient", false, nil}, // a profession not named sees nothing
		{"", true, "Patient", false, nil},
	} {
		sees, r := p.Rule(c.code, c.org).Sees(c.typ, self)
		if sees != c.sees || !reflect.DeepEqual(r, c.want) {
			t.Errorf("%s org=%v %s: %v %v, want %v %v", c.code, c.org, c.typ, sees, r, c.sees, c.want)
		}
	}
	// without references of their own, a restriction on them matches nothing
	if sees, _ := p.Rule("60", true).Sees("Communication", nil); sees {
		t.Error("Communication?recipient={self} with no self")
	}
	// the restriction is a copy: the policy is shared
	_, r := p.Rule("60", true).Sees("Communication", self)
	r.Set("recipient", "x")
	if _, again := p.Rule("60", true).Sees("Communication", self); again.Get("recipient") == "x" {
		t.Error("Sees gave the policy's own values")
	}
}

func TestParsePolicyRefusals(t *testing.T) {
	head := `{"system":"` + ProfessionSystem + `","professions":[`
	for _, c := range []struct{ name, body, want string }{
		{"not JSON", `{`, "access policy"},
		{"unknown field", `{"system":"` + ProfessionSystem + `","professions":[],"extra":1}`, "unknown field"},
		{"wrong system", `{"system":"http://x","professions":[]}`, "system must be"},
		{"no code", head + `{"at":"any","see":"compartment"}]}`, "code is required"},
		{"bad at", head + `{"code":"10","at":"home","see":"compartment"}]}`, "at is any"},
		{"bad see word", head + `{"code":"10","at":"any","see":"everything"}]}`, "see is"},
		{"bad see kind", head + `{"code":"10","at":"any","see":3}]}`, "see is"},
		{"unknown type", head + `{"code":"10","at":"any","see":["Patiente"]}]}`, "unknown resource type"},
		{"type twice", head + `{"code":"10","at":"any","see":["Patient","Patient"]}]}`, "twice"},
		{"empty search", head + `{"code":"10","at":"any","see":["Patient?"]}]}`, "not a query string"},
		{"bad search", head + `{"code":"10","at":"any","see":["Patient?a=%zz"]}]}`, "not a query string"},
		{"overlap", head + `{"code":"10","at":"any","see":"compartment"},{"code":"10","at":"none","see":["Patient"]}]}`, "already given"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestLoadPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	body := `{"system":"` + ProfessionSystem + `","professions":[{"code":"40","label":"Chirurgien-dentiste","at":"organization","see":["Patient","Condition"]}]}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if sees, _ := p.Rule("40", true).Sees("Condition", nil); !sees {
		t.Error("the configured profession does not see Condition")
	}
	if p.Rule("40", false) != nil || p.Rule("10", true) != nil {
		t.Error("a rule the file does not give")
	}
	if _, err := Load(path + ".missing"); err == nil {
		t.Error("a missing file loads")
	}
}
