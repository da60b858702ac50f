package fhirpath

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testPatient = `{
  "resourceType": "Patient", "id": "p1",
  "contained": [{"resourceType": "Organization", "id": "org1", "name": "Acme"}],
  "extension": [{"url": "http://example.org/ext", "valueCodeableConcept": {"text": "x"}}],
  "identifier": [{"system": "urn:s", "value": "1"}, {"system": "urn:t", "value": "2"}],
  "active": true,
  "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"], "_given": [null, {"extension": [{"url": "http://example.org/nick", "valueString": "Jim"}]}]}],
  "telecom": [{"system": "phone", "value": "555"}, {"system": "email", "value": "a@b"}],
  "birthDate": "1974-12-25",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
  "deceasedBoolean": false,
  "managingOrganization": {"reference": "#org1"},
  "generalPractitioner": [{"reference": "Practitioner/pr1"}, {"reference": "http://example.org/fhir/Organization/o2/_history/3"}, {"reference": "urn:uuid:1234"}],
  "contact": [{"name": {"family": "Du Marché"}, "telecom": [{"system": "phone", "value": "999"}]}]
}`

const testObservation = `{
  "resourceType": "Observation", "id": "o1", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
  "subject": {"reference": "Patient/p1"},
  "effectivePeriod": {"start": "2020-01-01", "end": "2020-01-02"},
  "valueQuantity": {"value": 185, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"},
  "component": [{"code": {"text": "a"}, "valueString": "x"}, {"code": {"text": "b"}, "valueInteger": 3}]
}`

func mustDecode(t *testing.T, s string) map[string]any {
	t.Helper()
	return decode(t, []byte(s))
}

func pathString(p []Step) string {
	var b strings.Builder
	for _, s := range p {
		b.WriteString("/" + s.Key)
		if s.Index >= 0 {
			fmt.Fprintf(&b, "/%d", s.Index)
		}
	}
	return b.String()
}

func TestTypesAndPaths(t *testing.T) {
	pat, obs := mustDecode(t, testPatient), mustDecode(t, testObservation)
	tests := []struct {
		root  map[string]any
		expr  string
		types []string
		paths []string
	}{
		{pat, "Patient.name", []string{"HumanName"}, []string{"/name/0"}},
		{pat, "name.given", []string{"string", "string"}, []string{"/name/0/given/0", "/name/0/given/1"}},
		{pat, "Patient.birthDate", []string{"date"}, []string{"/birthDate"}},
		{pat, "Patient.deceased", []string{"boolean"}, []string{"/deceasedBoolean"}},
		{pat, "Patient.id", []string{"id"}, []string{"/id"}},
		{pat, "Patient.contact.name", []string{"HumanName"}, []string{"/contact/0/name"}},
		{pat, "Patient.contact", []string{"Patient.contact"}, []string{"/contact/0"}},
		{pat, "Patient.contained", []string{"Organization"}, []string{"/contained/0"}},
		{pat, "Patient.contained.name", []string{"string"}, []string{"/contained/0/name"}},
		{pat, "Patient.birthDate.extension.value", []string{"dateTime"}, []string{"/_birthDate/extension/0/valueDateTime"}},
		{pat, "Patient.name.given[1].extension('http://example.org/nick').value", []string{"string"}, []string{"/name/0/_given/1/extension/0/valueString"}},
		{pat, "Patient.extension('http://example.org/ext').value", []string{"CodeableConcept"}, []string{"/extension/0/valueCodeableConcept"}},
		{pat, "Patient.telecom.where(system='phone') | Person.telecom", []string{"ContactPoint"}, []string{"/telecom/0"}},
		{pat, "Patient.managingOrganization.resolve()", []string{"Organization"}, []string{"/contained/0"}},
		{pat, "Patient.generalPractitioner.resolve()", []string{"Practitioner", "Organization"}, []string{"", ""}},
		{pat, "generalPractitioner.where(resolve() is Organization)", []string{"Reference"}, []string{"/generalPractitioner/1"}},
		{obs, "Observation.value", []string{"Quantity"}, []string{"/valueQuantity"}},
		{obs, "(Observation.value as Quantity) | (Observation.value as SampledData)", []string{"Quantity"}, []string{"/valueQuantity"}},
		{obs, "Observation.value.ofType(Period)", nil, nil},
		{obs, "Observation.effective", []string{"Period"}, []string{"/effectivePeriod"}},
		{obs, "Observation.component.value", []string{"string", "integer"}, []string{"/component/0/valueString", "/component/1/valueInteger"}},
		{obs, "Observation.subject.where(resolve() is Patient)", []string{"Reference"}, []string{"/subject"}},
		{obs, "Observation.subject.where(resolve() is Group)", nil, nil},
		{obs, "Observation.code.coding.code", []string{"code"}, []string{"/code/coding/0/code"}},
		{obs, "Observation.value.value", []string{"decimal"}, []string{"/valueQuantity/value"}},
		{obs, "Observation.children().count()", []string{"System.Integer"}, []string{""}},
	}
	for _, tt := range tests {
		res, err := MustCompile(tt.expr).Evaluate(tt.root, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		var types, paths []string
		for _, r := range res {
			types = append(types, r.Type)
			paths = append(paths, pathString(r.Path))
		}
		if !slices.Equal(types, tt.types) || !slices.Equal(paths, tt.paths) {
			t.Errorf("%s: types %v paths %v, want %v %v", tt.expr, types, paths, tt.types, tt.paths)
		}
	}
}

func TestValues(t *testing.T) {
	pat, obs := mustDecode(t, testPatient), mustDecode(t, testObservation)
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		root map[string]any
		expr string
		want string // fmt of the values
	}{
		{pat, "Patient.name.given.first() + ' ' + name.family", "[Peter Chalmers]"},
		{pat, "Patient.active and Patient.deceased.not()", "[true]"},
		{pat, "Patient.birthDate < @2000-01-01", "[true]"},
		{pat, "Patient.birthDate = @1974-12", "[]"},
		{pat, "(today() - 1 year).toString()", "[2023-05-06]"},
		{pat, "now().toString()", "[2024-05-06T07:08:09.000Z]"},
		{pat, "Patient.identifier.value.select(toInteger()).aggregate($this + $total, 0)", "[3]"},
		{pat, "Patient.telecom.select(system & ':' & value).join(',')", "[phone:555,email:a@b]"},
		{pat, "Patient.descendants().ofType(ContactPoint).count()", "[3]"},
		{pat, "%resource.id = %context.id", "[true]"},
		{pat, "%ucum", "[http://unitsofmeasure.org]"},
		{pat, "%vs-administrative-gender", "[http://hl7.org/fhir/ValueSet/administrative-gender]"},
		{pat, "%greeting", "[hello]"},
		{pat, "iif(Patient.active, 'yes', 'no')", "[yes]"},
		{pat, "Patient.name.given.where($this.startsWith('J')).upper()", "[JAMES]"},
		{pat, "Patient.birthDate.hasValue() and Patient.name.hasValue().not()", "[true]"},
		{obs, "Observation.value > 80 'kg'", "[true]"},
		{obs, "Observation.value.value * 2", "[370]"},
		{obs, "Observation.value.is(Quantity) and Observation.value is Age", "[false]"},
		{obs, "1.5 + 1.25", "[2.75]"},
		{obs, "7 div 2 + 7 mod 2", "[4]"},
		{obs, "{} = 1", "[]"},
		{obs, "(1 | 2 | 2).count()", "[2]"},
	}
	for _, tt := range tests {
		res, err := MustCompile(tt.expr).Evaluate(tt.root, &Env{Now: now, Vars: map[string]any{"greeting": "hello"}})
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		var vals []string
		for _, r := range res {
			vals = append(vals, fmt.Sprint(r.Value))
		}
		if got := "[" + strings.Join(vals, " ") + "]"; got != tt.want {
			t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	pat := mustDecode(t, testPatient)
	compileErrs := []string{"Patient.name.", "1 +", "foo(", "name.nosuchfn()", "name.as(NoSuchType)", "'abc", "name.where()"}
	for _, e := range compileErrs {
		if _, err := Compile(e); err == nil {
			t.Errorf("Compile(%q) succeeded", e)
		}
	}
	evalErrs := []string{"Patient.name.given + 'x'", "Patient.deceasedBoolean", "Patient.identifier.value.single()", "%nosuchvar"}
	for _, e := range evalErrs {
		if _, err := MustCompile(e).Evaluate(pat, nil); err == nil {
			t.Errorf("Evaluate(%q) succeeded", e)
		}
	}
}

func TestTraceAndResolver(t *testing.T) {
	obs := mustDecode(t, testObservation)
	var traced []string
	env := &Env{
		Trace: func(name string, ns []Node) { traced = append(traced, fmt.Sprintf("%s:%d", name, len(ns))) },
		Resolve: func(ref string) map[string]any {
			if ref == "Patient/p1" {
				return map[string]any{"resourceType": "Patient", "id": "p1", "gender": "female"}
			}
			return nil
		},
	}
	res, err := MustCompile("Observation.subject.trace('subj').resolve().gender").Evaluate(obs, env)
	if err != nil || len(res) != 1 || res[0].Value != "female" || res[0].Type != "code" {
		t.Fatalf("resolve via Env: %v %v", res, err)
	}
	if !slices.Equal(traced, []string{"subj:1"}) {
		t.Errorf("trace = %v", traced)
	}
}

func TestConcurrentUse(t *testing.T) {
	x := MustCompile("Patient.name.where(use = 'official').given.first()")
	pat := mustDecode(t, testPatient)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				res, err := x.Evaluate(pat, nil)
				if err != nil || len(res) != 1 || res[0].Value != "Peter" {
					t.Errorf("got %v %v", res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDecimalPrecision(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"1.0.toString()", "1.0"},
		{"1.10 + 1.2", "2.30"},
		{"(-1.50).toString()", "-1.50"},
		{"3.14159.round(2)", "3.14"},
	}
	for _, tt := range tests {
		res, err := MustCompile(tt.expr).Evaluate(map[string]any{}, nil)
		if err != nil || len(res) != 1 {
			t.Errorf("%s: %v %v", tt.expr, res, err)
			continue
		}
		if got := fmt.Sprint(res[0].Value); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
		}
		if _, ok := res[0].Value.(json.Number); !ok && !strings.Contains(tt.expr, "toString") {
			t.Errorf("%s: decimal result is %T, want json.Number", tt.expr, res[0].Value)
		}
	}
}
