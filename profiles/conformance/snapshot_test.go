package conformance

import (
	"encoding/json"
	"github.com/dccfhir/dccfhir/fhir"
	"strings"
	"testing"
)

// Differential-only definitions, the way the DCC profiles are authored.
const (
	testExt = `{"resourceType":"StructureDefinition","url":"http://dcc.test/StructureDefinition/tumour","name":"Tumour",
 "kind":"complex-type","abstract":false,"type":"Extension","derivation":"constraint",
 "baseDefinition":"http://hl7.org/fhir/StructureDefinition/Extension",
 "differential":{"element":[
  {"id":"Extension","path":"Extension","min":0,"max":"1"},
  {"id":"Extension.extension","path":"Extension.extension","slicing":{"discriminator":[{"type":"value","path":"url"}],"rules":"closed"}},
  {"id":"Extension.extension:stage","path":"Extension.extension","sliceName":"stage","min":1,"max":"1"},
  {"id":"Extension.extension:stage.url","path":"Extension.extension.url","fixedUri":"stage"},
  {"id":"Extension.extension:stage.value[x]","path":"Extension.extension.value[x]","type":[{"code":"CodeableConcept"}],
   "binding":{"strength":"required","valueSet":"http://dcc.test/ValueSet/stage"}},
  {"id":"Extension.extension:side","path":"Extension.extension","sliceName":"side","max":"1"},
  {"id":"Extension.extension:side.url","path":"Extension.extension.url","fixedUri":"side"},
  {"id":"Extension.extension:side.value[x]","path":"Extension.extension.value[x]","type":[{"code":"code"}]},
  {"id":"Extension.url","path":"Extension.url","fixedUri":"http://dcc.test/StructureDefinition/tumour"},
  {"id":"Extension.value[x]","path":"Extension.value[x]","max":"0"}]}}`
	testProfile = `{"resourceType":"StructureDefinition","url":"http://dcc.test/StructureDefinition/dcc-patient","name":"DCCPatient",
 "kind":"resource","abstract":false,"type":"Patient","derivation":"constraint",
 "baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient",
 "differential":{"element":[
  {"id":"Patient","path":"Patient","constraint":[{"key":"dcc-1","severity":"error","human":"birth date required when alive","expression":"deceased.exists() or birthDate.exists()"}]},
  {"id":"Patient.extension:tumour","path":"Patient.extension","sliceName":"tumour","min":1,"max":"1",
   "type":[{"code":"Extension","profile":["http://dcc.test/StructureDefinition/tumour"]}]},
  {"id":"Patient.extension:tumour.extension:side.value[x]","path":"Patient.extension.extension.value[x]","fixedCode":"left"},
  {"id":"Patient.identifier","path":"Patient.identifier","min":1,"slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"closed"}},
  {"id":"Patient.identifier:ipp","path":"Patient.identifier","sliceName":"ipp","min":1,"max":"1"},
  {"id":"Patient.identifier:ipp.system","path":"Patient.identifier.system","min":1,"fixedUri":"urn:oid:1.2.3"},
  {"id":"Patient.identifier:ipp.value","path":"Patient.identifier.value","min":1,"maxLength":8},
  {"id":"Patient.identifier:nir","path":"Patient.identifier","sliceName":"nir","max":"1"},
  {"id":"Patient.identifier:nir.system","path":"Patient.identifier.system","fixedUri":"urn:oid:1.2.250.1.213.1.4.8"},
  {"id":"Patient.maritalStatus","path":"Patient.maritalStatus","patternCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M"}]}},
  {"id":"Patient.gender","path":"Patient.gender","min":1},
  {"id":"Patient.managingOrganization","path":"Patient.managingOrganization","type":[{"code":"Reference","targetProfile":["http://hl7.org/fhir/StructureDefinition/Organization"]}]},
  {"id":"Patient.generalPractitioner","path":"Patient.generalPractitioner","type":[{"code":"Reference","targetProfile":["http://hl7.org/fhir/StructureDefinition/Practitioner"]}]}]}}`
	testVS    = `{"resourceType":"ValueSet","url":"http://dcc.test/ValueSet/stage","compose":{"include":[{"system":"http://dcc.test/stage","concept":[{"code":"I"},{"code":"II"}]}]}}`
	okPatient = `{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1970-01-01",
 "extension":[{"url":"http://dcc.test/StructureDefinition/tumour","extension":[
   {"url":"stage","valueCodeableConcept":{"coding":[{"system":"http://dcc.test/stage","code":"II"}]}},
   {"url":"side","valueCode":"left"}]}],
 "identifier":[{"system":"urn:oid:1.2.3","value":"12345"},{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"1"}],
 "maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M","display":"Married"}],"text":"married"},
 "generalPractitioner":[{"reference":"Practitioner/x"}]}`
)

func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(stringsReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func testSet(t testing.TB) *Set {
	t.Helper()
	s, err := NewSet()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{testExt, testProfile, testVS} {
		if err := s.AddResource(decodeJSON(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSnapshotGeneration(t *testing.T) {
	s := testSet(t)
	sd, err := s.StructureDefinition("http://dcc.test/StructureDefinition/dcc-patient")
	if err != nil || sd == nil {
		t.Fatalf("snapshot: %v", err)
	}
	ids := map[string]int{}
	for i, e := range sd.Snapshot {
		ids[str(e["id"])] = i
	}
	for _, id := range []string{
		"Patient", "Patient.identifier", "Patient.identifier:ipp", "Patient.identifier:ipp.system",
		"Patient.identifier:nir.system", "Patient.extension:tumour", "Patient.extension:tumour.extension:side.value[x]",
		"Patient.extension:tumour.extension:stage.url", "Patient.link.type",
	} {
		if _, ok := ids[id]; !ok {
			t.Errorf("snapshot lacks %s", id)
		}
	}
	// Slices come right after their slicing entry's subtree, in order.
	if !(ids["Patient.identifier"] < ids["Patient.identifier:ipp"] && ids["Patient.identifier:ipp"] < ids["Patient.identifier:nir"] && ids["Patient.identifier:nir"] < ids["Patient.active"]) {
		t.Errorf("slice order: %v %v %v %v", ids["Patient.identifier"], ids["Patient.identifier:ipp"], ids["Patient.identifier:nir"], ids["Patient.active"])
	}
	if e := sd.Snapshot[ids["Patient.identifier:ipp.system"]]; e["fixedUri"] != "urn:oid:1.2.3" || intOf(e["min"], 0) != 1 {
		t.Errorf("merge: %v", e)
	}
	// Pulled in from the extension's profile.
	if e := sd.Snapshot[ids["Patient.extension:tumour.extension:stage.url"]]; e["fixedUri"] != "stage" {
		t.Errorf("extension profile not pulled in: %v", e)
	}
	if probs := s.Compile(); len(probs) > 0 {
		t.Errorf("problems: %v", probs)
	}
}

func TestDifferentialProfile(t *testing.T) {
	s := testSet(t)
	const prof = "http://dcc.test/StructureDefinition/dcc-patient"
	if !s.Has(prof) || s.Has("http://dcc.test/nope") {
		t.Fatal("Has")
	}
	if issues := s.Validate(decodeJSON(t, okPatient), prof); len(issues) > 0 {
		t.Fatalf("valid patient:%s", dump(issues))
	}
	const tum = "Patient.extension('http://dcc.test/StructureDefinition/tumour')"
	cases := []struct {
		name   string
		mutate func(r map[string]any)
		expr   string
		diag   string
	}{
		{"missing slice", func(r map[string]any) { r["identifier"] = r["identifier"].([]any)[1:] }, "Patient.identifier", "slice ipp requires at least 1"},
		{"closed slicing", func(r map[string]any) {
			r["identifier"] = append(r["identifier"].([]any), map[string]any{"system": "urn:other", "value": "x"})
		}, "Patient.identifier[2]", "closed slicing"},
		{"slice max", func(r map[string]any) {
			r["identifier"] = append(r["identifier"].([]any), map[string]any{"system": "urn:oid:1.2.3", "value": "2"})
		}, "Patient.identifier", "slice ipp allows at most 1, found 2"},
		{"maxLength", func(r map[string]any) { arr(r, "identifier", 0)["value"] = "123456789" }, "Patient.identifier[0].value", "longer than 8"},
		{"pattern", func(r map[string]any) {
			r["maritalStatus"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "S"}}}
		}, "Patient.maritalStatus", "pattern"},
		{"cardinality", func(r map[string]any) { delete(r, "gender") }, "Patient.gender", "minimum required = 1"},
		{"invariant", func(r map[string]any) { delete(r, "birthDate") }, "Patient", "dcc-1"},
		{"target profile", func(r map[string]any) {
			r["generalPractitioner"] = []any{map[string]any{"reference": "Organization/o"}}
		}, "Patient.generalPractitioner[0]", "reference to a Organization"},
		{"missing extension", func(r map[string]any) { delete(r, "extension") }, "Patient.extension", "slice tumour requires at least 1"},
		{"complex extension: missing nested slice", func(r map[string]any) {
			x := arr(r, "extension", 0)
			x["extension"] = x["extension"].([]any)[1:]
		}, tum + ".extension", "slice stage requires at least 1"},
		{"complex extension: unknown nested extension (closed)", func(r map[string]any) {
			x := arr(r, "extension", 0)
			x["extension"] = append(x["extension"].([]any), map[string]any{"url": "grade", "valueString": "G2"})
		}, tum + ".extension('grade')", "closed slicing"},
		{"complex extension: wrong value type", func(r map[string]any) {
			x := arr(r, "extension", 0)
			arr(x, "extension", 1)["valueString"] = "left"
			delete(arr(x, "extension", 1), "valueCode")
		}, tum + ".extension('side').value.ofType(string)", "type string is not allowed"},
		{"fixed value set by the profile inside the extension", func(r map[string]any) {
			arr(arr(r, "extension", 0), "extension", 1)["valueCode"] = "right"
		}, tum + ".extension('side').value.ofType(code)", `exactly "left"`},
		{"required binding in extension", func(r map[string]any) {
			arr(arr(r, "extension", 0), "extension", 0)["valueCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://dcc.test/stage", "code": "IV"}}}
		}, tum + ".extension('stage').value.ofType(CodeableConcept)", "not in the required value set"},
		{"simple value on complex extension", func(r map[string]any) { arr(r, "extension", 0)["valueString"] = "x" }, tum + ".value", "maximum allowed = 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := decodeJSON(t, okPatient)
			tc.mutate(r)
			issues := s.Validate(r, prof)
			if !find(issues, "error", tc.expr, tc.diag) {
				t.Errorf("want error %q at %s, got:%s", tc.diag, tc.expr, dump(issues))
			}
		})
	}
}

func TestPatternAndFixed(t *testing.T) {
	n := func(s string) any { return json.Number(s) }
	cases := []struct {
		name         string
		p, v         any
		pattern, fix bool
	}{
		{"string", "a", "a", true, true},
		{"string differs", "a", "b", false, false},
		{"number spelling", n("1.0"), n("1"), true, true},
		{"object subset", map[string]any{"a": "x"}, map[string]any{"a": "x", "b": "y"}, true, false},
		{"array subset", []any{map[string]any{"c": "1"}}, []any{map[string]any{"c": "0"}, map[string]any{"c": "1", "d": "e"}}, true, false},
		{"array missing", []any{"z"}, []any{"a"}, false, false},
		{"type mismatch", map[string]any{"a": "x"}, "x", false, false},
	}
	for _, tc := range cases {
		if got := matchPattern(tc.p, tc.v); got != tc.pattern {
			t.Errorf("%s: pattern = %v", tc.name, got)
		}
		if got := fhir.Equal(tc.p, tc.v); got != tc.fix {
			t.Errorf("%s: fixed = %v", tc.name, got)
		}
	}
}

func TestSplitPath(t *testing.T) {
	cases := map[string][]string{
		"url":                             {"url"},
		"code.coding.code":                {"code", "coding", "code"},
		"extension('http://a.b/c').value": {"extension('http://a.b/c')", "value"},
	}
	for in, want := range cases {
		got := splitPath(in)
		if len(got) != len(want) {
			t.Errorf("%s: %q", in, got)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %q", in, got)
			}
		}
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
