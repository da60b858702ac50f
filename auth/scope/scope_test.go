package scope

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

const (
	condCat = "http://terminology.hl7.org/CodeSystem/condition-category"
	usCore  = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
	obsCat  = "http://terminology.hl7.org/CodeSystem/observation-category"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in    string
		want  []Clinical // raw left out
		other []string
		bad   []string
	}{
		{in: "patient/Observation.rs", want: []Clinical{{Context: "patient", Type: "Observation", Letters: "rs"}}},
		{in: "user/*.cruds system/Patient.c", want: []Clinical{{Context: "user", Type: "*", Letters: "cruds"}, {Context: "system", Type: "Patient", Letters: "c"}}},
		{in: "patient/Observation.read", want: []Clinical{{Context: "patient", Type: "Observation", Letters: "rs", V1: true}}},
		{in: "user/Patient.write", want: []Clinical{{Context: "user", Type: "Patient", Letters: "cud", V1: true}}},
		{in: "system/*.*", want: []Clinical{{Context: "system", Type: "*", Letters: "cruds", V1: true}}},
		{in: "patient/Condition.rs?category=" + condCat + "|encounter-diagnosis",
			want: []Clinical{{Context: "patient", Type: "Condition", Letters: "rs", Query: url.Values{"category": {condCat + "|encounter-diagnosis"}}}}},
		{in: "patient/Observation.rs?category=a&code=b",
			want: []Clinical{{Context: "patient", Type: "Observation", Letters: "rs", Query: url.Values{"category": {"a"}, "code": {"b"}}}}},
		{in: "openid fhirUser profile launch launch/patient launch/encounter offline_access online_access",
			other: []string{"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access"}},
		{in: "  openid   openid patient/Patient.r patient/Patient.r ", other: []string{"openid"}, want: []Clinical{{Context: "patient", Type: "Patient", Letters: "r"}}},
		// refused
		{in: "patient/Observation.dus", bad: []string{"patient/Observation.dus"}},
		{in: "patient/Observation.rr", bad: []string{"patient/Observation.rr"}},
		{in: "patient/Observation.rx", bad: []string{"patient/Observation.rx"}},
		{in: "patient/Observation.", bad: []string{"patient/Observation."}},
		{in: "patient/Observation", bad: []string{"patient/Observation"}},
		{in: "patient/Unicorn.rs", bad: []string{"patient/Unicorn.rs"}},
		{in: "patient/observation.rs", bad: []string{"patient/observation.rs"}},
		{in: "group/Observation.rs", bad: []string{"group/Observation.rs"}},
		{in: "Patient/Observation.rs", bad: []string{"Patient/Observation.rs"}},
		{in: "patient/Observation.rs?", bad: []string{"patient/Observation.rs?"}},
		{in: "patient/Observation.rs?category=", bad: []string{"patient/Observation.rs?category="}},
		{in: "patient/Observation.rs?category=,", bad: []string{"patient/Observation.rs?category=,"}},
		{in: "patient/Observation.rs?=x", bad: []string{"patient/Observation.rs?=x"}},
		{in: "patient/Observation.rs?a=%zz", bad: []string{"patient/Observation.rs?a=%zz"}},
		{in: "patient/Observation.rs?a=1;b=2", bad: []string{"patient/Observation.rs?a=1;b=2"}},
		{in: "scope_all openid launch/imagingstudy", other: []string{"openid"}, bad: []string{"scope_all", "launch/imagingstudy"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			set, bad := Parse(c.in)
			got := slices.Clone(set.Clinical)
			for i := range got {
				got[i].raw = ""
			}
			if !reflect.DeepEqual(got, c.want) || !slices.Equal(set.Other, c.other) || !slices.Equal(bad, c.bad) {
				t.Errorf("Parse(%q) = %+v %v, bad %v; want %+v %v, bad %v", c.in, got, set.Other, bad, c.want, c.other, c.bad)
			}
		})
	}
}

// TestStringAsWritten: String gives each scope back as it was written
// (v1 as v1), and what Narrow makes reads back as itself.
func TestStringAsWritten(t *testing.T) {
	in := "patient/Observation.read user/*.* system/Patient.rs?identifier=urn:oid:1.2.250.1.213.1.4.8|123 openid offline_access"
	set, bad := Parse(in)
	if len(bad) > 0 || set.String() != in {
		t.Errorf("String() = %q (bad %v), want %q", set.String(), bad, in)
	}
	if !set.Has("offline_access") || set.Has("launch") {
		t.Errorf("Has: offline_access %v, launch %v", set.Has("offline_access"), set.Has("launch"))
	}
	made := Clinical{Context: "patient", Type: "Observation", Letters: "rs", Query: url.Values{"code": {"a b+c&d%e;f"}, "category": {obsCat + "|laboratory"}}}
	s := made.String()
	if strings.ContainsAny(s, " ;") || !strings.Contains(s, obsCat+"|laboratory") {
		t.Errorf("made scope written %q", s)
	}
	back, bad := Parse(s)
	if len(bad) > 0 || len(back.Clinical) != 1 || !reflect.DeepEqual(back.Clinical[0].Query, made.Query) {
		t.Errorf("%q reads back as %+v (bad %v)", s, back, bad)
	}
}

func TestNarrow(t *testing.T) {
	cases := []struct{ name, asked, allowed, want string }{
		{"as registered", "patient/Observation.rs", "patient/Observation.rs", "patient/Observation.rs"},
		{"letters intersected", "patient/Observation.cruds", "patient/Observation.rs", "patient/Observation.rs"},
		{"nothing in common", "patient/Observation.c", "patient/Observation.rs", ""},
		{"wildcard registered, narrowed to the type asked", "patient/Observation.rs", "patient/*.r", "patient/Observation.r"},
		{"wildcard asked, narrowed to the types registered", "patient/*.rs", "patient/Observation.rs patient/Condition.r", "patient/Observation.rs patient/Condition.r"},
		{"contexts kept apart", "user/Observation.rs", "patient/*.cruds system/*.cruds", ""},
		{"v1 kept as written", "patient/Observation.read", "patient/*.*", "patient/Observation.read"},
		{"v1 narrowed below a v1 suffix", "patient/Observation.read", "patient/*.r", "patient/Observation.r"},
		{"v1 narrowed to another v1 suffix", "user/*.*", "user/Patient.rs", "user/Patient.read"},
		{"registered restriction kept", "patient/Observation.rs", "patient/Observation.rs?category=" + obsCat + "|laboratory",
			"patient/Observation.rs?category=" + obsCat + "|laboratory"},
		{"asked restriction kept", "patient/Condition.rs?category=" + condCat + "|problem-list-item", "patient/*.rs",
			"patient/Condition.rs?category=" + condCat + "|problem-list-item"},
		{"both restrictions AND", "patient/Observation.rs?category=a", "patient/Observation.rs?code=b", "patient/Observation.rs?category=a&code=b"},
		{"union, duplicates dropped", "patient/Observation.rs patient/*.rs", "patient/Observation.rs", "patient/Observation.rs"},
		{"other scopes kept when registered", "openid fhirUser launch/patient offline_access online_access profile launch",
			"openid fhirUser launch/patient offline_access", "openid fhirUser launch/patient offline_access"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := Parse(c.asked)
			r, _ := Parse(c.allowed)
			if got := Narrow(a, r).String(); got != c.want {
				t.Errorf("Narrow(%q, %q) = %q, want %q", c.asked, c.allowed, got, c.want)
			}
		})
	}
}

func TestGrant(t *testing.T) {
	p1 := []string{"p1"}
	encDiag, problem, concern := condCat+"|encounter-diagnosis", condCat+"|problem-list-item", usCore+"|health-concern"
	inferno := "patient/Condition.rs?category=" + encDiag + " patient/Condition.rs?category=" + problem + " patient/Condition.rs?category=" + concern +
		" patient/Observation.rs?category=" + obsCat + "|laboratory patient/Observation.rs?category=" + obsCat + "|vital-signs patient/Patient.rs"
	type ask struct {
		letter byte
		typ    string
		want   service.Grant
		err    string // part of the 403's message
	}
	cases := []struct {
		name, scopes, patient string
		asks                  []ask
	}{
		{"patient scope confines", "patient/Observation.rs", "p1", []ask{
			{letter: 'r', typ: "Observation", want: service.Grant{Confined: true, Patients: p1}},
			{letter: 's', typ: "Observation", want: service.Grant{Confined: true, Patients: p1}},
			{letter: 'c', typ: "Observation", err: "do not allow create of Observation: it needs patient/Observation.c (or user/, system/)"},
			{letter: 'u', typ: "Observation", err: "update of Observation"},
			{letter: 'd', typ: "Observation", err: "delete of Observation"},
			{letter: 'r', typ: "Condition", err: "it needs patient/Condition.r"},
			{letter: 's', typ: "*", err: "search of every resource type: it needs patient/*.s"},
		}},
		{"every letter of a wildcard", "user/*.cruds", "", []ask{
			{letter: 'c', typ: "Patient"}, {letter: 'r', typ: "Observation"}, {letter: 'u', typ: "Encounter"},
			{letter: 'd', typ: "Condition"}, {letter: 's', typ: "*"}, {letter: 's', typ: "Medication"},
		}},
		{"write does not imply read", "patient/Observation.c", "p1", []ask{
			{letter: 'c', typ: "Observation", want: service.Grant{Confined: true, Patients: p1}},
			{letter: 'r', typ: "Observation", err: "read of Observation"},
		}},
		{"v1 read is rs, write is cud", "user/Observation.read user/Patient.write", "", []ask{
			{letter: 'r', typ: "Observation"}, {letter: 's', typ: "Observation"},
			{letter: 'u', typ: "Observation", err: "update of Observation"},
			{letter: 'c', typ: "Patient"}, {letter: 'u', typ: "Patient"}, {letter: 'd', typ: "Patient"},
			{letter: 'r', typ: "Patient", err: "read of Patient"},
		}},
		{"patient scope without a patient allows nothing", "patient/*.rs", "", []ask{
			{letter: 'r', typ: "Observation", err: "needs a patient in the launch context"},
		}},
		{"unconfined wins over confined", "patient/*.rs user/Observation.rs", "p1", []ask{
			{letter: 'r', typ: "Observation"},
			{letter: 'r', typ: "Condition", want: service.Grant{Confined: true, Patients: p1}},
		}},
		{"unrestricted wins over restricted", "patient/Observation.rs?category=a patient/Observation.r", "p1", []ask{
			{letter: 'r', typ: "Observation", want: service.Grant{Confined: true, Patients: p1}},
			{letter: 's', typ: "Observation", want: service.Grant{Confined: true, Patients: p1, Restriction: url.Values{"category": {"a"}}}},
		}},
		{"unconfined restricted wins over confined", "user/Observation.rs?category=a patient/Observation.rs", "p1", []ask{
			{letter: 's', typ: "Observation", want: service.Grant{Restriction: url.Values{"category": {"a"}}}},
		}},
		{"Inferno fine-grained scopes: one parameter, values OR'ed", inferno, "p1", []ask{
			{letter: 's', typ: "Condition", want: service.Grant{Confined: true, Patients: p1, Restriction: url.Values{"category": {encDiag + "," + problem + "," + concern}}}},
			{letter: 'r', typ: "Condition", want: service.Grant{Confined: true, Patients: p1, Restriction: url.Values{"category": {encDiag + "," + problem + "," + concern}}}},
			{letter: 's', typ: "Observation", want: service.Grant{Confined: true, Patients: p1, Restriction: url.Values{"category": {obsCat + "|laboratory," + obsCat + "|vital-signs"}}}},
			{letter: 'r', typ: "Patient", want: service.Grant{Confined: true, Patients: p1}},
			{letter: 'c', typ: "Condition", err: "create of Condition"},
			{letter: 's', typ: "Encounter", err: "search of Encounter"},
		}},
		{"a wildcard's restriction merges with a type's", "patient/*.rs?_tag=a patient/Observation.rs?_tag=b", "p1", []ask{
			{letter: 's', typ: "Observation", want: service.Grant{Confined: true, Patients: p1, Restriction: url.Values{"_tag": {"a,b"}}}},
			{letter: 's', typ: "Condition", want: service.Grant{Confined: true, Patients: p1, Restriction: url.Values{"_tag": {"a"}}}},
		}},
		{"equal restrictions are one", "patient/Observation.rs?category=a&code=b patient/Observation.r?category=a&code=b", "p1", []ask{
			{letter: 'r', typ: "Observation", want: service.Grant{Confined: true, Patients: p1, Restriction: url.Values{"category": {"a"}, "code": {"b"}}}},
		}},
		{"restrictions on different parameters cannot be combined", "patient/Observation.rs?category=a patient/Observation.rs?code=b", "p1", []ask{
			{letter: 's', typ: "Observation", err: "cannot be combined"},
		}},
		{"restrictions of several parameters cannot be combined", "patient/Observation.rs?category=a&code=b patient/Observation.rs?category=c", "p1", []ask{
			{letter: 's', typ: "Observation", err: "patient/Observation.rs?category=a&code=b, patient/Observation.rs?category=c"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, bad := Parse(c.scopes)
			if len(bad) > 0 {
				t.Fatalf("bad scopes %v", bad)
			}
			a := set.Access(c.patient)
			for _, k := range c.asks {
				g, err := a.Grant(k.letter, k.typ)
				if k.err != "" {
					var fe *fhir.Error
					if !errors.As(err, &fe) || fe.Status != 403 || fe.Issues[0].Code != "forbidden" || !strings.Contains(fe.Issues[0].Diagnostics, k.err) {
						t.Errorf("Grant(%c, %s) = %+v, %v; want a 403 forbidden saying %q", k.letter, k.typ, g, err, k.err)
					}
					continue
				}
				if err != nil || !reflect.DeepEqual(g, k.want) {
					t.Errorf("Grant(%c, %s) = %+v, %v; want %+v", k.letter, k.typ, g, err, k.want)
				}
			}
		})
	}
}

// TestGrantAllocates: the common path (an unrestricted scope allows it)
// allocates nothing, confined or not.
func TestGrantAllocates(t *testing.T) {
	set, _ := Parse("openid fhirUser patient/Condition.rs?category=a patient/Observation.rs patient/Patient.r user/Practitioner.rs")
	a := set.Access("p1")
	for _, k := range []struct {
		l byte
		t string
	}{{'s', "Observation"}, {'r', "Practitioner"}, {'r', "Patient"}} {
		if n := testing.AllocsPerRun(100, func() { _, _ = a.Grant(k.l, k.t) }); n != 0 {
			t.Errorf("Grant(%c, %s) allocates %v times", k.l, k.t, n)
		}
	}
}

func BenchmarkGrant(b *testing.B) {
	set, _ := Parse("launch/patient openid fhirUser offline_access patient/AllergyIntolerance.rs patient/Condition.rs patient/Encounter.rs patient/Observation.rs patient/Patient.rs")
	a := set.Access("p1")
	for b.Loop() {
		_, _ = a.Grant('s', "Observation")
	}
}
