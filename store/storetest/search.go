package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir/search/query"
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

func dateEntry(param string, lo, hi int64) query.DateEntry {
	return query.DateEntry{Param: param, Low: lo, High: hi}
}

func dateVal(p query.Prefix, lo, hi int64) query.Value {
	return query.Value{Prefix: p, DateLow: lo, DateHigh: hi}
}

func str(param, exact, norm string) query.StringEntry {
	return query.StringEntry{Param: param, Norm: norm, Exact: exact}
}

func ref(param, typ, id string) query.RefEntry {
	return query.RefEntry{Param: param, Type: typ, ID: id}
}

func qty(param string, v float64, unit string) query.QuantityEntry {
	return query.QuantityEntry{Param: param, System: "http://unitsofmeasure.org", Code: unit, Unit: unit, Value: v, Low: v, High: v}
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
		NewWrite("Organization", "o1", 1, At(1), &query.Index{
			Strings: []query.StringEntry{str("name", "Acme Health", "acme health")},
			Tokens:  []query.TokenEntry{tok("identifier", "http://org", "acme")},
		}),
		NewWrite("Organization", "o2", 1, At(2), &query.Index{
			Strings: []query.StringEntry{str("name", "Beta Care", "beta care")},
		}),
		NewWrite("Patient", "p1", 1, At(3), &query.Index{
			Strings: []query.StringEntry{str("family", "Smith", "smith"), str("given", "John", "john"), str("name", "Smith", "smith"), str("name", "John", "john")},
			Tokens: []query.TokenEntry{tok("gender", genderSys, "male"), tok("active", "", "true"),
				{Param: "identifier", System: "http://mrn", Code: "111", TypeSystem: v20203, TypeCode: "MR"}},
			Dates: []query.DateEntry{dateEntry("birthdate", p1lo, p1hi)},
			Refs:  []query.RefEntry{ref("organization", "Organization", "o1")},
		}),
		NewWrite("Patient", "p2", 1, At(4), &query.Index{
			Strings: []query.StringEntry{str("family", "Smyth", "smyth"), str("given", "Jane", "jane")},
			Tokens:  []query.TokenEntry{tok("gender", genderSys, "female"), tok("identifier", "http://mrn", "222")},
			Dates:   []query.DateEntry{dateEntry("birthdate", p2lo, p2hi)},
			Refs:    []query.RefEntry{ref("organization", "Organization", "o2")},
		}),
		NewWrite("Patient", "p3", 1, At(5), &query.Index{
			Strings: []query.StringEntry{str("family", "Jones", "jones"), str("given", "Émile", "emile")},
			Tokens:  []query.TokenEntry{tok("identifier", "http://other", "111")},
			Dates:   []query.DateEntry{dateEntry("birthdate", b1980, e1980)},
		}),
		NewWrite("Patient", "p4", 1, At(6), &query.Index{
			Strings: []query.StringEntry{str("family", "Smith", "smith")},
			Tokens:  []query.TokenEntry{tok("gender", genderSys, "male")},
			Refs:    []query.RefEntry{ref("organization", "Organization", "o1")},
		}),
		Tombstone("Patient", "p4", 2, At(7)),
		NewWrite("Observation", "ob1", 1, At(8), &query.Index{
			Tokens:     []query.TokenEntry{{Param: "code", System: loinc, Code: "29463-7", Text: "body weight"}, tok("status", "", "final")},
			Refs:       []query.RefEntry{ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1")},
			Dates:      []query.DateEntry{dateEntry("date", o1lo, o1hi)},
			Quantities: []query.QuantityEntry{qty("value-quantity", 70, "kg")},
			Composites: []query.CompositeEntry{{Param: "code-value-quantity", Parts: []query.Index{
				{Tokens: []query.TokenEntry{{Param: "code", System: loinc, Code: "29463-7"}}},
				{Quantities: []query.QuantityEntry{qty("value-quantity", 70, "kg")}}}}},
		}),
		NewWrite("Observation", "ob2", 1, At(9), &query.Index{
			Tokens: []query.TokenEntry{{Param: "code", System: loinc, Code: "8302-2", Text: "body height"}, tok("status", "", "final")},
			Refs: []query.RefEntry{ref("subject", "Patient", "p2"), ref("patient", "Patient", "p2"),
				{Param: "derived-from", URL: "http://other.org/fhir/Observation/x1"}},
			Dates:      []query.DateEntry{dateEntry("date", o2lo, o2hi)},
			Quantities: []query.QuantityEntry{qty("value-quantity", 165, "cm")},
			// Two components, as a blood pressure has: 8480-6 = 120, 8462-4 = 80.
			Composites: []query.CompositeEntry{
				{Param: "component-code-value-quantity", Parts: []query.Index{
					{Tokens: []query.TokenEntry{{Param: "code", System: loinc, Code: "8480-6"}}},
					{Quantities: []query.QuantityEntry{qty("value-quantity", 120, "mm[Hg]")}}}},
				{Param: "component-code-value-quantity", Parts: []query.Index{
					{Tokens: []query.TokenEntry{{Param: "code", System: loinc, Code: "8462-4"}}},
					{Quantities: []query.QuantityEntry{qty("value-quantity", 80, "mm[Hg]")}}}},
			},
		}),
		NewWrite("Observation", "ob3", 1, At(10), &query.Index{
			Tokens:     []query.TokenEntry{{Param: "code", System: loinc, Code: "8302-2", Text: "body height"}, tok("status", "", "preliminary")},
			Refs:       []query.RefEntry{ref("subject", "Patient", "p1"), ref("patient", "Patient", "p1")},
			Dates:      []query.DateEntry{dateEntry("date", o3lo, o3hi)},
			Quantities: []query.QuantityEntry{qty("value-quantity", 180, "cm")},
		}),
		NewWrite("Provenance", "pv1", 1, At(11), &query.Index{
			Refs: []query.RefEntry{ref("target", "Observation", "ob1")},
		}),
		NewWrite("RiskAssessment", "ra1", 1, At(12), &query.Index{
			Numbers: []query.NumberEntry{{Param: "probability", Value: 0.25, Low: 0.245, High: 0.255}},
		}),
		NewWrite("RiskAssessment", "ra2", 1, At(13), &query.Index{
			Numbers: []query.NumberEntry{{Param: "probability", Value: 0.8, Low: 0.75, High: 0.85}},
		}),
		NewWrite("ValueSet", "vs1", 1, At(14), &query.Index{
			URIs: []query.URIEntry{{Param: "url", Value: "http://example.org/fhir/ValueSet/abc"}},
		}),
		NewWrite("ValueSet", "vs2", 1, At(15), &query.Index{
			URIs: []query.URIEntry{{Param: "url", Value: "http://example.org/other/ValueSet/def"}},
		}),
	}
	return w
}

func tokV(code string) query.Value { return query.Value{Code: code} }

func sysV(system, code string) query.Value {
	return query.Value{System: system, HasSystem: true, Code: code}
}

func strV(s string) query.Value { return query.Value{Str: s} }

func numV(p query.Prefix, n, lo, hi float64) query.Value {
	return query.Value{Prefix: p, Num: n, NumLow: lo, NumHigh: hi}
}

func refV(typ, id string) query.Value { return query.Value{RefType: typ, RefID: id} }

func clause(param string, t query.ParamType, mod string, vs ...query.Value) query.Clause {
	return query.Clause{Param: param, Type: t, Modifier: mod, Values: vs}
}

func missing(param string, t query.ParamType, m bool) query.Clause {
	return query.Clause{Param: param, Type: t, Modifier: "missing", Missing: &m}
}

// composite is a composite clause of the given OR'ed values.
func composite(param string, values ...[]query.Clause) query.Clause {
	return query.Clause{Param: param, Type: query.TypeComposite, Components: values}
}

// compV is a code$quantity composite value.
func compV(code string, p query.Prefix, n float64) []query.Clause {
	return []query.Clause{
		clause("code", query.TypeToken, "", tokV(code)),
		clause("value-quantity", query.TypeQuantity, "", query.Value{Prefix: p, Num: n, NumLow: n - 0.5, NumHigh: n + 0.5}),
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
	lu := func(p query.Prefix, ts time.Time) query.Value {
		return dateVal(p, ts.UnixMicro(), ts.UnixMicro()+999999) // second precision
	}

	type tc struct {
		name  string
		types []string
		where []query.Clause
		want  []string
	}
	pat := []string{"Patient"}
	obs := []string{"Observation"}
	cases := []tc{
		{"all patients, deleted excluded", pat, nil, []string{"Patient/p1", "Patient/p2", "Patient/p3"}},
		// token
		{"token code", pat, []query.Clause{clause("gender", query.TypeToken, "", tokV("male"))}, []string{"Patient/p1"}},
		{"token system|code", pat, []query.Clause{clause("gender", query.TypeToken, "", sysV(genderSys, "female"))}, []string{"Patient/p2"}},
		{"token |code needs no system", pat, []query.Clause{clause("gender", query.TypeToken, "", sysV("", "male"))}, nil},
		{"token |code", pat, []query.Clause{clause("active", query.TypeToken, "", sysV("", "true"))}, []string{"Patient/p1"}},
		{"token system|", pat, []query.Clause{clause("identifier", query.TypeToken, "", sysV("http://mrn", ""))}, []string{"Patient/p1", "Patient/p2"}},
		{"token code in any system", pat, []query.Clause{clause("identifier", query.TypeToken, "", tokV("111"))}, []string{"Patient/p1", "Patient/p3"}},
		{"token OR", pat, []query.Clause{clause("gender", query.TypeToken, "", tokV("male"), tokV("female"))}, []string{"Patient/p1", "Patient/p2"}},
		{"token AND", pat, []query.Clause{clause("identifier", query.TypeToken, "", tokV("111")), clause("gender", query.TypeToken, "", tokV("male"))}, []string{"Patient/p1"}},
		{"token :not", pat, []query.Clause{clause("gender", query.TypeToken, "not", tokV("male"))}, []string{"Patient/p2", "Patient/p3"}},
		{"token :missing=true", pat, []query.Clause{missing("gender", query.TypeToken, true)}, []string{"Patient/p3"}},
		{"token :missing=false", pat, []query.Clause{missing("gender", query.TypeToken, false)}, []string{"Patient/p1", "Patient/p2"}},
		{"token :text", obs, []query.Clause{clause("code", query.TypeToken, "text", strV("weight"))}, []string{"Observation/ob1"}},
		{"token :text prefix", obs, []query.Clause{clause("code", query.TypeToken, "text", strV("bod"))}, []string{"Observation/ob1", "Observation/ob2", "Observation/ob3"}},
		{"token :of-type", pat, []query.Clause{clause("identifier", query.TypeToken, "of-type", query.Value{System: v20203, Code: "MR", Str: "111"})}, []string{"Patient/p1"}},
		{"token :of-type wrong type", pat, []query.Clause{clause("identifier", query.TypeToken, "of-type", query.Value{System: v20203, Code: "SS", Str: "111"})}, nil},
		// string
		{"string prefix", pat, []query.Clause{clause("family", query.TypeString, "", strV("sm"))}, []string{"Patient/p1", "Patient/p2"}},
		{"string whole", pat, []query.Clause{clause("family", query.TypeString, "", strV("smith"))}, []string{"Patient/p1"}},
		{"string not infix", pat, []query.Clause{clause("family", query.TypeString, "", strV("mith"))}, nil},
		{"string normalised", pat, []query.Clause{clause("given", query.TypeString, "", strV("emi"))}, []string{"Patient/p3"}},
		{"string :exact", pat, []query.Clause{clause("family", query.TypeString, "exact", strV("Smith"))}, []string{"Patient/p1"}},
		{"string :exact is case sensitive", pat, []query.Clause{clause("family", query.TypeString, "exact", strV("smith"))}, nil},
		{"string :exact accents", pat, []query.Clause{clause("given", query.TypeString, "exact", strV("Émile"))}, []string{"Patient/p3"}},
		{"string :contains", pat, []query.Clause{clause("family", query.TypeString, "contains", strV("mit"))}, []string{"Patient/p1"}},
		{"string :missing", pat, []query.Clause{missing("given", query.TypeString, false)}, []string{"Patient/p1", "Patient/p2", "Patient/p3"}},
		// _id
		{"_id", pat, []query.Clause{clause("_id", query.TypeToken, "", tokV("p1"), tokV("p3"))}, []string{"Patient/p1", "Patient/p3"}},
		{"_id of a deleted resource", pat, []query.Clause{clause("_id", query.TypeToken, "", tokV("p4"))}, nil},
		{"_id of another type", pat, []query.Clause{clause("_id", query.TypeToken, "", tokV("ob1"))}, nil},
		{"_id and token", pat, []query.Clause{clause("_id", query.TypeToken, "", tokV("p1"), tokV("p2")), clause("gender", query.TypeToken, "", tokV("female"))}, []string{"Patient/p2"}},
		// reference
		{"reference Type/id", obs, []query.Clause{clause("subject", query.TypeReference, "", refV("Patient", "p1"))}, []string{"Observation/ob1", "Observation/ob3"}},
		{"reference id with target type", obs, []query.Clause{{Param: "subject", Type: query.TypeReference, TargetTypes: []string{"Patient"}, Values: []query.Value{{RefID: "p2"}}}}, []string{"Observation/ob2"}},
		{"reference id with other target type", obs, []query.Clause{{Param: "subject", Type: query.TypeReference, TargetTypes: []string{"Group"}, Values: []query.Value{{RefID: "p2"}}}}, nil},
		{"reference URL", obs, []query.Clause{clause("derived-from", query.TypeReference, "", query.Value{RefURL: "http://other.org/fhir/Observation/x1"})}, []string{"Observation/ob2"}},
		{"reference :missing", pat, []query.Clause{missing("organization", query.TypeReference, true)}, []string{"Patient/p3"}},
		// date: p1 1980-05-01, p2 1990-12-31, p3 1980 (the whole year)
		{"date eq year", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal("", y1980lo, y1980hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date eq day", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.EQ, d0501lo, d0501hi))}, []string{"Patient/p1"}},
		{"date ne", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.NE, y1980lo, y1980hi))}, []string{"Patient/p2"}},
		{"date gt", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.GT, y1980lo, y1980hi))}, []string{"Patient/p2"}},
		{"date lt", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.LT, d1231lo, d1231hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date ge", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.GE, d1231lo, d1231hi))}, []string{"Patient/p2"}},
		{"date le", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.LE, d0501lo, d0501hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date sa", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.SA, y1985lo, y1985hi))}, []string{"Patient/p2"}},
		{"date eb", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.EB, y1985lo, y1985hi))}, []string{"Patient/p1", "Patient/p3"}},
		{"date ap", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.AP, d1231lo, d1231hi))}, []string{"Patient/p2"}},
		{"date OR", pat, []query.Clause{clause("birthdate", query.TypeDate, "", dateVal(query.EQ, d0501lo, d0501hi), dateVal(query.EQ, d1231lo, d1231hi))}, []string{"Patient/p1", "Patient/p2"}},
		{"date AND (range)", pat, []query.Clause{
			clause("birthdate", query.TypeDate, "", dateVal(query.GE, y1980lo, y1980hi)),
			clause("birthdate", query.TypeDate, "", dateVal(query.LT, y1985lo, y1985hi))}, []string{"Patient/p1", "Patient/p3"}},
		// ob1 2023-01-15T10:00:00, ob2 2023-02-01, ob3 2022-12-20..2023-01-20
		{"date period not contained", obs, []query.Clause{clause("date", query.TypeDate, "", dateVal("", jan23lo, jan23hi))}, []string{"Observation/ob1"}},
		{"date ge period overlapping", obs, []query.Clause{clause("date", query.TypeDate, "", dateVal(query.GE, d0116lo, d0116hi))}, []string{"Observation/ob2", "Observation/ob3"}},
		{"date ge excludes a period ending inside", obs, []query.Clause{clause("date", query.TypeDate, "", dateVal(query.GE, jan23lo, jan23hi))}, []string{"Observation/ob1", "Observation/ob2"}},
		{"date le includes a period starting before", obs, []query.Clause{clause("date", query.TypeDate, "", dateVal(query.LE, jan23lo, jan23hi))}, []string{"Observation/ob1", "Observation/ob3"}},
		{"date sa/eb exclude overlaps", obs, []query.Clause{clause("date", query.TypeDate, "", dateVal(query.SA, d0116lo, d0116hi))}, []string{"Observation/ob2"}},
		{"date lt period starting before", obs, []query.Clause{clause("date", query.TypeDate, "", dateVal(query.LT, d0101lo, d0101hi))}, []string{"Observation/ob3"}},
		{"_lastUpdated gt", pat, []query.Clause{clause("_lastUpdated", query.TypeDate, "", lu(query.GT, At(3)))}, []string{"Patient/p2", "Patient/p3"}},
		{"_lastUpdated le", pat, []query.Clause{clause("_lastUpdated", query.TypeDate, "", lu(query.LE, At(4)))}, []string{"Patient/p1", "Patient/p2"}},
		// number: ra1 0.25, ra2 0.8
		{"number eq", []string{"RiskAssessment"}, []query.Clause{clause("probability", query.TypeNumber, "", numV("", 0.25, 0.245, 0.255))}, []string{"RiskAssessment/ra1"}},
		{"number ne", []string{"RiskAssessment"}, []query.Clause{clause("probability", query.TypeNumber, "", numV(query.NE, 0.25, 0.245, 0.255))}, []string{"RiskAssessment/ra2"}},
		{"number gt", []string{"RiskAssessment"}, []query.Clause{clause("probability", query.TypeNumber, "", numV(query.GT, 0.5, 0.45, 0.55))}, []string{"RiskAssessment/ra2"}},
		{"number le", []string{"RiskAssessment"}, []query.Clause{clause("probability", query.TypeNumber, "", numV(query.LE, 0.25, 0.245, 0.255))}, []string{"RiskAssessment/ra1"}},
		{"number ap", []string{"RiskAssessment"}, []query.Clause{clause("probability", query.TypeNumber, "", numV(query.AP, 0.78, 0.775, 0.785))}, []string{"RiskAssessment/ra2"}},
		// quantity: ob1 70 kg, ob2 165 cm, ob3 180 cm
		{"quantity gt", obs, []query.Clause{clause("value-quantity", query.TypeQuantity, "", numV(query.GT, 100, 99.5, 100.5))}, []string{"Observation/ob2", "Observation/ob3"}},
		{"quantity system|code", obs, []query.Clause{clause("value-quantity", query.TypeQuantity, "", query.Value{Prefix: query.LT, Num: 100, NumLow: 99.5, NumHigh: 100.5, System: "http://unitsofmeasure.org", HasSystem: true, Unit: "kg"})}, []string{"Observation/ob1"}},
		{"quantity unit", obs, []query.Clause{clause("value-quantity", query.TypeQuantity, "", query.Value{Num: 165, NumLow: 164.5, NumHigh: 165.5, Unit: "cm"})}, []string{"Observation/ob2"}},
		{"quantity wrong unit", obs, []query.Clause{clause("value-quantity", query.TypeQuantity, "", query.Value{Num: 165, NumLow: 164.5, NumHigh: 165.5, Unit: "kg"})}, nil},
		{"quantity ge", obs, []query.Clause{clause("value-quantity", query.TypeQuantity, "", query.Value{Prefix: query.GE, Num: 170, NumLow: 169.5, NumHigh: 170.5, Unit: "cm"})}, []string{"Observation/ob3"}},
		// uri
		{"uri", []string{"ValueSet"}, []query.Clause{clause("url", query.TypeURI, "", strV("http://example.org/fhir/ValueSet/abc"))}, []string{"ValueSet/vs1"}},
		{"uri is not a prefix match", []string{"ValueSet"}, []query.Clause{clause("url", query.TypeURI, "", strV("http://example.org/fhir"))}, nil},
		{"uri :below", []string{"ValueSet"}, []query.Clause{clause("url", query.TypeURI, "below", strV("http://example.org/fhir"))}, []string{"ValueSet/vs1"}},
		{"uri :above", []string{"ValueSet"}, []query.Clause{clause("url", query.TypeURI, "above", strV("http://example.org/other/ValueSet/def/_history/2"))}, []string{"ValueSet/vs2"}},
		// composite: components must match within one element
		{"composite", obs, []query.Clause{composite("component-code-value-quantity", compV("8480-6", query.GT, 100))}, []string{"Observation/ob2"}},
		{"composite components of different elements", obs, []query.Clause{composite("component-code-value-quantity", compV("8462-4", query.GT, 100))}, nil},
		{"composite OR", obs, []query.Clause{composite("component-code-value-quantity", compV("8462-4", query.GT, 100), compV("8462-4", query.LT, 100))}, []string{"Observation/ob2"}},
		{"composite with system", obs, []query.Clause{{Param: "code-value-quantity", Type: query.TypeComposite, Components: [][]query.Clause{{
			clause("code", query.TypeToken, "", sysV(loinc, "29463-7")),
			clause("value-quantity", query.TypeQuantity, "", query.Value{Prefix: query.EQ, Num: 70, NumLow: 69.5, NumHigh: 70.5, Unit: "kg"})}}}}, []string{"Observation/ob1"}},
		{"composite :missing", obs, []query.Clause{{Param: "code-value-quantity", Type: query.TypeComposite, Missing: &yes}}, []string{"Observation/ob2", "Observation/ob3"}},
		{"composite :missing=false", obs, []query.Clause{{Param: "component-code-value-quantity", Type: query.TypeComposite, Missing: &no}}, []string{"Observation/ob2"}},
		// chain and reverse chain
		{"chain", obs, []query.Clause{{Param: "subject", Type: query.TypeReference, TargetTypes: []string{"Patient"},
			Chain: &query.Clause{Param: "family", Type: query.TypeString, Values: []query.Value{strV("smyth")}}}}, []string{"Observation/ob2"}},
		{"chain two levels", obs, []query.Clause{{Param: "subject", Type: query.TypeReference, TargetTypes: []string{"Patient"},
			Chain: &query.Clause{Param: "organization", Type: query.TypeReference, TargetTypes: []string{"Organization"},
				Chain: &query.Clause{Param: "name", Type: query.TypeString, Values: []query.Value{strV("acme")}}}}}, []string{"Observation/ob1", "Observation/ob3"}},
		{"chain and a clause", obs, []query.Clause{
			clause("code", query.TypeToken, "", tokV("8302-2")),
			{Param: "subject", Type: query.TypeReference, Chain: &query.Clause{Param: "gender", Type: query.TypeToken, Values: []query.Value{tokV("male")}}}},
			[]string{"Observation/ob3"}},
		{"chain on _id", pat, []query.Clause{{Param: "organization", Type: query.TypeReference,
			Chain: &query.Clause{Param: "_id", Type: query.TypeToken, Values: []query.Value{tokV("o1")}}}}, []string{"Patient/p1"}},
		{"has", pat, []query.Clause{{Param: "_has", Has: &query.Has{Type: "Observation", RefParam: "subject",
			Where: clause("code", query.TypeToken, "", sysV(loinc, "8302-2"))}}}, []string{"Patient/p1", "Patient/p2"}},
		{"has and a clause", pat, []query.Clause{
			clause("gender", query.TypeToken, "", tokV("male")),
			{Param: "_has", Has: &query.Has{Type: "Observation", RefParam: "subject", Where: clause("status", query.TypeToken, "", tokV("preliminary"))}}},
			[]string{"Patient/p1"}},
		{"has nested", []string{"Organization"}, []query.Clause{{Param: "_has", Has: &query.Has{Type: "Patient", RefParam: "organization",
			Where: query.Clause{Param: "_has", Has: &query.Has{Type: "Observation", RefParam: "subject", Where: clause("code", query.TypeToken, "", tokV("29463-7"))}}}}},
			[]string{"Organization/o1"}},
		// several types and none
		{"system search by type list", []string{"Organization", "Patient"}, nil, []string{"Organization/o1", "Organization/o2", "Patient/p1", "Patient/p2", "Patient/p3"}},
		{"system search, every type", nil, []query.Clause{clause("_id", query.TypeToken, "", tokV("p1"), tokV("o1"), tokV("p4"))}, []string{"Organization/o1", "Patient/p1"}},
		{"system search on a shared param", nil, []query.Clause{clause("identifier", query.TypeToken, "", tokV("acme"), tokV("222"))}, []string{"Organization/o1", "Patient/p2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := &query.Query{Types: c.types, Where: c.where, Count: 100, Total: true}
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
			sort  []query.SortKey
			want  []string
		}{
			{"string asc", pat, []query.SortKey{{Param: "family", Type: query.TypeString}}, []string{"p3", "p1", "p2"}},
			{"string desc", pat, []query.SortKey{{Param: "family", Type: query.TypeString, Desc: true}}, []string{"p2", "p1", "p3"}},
			{"date asc (earliest start)", pat, []query.SortKey{{Param: "birthdate", Type: query.TypeDate}}, []string{"p3", "p1", "p2"}},
			{"date desc (latest end)", pat, []query.SortKey{{Param: "birthdate", Type: query.TypeDate, Desc: true}}, []string{"p2", "p3", "p1"}},
			{"token, missing last", pat, []query.SortKey{{Param: "gender", Type: query.TypeToken}}, []string{"p2", "p1", "p3"}},
			{"token desc, missing last", pat, []query.SortKey{{Param: "gender", Type: query.TypeToken, Desc: true}}, []string{"p1", "p2", "p3"}},
			{"_id desc", pat, []query.SortKey{{Param: "_id", Type: query.TypeToken, Desc: true}}, []string{"p3", "p2", "p1"}},
			{"_lastUpdated desc", pat, []query.SortKey{{Param: "_lastUpdated", Type: query.TypeDate, Desc: true}}, []string{"p3", "p2", "p1"}},
			{"two keys", obs, []query.SortKey{{Param: "code", Type: query.TypeToken}, {Param: "date", Type: query.TypeDate, Desc: true}}, []string{"ob1", "ob2", "ob3"}},
			{"quantity", obs, []query.SortKey{{Param: "value-quantity", Type: query.TypeQuantity, Desc: true}}, []string{"ob3", "ob2", "ob1"}},
			{"number", []string{"RiskAssessment"}, []query.SortKey{{Param: "probability", Type: query.TypeNumber, Desc: true}}, []string{"ra2", "ra1"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				// Whole, then page by page both ways: every page size must
				// give the same order, with no duplicate and no gap.
				for _, count := range []int{100, 1, 2} {
					q := &query.Query{Types: c.types, Sort: c.sort, Count: count}
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
		q := &query.Query{Types: []string{"Observation", "Patient"}, Count: 2, Total: true}
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
		res, err := s.Search(ctx, &query.Query{Types: pat, Count: 0, Total: true,
			Where: []query.Clause{clause("family", query.TypeString, "", strV("sm"))}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Resources) != 0 || res.Total != 2 || res.Next != "" {
			t.Errorf("got %d resources, Total %d, Next %q; want none, 2, none", len(res.Resources), res.Total, res.Next)
		}
		res, err = s.Search(ctx, &query.Query{Types: pat, Count: 10})
		if err != nil || res.Total != -1 {
			t.Errorf("Total not asked: %d, %v; want -1", res.Total, err)
		}
	})
}
