package search

import (
	"fmt"
	"testing"
)

func extractExample(t *testing.T, name string) *Index {
	t.Helper()
	res := exampleNamed(t, name)
	idx, err := Extract(Default(), res["resourceType"].(string), res)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return idx
}

// has reports whether idx contains entry want (a StringEntry, TokenEntry, ...).
func has(idx *Index, want any) bool {
	switch w := want.(type) {
	case StringEntry:
		return in(idx.Strings, w)
	case TokenEntry:
		return in(idx.Tokens, w)
	case RefEntry:
		return in(idx.Refs, w)
	case DateEntry:
		return in(idx.Dates, w)
	case NumberEntry:
		return in(idx.Numbers, w)
	case QuantityEntry:
		return in(idx.Quantities, w)
	case URIEntry:
		return in(idx.URIs, w)
	}
	panic(fmt.Sprintf("bad entry %T", want))
}

func in[E comparable](s []E, e E) bool {
	for _, x := range s {
		if x == e {
			return true
		}
	}
	return false
}

func count(idx *Index, param string) int {
	n := 0
	for _, e := range idx.Strings {
		if e.Param == param {
			n++
		}
	}
	for _, e := range idx.Tokens {
		if e.Param == param {
			n++
		}
	}
	for _, e := range idx.Refs {
		if e.Param == param {
			n++
		}
	}
	for _, e := range idx.Dates {
		if e.Param == param {
			n++
		}
	}
	for _, e := range idx.Quantities {
		if e.Param == param {
			n++
		}
	}
	for _, e := range idx.URIs {
		if e.Param == param {
			n++
		}
	}
	for _, e := range idx.Composites {
		if e.Param == param {
			n++
		}
	}
	return n
}

func dateEntry(param, s string) DateEntry {
	lo, hi, err := DateRange(s)
	if err != nil {
		panic(err)
	}
	return DateEntry{param, lo, hi}
}

func strE(param, s string) StringEntry { return StringEntry{param, NormString(s), s} }

func TestExtractHandChecked(t *testing.T) {
	const v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
	const sct, loinc, ucum = "http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org"
	for _, tc := range []struct {
		example string
		want    []any
		counts  map[string]int
	}{
		{"Patient-example.json", []any{
			TokenEntry{Param: "_id", Code: "example"},
			TokenEntry{Param: "identifier", System: "urn:oid:1.2.36.146.595.217.0.1", Code: "12345", TypeSystem: v2, TypeCode: "MR"},
			strE("name", "Chalmers"), strE("name", "Peter"), strE("name", "James"), strE("name", "Jim"), strE("name", "Windsor"),
			strE("family", "Chalmers"), strE("family", "Windsor"), strE("given", "Jim"),
			TokenEntry{Param: "phone", System: "phone", Code: "(03) 5555 6473"},
			TokenEntry{Param: "telecom", System: "phone", Code: "(03) 3410 5613"},
			TokenEntry{Param: "gender", System: "http://hl7.org/fhir/administrative-gender", Code: "male"},
			TokenEntry{Param: "active", Code: "true"},
			TokenEntry{Param: "deceased", Code: "false"},
			dateEntry("birthdate", "1974-12-25"),
			strE("address", "534 Erewhon St"), strE("address", "PleasantVille"), strE("address-city", "PleasantVille"),
			strE("address-postalcode", "3999"), strE("address-state", "Vic"),
			TokenEntry{Param: "address-use", System: "http://hl7.org/fhir/address-use", Code: "home"},
			RefEntry{Param: "organization", Type: "Organization", ID: "1"},
		}, map[string]int{"name": 5, "family": 2, "given": 3, "telecom": 3, "phone": 3, "email": 0, "identifier": 1, "link": 0}},
		{"Observation-blood-pressure.json", []any{
			TokenEntry{Param: "code", System: loinc, Code: "85354-9", Text: "blood pressure panel with all children optional"},
			TokenEntry{Param: "code", Text: "blood pressure systolic & diastolic"},
			TokenEntry{Param: "category", System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Text: "vital signs"},
			TokenEntry{Param: "status", System: "http://hl7.org/fhir/observation-status", Code: "final"},
			RefEntry{Param: "subject", Type: "Patient", ID: "example"},
			RefEntry{Param: "patient", Type: "Patient", ID: "example"},
			RefEntry{Param: "performer", Type: "Practitioner", ID: "example"},
			RefEntry{Param: "based-on", Identifier: "https://acme.org/identifiers|1234"},
			dateEntry("date", "2012-09-17"),
			TokenEntry{Param: "component-code", System: sct, Code: "271649006", Text: "systolic blood pressure"},
			TokenEntry{Param: "component-code", System: loinc, Code: "8462-4", Text: "diastolic blood pressure"},
			TokenEntry{Param: "combo-code", System: loinc, Code: "85354-9", Text: "blood pressure panel with all children optional"},
			TokenEntry{Param: "combo-code", System: loinc, Code: "8480-6", Text: "systolic blood pressure"},
			QuantityEntry{Param: "component-value-quantity", System: ucum, Code: "mm[Hg]", Unit: "mmHg", Value: 107, Low: 106.5, High: 107.5},
			QuantityEntry{Param: "combo-value-quantity", System: ucum, Code: "mm[Hg]", Unit: "mmHg", Value: 60, Low: 59.5, High: 60.5},
			URIEntry{Param: "_profile", Value: "http://hl7.org/fhir/StructureDefinition/vitalsigns"},
			TokenEntry{Param: "identifier", System: "urn:ietf:rfc:3986", Code: "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281"},
		}, map[string]int{"component-code": 4, "code": 2, "value-quantity": 0, "component-code-value-quantity": 2, "combo-code-value-quantity": 2, "code-value-quantity": 0, "encounter": 0}},
		{"Condition-example.json", []any{
			TokenEntry{Param: "code", System: sct, Code: "39065001", Text: "burn of ear"},
			TokenEntry{Param: "code", Text: "burnt ear"},
			TokenEntry{Param: "clinical-status", System: "http://terminology.hl7.org/CodeSystem/condition-clinical", Code: "active"},
			TokenEntry{Param: "severity", System: sct, Code: "24484000", Text: "severe"},
			TokenEntry{Param: "body-site", System: sct, Code: "49521004", Text: "left external ear structure"},
			TokenEntry{Param: "category", System: sct, Code: "439401001", Text: "diagnosis"},
			RefEntry{Param: "subject", Type: "Patient", ID: "example"},
			RefEntry{Param: "patient", Type: "Patient", ID: "example"},
			dateEntry("onset-date", "2012-05-24"),
		}, map[string]int{"abatement-date": 0, "onset-info": 0, "category": 2}},
		{"Encounter-f001.json", []any{
			TokenEntry{Param: "identifier", System: "http://www.amc.nl/zorgportal/identifiers/visits", Code: "v1451"},
			TokenEntry{Param: "class", System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "AMB", Text: "ambulatory"},
			TokenEntry{Param: "type", System: sct, Code: "270427003", Text: "patient-initiated encounter"},
			TokenEntry{Param: "status", System: "http://hl7.org/fhir/encounter-status", Code: "finished"},
			TokenEntry{Param: "reason-code", System: sct, Code: "34068001", Text: "heart valve replacement"},
			RefEntry{Param: "subject", Type: "Patient", ID: "f001"},
			RefEntry{Param: "patient", Type: "Patient", ID: "f001"},
			RefEntry{Param: "participant", Type: "Practitioner", ID: "f002"},
			RefEntry{Param: "practitioner", Type: "Practitioner", ID: "f002"},
			RefEntry{Param: "service-provider", Type: "Organization", ID: "f001"},
			QuantityEntry{Param: "length", System: ucum, Code: "min", Unit: "min", Value: 140, Low: 139.5, High: 140.5},
		}, map[string]int{"date": 0, "location": 0}},
		{"DiagnosticReport-f201.json", []any{
			TokenEntry{Param: "code", System: sct, Code: "429858000", Text: "computed tomography (ct) of head and neck"},
			TokenEntry{Param: "code", Text: "ct of head-neck"},
			TokenEntry{Param: "category", System: "http://terminology.hl7.org/CodeSystem/v2-0074", Code: "RAD"},
			TokenEntry{Param: "conclusion", System: sct, Code: "188340000", Text: "malignant tumor of craniopharyngeal duct"},
			RefEntry{Param: "subject", Type: "Patient", ID: "f201"},
			RefEntry{Param: "patient", Type: "Patient", ID: "f201"},
			RefEntry{Param: "performer", Type: "Organization", ID: "f203"},
			dateEntry("date", "2012-12-01T11:00:00Z"),
			dateEntry("issued", "2012-12-01T12:00:00+01:00"),
		}, map[string]int{"result": 0, "category": 2, "code": 2}},
	} {
		idx := extractExample(t, tc.example)
		failed := false
		for _, w := range tc.want {
			if !has(idx, w) {
				t.Errorf("%s: missing %+v", tc.example, w)
				failed = true
			}
		}
		for p, n := range tc.counts {
			if got := count(idx, p); got != n {
				t.Errorf("%s: %d %s entries, want %d", tc.example, got, p, n)
				failed = true
			}
		}
		if failed {
			t.Logf("%s: %+v", tc.example, idx)
		}
	}
}

func TestExtractComposite(t *testing.T) {
	idx := extractExample(t, "Observation-blood-pressure.json")
	var got []CompositeEntry
	for _, c := range idx.Composites {
		if c.Param == "component-code-value-quantity" {
			got = append(got, c)
		}
	}
	if len(got) != 2 {
		t.Fatalf("composites = %+v", idx.Composites)
	}
	sys := got[0]
	if len(sys.Parts) != 2 || len(sys.Parts[0].Tokens) != 3 || len(sys.Parts[1].Quantities) != 1 {
		t.Fatalf("systolic = %+v", sys)
	}
	if tk := sys.Parts[0].Tokens[0]; tk.Param != "component-code" || tk.Code != "8480-6" {
		t.Errorf("systolic code = %+v", tk)
	}
	if q := sys.Parts[1].Quantities[0]; q.Param != "component-value-quantity" || q.Value != 107 || q.Code != "mm[Hg]" {
		t.Errorf("systolic value = %+v", q)
	}
}

// TestExtractValues covers the value-type rules on small hand-made resources.
func TestExtractValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  string
		res  string
		want []any
		none []string
	}{
		{"period open end", "Encounter", `{"resourceType":"Encounter","id":"e","period":{"start":"2020-01-01"}}`,
			[]any{DateEntry{"date", dateEntry("", "2020-01-01").Low, MaxTime}}, nil},
		{"period open start", "Encounter", `{"resourceType":"Encounter","id":"e","period":{"end":"2020-01-01T10:00:00Z"}}`,
			[]any{DateEntry{"date", MinTime, dateEntry("", "2020-01-01T10:00:00Z").High}}, nil},
		{"timing events", "ServiceRequest", `{"resourceType":"ServiceRequest","id":"s","status":"active","intent":"order","subject":{"reference":"Patient/p"},"occurrenceTiming":{"event":["2020-01-05","2020-01-02T10:00:00Z"],"repeat":{"boundsPeriod":{"start":"2020-01-03","end":"2020-02"}}}}`,
			[]any{DateEntry{"occurrence", dateEntry("", "2020-01-02T10:00:00Z").Low, dateEntry("", "2020-02").High}}, nil},
		{"timing dosage events", "MedicationRequest", `{"resourceType":"MedicationRequest","id":"m","dosageInstruction":[{"timing":{"event":["2021-03-04"]}}]}`,
			[]any{dateEntry("date", "2021-03-04")}, nil},
		{"empty timing", "MedicationRequest", `{"resourceType":"MedicationRequest","id":"m","dosageInstruction":[{"timing":{"code":{"text":"BID"}}}]}`, nil, []string{"date"}},
		{"contained reference", "Observation", `{"resourceType":"Observation","id":"o","contained":[{"resourceType":"Patient","id":"p1"}],"subject":{"reference":"#p1"}}`,
			[]any{RefEntry{Param: "subject", Type: "Patient", URL: "#p1"}, RefEntry{Param: "patient", Type: "Patient", URL: "#p1"}}, nil},
		{"absolute reference", "Observation", `{"resourceType":"Observation","id":"o","subject":{"reference":"http://x.org/fhir/Group/g1/_history/2"}}`,
			[]any{RefEntry{Param: "subject", Type: "Group", URL: "http://x.org/fhir/Group/g1/_history/2"}}, []string{"patient"}},
		{"versioned reference", "Observation", `{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/p/_history/3"}}`,
			[]any{RefEntry{Param: "patient", Type: "Patient", ID: "p"}}, nil},
		{"canonical", "CarePlan", `{"resourceType":"CarePlan","id":"c","status":"draft","intent":"plan","subject":{"reference":"Patient/p"},"instantiatesCanonical":["http://x.org/PlanDefinition/a|2.0"]}`,
			[]any{RefEntry{Param: "instantiates-canonical", URL: "http://x.org/PlanDefinition/a", Version: "2.0"}}, nil},
		{"uri", "Questionnaire", `{"resourceType":"Questionnaire","id":"q","status":"draft","url":"http://x.org/q"}`,
			[]any{URIEntry{"url", "http://x.org/q"}}, nil},
		{"range quantity", "Condition", `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"},"onsetRange":{"low":{"value":10,"unit":"a"},"high":{"value":20,"unit":"a"}}}`,
			[]any{QuantityEntry{Param: "onset-age", Unit: "a", Value: 10, Low: 9.5, High: 20.5}}, []string{"onset-date"}},
		{"age", "Condition", `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"},"onsetAge":{"value":3.5,"system":"http://unitsofmeasure.org","code":"a"}}`,
			[]any{QuantityEntry{Param: "onset-age", System: "http://unitsofmeasure.org", Code: "a", Value: 3.5, Low: 3.45, High: 3.55}}, nil},
		{"money", "ChargeItem", `{"resourceType":"ChargeItem","id":"c","status":"billable","code":{"text":"x"},"subject":{"reference":"Patient/p"},"priceOverride":{"value":12.50,"currency":"EUR"}}`,
			[]any{QuantityEntry{Param: "price-override", System: "urn:iso:std:iso:4217", Code: "EUR", Unit: "EUR", Value: 12.5, Low: 12.495, High: 12.505}}, nil},
		{"number", "RiskAssessment", `{"resourceType":"RiskAssessment","id":"r","status":"final","subject":{"reference":"Patient/p"},"prediction":[{"probabilityDecimal":0.25}]}`,
			[]any{NumberEntry{"probability", 0.25, 0.245, 0.255}}, nil},
		{"meta", "Patient", `{"resourceType":"Patient","id":"p","meta":{"lastUpdated":"2024-01-02T03:04:05.678Z","tag":[{"system":"http://t","code":"a"}],"security":[{"code":"R"}],"source":"http://src"}}`,
			[]any{dateEntry("_lastUpdated", "2024-01-02T03:04:05.678Z"), TokenEntry{Param: "_tag", System: "http://t", Code: "a"}, TokenEntry{Param: "_security", Code: "R"}, URIEntry{"_source", "http://src"}}, nil},
		{"accents", "Patient", `{"resourceType":"Patient","id":"p","name":[{"family":"Hélène"}]}`,
			[]any{StringEntry{"family", "helene", "Hélène"}}, nil},
		{"email", "Patient", `{"resourceType":"Patient","id":"p","telecom":[{"system":"email","value":"a@b.c"}]}`,
			[]any{TokenEntry{Param: "email", System: "email", Code: "a@b.c"}}, []string{"phone"}},
		{"deceased date", "Patient", `{"resourceType":"Patient","id":"p","deceasedDateTime":"2020"}`,
			[]any{TokenEntry{Param: "deceased", Code: "true"}, dateEntry("death-date", "2020")}, nil},
		{"no deceased", "Patient", `{"resourceType":"Patient","id":"p"}`, []any{TokenEntry{Param: "deceased", Code: "false"}}, nil},
	} {
		res := decodeString(t, tc.res)
		idx, err := Extract(Default(), tc.typ, res)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !has(idx, w) {
				t.Errorf("%s: missing %+v in %+v", tc.name, w, idx)
			}
		}
		for _, p := range tc.none {
			if n := count(idx, p); n != 0 {
				t.Errorf("%s: %d %s entries", tc.name, n, p)
			}
		}
	}
}
