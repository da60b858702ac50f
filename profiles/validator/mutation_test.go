package validator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// mutation turns a valid official example into an invalid resource that
// must be rejected with an error of the given code at the given location.
type mutation struct {
	name, file string
	typ        string // the type to validate as; "" for the resourceType
	mutate     func(m map[string]any)
	code, expr string
}

// obj and arr navigate the generic tree in mutations.
func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }
func arr(m map[string]any, key string) []any          { return m[key].([]any) }
func item(m map[string]any, key string, i int) map[string]any {
	return arr(m, key)[i].(map[string]any)
}

// genericFiles get the mutations that apply to any resource.
var genericFiles = []string{
	"Patient-example.json", "Observation-example.json", "Condition-example.json", "Encounter-example.json",
	"Practitioner-example.json", "Organization-hl7.json", "AllergyIntolerance-example.json", "Procedure-example.json",
	"Immunization-example.json", "CarePlan-example.json", "Claim-100150.json", "MedicationRequest-medrx0302.json",
	"DiagnosticReport-ultrasound.json", "Questionnaire-3141.json",
}

func genericMutations(v *Validator, file string, res map[string]any) []mutation {
	rt := res["resourceType"].(string)
	ms := []mutation{
		{"unknown element", file, "", func(m map[string]any) { m["fooBar"] = "x" }, "structure", rt + ".fooBar"},
		{"unknown primitive extension", file, "", func(m map[string]any) { m["_fooBar"] = map[string]any{"id": "a"} }, "structure", rt + "._fooBar"},
		{"id as number", file, "", func(m map[string]any) { m["id"] = json.Number("12") }, "structure", rt + ".id"},
		{"bad id", file, "", func(m map[string]any) { m["id"] = "bad id!" }, "value", rt + ".id"},
		{"id too long", file, "", func(m map[string]any) { m["id"] = strings.Repeat("a", 65) }, "value", rt + ".id"},
		{"single element as array", file, "", func(m map[string]any) { m["implicitRules"] = []any{"http://example.org/rules"} }, "structure", rt + ".implicitRules"},
		{"bad instant", file, "", func(m map[string]any) { m["meta"] = map[string]any{"lastUpdated": "2020-01-01"} }, "value", rt + ".meta.lastUpdated"},
		{"boolean for code", file, "", func(m map[string]any) { m["language"] = true }, "structure", rt + ".language"},
		{"empty string", file, "", func(m map[string]any) { m["implicitRules"] = "" }, "value", rt + ".implicitRules"},
		{"control character in a string", file, "", func(m map[string]any) {
			m["extension"] = []any{map[string]any{"url": "http://example.org/x", "valueString": "a\u0001b"}}
		}, "value", rt + ".extension[0].value.ofType(string)"},
		{"control character in a code", file, "", func(m map[string]any) { m["language"] = "fr\u0000" }, "value", rt + ".language"},
		{"control character in a contained resource", file, "", func(m map[string]any) {
			m["contained"] = []any{map[string]any{"resourceType": "Organization", "id": "cc", "name": "a\u001fb"}}
			m["extension"] = []any{map[string]any{"url": "http://example.org/x", "valueReference": map[string]any{"reference": "#cc"}}}
		}, "value", rt + ".contained[0].ofType(Organization).name"},
		{"extension without url", file, "", func(m map[string]any) {
			m["extension"] = []any{map[string]any{"valueString": "x"}}
		}, "required", rt + ".extension[0].url"},
		{"extension with value and extensions", file, "", func(m map[string]any) {
			m["extension"] = []any{map[string]any{"url": "http://example.org/x", "valueString": "x", "extension": []any{map[string]any{"url": "a", "valueBoolean": true}}}}
		}, "invariant", rt + ".extension[0]"},
		{"unknown contained type", file, "", func(m map[string]any) {
			m["contained"] = []any{map[string]any{"resourceType": "Foo", "id": "x"}}
		}, "not-supported", rt + ".contained[0].ofType(Foo)"},
		{"meta as array", file, "", func(m map[string]any) { m["meta"] = []any{map[string]any{"versionId": "1"}} }, "structure", rt + ".meta"},
		{"text.status outside its required value set", file, "", func(m map[string]any) {
			m["text"] = map[string]any{"status": "done", "div": `<div xmlns="http://www.w3.org/1999/xhtml">x</div>`}
		}, "code-invalid", rt + ".text.status"},
	}
	if t := v.types[rt]; t != nil {
		for _, f := range t.required {
			if _, ok := res[f.name]; ok && f.choice == 0 {
				name := f.name
				ms = append(ms, mutation{"missing required " + name, file, "", func(m map[string]any) { delete(m, name) }, "required", rt + "." + name})
				break
			}
		}
	}
	return ms
}

var specificMutations = []mutation{
	{"Observation.status missing", "Observation-example.json", "", func(m map[string]any) { delete(m, "status") }, "required", "Observation.status"},
	{"Observation.code missing", "Observation-example.json", "", func(m map[string]any) { delete(m, "code") }, "required", "Observation.code"},
	{"gender f", "Patient-example.json", "", func(m map[string]any) { m["gender"] = "f" }, "code-invalid", "Patient.gender"},
	{"month 13", "Patient-example.json", "", func(m map[string]any) { m["birthDate"] = "1974-13-01" }, "value", "Patient.birthDate"},
	{"February 30", "Patient-example.json", "", func(m map[string]any) { m["birthDate"] = "1974-02-30" }, "value", "Patient.birthDate"},
	{"year 0000", "Patient-example.json", "", func(m map[string]any) { m["birthDate"] = "0000" }, "value", "Patient.birthDate"},
	{"date with time", "Patient-example.json", "", func(m map[string]any) { m["birthDate"] = "1974-12-25T10:00:00Z" }, "value", "Patient.birthDate"},
	{"date as number", "Patient-example.json", "", func(m map[string]any) { m["birthDate"] = json.Number("1974") }, "structure", "Patient.birthDate"},
	{"dateTime without seconds and zone", "Observation-example.json", "", func(m map[string]any) {
		delete(m, "effectiveDateTime")
		m["effectiveDateTime"] = "2013-04-02T10:30"
	}, "value", "Observation.effective.ofType(dateTime)"},
	{"dateTime without zone", "Observation-example.json", "", func(m map[string]any) { m["effectiveDateTime"] = "2013-04-02T10:30:00" }, "value", "Observation.effective.ofType(dateTime)"},
	{"dateTime zone +15:00", "Observation-example.json", "", func(m map[string]any) { m["effectiveDateTime"] = "2013-04-02T10:30:00+15:00" }, "value", "Observation.effective.ofType(dateTime)"},
	{"instant without time", "Observation-example.json", "", func(m map[string]any) { m["issued"] = "2013-04-03" }, "value", "Observation.issued"},
	{"two value[x] variants", "Observation-example.json", "", func(m map[string]any) { m["valueString"] = "x" }, "structure", "Observation.value"},
	{"value[x] type not allowed", "Observation-example.json", "", func(m map[string]any) {
		delete(m, "valueQuantity")
		m["valueAddress"] = map[string]any{"city": "x"}
	}, "structure", "Observation.valueAddress"},
	{"decimal as string", "Observation-example.json", "", func(m map[string]any) { obj(m, "valueQuantity")["value"] = "185" }, "structure", "Observation.value.ofType(Quantity).value"},
	{"repeating element as object", "Patient-example.json", "", func(m map[string]any) { m["name"] = arr(m, "name")[0] }, "structure", "Patient.name"},
	{"empty array", "Patient-example.json", "", func(m map[string]any) { m["name"] = []any{} }, "structure", "Patient.name"},
	{"empty object", "Patient-example.json", "", func(m map[string]any) { m["maritalStatus"] = map[string]any{} }, "invariant", "Patient.maritalStatus"},
	{"null value", "Patient-example.json", "", func(m map[string]any) { m["gender"] = nil }, "structure", "Patient.gender"},
	{"null in array", "Patient-example.json", "", func(m map[string]any) { m["name"] = append(arr(m, "name"), nil) }, "structure", "Patient.name[3]"},
	{"boolean as string", "Patient-example.json", "", func(m map[string]any) { m["active"] = "true" }, "structure", "Patient.active"},
	{"integer with fraction", "Patient-example.json", "", func(m map[string]any) {
		delete(m, "deceasedBoolean")
		m["multipleBirthInteger"] = json.Number("1.5")
	}, "value", "Patient.multipleBirth.ofType(integer)"},
	{"integer out of range", "Patient-example.json", "", func(m map[string]any) { m["multipleBirthInteger"] = json.Number("3000000000") }, "value", "Patient.multipleBirth.ofType(integer)"},
	{"unsignedInt negative", "Patient-example.json", "", func(m map[string]any) {
		m["photo"] = []any{map[string]any{"contentType": "image/png", "size": json.Number("-1")}}
	}, "value", "Patient.photo[0].size"},
	{"bad base64", "Patient-example.json", "", func(m map[string]any) {
		m["photo"] = []any{map[string]any{"contentType": "image/png", "data": "@@@"}}
	}, "value", "Patient.photo[0].data"},
	{"att-1 data without contentType", "Patient-example.json", "", func(m map[string]any) {
		m["photo"] = []any{map[string]any{"data": "aGVsbG8="}}
	}, "invariant", "Patient.photo[0]"},
	{"code with trailing space", "Observation-example.json", "", func(m map[string]any) { m["status"] = "final " }, "value", "Observation.status"},
	{"uri with space", "Patient-example.json", "", func(m map[string]any) { item(m, "identifier", 0)["system"] = "urn:oid:1 2" }, "value", "Patient.identifier[0].system"},
	{"telecom system outside value set", "Patient-example.json", "", func(m map[string]any) { item(m, "telecom", 1)["system"] = "fax2" }, "code-invalid", "Patient.telecom[1].system"},
	{"empty reference id", "Patient-example.json", "", func(m map[string]any) { obj(m, "managingOrganization")["reference"] = "Organization/" }, "value", "Patient.managingOrganization.reference"},
	{"reference to unknown type", "Patient-example.json", "", func(m map[string]any) { obj(m, "managingOrganization")["reference"] = "Organisation/1" }, "value", "Patient.managingOrganization.reference"},
	{"reference to a disallowed type", "Patient-example.json", "", func(m map[string]any) { obj(m, "managingOrganization")["reference"] = "Patient/1" }, "value", "Patient.managingOrganization.reference"},
	{"conditional reference outside a Bundle", "Observation-example.json", "", func(m map[string]any) { obj(m, "subject")["reference"] = "Patient?identifier=x|1" }, "value", "Observation.subject.reference"},
	{"bad urn:uuid reference", "Observation-example.json", "", func(m map[string]any) { obj(m, "subject")["reference"] = "urn:uuid:XYZ" }, "value", "Observation.subject.reference"},
	{"ref-1 local reference without contained", "Observation-example.json", "", func(m map[string]any) { obj(m, "subject")["reference"] = "#p1" }, "invariant", "Observation.subject.reference"},
	{"pat-1 contact without details", "Patient-example.json", "", func(m map[string]any) {
		m["contact"] = []any{map[string]any{"gender": "male"}}
	}, "invariant", "Patient.contact[0]"},
	{"obs-6 dataAbsentReason with a value", "Observation-example.json", "", func(m map[string]any) {
		m["dataAbsentReason"] = map[string]any{"text": "unknown"}
	}, "invariant", "Observation"},
	{"obs-7 component repeating the code with a value", "Observation-example.json", "", func(m map[string]any) {
		m["component"] = []any{map[string]any{"code": m["code"], "valueQuantity": m["valueQuantity"]}}
	}, "invariant", "Observation"},
	{"per-1 period ends before it starts", "Patient-example.json", "", func(m map[string]any) {
		item(m, "name", 0)["period"] = map[string]any{"start": "2020-01-01", "end": "2010-01-01"}
	}, "invariant", "Patient.name[0].period"},
	{"qty-3 code without system", "Observation-example.json", "", func(m map[string]any) { delete(obj(m, "valueQuantity"), "system") }, "invariant", "Observation.value.ofType(Quantity)"},
	{"primitive extension with unknown member", "Patient-example.json", "", func(m map[string]any) { m["_birthDate"] = map[string]any{"foo": true} }, "structure", "Patient.birthDate.foo"},
	{"primitive extension not an object", "Patient-example.json", "", func(m map[string]any) { m["_birthDate"] = "x" }, "structure", "Patient.birthDate"},
	{"empty primitive extension", "Patient-example.json", "", func(m map[string]any) { m["_birthDate"] = map[string]any{} }, "invariant", "Patient.birthDate"},
	{"primitive extension without url", "Patient-example.json", "", func(m map[string]any) {
		m["_birthDate"] = map[string]any{"extension": []any{map[string]any{"valueDateTime": "1974-12-25T14:35:45-05:00"}}}
	}, "required", "Patient.birthDate.extension[0].url"},
	{"misaligned primitive extension array", "Patient-example.json", "", func(m map[string]any) {
		item(m, "name", 0)["_given"] = []any{map[string]any{"id": "g1"}}
	}, "structure", "Patient.name[0].given"},
	{"nested contained", "Patient-example.json", "", func(m map[string]any) {
		m["contained"] = []any{map[string]any{"resourceType": "Organization", "id": "o1", "name": "x",
			"contained": []any{map[string]any{"resourceType": "Organization", "id": "o2", "name": "y"}}}}
		obj(m, "managingOrganization")["reference"] = "#o1"
	}, "invariant", "Patient.contained[0].ofType(Organization).contained"},
	{"dom-3 unreferenced contained", "Patient-example.json", "", func(m map[string]any) {
		m["contained"] = []any{map[string]any{"resourceType": "Organization", "id": "o1", "name": "x"}}
	}, "invariant", "Patient.contained[0]"},
	{"dom-4 contained with versionId", "Patient-example.json", "", func(m map[string]any) {
		m["contained"] = []any{map[string]any{"resourceType": "Organization", "id": "o1", "name": "x", "meta": map[string]any{"versionId": "1"}}}
		obj(m, "managingOrganization")["reference"] = "#o1"
	}, "invariant", "Patient"},
	{"invalid contained resource", "Patient-example.json", "", func(m map[string]any) {
		m["contained"] = []any{map[string]any{"resourceType": "Organization", "id": "o1", "active": "yes"}}
		obj(m, "managingOrganization")["reference"] = "#o1"
	}, "structure", "Patient.contained[0].ofType(Organization).active"},
	{"contained without resourceType", "Patient-example.json", "", func(m map[string]any) {
		m["contained"] = []any{map[string]any{"id": "o1"}}
	}, "structure", "Patient.contained[0]"},
	{"Bundle entry resource invalid", "Bundle-bundle-example.json", "", func(m map[string]any) {
		obj(item(m, "entry", 0), "resource")["fooBar"] = 1
	}, "structure", "Bundle.entry[0].resource.ofType(MedicationRequest).fooBar"},
	{"Bundle entry resource missing required", "Bundle-bundle-example.json", "", func(m map[string]any) {
		delete(obj(item(m, "entry", 0), "resource"), "subject")
	}, "required", "Bundle.entry[0].resource.ofType(MedicationRequest).subject"},
	{"Bundle type outside value set", "Bundle-bundle-example.json", "", func(m map[string]any) { m["type"] = "bag" }, "code-invalid", "Bundle.type"},
	{"bdl-7 duplicate fullUrl", "Bundle-bundle-example.json", "", func(m map[string]any) {
		es := arr(m, "entry")
		item(m, "entry", 1)["fullUrl"] = es[0].(map[string]any)["fullUrl"]
	}, "invariant", "Bundle"},
	{"Parameters resource invalid", "", "", func(m map[string]any) {
		m["resourceType"] = "Parameters"
		m["parameter"] = []any{map[string]any{"name": "a", "valueString": "x"}, map[string]any{"name": "r", "resource": map[string]any{"resourceType": "Patient", "gender": "f"}}}
	}, "code-invalid", "Parameters.parameter[1].resource.ofType(Patient).gender"},
	{"Parameters parameter without name", "", "", func(m map[string]any) {
		m["resourceType"] = "Parameters"
		m["parameter"] = []any{map[string]any{"valueString": "x"}}
	}, "required", "Parameters.parameter[0].name"},
	{"resourceType mismatch", "Patient-example.json", "Observation", func(m map[string]any) {}, "invalid", "Observation"},
	{"unknown resourceType", "Patient-example.json", "Patient", func(m map[string]any) { m["resourceType"] = "Patients" }, "not-supported", "Patient"},
	{"abstract resourceType", "Patient-example.json", "DomainResource", func(m map[string]any) { m["resourceType"] = "DomainResource" }, "not-supported", "DomainResource"},
	{"narrative not xhtml", "Patient-example.json", "", func(m map[string]any) { obj(m, "text")["div"] = "plain text" }, "value", "Patient.text.div"},
	{"uuid identifier value", "Patient-example.json", "", func(m map[string]any) {
		m["identifier"] = []any{map[string]any{"system": "urn:ietf:rfc:3986", "value": "x"}}
		m["_identifier"] = 1
	}, "structure", "Patient._identifier"},
	{"time out of range", "Questionnaire-3141.json", "", func(m map[string]any) {
		item(m, "item", 0)["initial"] = []any{map[string]any{"valueTime": "25:00:00"}}
	}, "value", "Questionnaire.item[0].initial[0].value.ofType(time)"},
	{"positiveInt zero", "CarePlan-example.json", "", func(m map[string]any) {
		m["activity"] = []any{map[string]any{"detail": map[string]any{"status": "completed", "scheduledTiming": map[string]any{"repeat": map[string]any{"frequency": json.Number("0")}}}}}
	}, "value", "CarePlan.activity[0].detail.scheduled.ofType(Timing).repeat.frequency"},
	{"extension url as number", "Patient-example.json", "", func(m map[string]any) {
		m["extension"] = []any{map[string]any{"url": json.Number("1"), "valueString": "x"}}
	}, "structure", "Patient.extension[0].url"},
}

func TestMutations(t *testing.T) {
	files := r4Examples(t)
	v := testValidator()
	var all []mutation
	for _, f := range genericFiles {
		b, ok := files[f]
		if !ok {
			t.Fatalf("example %s missing", f)
		}
		all = append(all, genericMutations(v, f, decode(t, b))...)
	}
	all = append(all, specificMutations...)
	if len(all) < 100 {
		t.Fatalf("only %d mutations", len(all))
	}
	for _, mu := range all {
		t.Run(mu.file+"/"+mu.name, func(t *testing.T) {
			res := map[string]any{}
			if mu.file != "" {
				b, ok := files[mu.file]
				if !ok {
					t.Fatalf("example %s missing", mu.file)
				}
				res = decode(t, b)
			}
			mu.mutate(res)
			typ := mu.typ
			if typ == "" {
				typ, _ = res["resourceType"].(string)
			}
			issues := v.Validate(typ, res)
			for _, is := range issues {
				if is.Severity == "error" && is.Code == mu.code && is.Expression[0] == mu.expr {
					return
				}
			}
			var got []string
			for _, is := range issues {
				got = append(got, fmt.Sprintf("%s %s %s: %s", is.Severity, is.Code, is.Expression[0], is.Diagnostics))
			}
			t.Errorf("want error %s at %s; got:\n  %s", mu.code, mu.expr, strings.Join(got, "\n  "))
		})
	}
	t.Logf("%d mutations", len(all))
}
