package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/store"
)

// span is the inclusive microsecond range from a to just before b.
func span(a, b time.Time) (int64, int64) { return a.UnixMicro(), b.UnixMicro() - 1 }

func dayRange(y int, m time.Month, d int) (int64, int64) {
	a := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return span(a, a.AddDate(0, 0, 1))
}

func monthRange(y int, m time.Month) (int64, int64) {
	a := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return span(a, a.AddDate(0, 1, 0))
}

func yearRange(y int) (int64, int64) {
	a := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	return span(a, a.AddDate(1, 0, 0))
}

func secondRange(y int, m time.Month, d, h, mi, s int) (int64, int64) {
	a := time.Date(y, m, d, h, mi, s, 0, time.UTC)
	return span(a, a.Add(time.Second))
}

func dateEntry(param string, lo, hi int64) search.DateEntry {
	return search.DateEntry{Param: param, Low: lo, High: hi}
}

func dateVal(p search.Prefix, lo, hi int64) search.Value {
	return search.Value{Prefix: p, DateLow: lo, DateHigh: hi}
}

func str(param, exact, norm string) search.StringEntry {
	return search.StringEntry{Param: param, Norm: norm, Exact: exact}
}

func ref(param, typ, id string) search.RefEntry {
	return search.RefEntry{Param: param, Type: typ, ID: id}
}

func qty(param string, v float64, unit string) search.QuantityEntry {
	return search.QuantityEntry{Param: param, System: "http://unitsofmeasure.org", Code: unit, Unit: unit, Value: v, Low: v, High: v}
}

const (
	genderSys = "http://hl7.org/fhir/administrative-gender"
	loinc     = "http://loinc.org"
	v20203    = "http://terminology.hl7.org/CodeSystem/v2-0203"
)

// searchData is the suite's small world: patients, their organizations and
// observations, a provenance, risk assessments and value sets. Patient/p4
// is deleted (its old values must never match).
func searchData() []*store.Write {
	b1980, e1980 := yearRange(1980)
	p1lo, p1hi := dayRange(1980, 5, 1)
	p2lo, p2hi := dayRange(1990, 12, 31)
	o1lo, o1hi := secondRange(2023, 1, 15, 10, 0, 0)
	o2lo, o2hi := dayRange(2023, 2, 1)
	o3lo, _ := dayRange(2022, 12, 20)
	_, o3hi := dayRange(2023, 1, 20)
	w := []*store.Write{
		NewWrite("Organization", "o1", 1, At(1), &search.Index{
			Strings: []search.StringEntry{str("name", "Acme Health", "acme health")},
			Tokens:  []search.TokenEntry{tok("identifier", "http://org", "acme")},
		}),
		NewWrite("Organization", "o2", 1, At(2), &search.Index{
			Strings: []search.StringEntry{str("name", "Beta Care", "beta care")},
		}),
		NewWrite("Patient", "p1", 1, At(3), &search.Index{
			Strings: []search.StringEntry{str("family", "Smith", "smith"), str("given", "John", "john"), str("name", "Smith", "smith"), str("name", "John", "john")},
			Tokens: []search.TokenEntry{tok("gender", genderSys, "male"), tok("active", "", "true"),
				{Param: "identifier", System: "http://mrn", Code: "111", TypeSystem: v20203, TypeCode: "MR"}},
			Dates: []search.DateEntry{dateEntry("birthdate", p1lo, p1hi)},
			Refs:  []search.RefEntry{ref("organization", "Organization", "o1")},
		}),
		NewWrite("Patient", "p2", 1, At(4), &search.Index{
			Strings: []search.StringEntry{str("family", "Smyth", "smyth"), str("given", "Jane", "jane")},
			Tokens:  []search.TokenEntry{tok("gender", genderSys, "female"), tok("identifier", "http://mrn", "222")},
			Dates:   []search.DateEntry{dateEntry("birthdate", p2lo, p2hi)},
			Refs:    []search.RefEntry{ref("organization", "Organization", "o2")},
		}),
		NewWrite("Patient", "p3", 1, At(5), &search.Index{
			Strings: []search.StringEntry{str("family", "Jones", "jones"), str("given", "Émile", "emile")},
			Tokens:  []search.TokenEntry{tok("identifier", "http://other", "111")},
			Dates:   []search.DateEntry{dateEntry("birthdate", b1980, e1980)},
		}),
		NewWrite("Patient", "p4", 1, At(6), &search.Index{
			Strings: []search.StringEntry{str("family", "Smith", "smith")},
			Tokens:  []search.TokenEntry{tok("gender", genderSys, "male")},
			Refs:    []search.RefEntry{ref("organization", "Organization", "o1")},
		}),
		Tombstone("Patient", "p4", 2, At(7)),
		NewWrite("Observation", "ob1", 1, At(8), &search.Index{
			Tokens:     []search.TokenEntry{{Param: "code", System: loinc, Code: "29463-7", Text: "body weight"}, tok("status", "", "final")},
			Refs:       []search.RefEntry{ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1")},
			Dates:      []search.DateEntry{dateEntry("date", o1lo, o1hi)},
			Quantities: []search.QuantityEntry{qty("value-quantity", 70, "kg")},
			Composites: []search.CompositeEntry{{Param: "code-value-quantity", Parts: []search.Index{
				{Tokens: []search.TokenEntry{{Param: "code", System: loinc, Code: "29463-7"}}},
				{Quantities: []search.QuantityEntry{qty("value-quantity", 70, "kg")}}}}},
		}),
		NewWrite("Observation", "ob2", 1, At(9), &search.Index{
			Tokens: []search.TokenEntry{{Param: "code", System: loinc, Code: "8302-2", Text: "body height"}, tok("status", "", "final")},
			Refs: []search.RefEntry{ref("subject", "Patient", "p2"), ref("patient", "Patient", "p2"),
				{Param: "derived-from", URL: "http://other.org/fhir/Observation/x1"}},
			Dates:      []search.DateEntry{dateEntry("date", o2lo, o2hi)},
			Quantities: []search.QuantityEntry{qty("value-quantity", 165, "cm")},
			// Two components, as a blood pressure has: 8480-6 = 120, 8462-4 = 80.
			Composites: []search.CompositeEntry{
				{Param: "component-code-value-quantity", Parts: []search.Index{
					{Tokens: []search.TokenEntry{{Param: "code", System: loinc, Code: "8480-6"}}},
					{Quantities: []search.QuantityEntry{qty("value-quantity", 120, "mm[Hg]")}}}},
				{Param: "component-code-value-quantity", Parts: []search.Index{
					{Tokens: []search.TokenEntry{{Param: "code", System: loinc, Code: "8462-4"}}},
					{Quantities: []search.QuantityEntry{qty("value-quantity", 80, "mm[Hg]")}}}},
			},
		}),
		NewWrite("Observation", "ob3", 1, At(10), &search.Index{
			Tokens:     []search.TokenEntry{{Param: "code", System: loinc, Code: "8302-2", Text: "body height"}, tok("status", "", "preliminary")},
			Refs:       []search.RefEntry{ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1")},
			Dates:      []search.DateEntry{dateEntry("date", o3lo, o3hi)},
			Quantities: []search.QuantityEntry{qty("value-quantity", 180, "cm")},
		}),
		NewWrite("Provenance", "pv1", 1, At(11), &search.Index{
			Refs: []search.RefEntry{ref("target", "Observation", "ob1")},
		}),
		NewWrite("RiskAssessment", "ra1", 1, At(12), &search.Index{
			Numbers: []search.NumberEntry{{Param: "probability", Value: 0.25, Low: 0.245, High: 0.255}},
		}),
		NewWrite("RiskAssessment", "ra2", 1, At(13), &search.Index{
			Numbers: []search.NumberEntry{{Param: "probability", Value: 0.8, Low: 0.75, High: 0.85}},
		}),
		NewWrite("ValueSet", "vs1", 1, At(14), &search.Index{
			URIs: []search.URIEntry{{Param: "url", Value: "http://example.org/fhir/ValueSet/abc"}},
		}),
		NewWrite("ValueSet", "vs2", 1, At(15), &search.Index{
			URIs: []search.URIEntry{{Param: "url", Value: "http://example.org/other/ValueSet/def"}},
		}),
	}
	return w
}

func tokV(code string) search.Value { return search.Value{Code: code} }

func sysV(system, code string) search.Value {
	return search.Value{System: system, HasSystem: true, Code: code}
}

func strV(s string) search.Value { return search.Value{Str: s} }

func numV(p search.Prefix, n, lo, hi float64) search.Value {
	return search.Value{Prefix: p, Num: n, NumLow: lo, NumHigh: hi}
}

func refV(typ, id string) search.Value { return search.Value{RefType: typ, RefID: id} }

func clause(param string, t search.ParamType, mod string, vs ...search.Value) search.Clause {
	return search.Clause{Param: param, Type: t, Modifier: mod, Values: vs}
}

func missing(param string, t search.ParamType, m bool) search.Clause {
	return search.Clause{Param: param, Type: t, Modifier: "missing", Missing: &m}
}

// composite is a composite clause of the given OR'ed values.
func composite(param string, values ...[]search.Clause) search.Clause {
	return search.Clause{Param: param, Type: search.TypeComposite, Components: values}
}

// compV is a code$quantity composite value.
func compV(code string, p search.Prefix, n float64) []search.Clause {
	return []search.Clause{
		clause("code", search.TypeToken, "", tokV(code)),
		clause("value-quantity", search.TypeQuantity, "", search.Value{Prefix: p, Num: n, NumLow: n - 0.5, NumHigh: n + 0.5}),
	}
}

var yes, no = true, false

func testSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	Put(t, s, searchData()...)

	y1980lo, y1980hi := yearRange(1980)
	d0501lo, d0501hi := dayRange(1980, 5, 1)
	d1231lo, d1231hi := dayRange(1990, 12, 31)
	y1985lo, y1985hi := yearRange(1985)
	jan23lo, jan23hi := monthRange(2023, 1)
	d0116lo, d0116hi := dayRange(2023, 1, 16)
	d0101lo, d0101hi := dayRange(2023, 1, 1)
	lu := func(p search.Prefix, ts time.Time) search.Value {
		return dateVal(p, ts.UnixMicro(), ts.UnixMicro()+999999) // second precision
	}

	type tc struct {
		name  string
		types []string
		where []search.Clause
		want  []string
	}
	pat := []string{"Patient"}
	obs := []string{"Observation"}
	cases := []tc{
		{"all patients, deleted excluded", pat, nil, []string{"Patient/p1", "Patient/p2", "Patient/p3"}},
		// token
		{"token code", pat, []search.Clause{clause("gender", search.TypeToken, "", tokV("male"))}, []string{"Patient/p1"}},
		{"token system|code", pat, []search.Clause{clause("gender", search.TypeToken, "", sysV(genderSys, "female"))}, []string{"Patient/p2"}},
		{"token |code needs no system", pat, []search.Clause{clause("gender", search.TypeToken, "", sysV("", "male"))}, nil},
		{"token |code", pat, []search.Clause{clause("active", search.TypeToken, "", sysV("", "true"))}, []string{"Patient/p1"}},
		{"token system|", pat, []search.Clause{clause("identifier", search.TypeToken, "", sysV("http://mrn", ""))}, []string{"Patient/p1", "Patient/p2"}},
		{"token code in any system", pat, []search.Clause{clause("identifier", search.TypeToken, "", tokV("111"))}, []string{"Patient/p1", "Patient/p3"}},
		{"token OR", pat, []search.Clause{clause("gender", search.TypeToken, "", tokV("male"), tokV("female"))}, []string{"Patient/p1", "Patient/p2"}},
		{"token AND", pat, []search.Clause{clause("identifier", search.TypeToken, "", tokV("111")), clause("gender", search.TypeToken, "", tokV("male"))}, []string{"Patient/p1"}},
		{"token :not", pat, []search.Clause{clause("gender", search.TypeToken, "not", tokV("male"))}, []string{"Patient/p2", "Patient/p3"}},
		{"token :missing=true", pat, []search.Clause{missing("gender", search.TypeToken, true)}, []string{"Patient/p3"}},
		{"token :missing=false", pat, []search.Clause{missing("gender", search.TypeToken, false)}, []string{"Patient/p1", "Patient/p2"}},
		{"token :text", obs, []search.Clause{clause("code", search.TypeToken, "text", strV("weight"))}, []string{"Observation/ob1"}},
		{"token :text prefix", obs, []search.Clause{clause("code", search.TypeToken, "text", strV("bod"))}, []string{"Observation/ob1", "Observation/ob2", "Observation/ob3"}},
		{"token :of-type", pat, []search.Clause{clause("identifier", search.TypeToken, "of-type", search.Value{System: v20203, Code: "MR", Str: "111"})}, []string{"Patient/p1"}},
		{"token :of-type wrong type", pat, []search.Clause{clause("identifier", search.TypeToken, "of-type", search.Value{System: v20203, Code: "SS", Str: "111"})}, nil},
		// string
		{"string prefix", pat, []search.Clause{clause("family", search.TypeString, "", strV("sm"))}, []string{"Patient/p1", "Patient/p2"}},
		{"string whole", pat, []search.Clause{clause("family", search.TypeString, "", strV("smith"))}, []string{"Patient/p1"}},
		{"string not infix", pat, []search.Clause{clause("family", search.TypeString, "", strV("mith"))}, nil},
		{"string normalised", pat, []search.Clause{clause("given", search.TypeString, "", strV("emi"))}, []string{"Patient/p3"}},
		{"string :exact", pat, []search.Clause{clause("family", search.TypeString, "exact", strV("Smith"))}, []string{"Patient/p1"}},
		{"string :exact is case sensitive", pat, []search.Clause{clause("family", search.TypeString, "exact", strV("smith"))}, nil},
		{"string :exact accents", pat, []search.Clause{clause("given", search.TypeString, "exact", strV("Émile"))}, []string{"Patient/p3"}},
		{"string :contains", pat, []search.Clause{clause("family", search.TypeString, "contains", strV("mit"))}, []string{"Patient/p1"}},
		{"string :missing", pat, []search.Clause{missing("given", search.TypeString, false)}, []string{"Patient/p1", "Patient/p2", "Patient/p3"}},
		// _id
		{"_id", pat, []search.Clause{clause("_id", search.TypeToken, "", tokV("p1"), tokV("p3"))}, []string{"Patient/p1", "Patient/p3"}},
		{"_id of a deleted resource", pat, []search.Clause{clause("_id", search.TypeToken, "", tokV("p4"))}, nil},
		{"_id of another type", pat, []search.Clause{clause("_id", search.TypeToken, "", tokV("ob1"))}, nil},
		{"_id and token", pat, []search.Clause{clause("_id", search.TypeToken, "", tokV("p1"), tokV("p2")), clause("gender", search.TypeToken, "", tokV("female"))}, []string{"Patient/p2"}},
		// reference
		{"reference Type/id", obs, []search.Clause{clause("subject", search.TypeReference, "", refV("Patient", "p1"))}, []string{"Observation/ob1", "Observation/ob3"}},
		{"reference id with target type", obs, []search.Clause{{Param: "subject", Type: search.TypeReference, TargetTypes: []string{"Patient"}, Values: []search.Value{{RefID: "p2"}}}}, []string{"Observation/ob2"}},
		{"reference id with other target type", obs, []search.Clause{{Param: "subject", Type: search.TypeReference, TargetTypes: []string{"Group"}, Values: []search.Value{{RefID: "p2"}}}}, nil},
		{"reference URL", obs, []search.Clause{clause("derived-from", search.TypeReference, "", search.Value{RefURL: "http://other.org/fhir/Observation/x1"})}, []string{"Observation/ob2"}},
		{"reference :missing", pat, []search.Clause{missing("organization", search.TypeReference, true)}, []string{"Patient/p3"}},
		// date: p1 1980-05-01, p2 1990-12-31, p3 1980 (the whole year)
		{"date eq year", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal("", y1980lo, y1980hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date eq day", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.EQ, d0501lo, d0501hi))}, []string{"Patient/p1"}},
		{"date ne", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.NE, y1980lo, y1980hi))}, []string{"Patient/p2"}},
		{"date gt", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.GT, y1980lo, y1980hi))}, []string{"Patient/p2"}},
		{"date lt", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.LT, d1231lo, d1231hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date ge", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.GE, d1231lo, d1231hi))}, []string{"Patient/p2"}},
		{"date le", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.LE, d0501lo, d0501hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date sa", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.SA, y1985lo, y1985hi))}, []string{"Patient/p2"}},
		{"date eb", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.EB, y1985lo, y1985hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date ap", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.AP, d1231lo, d1231hi))}, []string{"Patient/p2"}},
		{"date OR", pat, []search.Clause{clause("birthdate", search.TypeDate, "", dateVal(search.EQ, d0501lo, d0501hi), dateVal(search.EQ, d1231lo, d1231hi))}, []string{"Patient/p1", "Patient/p2"}},
		{"date AND (range)", pat, []search.Clause{
			clause("birthdate", search.TypeDate, "", dateVal(search.GE, y1980lo, y1980hi)),
			clause("birthdate", search.TypeDate, "", dateVal(search.LT, y1985lo, y1985hi))}, []string{"Patient/p1", "Patient/p3"}},
		// ob1 2023-01-15T10:00:00, ob2 2023-02-01, ob3 2022-12-20..2023-01-20
		{"date period not contained", obs, []search.Clause{clause("date", search.TypeDate, "", dateVal("", jan23lo, jan23hi))}, []string{"Observation/ob1"}},
		{"date ge period overlapping", obs, []search.Clause{clause("date", search.TypeDate, "", dateVal(search.GE, d0116lo, d0116hi))}, []string{"Observation/ob2", "Observation/ob3"}},
		{"date ge excludes a period ending inside", obs, []search.Clause{clause("date", search.TypeDate, "", dateVal(search.GE, jan23lo, jan23hi))}, []string{"Observation/ob1", "Observation/ob2"}},
		{"date le includes a period starting before", obs, []search.Clause{clause("date", search.TypeDate, "", dateVal(search.LE, jan23lo, jan23hi))}, []string{"Observation/ob1", "Observation/ob3"}},
		{"date sa/eb exclude overlaps", obs, []search.Clause{clause("date", search.TypeDate, "", dateVal(search.SA, d0116lo, d0116hi))}, []string{"Observation/ob2"}},
		{"date lt period starting before", obs, []search.Clause{clause("date", search.TypeDate, "", dateVal(search.LT, d0101lo, d0101hi))}, []string{"Observation/ob3"}},
		{"_lastUpdated gt", pat, []search.Clause{clause("_lastUpdated", search.TypeDate, "", lu(search.GT, At(3)))}, []string{"Patient/p2", "Patient/p3"}},
		{"_lastUpdated le", pat, []search.Clause{clause("_lastUpdated", search.TypeDate, "", lu(search.LE, At(4)))}, []string{"Patient/p1", "Patient/p2"}},
		// number: ra1 0.25, ra2 0.8
		{"number eq", []string{"RiskAssessment"}, []search.Clause{clause("probability", search.TypeNumber, "", numV("", 0.25, 0.245, 0.255))}, []string{"RiskAssessment/ra1"}},
		{"number ne", []string{"RiskAssessment"}, []search.Clause{clause("probability", search.TypeNumber, "", numV(search.NE, 0.25, 0.245, 0.255))}, []string{"RiskAssessment/ra2"}},
		{"number gt", []string{"RiskAssessment"}, []search.Clause{clause("probability", search.TypeNumber, "", numV(search.GT, 0.5, 0.45, 0.55))}, []string{"RiskAssessment/ra2"}},
		{"number le", []string{"RiskAssessment"}, []search.Clause{clause("probability", search.TypeNumber, "", numV(search.LE, 0.25, 0.245, 0.255))}, []string{"RiskAssessment/ra1"}},
		{"number ap", []string{"RiskAssessment"}, []search.Clause{clause("probability", search.TypeNumber, "", numV(search.AP, 0.78, 0.775, 0.785))}, []string{"RiskAssessment/ra2"}},
		// quantity: ob1 70 kg, ob2 165 cm, ob3 180 cm
		{"quantity gt", obs, []search.Clause{clause("value-quantity", search.TypeQuantity, "", numV(search.GT, 100, 99.5, 100.5))}, []string{"Observation/ob2", "Observation/ob3"}},
		{"quantity system|code", obs, []search.Clause{clause("value-quantity", search.TypeQuantity, "", search.Value{Prefix: search.LT, Num: 100, NumLow: 99.5, NumHigh: 100.5, System: "http://unitsofmeasure.org", HasSystem: true, Unit: "kg"})}, []string{"Observation/ob1"}},
		{"quantity unit", obs, []search.Clause{clause("value-quantity", search.TypeQuantity, "", search.Value{Num: 165, NumLow: 164.5, NumHigh: 165.5, Unit: "cm"})}, []string{"Observation/ob2"}},
		{"quantity wrong unit", obs, []search.Clause{clause("value-quantity", search.TypeQuantity, "", search.Value{Num: 165, NumLow: 164.5, NumHigh: 165.5, Unit: "kg"})}, nil},
		{"quantity ge", obs, []search.Clause{clause("value-quantity", search.TypeQuantity, "", search.Value{Prefix: search.GE, Num: 170, NumLow: 169.5, NumHigh: 170.5, Unit: "cm"})}, []string{"Observation/ob3"}},
		// uri
		{"uri", []string{"ValueSet"}, []search.Clause{clause("url", search.TypeURI, "", strV("http://example.org/fhir/ValueSet/abc"))}, []string{"ValueSet/vs1"}},
		{"uri is not a prefix match", []string{"ValueSet"}, []search.Clause{clause("url", search.TypeURI, "", strV("http://example.org/fhir"))}, nil},
		{"uri :below", []string{"ValueSet"}, []search.Clause{clause("url", search.TypeURI, "below", strV("http://example.org/fhir"))}, []string{"ValueSet/vs1"}},
		{"uri :above", []string{"ValueSet"}, []search.Clause{clause("url", search.TypeURI, "above", strV("http://example.org/other/ValueSet/def/_history/2"))}, []string{"ValueSet/vs2"}},
		// composite: components must match within one element
		{"composite", obs, []search.Clause{composite("component-code-value-quantity", compV("8480-6", search.GT, 100))}, []string{"Observation/ob2"}},
		{"composite components of different elements", obs, []search.Clause{composite("component-code-value-quantity", compV("8462-4", search.GT, 100))}, nil},
		{"composite OR", obs, []search.Clause{composite("component-code-value-quantity", compV("8462-4", search.GT, 100), compV("8462-4", search.LT, 100))}, []string{"Observation/ob2"}},
		{"composite with system", obs, []search.Clause{{Param: "code-value-quantity", Type: search.TypeComposite, Components: [][]search.Clause{{
			clause("code", search.TypeToken, "", sysV(loinc, "29463-7")),
			clause("value-quantity", search.TypeQuantity, "", search.Value{Prefix: search.EQ, Num: 70, NumLow: 69.5, NumHigh: 70.5, Unit: "kg"})}}}}, []string{"Observation/ob1"}},
		{"composite :missing", obs, []search.Clause{{Param: "code-value-quantity", Type: search.TypeComposite, Missing: &yes}}, []string{"Observation/ob2", "Observation/ob3"}},
		{"composite :missing=false", obs, []search.Clause{{Param: "component-code-value-quantity", Type: search.TypeComposite, Missing: &no}}, []string{"Observation/ob2"}},
		// chain and reverse chain
		{"chain", obs, []search.Clause{{Param: "subject", Type: search.TypeReference, TargetTypes: []string{"Patient"},
			Chain: &search.Clause{Param: "family", Type: search.TypeString, Values: []search.Value{strV("smyth")}}}}, []string{"Observation/ob2"}},
		{"chain two levels", obs, []search.Clause{{Param: "subject", Type: search.TypeReference, TargetTypes: []string{"Patient"},
			Chain: &search.Clause{Param: "organization", Type: search.TypeReference, TargetTypes: []string{"Organization"},
				Chain: &search.Clause{Param: "name", Type: search.TypeString, Values: []search.Value{strV("acme")}}}}}, []string{"Observation/ob1", "Observation/ob3"}},
		{"chain and a clause", obs, []search.Clause{
			clause("code", search.TypeToken, "", tokV("8302-2")),
			{Param: "subject", Type: search.TypeReference, Chain: &search.Clause{Param: "gender", Type: search.TypeToken, Values: []search.Value{tokV("male")}}}},
			[]string{"Observation/ob3"}},
		{"chain on _id", pat, []search.Clause{{Param: "organization", Type: search.TypeReference,
			Chain: &search.Clause{Param: "_id", Type: search.TypeToken, Values: []search.Value{tokV("o1")}}}}, []string{"Patient/p1"}},
		{"has", pat, []search.Clause{{Param: "_has", Has: &search.Has{Type: "Observation", RefParam: "subject",
			Where: clause("code", search.TypeToken, "", sysV(loinc, "8302-2"))}}}, []string{"Patient/p1", "Patient/p2"}},
		{"has and a clause", pat, []search.Clause{
			clause("gender", search.TypeToken, "", tokV("male")),
			{Param: "_has", Has: &search.Has{Type: "Observation", RefParam: "subject", Where: clause("status", search.TypeToken, "", tokV("preliminary"))}}},
			[]string{"Patient/p1"}},
		{"has nested", []string{"Organization"}, []search.Clause{{Param: "_has", Has: &search.Has{Type: "Patient", RefParam: "organization",
			Where: search.Clause{Param: "_has", Has: &search.Has{Type: "Observation", RefParam: "subject", Where: clause("code", search.TypeToken, "", tokV("29463-7"))}}}}},
			[]string{"Organization/o1"}},
		// several types and none
		{"system search by type list", []string{"Organization", "Patient"}, nil, []string{"Organization/o1", "Organization/o2", "Patient/p1", "Patient/p2", "Patient/p3"}},
		{"system search, every type", nil, []search.Clause{clause("_id", search.TypeToken, "", tokV("p1"), tokV("o1"), tokV("p4"))}, []string{"Organization/o1", "Patient/p1"}},
		{"system search on a shared param", nil, []search.Clause{clause("identifier", search.TypeToken, "", tokV("acme"), tokV("222"))}, []string{"Organization/o1", "Patient/p2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := &search.Query{Types: c.types, Where: c.where, Count: 100, Total: true}
			res, err := s.Search(ctx, q)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			got := sorted(keys(res.Resources, false))
			if !slices.Equal(got, sorted(c.want)) {
				t.Errorf("got %v, want %v", got, sorted(c.want))
			}
			if res.Total != len(c.want) {
				t.Errorf("Total %d, want %d", res.Total, len(c.want))
			}
			if res.Next != "" || res.Prev != "" {
				t.Errorf("one page, but Next %q Prev %q", res.Next, res.Prev)
			}
		})
	}

	t.Run("Sort", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			types []string
			sort  []search.SortKey
			want  []string
		}{
			{"string asc", pat, []search.SortKey{{Param: "family", Type: search.TypeString}}, []string{"p3", "p1", "p2"}},
			{"string desc", pat, []search.SortKey{{Param: "family", Type: search.TypeString, Desc: true}}, []string{"p2", "p1", "p3"}},
			{"date asc (earliest start)", pat, []search.SortKey{{Param: "birthdate", Type: search.TypeDate}}, []string{"p3", "p1", "p2"}},
			{"date desc (latest end)", pat, []search.SortKey{{Param: "birthdate", Type: search.TypeDate, Desc: true}}, []string{"p2", "p3", "p1"}},
			{"token, missing last", pat, []search.SortKey{{Param: "gender", Type: search.TypeToken}}, []string{"p2", "p1", "p3"}},
			{"token desc, missing last", pat, []search.SortKey{{Param: "gender", Type: search.TypeToken, Desc: true}}, []string{"p1", "p2", "p3"}},
			{"_id desc", pat, []search.SortKey{{Param: "_id", Type: search.TypeToken, Desc: true}}, []string{"p3", "p2", "p1"}},
			{"_lastUpdated desc", pat, []search.SortKey{{Param: "_lastUpdated", Type: search.TypeDate, Desc: true}}, []string{"p3", "p2", "p1"}},
			{"two keys", obs, []search.SortKey{{Param: "code", Type: search.TypeToken}, {Param: "date", Type: search.TypeDate, Desc: true}}, []string{"ob1", "ob2", "ob3"}},
			{"quantity", obs, []search.SortKey{{Param: "value-quantity", Type: search.TypeQuantity, Desc: true}}, []string{"ob3", "ob2", "ob1"}},
			{"number", []string{"RiskAssessment"}, []search.SortKey{{Param: "probability", Type: search.TypeNumber, Desc: true}}, []string{"ra2", "ra1"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				// Whole, then page by page both ways: every page size must
				// give the same order, with no duplicate and no gap.
				for _, count := range []int{100, 1, 2} {
					q := &search.Query{Types: c.types, Sort: c.sort, Count: count}
					var got []string
					var pages []*store.SearchResult
					for n := 0; ; n++ {
						if n > 10 {
							t.Fatalf("count %d: too many pages", count)
						}
						res, err := s.Search(ctx, q)
						if err != nil {
							t.Fatalf("count %d: Search: %v", count, err)
						}
						if n == 0 && res.Prev != "" {
							t.Errorf("count %d: first page has Prev", count)
						}
						pages = append(pages, res)
						for _, r := range res.Resources {
							got = append(got, r.ID)
						}
						if res.Next == "" {
							break
						}
						q.Page = res.Next
					}
					if !slices.Equal(got, c.want) {
						t.Errorf("count %d: got %v, want %v", count, got, c.want)
					}
					// Walk back with Prev from the last page.
					for i := len(pages) - 1; i > 0; i-- {
						if pages[i].Prev == "" {
							t.Fatalf("count %d: page %d has no Prev", count, i)
						}
						q.Page = pages[i].Prev
						res, err := s.Search(ctx, q)
						if err != nil {
							t.Fatalf("count %d: Search Prev: %v", count, err)
						}
						if g, w := keys(res.Resources, false), keys(pages[i-1].Resources, false); !slices.Equal(g, w) {
							t.Errorf("count %d: Prev of page %d: got %v, want %v", count, i, g, w)
						}
					}
				}
			})
		}
	})

	t.Run("PagingDefaultOrder", func(t *testing.T) {
		q := &search.Query{Types: []string{"Observation", "Patient"}, Count: 2, Total: true}
		seen := map[string]bool{}
		for n := 0; ; n++ {
			if n > 10 {
				t.Fatal("too many pages")
			}
			res, err := s.Search(ctx, q)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if res.Total != 6 {
				t.Errorf("Total %d, want 6", res.Total)
			}
			if len(res.Resources) > 2 {
				t.Errorf("page of %d", len(res.Resources))
			}
			for _, k := range keys(res.Resources, false) {
				if seen[k] {
					t.Errorf("duplicate %s", k)
				}
				seen[k] = true
			}
			if res.Next == "" {
				break
			}
			q.Page = res.Next
		}
		if len(seen) != 6 {
			t.Errorf("saw %d resources, want 6", len(seen))
		}
	})

	t.Run("CountZero", func(t *testing.T) {
		res, err := s.Search(ctx, &search.Query{Types: pat, Count: 0, Total: true,
			Where: []search.Clause{clause("family", search.TypeString, "", strV("sm"))}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Resources) != 0 || res.Total != 2 || res.Next != "" {
			t.Errorf("got %d resources, Total %d, Next %q; want none, 2, none", len(res.Resources), res.Total, res.Next)
		}
		res, err = s.Search(ctx, &search.Query{Types: pat, Count: 10})
		if err != nil || res.Total != -1 {
			t.Errorf("Total not asked: %d, %v; want -1", res.Total, err)
		}
	})

	t.Run("Include", func(t *testing.T) {
		for _, c := range []struct {
			name       string
			q          search.Query
			match, inc []string
		}{
			{"include", search.Query{Types: obs, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("ob1"))},
				Include: []search.Include{{Type: "Observation", Param: "subject"}}},
				[]string{"Observation/ob1"}, []string{"Patient/p1"}},
			{"include shared target once", search.Query{Types: obs, Where: []search.Clause{clause("code", search.TypeToken, "", tokV("8302-2"))},
				Include: []search.Include{{Type: "Observation", Param: "subject"}, {Type: "Observation", Param: "patient", TargetType: "Patient"}}},
				[]string{"Observation/ob2", "Observation/ob3"}, []string{"Patient/p1", "Patient/p2"}},
			{"include target type", search.Query{Types: obs, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("ob1"))},
				Include: []search.Include{{Type: "Observation", Param: "subject", TargetType: "Group"}}},
				[]string{"Observation/ob1"}, nil},
			{"include *", search.Query{Types: pat, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("p2"))},
				Include: []search.Include{{Type: "Patient", Param: "*"}}},
				[]string{"Patient/p2"}, []string{"Organization/o2"}},
			{"include of another type ignored", search.Query{Types: pat, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("p2"))},
				Include: []search.Include{{Type: "Observation", Param: "subject"}}},
				[]string{"Patient/p2"}, nil},
			{"include :iterate", search.Query{Types: obs, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("ob1"))},
				Include: []search.Include{{Type: "Observation", Param: "subject"}, {Type: "Patient", Param: "organization", Iterate: true}}},
				[]string{"Observation/ob1"}, []string{"Patient/p1", "Organization/o1"}},
			{"include without :iterate stops", search.Query{Types: obs, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("ob1"))},
				Include: []search.Include{{Type: "Observation", Param: "subject"}, {Type: "Patient", Param: "organization"}}},
				[]string{"Observation/ob1"}, []string{"Patient/p1"}},
			{"revinclude", search.Query{Types: pat, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("p1"))},
				RevInclude: []search.Include{{Type: "Observation", Param: "subject"}}},
				[]string{"Patient/p1"}, []string{"Observation/ob1", "Observation/ob3"}},
			{"revinclude deleted source ignored", search.Query{Types: []string{"Organization"}, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("o1"))},
				RevInclude: []search.Include{{Type: "Patient", Param: "organization"}}},
				[]string{"Organization/o1"}, []string{"Patient/p1"}},
			{"revinclude * and :iterate", search.Query{Types: pat, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("p1"))},
				RevInclude: []search.Include{{Type: "Observation", Param: "*"}, {Type: "Provenance", Param: "target", Iterate: true}}},
				[]string{"Patient/p1"}, []string{"Observation/ob1", "Observation/ob3", "Provenance/pv1"}},
			{"include and revinclude", search.Query{Types: obs, Where: []search.Clause{clause("_id", search.TypeToken, "", tokV("ob1"))},
				Include: []search.Include{{Type: "Observation", Param: "subject"}}, RevInclude: []search.Include{{Type: "Provenance", Param: "target"}}},
				[]string{"Observation/ob1"}, []string{"Patient/p1", "Provenance/pv1"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				q := c.q
				q.Count = 10
				res, err := s.Search(ctx, &q)
				if err != nil {
					t.Fatalf("Search: %v", err)
				}
				if got := sorted(keys(res.Resources, false)); !slices.Equal(got, sorted(c.match)) {
					t.Errorf("matches %v, want %v", got, sorted(c.match))
				}
				if got := sorted(keys(res.Included, false)); !slices.Equal(got, sorted(c.inc)) {
					t.Errorf("included %v, want %v", got, sorted(c.inc))
				}
			})
		}
	})
}
