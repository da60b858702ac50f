package model

import (
	"slices"
	"testing"
)

func TestLookupElements(t *testing.T) {
	tests := []struct {
		typ, elem string
		types     []string
		min, max  int
		summary   bool
		modifier  bool
		choice    bool
	}{
		{"Patient", "birthDate", []string{"date"}, 0, 1, true, false, false},
		{"Patient", "name", []string{"HumanName"}, 0, -1, true, false, false},
		{"Patient", "active", []string{"boolean"}, 0, 1, true, true, false},
		{"Patient", "contact", []string{"Patient.contact"}, 0, -1, false, false, false},
		{"Patient", "deceased", []string{"boolean", "dateTime"}, 0, 1, true, true, true},
		{"Patient", "deceasedDateTime", []string{"dateTime"}, 0, 1, true, true, true},
		{"Patient", "id", []string{"id"}, 0, 1, true, false, false},
		{"Patient.contact", "name", []string{"HumanName"}, 0, 1, false, false, false},
		{"Observation", "valueQuantity", []string{"Quantity"}, 0, 1, true, false, true},
		{"Observation", "status", []string{"code"}, 1, 1, true, true, false},
		{"Questionnaire.item", "item", []string{"Questionnaire.item"}, 0, -1, false, false, false},
		{"Questionnaire.item.item", "linkId", []string{"string"}, 1, 1, false, false, false},
		{"HumanName", "given", []string{"string"}, 0, -1, true, false, false},
		{"Extension", "url", []string{"uri"}, 1, 1, false, false, false},
		{"Extension", "valueCodeableConcept", []string{"CodeableConcept"}, 0, 1, false, false, true},
		{"Timing.repeat", "bounds", []string{"Duration", "Range", "Period"}, 0, 1, true, false, true},
		{"SimpleQuantity", "value", []string{"decimal"}, 0, 1, true, false, false},
		{"FHIR.Bundle.entry", "resource", []string{"Resource"}, 0, 1, true, false, false},
	}
	for _, tt := range tests {
		ty := Lookup(tt.typ)
		if ty == nil {
			t.Errorf("Lookup(%q) = nil", tt.typ)
			continue
		}
		e := ty.Element(tt.elem)
		if e == nil {
			t.Errorf("%s.Element(%q) = nil", tt.typ, tt.elem)
			continue
		}
		if !slices.Equal(e.Types, tt.types) || e.Min != tt.min || e.Max != tt.max || e.Summary != tt.summary || e.Modifier != tt.modifier || e.Choice != tt.choice {
			t.Errorf("%s.%s = %+v", tt.typ, tt.elem, *e)
		}
	}
}

func TestPredicates(t *testing.T) {
	tests := []struct {
		name               string
		resource, primitve bool
	}{
		{"Patient", true, false}, {"DomainResource", true, false}, {"Resource", true, false},
		{"HumanName", false, false}, {"string", false, true}, {"dateTime", false, true},
		{"Patient.contact", false, false}, {"Nope", false, false},
	}
	for _, tt := range tests {
		if IsResource(tt.name) != tt.resource || IsPrimitive(tt.name) != tt.primitve {
			t.Errorf("%s: IsResource=%v IsPrimitive=%v", tt.name, IsResource(tt.name), IsPrimitive(tt.name))
		}
	}
	isa := []struct {
		name, base string
		want       bool
	}{
		{"Patient", "DomainResource", true}, {"Patient", "Resource", true}, {"Bundle", "DomainResource", false},
		{"Age", "Quantity", true}, {"code", "string", true}, {"string", "code", false},
		{"Patient.contact", "BackboneElement", true}, {"Quantity", "SimpleQuantity", true},
	}
	for _, tt := range isa {
		if got := IsA(tt.name, tt.base); got != tt.want {
			t.Errorf("IsA(%q, %q) = %v", tt.name, tt.base, got)
		}
	}
}

func TestSummaryAndBinding(t *testing.T) {
	var sum []string
	for _, e := range Lookup("Patient").Elements {
		if e.Summary {
			sum = append(sum, e.Name)
		}
	}
	want := []string{"id", "meta", "implicitRules", "identifier", "active", "name", "telecom", "gender", "birthDate", "deceased[x]", "address", "managingOrganization", "link"}
	if !slices.Equal(sum, want) {
		t.Errorf("Patient summary = %v", sum)
	}
	g := Lookup("Patient").Element("gender")
	if g.Binding != "required" || g.ValueSet == "" {
		t.Errorf("gender binding = %q %q", g.Binding, g.ValueSet)
	}
	if s := Lookup("Observation").Element("subject"); s.Targets == nil || !slices.Contains(s.Targets[0], "Patient") {
		t.Errorf("Observation.subject targets = %v", s.Targets)
	}
	if n := len(Names()); n < 600 {
		t.Errorf("only %d types", n)
	}
}

func BenchmarkElement(b *testing.B) {
	ty := Lookup("Observation")
	for b.Loop() {
		_ = ty.Element("valueQuantity")
	}
}

func BenchmarkIsA(b *testing.B) {
	for b.Loop() {
		_ = IsA("Observation", "AllergyIntolerance")
		_ = IsA("Observation", "DomainResource")
	}
}
