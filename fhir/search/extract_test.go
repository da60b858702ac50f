package search

import (
	"fmt"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"testing"
)

func extractExample(t *testing.T, name string) *query.Index {
	t.Helper()
	res := exampleNamed(t, name)
	idx, err := Extract(Default(), res["resourceType"].(string), res)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return idx
}

// has reports whether idx contains entry want (a StringEntry, TokenEntry, ...).
func has(idx *query.Index, want any) bool {
	switch w := want.(type) {
	case query.StringEntry:
		return in(idx.Strings, w)
	case query.TokenEntry:
		return in(idx.Tokens, w)
	case query.RefEntry:
		return in(idx.Refs, w)
	case query.DateEntry:
		return in(idx.Dates, w)
	case query.NumberEntry:
		return in(idx.Numbers, w)
	case query.QuantityEntry:
		return in(idx.Quantities, w)
	case query.URIEntry:
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

func count(idx *query.Index, param string) int {
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

func dateEntry(param, s string) query.DateEntry {
	lo, hi, err := query.DateRange(s)
	if err != nil {
		panic(err)
	}
	return query.DateEntry{Param: param, Low: lo, High: hi}
}

func strE(param, s string) query.StringEntry {
	return query.StringEntry{Param: param, Norm: query.NormString(s), Exact: s}
}

func TestExtractHandChecked(t *testing.T) {
	const v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
	const sct, loinc, ucum = "http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org"
	for _, tc := range []struct {
		example string
		want    []any
		counts  map[string]int
	}{
		{"Patient-example.json", []any{
			query.TokenEntry{Param: "_id", Code: "example"},
			query.TokenEntry{Param: "identifier", System: "urn:oid:1.2.36.146.595.217.0.1", Code: "12345", TypeSystem: v2, TypeCode: "MR"},
			strE("name", "Chalmers"), strE("name", "Peter"), strE("name", "James"), strE("name", "Jim"), strE("name", "Windsor"),
			strE("family", "Chalmers"), strE("family", "Windsor"), strE("given", "Jim"),
			query.TokenEntry{Param: "phone", System: "phone", Code: "(03) 5555 6473"},
			query.TokenEntry{Param: "telecom", System: "phone", Code: "(03) 3410 5613"},
			query.TokenEntry{Param: "gender", System: "http://hl7.org/fhir/administrative-gender", Code: "male"},
			query.TokenEntry{Param: "active", Code: "true"},
			query.TokenEntry{Param: "deceased", Code: "false"},
			dateEntry("birthdate", "1974-12-25"),
			strE("address", "534 Erewhon St"), strE("address", "PleasantVille"), strE("address-city", "PleasantVille"),
			strE("address-postalcode", "3999"), strE("address-state", "Vic"),
			query.TokenEntry{Param: "address-use", System: "http://hl7.org/fhir/address-use", Code: "home"},
			query.RefEntry{Param: "organization", Type: "Organization", ID: "1"},
		}, map[string]int{"name": 5, "family": 2, "given": 3, "telecom": 3, "phone": 3, "email": 0, "identifier": 1, "link": 0}},
		{"Observation-blood-pressure.json", []any{
			query.TokenEntry{Param: "code", System: loinc, Code: "85354-9", Text: "blood pressure panel with all children optional"},
			query.TokenEntry{Param: "code", Text: "blood pressure systolic & diastolic"},
			query.TokenEntry{Param: "category", System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Text: "vital signs"},
			query.TokenEntry{Param: "status", System: "http://hl7.org/fhir/observation-status", Code: "final"},
			query.RefEntry{Param: "subject", Type: "Patient", ID: "example"},
			query.RefEntry{Param: "patient", Type: "Patient", ID: "example"},
			query.RefEntry{Param: "performer", Type: "Practitioner", ID: "example"},
			query.RefEntry{Param: "based-on", Identifier: "https://acme.org/identifiers|1234"},
			dateEntry("date", "2012-09-17"),
			query.TokenEntry{Param: "component-code", System: sct, Code: "271649006", Text: "systolic blood pressure"},
			query.TokenEntry{Param: "component-code", System: loinc, Code: "8462-4", Text: "diastolic blood pressure"},
			query.TokenEntry{Param: "combo-code", System: loinc, Code: "85354-9", Text: "blood pressure panel with all children optional"},
			query.TokenEntry{Param: "combo-code", System: loinc, Code: "8480-6", Text: "systolic blood pressure"},
			query.QuantityEntry{Param: "component-value-quantity", System: ucum, Code: "mm[Hg]", Unit: "mmHg", Value: 107, Low: 106.5, High: 107.5},
			query.QuantityEntry{Param: "combo-value-quantity", System: ucum, Code: "mm[Hg]", Unit: "mmHg", Value: 60, Low: 59.5, High: 60.5},
			query.URIEntry{Param: "_profile", Value: "http://hl7.org/fhir/StructureDefinition/vitalsigns"},
			query.TokenEntry{Param: "identifier", System: "urn:ietf:rfc:3986", Code: "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281"},
		}, map[string]int{"component-code": 4, "code": 2, "value-quantity": 0, "component-code-value-quantity": 2, "combo-code-value-quantity": 2, "code-value-quantity": 0, "encounter": 0}},
		{"Condition-example.json", []any{
			query.TokenEntry{Param: "code", System: sct, Code: "39065001", Text: "burn of ear"},
			query.TokenEntry{Param: "code", Text: "burnt ear"},
			query.TokenEntry{Param: "clinical-status", System: "http://terminology.hl7.org/CodeSystem/condition-clinical", Code: "active"},
			query.TokenEntry{Param: "severity", System: sct, Code: "24484000", Text: "severe"},
			query.TokenEntry{Param: "body-site", System: sct, Code: "49521004", Text: "left external ear structure"},
			query.TokenEntry{Param: "category", System: sct, Code: "439401001", Text: "diagnosis"},
			query.RefEntry{Param: "subject", Type: "Patient", ID: "example"},
			query.RefEntry{Param: "patient", Type: "Patient", ID: "example"},
			dateEntry("onset-date", "2012-05-24"),
		}, map[string]int{"abatement-date": 0, "onset-info": 0, "category": 2}},
		{"Encounter-f001.json", []any{
			query.TokenEntry{Param: "identifier", System: "http://www.amc.nl/zorgportal/identifiers/visits", Code: "v1451"},
			query.TokenEntry{Param: "class", System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "AMB", Text: "ambulatory"},
			query.TokenEntry{Param: "type", System: sct, Code: "270427003", Text: "patient-initiated encounter"},
			query.TokenEntry{Param: "status", System: "http://hl7.org/fhir/encounter-status", Code: "finished"},
			query.TokenEntry{Param: "reason-code", System: sct, Code: "34068001", Text: "heart valve replacement"},
			query.RefEntry{Param: "subject", Type: "Patient", ID: "f001"},
			query.RefEntry{Param: "patient", Type: "Patient", ID: "f001"},
			query.RefEntry{Param: "participant", Type: "Practitioner", ID: "f002"},
			query.RefEntry{Param: "practitioner", Type: "Practitioner", ID: "f002"},
			query.RefEntry{Param: "service-provider", Type: "Organization", ID: "f001"},
			query.QuantityEntry{Param: "length", System: ucum, Code: "min", Unit: "min", Value: 140, Low: 139.5, High: 140.5},
		}, map[string]int{"date": 0, "location": 0}},
		{"DiagnosticReport-f201.json", []any{
			query.TokenEntry{Param: "code", System: sct, Code: "429858000", Text: "computed tomography (ct) of head and neck"},
			query.TokenEntry{Param: "code", Text: "ct of head-neck"},
			query.TokenEntry{Param: "category", System: "http://terminology.hl7.org/CodeSystem/v2-0074", Code: "RAD"},
			query.TokenEntry{Param: "conclusion", System: sct, Code: "188340000", Text: "malignant tumor of craniopharyngeal duct"},
			query.RefEntry{Param: "subject", Type: "Patient", ID: "f201"},
			query.RefEntry{Param: "patient", Type: "Patient", ID: "f201"},
			query.RefEntry{Param: "performer", Type: "Organization", ID: "f203"},
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
	var got []query.CompositeEntry
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
			[]any{query.DateEntry{Param: "date", Low: dateEntry("", "2020-01-01").Low, High: query.MaxTime}}, nil},
		{"period open start", "Encounter", `{"resourceType":"Encounter","id":"e","period":{"end":"2020-01-01T10:00:00Z"}}`,
			[]any{query.DateEntry{Param: "date", Low: query.MinTime, High: dateEntry("", "2020-01-01T10:00:00Z").High}}, nil},
		{"timing events", "ServiceRequest", `{"resourceType":"ServiceRequest","id":"s","status":"active","intent":"order","subject":{"reference":"Patient/p"},"occurrenceTiming":{"event":["2020-01-05","2020-01-02T10:00:00Z"],"repeat":{"boundsPeriod":{"start":"2020-01-03","end":"2020-02"}}}}`,
			[]any{query.DateEntry{Param: "occurrence", Low: dateEntry("", "2020-01-02T10:00:00Z").Low, High: dateEntry("", "2020-02").High}}, nil},
		{"timing dosage events", "MedicationRequest", `{"resourceType":"MedicationRequest","id":"m","dosageInstruction":[{"timing":{"event":["2021-03-04"]}}]}`,
			[]any{dateEntry("date", "2021-03-04")}, nil},
		{"empty timing", "MedicationRequest", `{"resourceType":"MedicationRequest","id":"m","dosageInstruction":[{"timing":{"code":{"text":"BID"}}}]}`, nil, []string{"date"}},
		{"contained reference", "Observation", `{"resourceType":"Observation","id":"o","contained":[{"resourceType":"Patient","id":"p1"}],"subject":{"reference":"#p1"}}`,
			[]any{query.RefEntry{Param: "subject", Type: "Patient", URL: "#p1"}, query.RefEntry{Param: "patient", Type: "Patient", URL: "#p1"}}, nil},
		{"absolute reference", "Observation", `{"resourceType":"Observation","id":"o","subject":{"reference":"http://x.org/fhir/Group/g1/_history/2"}}`,
			[]any{query.RefEntry{Param: "subject", Type: "Group", URL: "http://x.org/fhir/Group/g1/_history/2"}}, []string{"patient"}},
		{"versioned reference", "Observation", `{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/p/_history/3"}}`,
			[]any{query.RefEntry{Param: "patient", Type: "Patient", ID: "p"}}, nil},
		{"canonical", "CarePlan", `{"resourceType":"CarePlan","id":"c","status":"draft","intent":"plan","subject":{"reference":"Patient/p"},"instantiatesCanonical":["http://x.org/PlanDefinition/a|2.0"]}`,
			[]any{query.RefEntry{Param: "instantiates-canonical", URL: "http://x.org/PlanDefinition/a", Version: "2.0"}}, nil},
		{"uri", "Questionnaire", `{"resourceType":"Questionnaire","id":"q","status":"draft","url":"http://x.org/q"}`,
			[]any{query.URIEntry{Param: "url", Value: "http://x.org/q"}}, nil},
		{"range quantity", "Condition", `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"},"onsetRange":{"low":{"value":10,"unit":"a"},"high":{"value":20,"unit":"a"}}}`,
			[]any{query.QuantityEntry{Param: "onset-age", Unit: "a", Value: 10, Low: 9.5, High: 20.5}}, []string{"onset-date"}},
		{"age", "Condition", `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"},"onsetAge":{"value":3.5,"system":"http://unitsofmeasure.org","code":"a"}}`,
			[]any{query.QuantityEntry{Param: "onset-age", System: "http://unitsofmeasure.org", Code: "a", Value: 3.5, Low: 3.45, High: 3.55}}, nil},
		{"money", "ChargeItem", `{"resourceType":"ChargeItem","id":"c","status":"billable","code":{"text":"x"},"subject":{"reference":"Patient/p"},"priceOverride":{"value":12.50,"currency":"EUR"}}`,
			[]any{query.QuantityEntry{Param: "price-override", System: "urn:iso:std:iso:4217", Code: "EUR", Unit: "EUR", Value: 12.5, Low: 12.495, High: 12.505}}, nil},
		{"number", "RiskAssessment", `{"resourceType":"RiskAssessment","id":"r","status":"final","subject":{"reference":"Patient/p"},"prediction":[{"probabilityDecimal":0.25}]}`,
			[]any{query.NumberEntry{Param: "probability", Value: 0.25, Low: 0.245, High: 0.255}}, nil},
		{"meta", "Patient", `{"resourceType":"Patient","id":"p","meta":{"lastUpdated":"2024-01-02T03:04:05.678Z","tag":[{"system":"http://t","code":"a"}],"security":[{"code":"R"}],"source":"http://src"}}`,
			[]any{dateEntry("_lastUpdated", "2024-01-02T03:04:05.678Z"), query.TokenEntry{Param: "_tag", System: "http://t", Code: "a"}, query.TokenEntry{Param: "_security", Code: "R"}, query.URIEntry{Param: "_source", Value: "http://src"}}, nil},
		{"accents", "Patient", `{"resourceType":"Patient","id":"p","name":[{"family":"Hélène"}]}`,
			[]any{query.StringEntry{Param: "family", Norm: "helene", Exact: "Hélène"}}, nil},
		{"email", "Patient", `{"resourceType":"Patient","id":"p","telecom":[{"system":"email","value":"a@b.c"}]}`,
			[]any{query.TokenEntry{Param: "email", System: "email", Code: "a@b.c"}}, []string{"phone"}},
		{"deceased date", "Patient", `{"resourceType":"Patient","id":"p","deceasedDateTime":"2020"}`,
			[]any{query.TokenEntry{Param: "deceased", Code: "true"}, dateEntry("death-date", "2020")}, nil},
		{"no deceased", "Patient", `{"resourceType":"Patient","id":"p"}`, []any{query.TokenEntry{Param: "deceased", Code: "false"}}, nil},
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
