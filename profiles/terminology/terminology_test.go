package terminology

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/conformance"
	"github.com/dccfhir/dccfhir/profiles/dcc"
	"github.com/dccfhir/dccfhir/profiles/packages"
)

// frCorePath is the FR Core 2.2.0 tarball shared with the team; the FR Core
// cases skip when it is absent.
const frCorePath = "/work/shared/data/fhir-packages/hl7.fhir.fr.core-2.2.0.tgz"

const (
	gender       = "http://hl7.org/fhir/ValueSet/administrative-gender"
	genderCS     = "http://hl7.org/fhir/administrative-gender"
	obsStatus    = "http://hl7.org/fhir/ValueSet/observation-status"
	parentRel    = "http://hl7.org/fhir/ValueSet/parent-relationship-codes" // v3-RoleCode is-a PRN, is-a TWIN
	actCodeVS    = "http://terminology.hl7.org/ValueSet/v3-ActCode"
	roleCode     = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	conditionVS  = "http://hl7.org/fhir/ValueSet/condition-code" // SNOMED CT is-a: not expandable here
	snomed       = "http://snomed.info/sct"
	molecularVS  = "https://dcc.example.fr/fhir/ValueSet/dcc-vs-molecular-test"
	molecularCS  = "https://dcc.example.fr/fhir/CodeSystem/dcc-cs-molecular-test"
	circuitVS    = "https://dcc.example.fr/fhir/ValueSet/dcc-vs-circuit-business-status"
	circuitCS    = "https://dcc.example.fr/fhir/CodeSystem/dcc-cs-circuit-business-status"
	tnmTVS       = "https://dcc.example.fr/fhir/ValueSet/dcc-vs-tnm-t-category"
	tnmCS        = "https://dcc.example.fr/fhir/CodeSystem/dcc-cs-tnm-uicc8"
	lateralityVS = "https://dcc.example.fr/fhir/ValueSet/dcc-vs-laterality"
	fixture      = "https://test.example/fhir/"
)

var sets struct {
	sync.Once
	dcc, fr *conformance.Set
	err     error
}

// dccSet is the R4 base, the DCC IG and a few fixtures for what neither
// exercises (an unsupported filter, a property filter, a large code system,
// an import of an unknown value set).
func dccSet(t testing.TB) *conformance.Set {
	t.Helper()
	sets.Do(func() {
		pkg, err := packages.LoadFS(dcc.FS())
		if err != nil {
			sets.err = err
			return
		}
		if sets.dcc, sets.err = conformance.NewSet(pkg); sets.err != nil {
			return
		}
		big := make([]any, 1500)
		for i := range big {
			big[i] = map[string]any{"code": fmt.Sprintf("c%04d", i), "display": fmt.Sprintf("Code %d", i)}
		}
		for _, r := range []map[string]any{
			{"resourceType": "CodeSystem", "url": fixture + "CodeSystem/big", "name": "Big", "content": "complete", "concept": big},
			{"resourceType": "ValueSet", "url": fixture + "ValueSet/big", "name": "Big", "compose": map[string]any{"include": []any{map[string]any{"system": fixture + "CodeSystem/big"}}}},
			vsFilter("ihc", molecularCS, "technique", "=", "IHC"),
			vsFilter("bad-filter", molecularCS, "technique", "is-a", "IHC"),
			vsFilter("no-property", molecularCS, "colour", "=", "blue"),
			vsFilter("tnm-t", tnmCS, "concept", "descendent-of", "T"),
			{"resourceType": "ValueSet", "url": fixture + "ValueSet/imports-unknown", "name": "ImportsUnknown", "compose": map[string]any{"include": []any{map[string]any{"valueSet": []any{fixture + "ValueSet/nowhere"}}}}},
			// Intersection: the IHC tests of the lung catalogue.
			{"resourceType": "ValueSet", "url": fixture + "ValueSet/lung-ihc", "name": "LungIHC", "compose": map[string]any{"include": []any{map[string]any{
				"system":   molecularCS,
				"filter":   []any{map[string]any{"property": "tumourSite", "op": "=", "value": "lung"}},
				"valueSet": []any{fixture + "ValueSet/ihc"},
			}}}},
		} {
			if sets.err = sets.dcc.AddResource(r); sets.err != nil {
				return
			}
		}
		if _, err := os.Stat(frCorePath); err == nil {
			p, err := packages.LoadFile(frCorePath)
			if err != nil {
				sets.err = err
				return
			}
			sets.fr, sets.err = conformance.NewSet(p)
		}
	})
	if sets.err != nil {
		t.Fatal(sets.err)
	}
	return sets.dcc
}

func frSet(t *testing.T) *conformance.Set {
	dccSet(t)
	if sets.fr == nil {
		t.Skipf("FR Core package not available at %s", frCorePath)
	}
	return sets.fr
}

func vsFilter(name, system, prop, op, value string) map[string]any {
	return map[string]any{"resourceType": "ValueSet", "url": fixture + "ValueSet/" + name, "name": name, "compose": map[string]any{
		"include": []any{map[string]any{"system": system, "filter": []any{map[string]any{"property": prop, "op": op, "value": value}}}},
	}}
}

// failure is the status and issue code of an error (0, "" for none).
func failure(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return -1, err.Error()
	}
	return fe.Status, fe.Issues[0].Code
}

func contains(vs map[string]any) []map[string]any {
	exp, _ := vs["expansion"].(map[string]any)
	list, _ := exp["contains"].([]any)
	out := make([]map[string]any, len(list))
	for i, c := range list {
		out[i] = c.(map[string]any)
	}
	return out
}

func codes(vs map[string]any) []string {
	var out []string
	for _, c := range contains(vs) {
		out = append(out, c["code"].(string))
	}
	return out
}

func TestExpand(t *testing.T) {
	s := dccSet(t)
	tests := []struct {
		name      string
		set       func(*testing.T) *conformance.Set
		req       ExpandRequest
		status    int
		issue     string
		total     int
		codes     []string          // the page, exactly (nil: not checked)
		has, not  []string          // codes that must / must not be on the page
		displays  map[string]string // code → display
		abstracts []string
	}{
		{name: "administrative-gender", req: ExpandRequest{URL: gender, Count: -1}, total: 4,
			codes: []string{"male", "female", "other", "unknown"}, displays: map[string]string{"male": "Male", "unknown": "Unknown"}},
		{name: "observation-status paged", req: ExpandRequest{URL: obsStatus, Count: 3, Offset: 2}, total: 8,
			codes: []string{"final", "amended", "corrected"}},
		{name: "offset past the end", req: ExpandRequest{URL: obsStatus, Count: 3, Offset: 20}, total: 8, codes: []string{}},
		{name: "v3 is-a (polyhierarchy)", req: ExpandRequest{URL: parentRel, Count: -1},
			has: []string{"PRN", "MTH", "FTH", "NMTH", "STPPRN", "TWIN", "TWINBRO", "FTWIN"}, not: []string{"CHILD", "FAMMEMB", "SIB"},
			displays: map[string]string{"PRN": "parent", "MTH": "mother"}},
		{name: "v3 abstract flagged", req: ExpandRequest{URL: actCodeVS, Count: 2}, abstracts: []string{"_ActAccountCode"}, codes: []string{"_ActAccountCode", "ACCTRECEIVABLE"}},
		{name: "filter word prefix", req: ExpandRequest{URL: molecularVS, Filter: "mut egf", Count: -1}, total: 1, codes: []string{"EGFR"}},
		{name: "filter accents", req: ExpandRequest{URL: molecularVS, Filter: "REARRANGEMENT", Count: -1}, total: 3, codes: []string{"ALK", "ROS1", "RET"}},
		{name: "filter accented query", req: ExpandRequest{URL: circuitVS, Filter: "matériel", Count: -1}, total: 2, codes: []string{"material-sent-to-platform", "material-insufficient"}},
		{name: "filter punctuation", req: ExpandRequest{URL: molecularVS, Filter: "pd-l1", Count: -1}, codes: []string{"PD-L1"}},
		{name: "filter on code", req: ExpandRequest{URL: molecularVS, Filter: "ngs", Count: -1}, total: 4, has: []string{"NGS-LUNG", "NGS-LARGE"}},
		{name: "filter not mid-word", req: ExpandRequest{URL: molecularVS, Filter: "gfr", Count: -1}, total: 0, codes: []string{}},
		{name: "filter and paging", req: ExpandRequest{URL: molecularVS, Filter: "panel", Count: 2, Offset: 1}, total: 4, codes: []string{"NGS-COLON", "NGS-MELANOMA"}},
		{name: "circuit statuses paged", req: ExpandRequest{URL: circuitVS, Count: 2, Offset: 7}, total: 9,
			codes: []string{"results-integrated", "cancelled"}, displays: map[string]string{"cancelled": "Annulée"}},
		{name: "listed codes take displays from the code system", req: ExpandRequest{URL: tnmTVS, Count: -1}, total: 17, displays: map[string]string{"Tis": "Tis"}},
		{name: "listed codes of an unloaded system", req: ExpandRequest{URL: lateralityVS, Count: -1}, total: 4, displays: map[string]string{"24028007": "Right (qualifier value)"}},
		{name: "descendent-of", req: ExpandRequest{URL: fixture + "ValueSet/tnm-t", Count: -1}, total: 17, not: []string{"T", "N0"}},
		{name: "property filter", req: ExpandRequest{URL: fixture + "ValueSet/ihc", Count: -1}, codes: []string{"ALK", "HER2", "PD-L1"}},
		{name: "import intersection", req: ExpandRequest{URL: fixture + "ValueSet/lung-ihc", Count: -1}, codes: []string{"ALK", "PD-L1"}},
		{name: "paged large", req: ExpandRequest{URL: fixture + "ValueSet/big", Count: 10, Offset: 1490}, total: 1500, has: []string{"c1499"}},
		{name: "large unpaged", req: ExpandRequest{URL: fixture + "ValueSet/big", Count: -1}, status: 422, issue: "too-costly"},
		{name: "large filtered", req: ExpandRequest{URL: fixture + "ValueSet/big", Filter: "code 149", Count: -1}, total: 11},
		{name: "inline value set", req: ExpandRequest{ValueSet: vsFilter("inline", circuitCS, "concept", "in", "prescribed,cancelled"), Count: -1}, codes: []string{"prescribed", "cancelled"}},
		{name: "unknown value set", req: ExpandRequest{URL: fixture + "ValueSet/nowhere", Count: -1}, status: 404, issue: "not-found"},
		{name: "unknown version", req: ExpandRequest{URL: molecularVS, ValueSetVersion: "9.9", Count: -1}, status: 404, issue: "not-found"},
		{name: "known version", req: ExpandRequest{URL: molecularVS + "|0.1.0", Count: 1}, total: 20},
		{name: "no url", req: ExpandRequest{Count: -1}, status: 400, issue: "required"},
		{name: "SNOMED CT not loaded", req: ExpandRequest{URL: conditionVS, Count: 10}, status: 422, issue: "not-supported"},
		{name: "unsupported filter", req: ExpandRequest{URL: fixture + "ValueSet/bad-filter", Count: -1}, status: 422, issue: "not-supported"},
		{name: "undefined property", req: ExpandRequest{URL: fixture + "ValueSet/no-property", Count: -1}, status: 422, issue: "not-supported"},
		{name: "import of unknown value set", req: ExpandRequest{URL: fixture + "ValueSet/imports-unknown", Count: -1}, status: 422, issue: "not-supported"},
		{name: "FR Core patient gender", set: frSet, req: ExpandRequest{URL: "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-patient-gender", Count: -1}, total: 3,
			codes: []string{"male", "female", "unknown"}, displays: map[string]string{"male": "Male"}},
		{name: "FR Core accents", set: frSet, req: ExpandRequest{URL: "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-location-type", Filter: "etage", Count: -1}, codes: []string{"ETAG"}},
		{name: "FR Core pinned THO version", set: frSet, req: ExpandRequest{URL: "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-marital-status", Count: -1}, has: []string{"M", "UNK"}},
		{name: "FR Core ANS terminology not loaded", set: frSet, req: ExpandRequest{URL: "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-title", Count: -1}, status: 422, issue: "not-supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := s
			if tc.set != nil {
				set = tc.set(t)
			}
			vs, err := Expand(set, tc.req)
			if st, code := failure(err); st != tc.status || code != tc.issue {
				t.Fatalf("got %d %s (%v), want %d %s", st, code, err, tc.status, tc.issue)
			}
			if err != nil {
				return
			}
			exp := vs["expansion"].(map[string]any)
			if vs["resourceType"] != "ValueSet" || exp["identifier"] == "" || exp["timestamp"] == "" || exp["offset"] != tc.req.Offset {
				t.Errorf("bad expansion header: %v", exp)
			}
			if tc.total != 0 || tc.codes != nil && len(tc.codes) == 0 {
				if exp["total"] != tc.total {
					t.Errorf("total %v, want %d", exp["total"], tc.total)
				}
			}
			got := codes(vs)
			if tc.codes != nil && !slices.Equal(got, tc.codes) && !(len(got) == 0 && len(tc.codes) == 0) {
				t.Errorf("codes %v, want %v", got, tc.codes)
			}
			for _, c := range tc.has {
				if !slices.Contains(got, c) {
					t.Errorf("%s missing from %v", c, got)
				}
			}
			for _, c := range tc.not {
				if slices.Contains(got, c) {
					t.Errorf("%s should not be in %v", c, got)
				}
			}
			for _, c := range contains(vs) {
				if d, ok := tc.displays[c["code"].(string)]; ok && c["display"] != d {
					t.Errorf("%s: display %v, want %q", c["code"], c["display"], d)
				}
				if c["system"] == "" {
					t.Errorf("%s without system", c["code"])
				}
				if c["abstract"] == true != slices.Contains(tc.abstracts, c["code"].(string)) {
					t.Errorf("%s: abstract %v", c["code"], c["abstract"])
				}
			}
		})
	}
}

// TestExpandOutput checks the resource around the codes: metadata of the
// value set (restored for the R4 base copy), echoed parameters, the code
// systems used, designations on request, and that it encodes as JSON.
func TestExpandOutput(t *testing.T) {
	s := dccSet(t)
	vs, err := Expand(s, ExpandRequest{URL: gender, Filter: "fem", Count: 5, IncludeDesignations: true})
	if err != nil {
		t.Fatal(err)
	}
	if vs["name"] != "AdministrativeGender" || vs["url"] != gender || vs["compose"] != nil {
		t.Errorf("metadata: name %v url %v compose %v", vs["name"], vs["url"], vs["compose"])
	}
	b, err := json.Marshal(vs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"name":"filter","valueString":"fem"}`, `{"name":"count","valueInteger":5}`,
		`{"name":"used-codesystem","valueUri":"http://hl7.org/fhir/administrative-gender|4.0.1"}`, `"total":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in %s", want, b)
		}
	}
	vs, err = Expand(s, ExpandRequest{URL: molecularVS, Count: 0, IncludeDefinition: true})
	if err != nil {
		t.Fatal(err)
	}
	if vs["compose"] == nil || vs["title"] != "Catalogue des analyses de biologie moléculaire" || len(contains(vs)) != 0 || vs["expansion"].(map[string]any)["total"] != 20 {
		t.Errorf("count=0 with definition: %v", vs)
	}
}

// paramsOf flattens a Parameters answer: name → values, and the
// properties as "code=value".
func paramsOf(t *testing.T, p map[string]any) (map[string][]any, []string) {
	t.Helper()
	if p["resourceType"] != "Parameters" {
		t.Fatalf("not a Parameters: %v", p)
	}
	vals := map[string][]any{}
	var props []string
	for _, x := range p["parameter"].([]any) {
		pm := x.(map[string]any)
		name := pm["name"].(string)
		if name == "property" {
			var code string
			var value any
			for _, part := range pm["part"].([]any) {
				pp := part.(map[string]any)
				for k, v := range pp {
					if strings.HasPrefix(k, "value") {
						if pp["name"] == "code" {
							code = v.(string)
						} else {
							value = v
						}
					}
				}
			}
			props = append(props, fmt.Sprintf("%s=%v", code, value))
			continue
		}
		for k, v := range pm {
			if strings.HasPrefix(k, "value") || k == "part" {
				vals[name] = append(vals[name], v)
			}
		}
	}
	return vals, props
}

func TestValidateCode(t *testing.T) {
	s := dccSet(t)
	tests := []struct {
		name       string
		set        func(*testing.T) *conformance.Set
		codeSystem bool // CodeSystem/$validate-code
		req        ValidateRequest
		status     int
		issue      string
		result     bool
		display    string
		message    string // substring of message
	}{
		{name: "in", req: ValidateRequest{URL: gender, Codings: []Coding{{System: genderCS, Code: "male"}}}, result: true, display: "Male"},
		{name: "display ok ignoring case", req: ValidateRequest{URL: gender, Codings: []Coding{{System: genderCS, Code: "male", Display: "MALE"}}}, result: true, display: "Male"},
		{name: "display mismatch", req: ValidateRequest{URL: gender, Codings: []Coding{{System: genderCS, Code: "male", Display: "Homme"}}}, display: "Male", message: "'Homme' is not a valid display"},
		{name: "unknown code", req: ValidateRequest{URL: gender, Codings: []Coding{{System: genderCS, Code: "xyz"}}}, message: "Unknown code 'xyz'"},
		{name: "known code not in value set", req: ValidateRequest{URL: "https://dcc.example.fr/fhir/ValueSet/dcc-vs-patient-gender", Codings: []Coding{{System: genderCS, Code: "other"}}}, message: "not in the value set"},
		{name: "wrong system", req: ValidateRequest{URL: gender, Codings: []Coding{{System: snomed, Code: "male"}}}, message: "not in the value set"},
		{name: "no system", req: ValidateRequest{URL: gender, Codings: []Coding{{Code: "female"}}}, result: true, display: "Female"},
		{name: "v3 descendant", req: ValidateRequest{URL: parentRel, Codings: []Coding{{System: roleCode, Code: "STPMTH", Display: "stepmother"}}}, result: true},
		{name: "v3 outside is-a", req: ValidateRequest{URL: parentRel, Codings: []Coding{{System: roleCode, Code: "CHILD"}}}, message: "not in the value set"},
		{name: "abstract refused", req: ValidateRequest{URL: actCodeVS, Codings: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "_ActAccountCode"}}}, display: "ActAccountCode", message: "abstract"},
		{name: "abstract allowed", req: ValidateRequest{URL: actCodeVS, Abstract: true, Codings: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "_ActAccountCode"}}}, result: true},
		{name: "codeableConcept one valid", req: ValidateRequest{URL: gender, CodeableConcept: true, Codings: []Coding{{System: snomed, Code: "248153007"}, {System: genderCS, Code: "female"}}}, result: true, display: "Female"},
		{name: "codeableConcept none valid", req: ValidateRequest{URL: gender, CodeableConcept: true, Codings: []Coding{{System: snomed, Code: "248153007"}, {System: genderCS, Code: "f"}}}, message: "Unknown code 'f'"},
		{name: "DCC catalogue", req: ValidateRequest{URL: molecularVS, Codings: []Coding{{System: molecularCS, Code: "EGFR", Display: "Mutations EGFR (exons 18 à 21)"}}}, result: true},
		{name: "DCC circuit display mismatch", req: ValidateRequest{URL: circuitVS, Codings: []Coding{{System: circuitCS, Code: "prescribed", Display: "Prescribed"}}}, display: "Prescrite", message: "expected 'Prescrite'"},
		{name: "case-sensitive", req: ValidateRequest{URL: circuitVS, Codings: []Coding{{System: circuitCS, Code: "Prescribed"}}}, message: "Unknown code"},
		{name: "listed SNOMED code", req: ValidateRequest{URL: lateralityVS, Codings: []Coding{{System: snomed, Code: "7771000", Display: "Left (qualifier value)"}}}, result: true},
		{name: "listed SNOMED code, other code", req: ValidateRequest{URL: lateralityVS, Codings: []Coding{{System: snomed, Code: "123"}}}, message: "not in the value set"},
		{name: "version mismatch", req: ValidateRequest{URL: gender, Codings: []Coding{{System: genderCS, Version: "3.0.2", Code: "male"}}}, message: "Version '3.0.2'"},
		{name: "SNOMED CT is-a cannot be checked", req: ValidateRequest{URL: conditionVS, Codings: []Coding{{System: snomed, Code: "254637007"}}}, status: 422, issue: "not-supported"},
		{name: "unknown value set", req: ValidateRequest{URL: fixture + "ValueSet/nowhere", Codings: []Coding{{System: genderCS, Code: "male"}}}, status: 404, issue: "not-found"},
		{name: "nothing to check", req: ValidateRequest{URL: gender}, status: 400, issue: "required"},
		{name: "FR Core", set: frSet, req: ValidateRequest{URL: "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-location-type", Codings: []Coding{{System: "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-location-type", Code: "ETAG", Display: "Étage"}}}, result: true},

		{name: "code system: in", codeSystem: true, req: ValidateRequest{URL: genderCS, Codings: []Coding{{Code: "other", Display: "Other"}}}, result: true, display: "Other"},
		{name: "code system: from coding", codeSystem: true, req: ValidateRequest{Codings: []Coding{{System: molecularCS, Code: "ALK", Display: "ALK"}}}, display: "Réarrangement ALK", message: "expected 'Réarrangement ALK'"},
		{name: "code system: unknown code", codeSystem: true, req: ValidateRequest{URL: circuitCS, Codings: []Coding{{Code: "lost"}}}, message: "Unknown code 'lost'"},
		{name: "code system: abstract", codeSystem: true, req: ValidateRequest{URL: tnmCS, Codings: []Coding{{Code: "T"}}}, display: "Tumeur primitive (T)", message: "abstract"},
		{name: "code system: unknown", codeSystem: true, req: ValidateRequest{URL: fixture + "CodeSystem/nowhere", Codings: []Coding{{Code: "x"}}}, status: 404, issue: "not-found"},
		{name: "code system: content not-present", codeSystem: true, req: ValidateRequest{URL: snomed, Codings: []Coding{{Code: "254637007"}}}, status: 422, issue: "not-supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := s
			if tc.set != nil {
				set = tc.set(t)
			}
			fn := ValidateCode
			if tc.codeSystem {
				fn = ValidateCodeSystemCode
			}
			p, err := fn(set, tc.req)
			if st, code := failure(err); st != tc.status || code != tc.issue {
				t.Fatalf("got %d %s (%v), want %d %s", st, code, err, tc.status, tc.issue)
			}
			if err != nil {
				return
			}
			vals, _ := paramsOf(t, p)
			if len(vals["result"]) != 1 || vals["result"][0] != tc.result {
				t.Errorf("result %v, want %v (message %v)", vals["result"], tc.result, vals["message"])
			}
			if tc.display != "" && (len(vals["display"]) != 1 || vals["display"][0] != tc.display) {
				t.Errorf("display %v, want %q", vals["display"], tc.display)
			}
			msg := fmt.Sprint(vals["message"])
			if tc.message != "" && !strings.Contains(msg, tc.message) {
				t.Errorf("message %s, want it to contain %q", msg, tc.message)
			}
			if !tc.result && len(vals["message"]) == 0 {
				t.Error("false without a message")
			}
		})
	}
}

func TestLookup(t *testing.T) {
	s := dccSet(t)
	tests := []struct {
		name          string
		set           func(*testing.T) *conformance.Set
		req           LookupRequest
		status        int
		issue         string
		csName        string
		version       string
		display       string
		props, absent []string
	}{
		{name: "R4 code", req: LookupRequest{System: genderCS, Code: "male"}, csName: "AdministrativeGender", version: "4.0.1", display: "Male", props: []string{"inactive=false"}},
		{name: "v3 hierarchy", req: LookupRequest{System: roleCode, Code: "PRN"}, display: "parent",
			props: []string{"parent=FAMMEMB", "child=MTH", "child=FTH", "child=STPPRN"}, absent: []string{"child=STPMTH"}},
		{name: "v3 polyhierarchy", req: LookupRequest{System: roleCode, Code: "STPMTH"}, props: []string{"parent=MTH", "parent=STPPRN"}},
		{name: "nested observation-status", req: LookupRequest{System: "http://hl7.org/fhir/observation-status", Code: "corrected"}, display: "Corrected", props: []string{"parent=amended"}},
		{name: "DCC properties", req: LookupRequest{System: molecularCS, Code: "KRAS"}, csName: "DccCsMolecularTest", version: "0.1.0", display: "Mutations KRAS (exons 2, 3, 4)",
			props: []string{"gene=KRAS", "technique=NGS", "tumourSite=lung", "tumourSite=colorectal"}},
		{name: "selected properties", req: LookupRequest{System: molecularCS, Code: "KRAS", Properties: []string{"technique"}}, props: []string{"technique=NGS"}, absent: []string{"gene=KRAS", "tumourSite=lung", "inactive=false"}},
		{name: "DCC grouping", req: LookupRequest{System: tnmCS, Code: "T1a"}, display: "T1a", props: []string{"parent=T"}},
		{name: "DCC definition", req: LookupRequest{System: circuitCS, Code: "cancelled", Properties: []string{"definition"}}, props: []string{"definition=La demande a été annulée."}},
		{name: "known version", req: LookupRequest{System: circuitCS, Version: "0.1.0", Code: "cancelled"}, display: "Annulée"},
		{name: "unknown version", req: LookupRequest{System: circuitCS, Version: "2.0", Code: "cancelled"}, status: 404, issue: "not-found"},
		{name: "unknown code", req: LookupRequest{System: genderCS, Code: "xyz"}, status: 404, issue: "not-found"},
		{name: "unknown system", req: LookupRequest{System: fixture + "CodeSystem/nowhere", Code: "x"}, status: 404, issue: "not-found"},
		{name: "SNOMED CT not loaded", req: LookupRequest{System: snomed, Code: "254637007"}, status: 404, issue: "not-found"},
		{name: "missing code", req: LookupRequest{System: genderCS}, status: 400, issue: "required"},
		{name: "FR Core", set: frSet, req: LookupRequest{System: "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-location-type", Code: "ETAG"}, display: "Étage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := s
			if tc.set != nil {
				set = tc.set(t)
			}
			p, err := Lookup(set, tc.req)
			if st, code := failure(err); st != tc.status || code != tc.issue {
				t.Fatalf("got %d %s (%v), want %d %s", st, code, err, tc.status, tc.issue)
			}
			if err != nil {
				return
			}
			vals, props := paramsOf(t, p)
			if len(vals["name"]) != 1 || tc.csName != "" && vals["name"][0] != tc.csName {
				t.Errorf("name %v, want %q", vals["name"], tc.csName)
			}
			if tc.version != "" && fmt.Sprint(vals["version"]) != "["+tc.version+"]" {
				t.Errorf("version %v, want %q", vals["version"], tc.version)
			}
			if tc.display != "" && fmt.Sprint(vals["display"]) != "["+tc.display+"]" {
				t.Errorf("display %v, want %q", vals["display"], tc.display)
			}
			for _, want := range tc.props {
				if !slices.Contains(props, want) {
					t.Errorf("property %s missing from %v", want, props)
				}
			}
			for _, bad := range tc.absent {
				if slices.Contains(props, bad) {
					t.Errorf("property %s should not be in %v", bad, props)
				}
			}
		})
	}
}

func TestCodes(t *testing.T) {
	s := dccSet(t)
	tests := []struct {
		url    string
		status int
		want   []Coding
	}{
		{url: "https://dcc.example.fr/fhir/ValueSet/dcc-vs-patient-gender", want: []Coding{{System: genderCS, Code: "male"}, {System: genderCS, Code: "female"}, {System: genderCS, Code: "unknown"}}},
		{url: fixture + "ValueSet/lung-ihc", want: []Coding{{System: molecularCS, Code: "ALK"}, {System: molecularCS, Code: "PD-L1"}}},
		{url: "https://dcc.example.fr/fhir/ValueSet/dcc-vs-tnm-staging-system|0.1.0", want: []Coding{
			{System: "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", Code: "C188404"}, {System: snomed, Code: "897275008"}}},
		{url: fixture + "ValueSet/nowhere", status: 404},
		{url: conditionVS, status: 422},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			got, err := Codes(s, tc.url)
			if st, _ := failure(err); st != tc.status {
				t.Fatalf("status %d (%v), want %d", st, err, tc.status)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The big fixture is within MaxExpansion: Codes does not page.
	if got, err := Codes(s, fixture+"ValueSet/big"); err != nil || len(got) != 1500 {
		t.Errorf("big: %d codes, %v", len(got), err)
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParse(t *testing.T) {
	const gcoding = `{"name":"coding","valueCoding":{"system":"http://hl7.org/fhir/administrative-gender","code":"male","display":"Male"}}`
	tests := []struct {
		name   string
		op     string // expand, validate, validate-cs, lookup
		query  string
		body   string
		status int
		want   any
	}{
		{name: "expand GET", op: "expand", query: "url=" + url.QueryEscape(gender) + "&filter=fem&count=5&offset=2&activeOnly=true&_format=json",
			want: ExpandRequest{URL: gender, Filter: "fem", Count: 5, Offset: 2, ActiveOnly: true}},
		{name: "expand defaults", op: "expand", query: "url=x", want: ExpandRequest{URL: "x", Count: -1}},
		{name: "expand POST", op: "expand", body: `{"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"x"},{"name":"count","valueInteger":10},{"name":"includeDesignations","valueBoolean":true}]}`,
			want: ExpandRequest{URL: "x", Count: 10, IncludeDesignations: true}},
		{name: "expand bad count", op: "expand", query: "url=x&count=-1", status: 400},
		{name: "expand bad boolean", op: "expand", query: "url=x&activeOnly=yes", status: 400},
		{name: "expand repeated url", op: "expand", query: "url=x&url=y", status: 400},
		{name: "expand not Parameters", op: "expand", body: `{"resourceType":"ValueSet"}`, status: 400},
		{name: "expand valueSet not a ValueSet", op: "expand", body: `{"resourceType":"Parameters","parameter":[{"name":"valueSet","resource":{"resourceType":"CodeSystem"}}]}`, status: 400},
		{name: "validate code", op: "validate", query: "url=x&system=s&code=c&display=d&systemVersion=1",
			want: ValidateRequest{URL: "x", Codings: []Coding{{System: "s", Version: "1", Code: "c", Display: "d"}}}},
		{name: "validate coding", op: "validate", body: `{"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"x"},` + gcoding + `,{"name":"abstract","valueBoolean":true}]}`,
			want: ValidateRequest{URL: "x", Abstract: true, Codings: []Coding{{System: genderCS, Code: "male", Display: "Male"}}}},
		{name: "validate codeableConcept", op: "validate", body: `{"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"x"},{"name":"codeableConcept","valueCodeableConcept":{"coding":[{"system":"a","code":"1"},{"system":"b","code":"2"}]}}]}`,
			want: ValidateRequest{URL: "x", CodeableConcept: true, Codings: []Coding{{System: "a", Code: "1"}, {System: "b", Code: "2"}}}},
		{name: "validate nothing", op: "validate", query: "url=x", status: 400},
		{name: "validate two inputs", op: "validate", body: `{"resourceType":"Parameters","parameter":[{"name":"code","valueCode":"c"},` + gcoding + `]}`, status: 400},
		{name: "validate empty code", op: "validate", query: "url=x&code=", status: 400},
		{name: "validate CS level", op: "validate-cs", query: "url=s&code=c&version=2", want: ValidateRequest{URL: "s", Version: "2", Codings: []Coding{{System: "s", Version: "2", Code: "c"}}}},
		{name: "lookup GET", op: "lookup", query: "system=s&code=c&property=parent,child&property=gene", want: LookupRequest{System: "s", Code: "c", Properties: []string{"parent", "child", "gene"}}},
		{name: "lookup coding", op: "lookup", body: `{"resourceType":"Parameters","parameter":[` + gcoding + `]}`, want: LookupRequest{System: genderCS, Code: "male"}},
		{name: "lookup coding in query", op: "lookup", query: "coding=s%7Cc", want: LookupRequest{System: "s", Code: "c"}},
		{name: "lookup without system", op: "lookup", query: "code=c", status: 400},
		{name: "lookup without code", op: "lookup", query: "system=s", status: 400},
		{name: "lookup both", op: "lookup", body: `{"resourceType":"Parameters","parameter":[{"name":"code","valueCode":"c"},` + gcoding + `]}`, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			body := decode(t, tc.body)
			var got any
			switch tc.op {
			case "expand":
				got, err = ParseExpand(q, body)
			case "validate":
				got, err = ParseValidateCode(q, body, false)
			case "validate-cs":
				got, err = ParseValidateCode(q, body, true)
			case "lookup":
				got, err = ParseLookup(q, body)
			}
			if st, _ := failure(err); st != tc.status {
				t.Fatalf("status %d (%v), want %d", st, err, tc.status)
			}
			if err == nil && fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestParseThenRun goes from query strings to answers, the way the HTTP
// layer will.
func TestParseThenRun(t *testing.T) {
	s := dccSet(t)
	q, _ := url.ParseQuery("url=" + url.QueryEscape(molecularVS) + "&filter=r%C3%A9arr&count=2")
	req, err := ParseExpand(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := Expand(s, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(vs); !slices.Equal(got, []string{"ALK", "ROS1"}) || vs["expansion"].(map[string]any)["total"] != 3 {
		t.Errorf("got %v", got)
	}
}
