package search

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

func mustParse(t *testing.T, typ, qs string) (*query.Query, []Unknown) {
	t.Helper()
	vals, err := url.ParseQuery(qs)
	if err != nil {
		t.Fatal(err)
	}
	q, unk, err := Parse(Default(), typ, vals)
	if err != nil {
		t.Fatalf("Parse(%s, %q): %v", typ, qs, err)
	}
	return q, unk
}

// TestParseCanonical checks what each syntax parses to through the
// canonical string (which spells out every parsed field).
func TestParseCanonical(t *testing.T) {
	for _, tc := range []struct {
		typ, in, want string
	}{
		{"Patient", "", "_count=20"},
		{"Patient", "_id=123", "_id=123&_count=20"},
		{"Patient", "_id=1,2", "_id=1,2&_count=20"},
		{"Patient", "name=Hélène&name=Smith", "name=Hélène&name=Smith&_count=20"},
		{"Patient", "name:exact=Smith", "name:exact=Smith&_count=20"},
		{"Patient", "name:contains=mit", "name:contains=mit&_count=20"},
		{"Patient", "family=a\\,b,c", "family=a\\,b,c&_count=20"},
		{"Patient", "identifier=http://x.org|123", "identifier=http://x.org|123&_count=20"},
		{"Patient", "identifier=|123", "identifier=|123&_count=20"},
		{"Patient", "identifier=http://x.org|", "identifier=http://x.org|&_count=20"},
		{"Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053&_count=20"},
		{"Patient", "gender:not=male", "gender:not=male&_count=20"},
		{"Patient", "gender:missing=true", "gender:missing=true&_count=20"},
		{"Observation", "code:text=Blood", "code:text=Blood&_count=20"},
		{"Observation", "code:in=http://vs", "code:in=http://vs&_count=20"},
		{"Observation", "code:not-in=http://vs", "code:not-in=http://vs&_count=20"},
		{"Observation", "code:below=http://snomed.info/sct|123", "code:below=http://snomed.info/sct|123&_count=20"},
		{"Observation", "date=ge2020-01-01&date=lt2021", "date=ge2020-01-01&date=lt2021&_count=20"},
		{"Observation", "date=eq2020", "date=2020&_count=20"},
		{"Observation", "value-quantity=gt5.4|http://unitsofmeasure.org|mg", "value-quantity=gt5.4|http://unitsofmeasure.org|mg&_count=20"},
		{"Observation", "value-quantity=5.4||mg", "value-quantity=5.4||mg&_count=20"},
		{"Observation", "value-quantity=ap5.4", "value-quantity=ap5.4&_count=20"},
		{"RiskAssessment", "probability=gt0.8", "probability=gt0.8&_count=20"},
		{"Observation", "subject=Patient/123", "subject=Patient/123&_count=20"},
		{"Observation", "subject:Patient=123", "subject:Patient=123&_count=20"},
		{"Observation", "subject=123", "subject=123&_count=20"},
		{"Observation", "specimen=123", "specimen=Specimen/123&_count=20"},
		{"Observation", "subject=http://other.org/fhir/Patient/1", "subject=http://other.org/fhir/Patient/1&_count=20"},
		{"Observation", "subject:identifier=http://x|9", "subject:identifier=http://x|9&_count=20"},
		{"Observation", "subject:Patient.name=peter", "subject:Patient.name=peter&_count=20"},
		{"Observation", "patient.organization.identifier=x", "patient:Patient.organization:Organization.identifier=x&_count=20"},
		{"Patient", "_has:Observation:patient:code=1234-5", "_has:Observation:patient:code=1234-5&_count=20"},
		{"Patient", "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1", "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1&_count=20"},
		{"Observation", "code-value-quantity=http://loinc.org|8480-6$gt100|http://unitsofmeasure.org|mm[Hg],http://loinc.org|8462-4$lt60", "code-value-quantity=http://loinc.org|8480-6$gt100|http://unitsofmeasure.org|mm[Hg],http://loinc.org|8462-4$lt60&_count=20"},
		{"Observation", "component-code-value-quantity=8480-6$100", "component-code-value-quantity=8480-6$100&_count=20"},
		{"ValueSet", "url=http://hl7.org/fhir/ValueSet/x", "url=http://hl7.org/fhir/ValueSet/x&_count=20"},
		{"ValueSet", "url:below=http://hl7.org/fhir/", "url:below=http://hl7.org/fhir/&_count=20"},
		{"Patient", "_sort=-birthdate,name&_count=5&_total=accurate", "_sort=-birthdate,name&_count=5&_total=accurate"},
		{"Patient", "_count=100000", "_count=1000"},
		{"Patient", "_summary=count", "_summary=count"},
		{"Patient", "_summary=true&_elements=name,gender", "_count=20&_summary=true&_elements=name,gender"},
		{"Observation", "_include=Observation:subject&_include:iterate=Patient:organization&_revinclude=Provenance:target", "_count=20&_include=Observation:subject&_include:iterate=Patient:organization&_revinclude=Provenance:target"},
		{"Observation", "_include=Observation:subject:Patient&_include=*", "_count=20&_include=Observation:subject:Patient&_include=Observation:*"},
		{"", "_type=Patient,Practitioner&_id=1", "_id=1&_type=Patient,Practitioner&_count=20"},
		{"", "_lastUpdated=gt2020-01-01T00:00:00Z", "_lastUpdated=gt2020-01-01T00:00:00Z&_count=20"},
		{"Patient", "_tag=http://t|a&_security=|R&_profile=http://p", "_profile=http://p&_security=|R&_tag=http://t|a&_count=20"},
		{"Patient", "name=&_format=json&_pretty=true", "_count=20"},
	} {
		q, unk := mustParse(t, tc.typ, tc.in)
		if len(unk) > 0 {
			t.Errorf("%s?%s: unknown %v", tc.typ, tc.in, unk)
		}
		got, _ := url.QueryUnescape(q.Encode(tc.typ))
		if got != tc.want {
			t.Errorf("%s?%s\n got %s\nwant %s", tc.typ, tc.in, got, tc.want)
		}
		// The canonical string is a fixed point.
		q2, _ := mustParse(t, tc.typ, q.Encode(tc.typ))
		if again := q2.Encode(tc.typ); again != q.Encode(tc.typ) {
			t.Errorf("%s?%s: canonical form not stable: %s", tc.typ, tc.in, again)
		}
	}
}

func TestParseValues(t *testing.T) {
	q, _ := mustParse(t, "Patient", "name=Hélène,Bob&identifier=http://x|a\\|b&birthdate=2020-03")
	if len(q.Where) != 3 {
		t.Fatalf("Where = %+v", q.Where)
	}
	bd, id, name := q.Where[0], q.Where[1], q.Where[2]
	if name.Param != "name" || name.Type != query.TypeString || len(name.Values) != 2 || name.Values[0].Str != "helene" || name.Values[1].Str != "bob" {
		t.Errorf("name = %+v", name)
	}
	if v := id.Values[0]; !v.HasSystem || v.System != "http://x" || v.Code != "a|b" {
		t.Errorf("identifier = %+v", v)
	}
	lo, hi, _ := query.DateRange("2020-03")
	if v := bd.Values[0]; v.Prefix != query.EQ || v.DateLow != lo || v.DateHigh != hi {
		t.Errorf("birthdate = %+v", v)
	}

	q, _ = mustParse(t, "Observation", "patient.name=x&code-value-quantity=http://loinc.org|1$le5|http://unitsofmeasure.org|mg")
	cv, pn := q.Where[0], q.Where[1]
	if pn.Param != "patient" || pn.Type != query.TypeReference || !reflect.DeepEqual(pn.TargetTypes, []string{"Patient"}) ||
		pn.Chain == nil || pn.Chain.Param != "name" || pn.Chain.Values[0].Str != "x" {
		t.Errorf("patient.name = %+v", pn)
	}
	if len(cv.Components) != 1 || len(cv.Components[0]) != 2 {
		t.Fatalf("composite = %+v", cv)
	}
	c0, c1 := cv.Components[0][0], cv.Components[0][1]
	if c0.Param != "code" || c0.Type != query.TypeToken || c0.Values[0].System != "http://loinc.org" || c0.Values[0].Code != "1" {
		t.Errorf("component 0 = %+v", c0)
	}
	if c1.Param != "value-quantity" || c1.Type != query.TypeQuantity || c1.Values[0].Prefix != query.LE || c1.Values[0].Num != 5 ||
		c1.Values[0].NumLow != 4.5 || c1.Values[0].Unit != "mg" || c1.Values[0].System != "http://unitsofmeasure.org" {
		t.Errorf("component 1 = %+v", c1)
	}

	q, _ = mustParse(t, "Patient", "_has:Observation:patient:code=1234")
	h := q.Where[0]
	if h.Has == nil || h.Has.Type != "Observation" || h.Has.RefParam != "patient" || h.Has.Where.Param != "code" || h.Has.Where.Values[0].Code != "1234" {
		t.Errorf("_has = %+v", h)
	}

	q, _ = mustParse(t, "Observation", "subject=Patient/1/_history/2&_sort=-date,_id")
	if v := q.Where[0].Values[0]; v.RefType != "Patient" || v.RefID != "1" {
		t.Errorf("versioned ref = %+v", v)
	}
	if !reflect.DeepEqual(q.Sort, []query.SortKey{{Param: "date", Type: query.TypeDate, Desc: true}, {Param: "_id", Type: query.TypeToken, Desc: false}}) {
		t.Errorf("sort = %+v", q.Sort)
	}

	q, _ = mustParse(t, "Observation", "_summary=count&_count=5")
	if q.Count != 0 || !q.Total {
		t.Errorf("_summary=count: %+v", q)
	}
	q, _ = mustParse(t, "Patient", "instantiates-canonical=http://x|1.0")
	_ = q
}

func TestParseUnknown(t *testing.T) {
	for _, tc := range []struct {
		typ, in string
		names   []string
	}{
		{"Patient", "foo=bar", []string{"foo"}},
		{"Patient", "_text=x&_content=y&_list=z&_filter=a&_query=q", []string{"_content", "_filter", "_list", "_query", "_text"}},
		{"Location", "near=1|2|3|km", []string{"near"}},
		{"Patient", "_sort=nonsense", []string{"_sort"}},
		{"Patient", "_type=Patient", []string{"_type"}},
		{"Observation", "subject.nonsense=1", []string{"subject.nonsense"}},
		{"Patient", "_has:Observation:nonsense:code=1", []string{"_has:Observation:nonsense:code"}},
		{"", "_type=Patient,Observation&name=x", []string{"name"}},
		{"Patient", "_contained=true", []string{"_contained"}},
	} {
		_, unk := mustParse(t, tc.typ, tc.in)
		var names []string
		for _, u := range unk {
			names = append(names, u.Name)
			if u.Reason == "" {
				t.Errorf("%s: no reason", u.Name)
			}
		}
		if !reflect.DeepEqual(names, tc.names) {
			t.Errorf("%s?%s: unknown %v, want %v", tc.typ, tc.in, names, tc.names)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		typ, in, param string
	}{
		{"Patient", "birthdate=2020-13", "birthdate"},
		{"Patient", "birthdate=xx2020", "birthdate"},
		{"Patient", "birthdate=gt", "birthdate"},
		{"RiskAssessment", "probability=abc", "probability"},
		{"Observation", "value-quantity=5|mg", "value-quantity"},
		{"Observation", "code-value-quantity=1234", "code-value-quantity"},
		{"Observation", "code-value-quantity=1$zz5", "code-value-quantity"},
		{"Patient", "gender:missing=maybe", "gender"},
		{"Patient", "gender:exact=male", "gender"},
		{"Patient", "name:not=x", "name"},
		{"Patient", "name:text:exact=x", "name"},
		{"Patient", "name.family=x", "name.family"},
		{"Observation", "subject:Medication=1", "subject"},
		{"Observation", "subject:Bogus.name=1", "subject"},
		{"Observation", "subject=Bogus/1", "subject"},
		{"Observation", "subject=a/b/c", "subject"},
		{"Patient", "identifier:of-type=a|b", "identifier"},
		{"Patient", "_count=-1", "_count"},
		{"Patient", "_count=ten", "_count"},
		{"Patient", "_total=some", "_total"},
		{"Patient", "_summary=maybe", "_summary"},
		{"Patient", "_include=Patient", "_include"},
		{"Patient", "_include=Patient:name", "_include"},
		{"Patient", "_include=Bogus:x", "_include"},
		{"Patient", "_include:deep=Patient:organization", "_include"},
		{"Patient", "_revinclude=Observation:patient:Bogus", "_revinclude"},
		{"", "_type=Bogus", "_type"},
		{"Patient", "_has:Observation:code:code=1", "_has"},
		{"Patient", "_has:Bogus:patient:code=1", "_has"},
		{"Patient", "_has:Observation=1", "_has"},
	} {
		vals, _ := url.ParseQuery(tc.in)
		_, _, err := Parse(Default(), tc.typ, vals)
		var fe *fhir.Error
		if !errors.As(err, &fe) {
			t.Errorf("%s?%s: err = %v, want *fhir.Error", tc.typ, tc.in, err)
			continue
		}
		if fe.Status != 400 || (fe.Issues[0].Code != "invalid" && fe.Issues[0].Code != "processing") {
			t.Errorf("%s?%s: %d %s", tc.typ, tc.in, fe.Status, fe.Issues[0].Code)
		}
		if !strings.Contains(fe.Error(), tc.param) {
			t.Errorf("%s?%s: diagnostics %q do not name %s", tc.typ, tc.in, fe.Error(), tc.param)
		}
	}
}

func TestParserCounts(t *testing.T) {
	p := &Parser{Registry: Default(), DefaultCount: 50, MaxCount: 200}
	q, _, _ := p.Parse("Patient", url.Values{})
	if q.Count != 50 {
		t.Errorf("default count %d", q.Count)
	}
	q, _, _ = p.Parse("Patient", url.Values{"_count": {"500"}})
	if q.Count != 200 {
		t.Errorf("capped count %d", q.Count)
	}
}
