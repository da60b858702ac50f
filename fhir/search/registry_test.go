package search

import (
	"github.com/dccfhir/dccfhir/fhir/search/internal/restrict"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"net/url"
	"sync"
	"testing"
)

func TestRegistryTable(t *testing.T) {
	reg := Default()
	for _, tc := range []struct {
		typ, code string
		pt        query.ParamType
		expr      string
	}{
		{"Observation", "patient", query.TypeReference, "Observation.subject.where(resolve() is Patient)"},
		{"AllergyIntolerance", "patient", query.TypeReference, "AllergyIntolerance.patient"},
		{"MedicationRequest", "code", query.TypeToken, "(MedicationRequest.medication as CodeableConcept)"},
		{"RiskAssessment", "date", query.TypeDate, "(RiskAssessment.occurrence as dateTime)"},
		{"Patient", "_id", query.TypeToken, "Patient.id"},
		{"Bundle", "_lastUpdated", query.TypeDate, "Bundle.meta.lastUpdated"},
		{"Patient", "_profile", query.TypeURI, "Patient.meta.profile"},
		{"Resource", "_id", query.TypeToken, "Resource.id"},
		{"InsurancePlan", "name", query.TypeString, "name | alias"},
		{"Observation", "code-value-date", query.TypeComposite, "Observation"},
	} {
		p := reg.Lookup(tc.typ, tc.code)
		if p == nil {
			t.Errorf("%s.%s missing", tc.typ, tc.code)
			continue
		}
		if p.Type != tc.pt || p.Expression != tc.expr {
			t.Errorf("%s.%s = %s %q", tc.typ, tc.code, p.Type, p.Expression)
		}
	}
	if p := reg.Lookup("Patient", "_text"); p == nil || p.Unsupported == "" {
		t.Errorf("_text should be known and unsupported: %+v", p)
	}
	if reg.Lookup("Bundle", "_text") != nil {
		t.Error("Bundle is not a DomainResource")
	}
	p := reg.Lookup("Observation", "code-value-date")
	if len(p.Components) != 2 || p.Components[1].Expression != "value.as(dateTime) | value.as(Period)" || p.Components[1].Type != query.TypeDate {
		t.Errorf("components = %+v", p.Components)
	}
	if !reg.Lookup("Observation", "subject").HasTarget("Patient") {
		t.Error("subject targets")
	}
	ps := reg.Params("Patient")
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Code >= ps[i].Code {
			t.Fatal("Params not sorted")
		}
	}
}

func TestRestrictExpr(t *testing.T) {
	for _, tc := range []struct {
		expr, base, typ string
		multi           bool
		want            string
	}{
		{"A.x | B.y.where(resolve() is Patient) | (C.z as Quantity)", "B", "B", true, "B.y.where(resolve() is Patient)"},
		{"A.x | B.y | (C.z as Quantity) | (C.w as Range)", "C", "C", true, "(C.z as Quantity) | (C.w as Range)"},
		{"Resource.meta.tag", "Resource", "Patient", false, "Patient.meta.tag"},
		{"name | alias", "InsurancePlan", "InsurancePlan", false, "name | alias"},
		{"A.x.where(a = 'p|q') | B.y", "A", "A", true, "A.x.where(a = 'p|q')"},
	} {
		if got := restrict.Expr(tc.expr, tc.base, tc.typ, tc.multi); got != tc.want {
			t.Errorf("restrictExpr(%q, %s) = %q, want %q", tc.expr, tc.base, got, tc.want)
		}
	}
}

func TestCustomSearchParameter(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	sp := decodeString(t, `{"resourceType":"SearchParameter","url":"http://x.org/sp/mothers-maiden","code":"mothers-maiden-name",
		"base":["Patient"],"type":"string","status":"active",
		"expression":"Patient.extension.where(url='http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName').value.as(string)"}`)
	before := Default().Lookup("Patient", "mothers-maiden-name")
	if err := reg.AddResource(sp); err != nil {
		t.Fatal(err)
	}
	if before != nil || Default().Lookup("Patient", "mothers-maiden-name") != nil {
		t.Error("custom parameter leaked into another registry")
	}
	p := reg.Lookup("Patient", "mothers-maiden-name")
	if p == nil || p.Type != query.TypeString {
		t.Fatalf("custom = %+v", p)
	}
	res := decodeString(t, `{"resourceType":"Patient","id":"p","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":"Müller"}]}`)
	idx, err := Extract(reg, "Patient", res)
	if err != nil {
		t.Fatal(err)
	}
	if !has(idx, query.StringEntry{Param: "mothers-maiden-name", Norm: "muller", Exact: "Müller"}) {
		t.Errorf("custom extraction: %+v", idx.Strings)
	}
	q, unk, err := Parse(reg, "Patient", url.Values{"mothers-maiden-name": {"mul"}})
	if err != nil || len(unk) != 0 || len(q.Where) != 1 {
		t.Errorf("parse custom: %v %v %+v", err, unk, q)
	}

	// Composite built from registered components, on several bases.
	comp := decodeString(t, `{"resourceType":"SearchParameter","url":"http://x.org/sp/c","code":"code-status","base":["Observation","Condition"],"type":"composite","status":"active",
		"expression":"Observation | Condition","component":[{"definition":"http://hl7.org/fhir/SearchParameter/clinical-code","expression":"code"},{"definition":"http://hl7.org/fhir/SearchParameter/Observation-status","expression":"status"}]}`)
	ps, err := reg.ParamsFromResource(comp)
	if err != nil || len(ps) != 2 || ps[0].Expression != "Observation" || ps[1].Expression != "Condition" {
		t.Fatalf("composite: %v %+v", err, ps)
	}
	for _, bad := range []string{
		`{"resourceType":"SearchParameter","base":["Patient"],"type":"string"}`,
		`{"resourceType":"SearchParameter","code":"x","base":["Patient"],"type":"nope"}`,
		`{"resourceType":"SearchParameter","code":"x","base":["Nope"],"type":"string","expression":"Nope.x"}`,
		`{"resourceType":"SearchParameter","code":"x","base":["Patient"],"type":"string","expression":"Patient.("}`,
		`{"resourceType":"SearchParameter","code":"x","base":["Patient"],"type":"composite","expression":"Patient","component":[{"definition":"http://nope","expression":"a"}]}`,
	} {
		if _, err := reg.ParamsFromResource(decodeString(t, bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestRegistryConcurrent adds parameters while others read (run with -race).
func TestRegistryConcurrent(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if reg.Lookup("Patient", "name") == nil || len(reg.Params("Patient")) == 0 {
					t.Error("lost a parameter")
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		code := string(rune('a'+i)) + "-custom"
		if err := reg.Add(&Param{Base: "Patient", Code: code, Type: query.TypeToken, URL: "http://x/" + code, Expression: "Patient.gender"}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if reg.Lookup("Patient", "t-custom") == nil || len(reg.ByURL("http://x/a-custom")) != 1 {
		t.Error("custom parameters missing")
	}
}
