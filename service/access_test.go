package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

const (
	obsCat  = "http://terminology.hl7.org/CodeSystem/observation-category"
	condCat = "http://terminology.hl7.org/CodeSystem/condition-category"
	usCore  = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
)

// obs is an Observation of patient subject, of category cat (observation
// category system), code code, performed by dr1, with hasMember members.
func obs(id, subject, cat, code string, members ...string) string {
	m := map[string]any{"resourceType": "Observation", "status": "final",
		"category":  []any{map[string]any{"coding": []any{map[string]any{"system": obsCat, "code": cat}}}},
		"code":      map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": code}}},
		"subject":   map[string]any{"reference": "Patient/" + subject},
		"performer": []any{map[string]any{"reference": "Practitioner/dr1"}}}
	if id != "" {
		m["id"] = id
	}
	var hm []any
	for _, x := range members {
		hm = append(hm, map[string]any{"reference": "Observation/" + x})
	}
	if hm != nil {
		m["hasMember"] = hm
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func cond(id, subject, system, cat string) string {
	return fmt.Sprintf(`{"resourceType":"Condition","id":%q,"category":[{"coding":[{"system":%q,"code":%q}]}],"code":{"text":"x"},"subject":{"reference":"Patient/%s"}}`, id, system, cat, subject)
}

// accessData is the stored state of every access case: two patients
// with the same practitioner, each with their own organization, and
// their Observations, Conditions and Encounters; shared reference data.
var accessData = []stored{
	{"Practitioner", `{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Doc"}]}`},
	{"Organization", `{"resourceType":"Organization","id":"org1","name":"One"}`},
	{"Organization", `{"resourceType":"Organization","id":"org2","name":"Two"}`},
	{"Medication", `{"resourceType":"Medication","id":"m1","code":{"text":"aspirin"}}`},
	{"Patient", `{"resourceType":"Patient","id":"p1","name":[{"family":"Alpha"}],"generalPractitioner":[{"reference":"Practitioner/dr1"}],"managingOrganization":{"reference":"Organization/org1"}}`},
	{"Patient", `{"resourceType":"Patient","id":"p2","name":[{"family":"Beta"}],"generalPractitioner":[{"reference":"Practitioner/dr1"}],"managingOrganization":{"reference":"Organization/org2"}}`},
	{"Observation", obs("o1", "p1", "laboratory", "A")},
	{"Observation", obs("o2", "p2", "laboratory", "Z")},
	{"Observation", obs("o3", "p1", "vital-signs", "B")},
	{"Observation", obs("o4", "p1", "laboratory", "C", "o2")},
	{"Observation", obs("o5", "p1", "social-history", "D")},
	{"Condition", cond("c1", "p1", condCat, "encounter-diagnosis")},
	{"Condition", cond("c2", "p1", condCat, "problem-list-item")},
	{"Condition", cond("c3", "p1", usCore, "health-concern")},
	{"Condition", cond("c4", "p1", condCat, "other")},
	{"Condition", cond("c5", "p2", condCat, "encounter-diagnosis")},
	{"Task", `{"resourceType":"Task","id":"t1","status":"requested","intent":"order","for":{"reference":"Patient/p1"}}`},
	{"Task", `{"resourceType":"Task","id":"t2","status":"requested","intent":"order","for":{"reference":"Patient/p2"}}`},
	{"Device", `{"resourceType":"Device","id":"dev1","patient":{"reference":"Patient/p1"}}`},
	{"Device", `{"resourceType":"Device","id":"dev2","patient":{"reference":"Patient/p2"}}`},
	{"Binary", `{"resourceType":"Binary","id":"bin1","contentType":"text/plain","data":"aGk="}`},
	{"Encounter", `{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"}}`},
	{"Encounter", `{"resourceType":"Encounter","id":"e2","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p2"}}`},
}

// stored is a resource stored before a case runs; body "DELETE" deletes
// the resource id names instead.
type stored struct{ typ, body string }

// obsBy is an Observation of patient subject also performed by Patient/by.
func obsBy(id, subject, by string) string {
	return strings.Replace(obs(id, subject, "laboratory", "P"), `{"reference":"Practitioner/dr1"}`, `{"reference":"Practitioner/dr1"},{"reference":"Patient/`+by+`"}`, 1)
}

// obsAt is an Observation of p2 effective at date.
func obsAt(id, date string) string {
	return strings.Replace(obs(id, "p2", "laboratory", "D"), `"status":"final"`, `"status":"final","effectiveDateTime":"`+date+`"`, 1)
}

// dated are o7, effective in 2019 then (version 2) in 2024, and o8, the
// other way round.
var dated = []stored{{"Observation", obsAt("o7", "2019-05-01")}, {"Observation", obsAt("o7", "2024-02-01")},
	{"Observation", obsAt("o8", "2024-02-01")}, {"Observation", obsAt("o8", "2019-05-01")}}

// deleted are o10 of p1 and o11 of p2, both deleted.
var deleted = []stored{{"Observation", obs("o10", "p1", "laboratory", "A")}, {"Observation/o10", "DELETE"},
	{"Observation", obs("o11", "p2", "laboratory", "A")}, {"Observation/o11", "DELETE"}}

const since2024 = "user/Observation.rs?date=ge2024-01-01"

// op is one interaction as a client asks it.
type op struct {
	do           string // read, vread, search, history, reindex, bundle, or a req op (create, update, patch, delete, cupdate, cdelete, cpatch)
	typ, id, vid string
	q            string // search parameters, or conditional criteria
	comp, compID string // a compartment search
	body         string
	pre          service.Preconditions
}

// accessCase runs op with a token of scopes (patient: its launch
// patient) on the stored accessData; want is the status, then for a
// search its matches and what the includes brought ("Type/id" sorted,
// "matches | included"), for a read the resource, for a history its
// versions, for a Bundle each entry's status; err is part of a refusal's
// message; written the versions it stored.
type accessCase struct {
	name, scopes, patient string
	op                    op
	status                int
	want, err             string
	written               int
	// more is stored after accessData, for this case alone
	more []stored
	// own runs it on a parameter registry of its own (it adds
	// SearchParameters, which must not reach the other tests)
	own bool
}

// perfSP replaces Observation.performer by a constant reference to
// Patient/p1: were compartments computed from it, every Observation would
// be in p1's compartment.
const perfSP = `{"resourceType":"SearchParameter","url":"http://example.org/sp/performer","name":"performer","status":"active","description":"x","code":"performer","base":["Observation"],"type":"reference","target":["Patient"],"expression":"'Patient/p1'"}`

// pat1 is a patient app launched for p1 with every patient/ letter.
const pat1 = "launch/patient openid fhirUser patient/*.cruds"

var accessCases = []accessCase{
	// every letter allowed and refused
	{name: "c allowed", scopes: "system/Observation.c", op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "A")}, status: 201, written: 1},
	{name: "c refused", scopes: "system/Observation.ruds", op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "A")}, status: 403, err: "do not allow create of Observation: it needs patient/Observation.c (or user/, system/)"},
	{name: "r allowed: read", scopes: "system/Observation.r", op: op{do: "read", typ: "Observation", id: "o2"}, status: 200, want: "Observation/o2"},
	{name: "r refused: read", scopes: "system/Observation.cuds", op: op{do: "read", typ: "Observation", id: "o2"}, status: 403, err: "read of Observation"},
	{name: "r allowed: vread", scopes: "system/Observation.r", op: op{do: "vread", typ: "Observation", id: "o2", vid: "1"}, status: 200, want: "Observation/o2"},
	{name: "r refused: vread", scopes: "system/Observation.s", op: op{do: "vread", typ: "Observation", id: "o2", vid: "1"}, status: 403, err: "read of Observation"},
	{name: "r allowed: instance history", scopes: "system/Observation.r", op: op{do: "history", typ: "Observation", id: "o2"}, status: 200, want: "Observation/o2"},
	{name: "r refused: instance history", scopes: "system/Observation.s", op: op{do: "history", typ: "Observation", id: "o2"}, status: 403, err: "read of Observation"},
	{name: "u allowed: update", scopes: "system/Observation.u", op: op{do: "update", typ: "Observation", id: "o2", body: obs("o2", "p2", "laboratory", "Y")}, status: 200, written: 1},
	{name: "u refused: update", scopes: "system/Observation.crds", op: op{do: "update", typ: "Observation", id: "o2", body: obs("o2", "p2", "laboratory", "Y")}, status: 403, err: "update of Observation"},
	{name: "u allowed: update as create, u only", scopes: "system/Observation.u", op: op{do: "update", typ: "Observation", id: "o9", body: obs("o9", "p2", "laboratory", "Y")}, status: 201, written: 1},
	{name: "u refused: update as create with c", scopes: "system/Observation.c", op: op{do: "update", typ: "Observation", id: "o9", body: obs("o9", "p2", "laboratory", "Y")}, status: 403, err: "update of Observation"},
	{name: "u allowed: patch, its result withheld", scopes: "system/Observation.u", op: op{do: "patch", typ: "Observation", id: "o2", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 200, want: "withheld", written: 1},
	{name: "u and r: patch, its result returned", scopes: "system/Observation.ru", op: op{do: "patch", typ: "Observation", id: "o2", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 200, written: 1},
	{name: "u and r elsewhere: patch, its result withheld", scopes: "system/Observation.u system/Observation.r?code=A", op: op{do: "patch", typ: "Observation", id: "o2", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 200, want: "withheld", written: 1},
	{name: "u alone: a patch's test op is an oracle (documented)", scopes: "system/Observation.u", op: op{do: "patch", typ: "Observation", id: "o2", body: `[{"op":"test","path":"/status","value":"preliminary"}]`}, status: 422},
	{name: "u alone: an update returns what was sent", scopes: "system/Observation.u", op: op{do: "update", typ: "Observation", id: "o2", body: obs("o2", "p2", "laboratory", "Y")}, status: 200, written: 1},
	{name: "u alone: a conditional patch's result withheld", scopes: "system/Observation.us", op: op{do: "cpatch", typ: "Observation", q: "code=Z", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 200, want: "withheld", written: 1},
	{name: "u alone: a batch patch's result withheld", scopes: "system/Observation.u", op: op{do: "bundle", typ: "batch", body: string(bundleOf("batch", ent("PATCH", "Observation/o2", `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Observation.status"},{"name":"value","valueCode":"amended"}]}]}`)))},
		status: 200, want: "200-withheld", written: 1},
	{name: "u refused: patch", scopes: "system/Observation.crds", op: op{do: "patch", typ: "Observation", id: "o2", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 403, err: "update of Observation"},
	{name: "d allowed", scopes: "system/Observation.d", op: op{do: "delete", typ: "Observation", id: "o2"}, status: 204, written: 1},
	{name: "d refused", scopes: "system/Observation.crus", op: op{do: "delete", typ: "Observation", id: "o2"}, status: 403, err: "delete of Observation"},
	{name: "s allowed: search", scopes: "system/Observation.s", op: op{do: "search", typ: "Observation", q: "code=Z"}, status: 200, want: "Observation/o2 |"},
	{name: "s refused: search", scopes: "system/Observation.r", op: op{do: "search", typ: "Observation", q: "code=Z"}, status: 403, err: "search of Observation"},
	{name: "s allowed: type history", scopes: "system/Medication.s", op: op{do: "history", typ: "Medication"}, status: 200, want: "Medication/m1"},
	{name: "s refused: type history", scopes: "system/Medication.r", op: op{do: "history", typ: "Medication"}, status: 403, err: "search of Medication"},
	{name: "s allowed: compartment search", scopes: "system/Observation.s", op: op{do: "search", comp: "Patient", compID: "p2", typ: "Observation"}, status: 200, want: "Observation/o2 |"},
	{name: "s refused: compartment search", scopes: "system/Condition.s", op: op{do: "search", comp: "Patient", compID: "p2", typ: "Observation"}, status: 403, err: "search of Observation"},
	{name: "s allowed: system search of its types", scopes: "system/Observation.s system/Condition.s", op: op{do: "search", q: "_type=Observation,Condition&_id=o2,c5"}, status: 200, want: "Condition/c5 Observation/o2 |"},
	{name: "s refused: system search of a type not granted", scopes: "system/Observation.s", op: op{do: "search", q: "_type=Observation,Condition&_id=o2,c5"}, status: 403, err: "search of Condition"},
	{name: "s refused: system search without _type needs *.s", scopes: "system/Observation.s system/Condition.s", op: op{do: "search", q: "_id=o2"}, status: 403, err: "search of every resource type: it needs patient/*.s"},
	{name: "s allowed: system search without _type", scopes: "system/*.s", op: op{do: "search", q: "_id=o2"}, status: 200, want: "Observation/o2 |"},
	{name: "s allowed: system history", scopes: "system/*.s", op: op{do: "history", q: "_count=1"}, status: 200, want: "Encounter/e2"},
	{name: "s refused: system history", scopes: "system/Observation.s", op: op{do: "history"}, status: 403, err: "search of every resource type"},
	{name: "$reindex needs system/*.u", scopes: "system/*.rs patient/*.u", patient: "p1", op: op{do: "reindex"}, status: 403, err: "it needs system/*.u"},
	{name: "$reindex with system/*.u", scopes: "system/*.u", op: op{do: "reindex"}, status: 202},
	{name: "patient/ scopes without a launch patient allow nothing", scopes: "patient/*.cruds", op: op{do: "read", typ: "Observation", id: "o1"}, status: 403, err: "needs a patient in the launch context"},

	// reads under a patient/ scope: another patient's resource is unknown
	{name: "read of the patient's own", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Observation", id: "o1"}, status: 200, want: "Observation/o1"},
	{name: "read of another patient's: 404", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Observation", id: "o2"}, status: 404, err: "Observation/o2 is not known"},
	{name: "read of an unknown: the same 404", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Observation", id: "o9"}, status: 404, err: "Observation/o9 is not known"},
	{name: "read of another Patient: 404", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Patient", id: "p2"}, status: 404},
	{name: "read of the launch Patient", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Patient", id: "p1"}, status: 200, want: "Patient/p1"},
	{name: "read of shared data is not confined", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Practitioner", id: "dr1"}, status: 200, want: "Practitioner/dr1"},
	{name: "vread of another patient's: 404", scopes: pat1, patient: "p1", op: op{do: "vread", typ: "Observation", id: "o2", vid: "1"}, status: 404},
	{name: "vread of the patient's own", scopes: pat1, patient: "p1", op: op{do: "vread", typ: "Observation", id: "o1", vid: "1"}, status: 200, want: "Observation/o1"},
	{name: "history of another patient's resource: 404", scopes: pat1, patient: "p1", op: op{do: "history", typ: "Observation", id: "o2"}, status: 404},
	{name: "history of the patient's own", scopes: pat1, patient: "p1", op: op{do: "history", typ: "Observation", id: "o1"}, status: 200, want: "Observation/o1"},
	{name: "type history under a patient/ scope: the patient's versions", scopes: pat1, patient: "p1", op: op{do: "history", typ: "Observation"}, status: 200, want: "Observation/o5 Observation/o4 Observation/o3 Observation/o1"},
	{name: "system history under a patient/ scope: the patient's and shared data", scopes: pat1, patient: "p1", op: op{do: "history", q: "_count=50"}, status: 200,
		want: "Encounter/e1 Device/dev1 Task/t1 Condition/c4 Condition/c3 Condition/c2 Condition/c1 Observation/o5 Observation/o4 Observation/o3 Observation/o1 Patient/p1 Medication/m1 Organization/org2 Organization/org1 Practitioner/dr1"},
	{name: "type history of shared data under a patient/ scope", scopes: pat1, patient: "p1", op: op{do: "history", typ: "Medication"}, status: 200, want: "Medication/m1"},
	{name: "user/ scopes are not confined", scopes: "user/Observation.rs patient/*.rs", patient: "p1", op: op{do: "read", typ: "Observation", id: "o2"}, status: 200, want: "Observation/o2"},

	// a restriction on another kind of parameter than token: older versions fail closed
	{name: "the current version within a date restriction is read", scopes: since2024, more: dated, op: op{do: "read", typ: "Observation", id: "o7"}, status: 200, want: "Observation/o7"},
	{name: "the current version within a date restriction is vread", scopes: since2024, more: dated, op: op{do: "vread", typ: "Observation", id: "o7", vid: "2"}, status: 200, want: "Observation/o7"},
	{name: "an older version outside a date restriction is not vread", scopes: since2024, more: dated, op: op{do: "vread", typ: "Observation", id: "o7", vid: "1"}, status: 404, err: "Observation/o7 is not known"},
	{name: "an older version outside a date restriction is not listed", scopes: since2024, more: dated, op: op{do: "history", typ: "Observation", id: "o7"}, status: 200, want: "Observation/o7"},
	{name: "an older version within a date restriction is not vread either", scopes: since2024, more: dated, op: op{do: "vread", typ: "Observation", id: "o8", vid: "1"}, status: 404},
	{name: "a resource whose current version is outside a date restriction has no history", scopes: since2024, more: dated, op: op{do: "history", typ: "Observation", id: "o8"}, status: 404},

	// under a narrowing grant every refusal of a read is the same 404
	{name: "vread of another patient's: the 404 of an unknown", scopes: pat1, patient: "p1", op: op{do: "vread", typ: "Observation", id: "o2", vid: "1"}, status: 404, err: "Observation/o2 is not known"},
	{name: "vread of another patient's missing version: the same 404", scopes: pat1, patient: "p1", op: op{do: "vread", typ: "Observation", id: "o2", vid: "7"}, status: 404, err: "Observation/o2 is not known"},
	{name: "vread of an unknown: the same 404", scopes: pat1, patient: "p1", op: op{do: "vread", typ: "Observation", id: "nope", vid: "1"}, status: 404, err: "Observation/nope is not known"},
	{name: "vread of the patient's missing version: the same 404", scopes: pat1, patient: "p1", op: op{do: "vread", typ: "Observation", id: "o1", vid: "7"}, status: 404, err: "Observation/o1 is not known"},
	{name: "vread of a malformed version: the same 404", scopes: pat1, patient: "p1", op: op{do: "vread", typ: "Observation", id: "o1", vid: "x"}, status: 404, err: "Observation/o1 is not known"},
	{name: "vread of a deleted resource of the patient's: the same 404", scopes: pat1, patient: "p1", more: deleted, op: op{do: "vread", typ: "Observation", id: "o10", vid: "2"}, status: 404, err: "Observation/o10 is not known"},
	{name: "patch of another patient's deleted: the 404 of an unknown", scopes: pat1, patient: "p1", more: deleted, op: op{do: "patch", typ: "Observation", id: "o11", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 404, err: "Observation/o11 is not known"},
	{name: "patch of an unknown: the same 404", scopes: pat1, patient: "p1", op: op{do: "patch", typ: "Observation", id: "nope", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 404, err: "Observation/nope is not known"},
	{name: "unnarrowed, vread of a missing version says so", scopes: "system/Observation.r", op: op{do: "vread", typ: "Observation", id: "o1", vid: "7"}, status: 404, err: "has no version 7"},
	{name: "unnarrowed, vread of a deletion is a 410", scopes: "system/Observation.r", more: deleted, op: op{do: "vread", typ: "Observation", id: "o10", vid: "2"}, status: 410},
	{name: "unnarrowed, patch of a deleted is a 410", scopes: "system/Observation.u", more: deleted, op: op{do: "patch", typ: "Observation", id: "o11", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 410},

	// searches under a patient/ scope
	{name: "search narrowed to the compartment", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Observation"}, status: 200, want: "Observation/o1 Observation/o3 Observation/o4 Observation/o5 |"},
	{name: "search for another patient's finds nothing", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Observation", q: "code=Z"}, status: 200, want: "|"},
	{name: "search by patient=another finds nothing", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Observation", q: "patient=p2"}, status: 200, want: "|"},
	{name: "Patient search: the launch patient only", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Patient"}, status: 200, want: "Patient/p1 |"},
	{name: "shared data is not confined", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Organization"}, status: 200, want: "Organization/org1 Organization/org2 |"},
	{name: "compartment search of another patient finds nothing", scopes: pat1, patient: "p1", op: op{do: "search", comp: "Patient", compID: "p2", typ: "Observation"}, status: 200, want: "|"},
	{name: "compartment search of the patient", scopes: pat1, patient: "p1", op: op{do: "search", comp: "Patient", compID: "p1", typ: "Encounter"}, status: 200, want: "Encounter/e1 |"},
	{name: "compartment search of every type", scopes: pat1, patient: "p1", op: op{do: "search", comp: "Patient", compID: "p1", q: "_id=e1,e2,o2,o3"}, status: 200, want: "Encounter/e1 Observation/o3 |"},
	{name: "compartment search of every type needs *.s", scopes: "patient/Observation.rs patient/Encounter.rs", patient: "p1", op: op{do: "search", comp: "Patient", compID: "p1"}, status: 403, err: "it needs patient/*.s"},
	{name: "system search of types narrowed alike", scopes: pat1, patient: "p1", op: op{do: "search", q: "_type=Observation,Encounter&_id=e1,e2,o2,o3"}, status: 200, want: "Encounter/e1 Observation/o3 |"},
	{name: "system search of types narrowed differently: 403", scopes: pat1, patient: "p1", op: op{do: "search", q: "_type=Observation,Medication"}, status: 403, err: "search them one type at a time"},
	{name: "system search without _type under a patient/ scope: 403", scopes: pat1, patient: "p1", op: op{do: "search", q: "_id=o1"}, status: 403, err: "name the types with _type"},

	// includes
	{name: "_revinclude from shared data keeps the patient's", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Practitioner", q: "_revinclude=Observation:performer"},
		status: 200, want: "Practitioner/dr1 | Observation/o1 Observation/o3 Observation/o4 Observation/o5"},
	{name: "_revinclude of Patients keeps the launch patient", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Practitioner", q: "_revinclude=Patient:general-practitioner"},
		status: 200, want: "Practitioner/dr1 | Patient/p1"},
	{name: ":iterate does not walk on from what the caller may not see", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Practitioner", q: "_revinclude=Patient:general-practitioner&_include:iterate=Patient:organization"},
		status: 200, want: "Practitioner/dr1 | Organization/org1 Patient/p1"},
	{name: "_include of another patient's resource is left out", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Observation", q: "_id=o4&_include=Observation:has-member"},
		status: 200, want: "Observation/o4 |"},
	{name: "_include of a type the token cannot read is left out", scopes: "patient/Observation.rs", patient: "p1", op: op{do: "search", typ: "Observation", q: "_id=o1&_include=Observation:performer&_include=Observation:subject"},
		status: 200, want: "Observation/o1 |"},
	{name: "_include of a type read only", scopes: "patient/Observation.rs patient/Patient.r", patient: "p1", op: op{do: "search", typ: "Observation", q: "_id=o1&_include=Observation:subject"},
		status: 200, want: "Observation/o1 | Patient/p1"},
	{name: "_revinclude within the restriction", scopes: "patient/Patient.rs patient/Observation.rs?category=" + obsCat + "|laboratory", patient: "p1", op: op{do: "search", typ: "Patient", q: "_revinclude=Observation:subject"},
		status: 200, want: "Patient/p1 | Observation/o1 Observation/o4"},

	// chains and _has: their inner searches are narrowed too
	{name: "chain into another patient's", scopes: "user/Observation.rs patient/Patient.rs", patient: "p1", op: op{do: "search", typ: "Observation", q: "subject:Patient.name=Beta"}, status: 200, want: "|"},
	{name: "chain into the patient's", scopes: "user/Observation.rs patient/Patient.rs", patient: "p1", op: op{do: "search", typ: "Observation", q: "subject:Patient.name=Alpha&code=A"}, status: 200, want: "Observation/o1 |"},
	{name: "chain through a confined base to another patient's", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Observation", q: "has-member.code=Z"}, status: 200, want: "|"},
	{name: "chain into shared data", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Observation", q: "performer:Practitioner.name=Doc&code=A"}, status: 200, want: "Observation/o1 |"},
	{name: "chain into a type the token cannot search", scopes: "patient/Observation.rs", patient: "p1", op: op{do: "search", typ: "Observation", q: "subject:Patient.name=Alpha"}, status: 403, err: "search of Patient"},
	{name: "_has on shared data into another patient's", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Practitioner", q: "_has:Observation:performer:code=Z"}, status: 200, want: "|"},
	{name: "_has on shared data into the patient's", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Practitioner", q: "_has:Observation:performer:code=A"}, status: 200, want: "Practitioner/dr1 |"},
	{name: "_has into a type the token cannot search", scopes: "patient/Practitioner.rs", patient: "p1", op: op{do: "search", typ: "Practitioner", q: "_has:Observation:performer:code=A"}, status: 403, err: "search of Observation"},

	// types outside the R4 Patient compartment under a patient/ scope
	{name: "Task of the patient, by Task.for", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Task", id: "t1"}, status: 200, want: "Task/t1"},
	{name: "Task of another patient: 404", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Task", id: "t2"}, status: 404, err: "Task/t2 is not known"},
	{name: "Task search narrowed to the patient", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Task"}, status: 200, want: "Task/t1 |"},
	{name: "Task search for another patient finds nothing", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Task", q: "patient=p2"}, status: 200, want: "|"},
	{name: "Task history of another patient's: 404", scopes: pat1, patient: "p1", op: op{do: "history", typ: "Task", id: "t2"}, status: 404},
	{name: "Device of another patient: 404", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Device", id: "dev2"}, status: 404},
	{name: "Device search narrowed to the patient", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Device"}, status: 200, want: "Device/dev1 |"},
	{name: "Task and Observation are narrowed differently", scopes: pat1, patient: "p1", op: op{do: "search", q: "_type=Observation,Task"}, status: 403, err: "search them one type at a time"},
	{name: "a type neither in the compartment nor reference data: read refused", scopes: pat1, patient: "p1", op: op{do: "read", typ: "Binary", id: "bin1"}, status: 403, err: "it needs user/Binary.r or system/Binary.r"},
	{name: "a type neither in the compartment nor reference data: search refused", scopes: pat1, patient: "p1", op: op{do: "search", typ: "Binary"}, status: 403, err: "it needs user/Binary.s or system/Binary.s"},
	{name: "a type neither in the compartment nor reference data: history refused", scopes: pat1, patient: "p1", op: op{do: "history", typ: "Bundle"}, status: 403, err: "user/Bundle.s"},
	{name: "a user/ scope reads what a patient/ one cannot", scopes: pat1 + " user/Binary.r", patient: "p1", op: op{do: "read", typ: "Binary", id: "bin1"}, status: 200, want: "Binary/bin1"},
	{name: "conformance data is not confined", scopes: pat1, patient: "p1", op: op{do: "search", typ: "SearchParameter"}, status: 200, want: "|"},
	{name: "delete of shared data: 403", scopes: pat1, patient: "p1", op: op{do: "delete", typ: "Practitioner", id: "dr1"}, status: 403, err: "system/Practitioner.d"},
	{name: "update of shared data: 403", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Organization", id: "org2", body: `{"resourceType":"Organization","id":"org2","name":"Mine"}`}, status: 403, err: "system/Organization.u"},
	{name: "patch of shared data: 403", scopes: pat1, patient: "p1", op: op{do: "patch", typ: "Organization", id: "org2", body: `[{"op":"replace","path":"/name","value":"Mine"}]`}, status: 403},
	{name: "write of another type outside the compartment: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Binary", body: `{"resourceType":"Binary","contentType":"text/plain"}`}, status: 403, err: "system/Binary.c"},
	{name: "create of a Task for the patient", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Task", body: `{"resourceType":"Task","status":"requested","intent":"order","for":{"reference":"Patient/p1"}}`}, status: 201, written: 1},
	{name: "create of a Task for another patient: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Task", body: `{"resourceType":"Task","status":"requested","intent":"order","for":{"reference":"Patient/p2"}}`}, status: 403, err: "outside it"},
	{name: "create of a Task for nobody: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Task", body: `{"resourceType":"Task","status":"requested","intent":"order"}`}, status: 403},
	{name: "update of another patient's Task: 403", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Task", id: "t2", body: `{"resourceType":"Task","id":"t2","status":"requested","intent":"order","for":{"reference":"Patient/p1"}}`}, status: 403, err: "Task/t2 is outside it"},
	{name: "delete of another patient's Device: 403", scopes: pat1, patient: "p1", op: op{do: "delete", typ: "Device", id: "dev2"}, status: 403},
	{name: "a SearchParameter under a patient/ scope: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "SearchParameter", body: perfSP}, status: 403, own: true},
	{name: "a SearchParameter needs system/*.u", scopes: "user/SearchParameter.cruds", op: op{do: "create", typ: "SearchParameter", body: perfSP}, status: 403, err: "system/*.u", own: true},
	{name: "a SearchParameter needs an unrestricted *.u", scopes: "system/SearchParameter.c system/*.u?_id=x", op: op{do: "create", typ: "SearchParameter", body: perfSP}, status: 403, err: "system/*.u", own: true},
	{name: "a SearchParameter delete needs system/*.u too", scopes: "user/SearchParameter.d", op: op{do: "delete", typ: "SearchParameter", id: "x"}, status: 403, err: "system/*.u", own: true},
	{name: "a SearchParameter with system/*.u", scopes: "system/SearchParameter.c system/*.u", op: op{do: "create", typ: "SearchParameter", body: perfSP}, status: 201, written: 1, own: true},

	// search-restricted scopes (Inferno's fine-grained cases)
	{name: "Condition categories", patient: "p1", scopes: "patient/Condition.rs?category=" + condCat + "|encounter-diagnosis patient/Condition.rs?category=" + condCat + "|problem-list-item patient/Condition.rs?category=" + usCore + "|health-concern",
		op: op{do: "search", typ: "Condition"}, status: 200, want: "Condition/c1 Condition/c2 Condition/c3 |"},
	{name: "Condition categories: read outside them", patient: "p1", scopes: "patient/Condition.rs?category=" + condCat + "|encounter-diagnosis patient/Condition.rs?category=" + condCat + "|problem-list-item",
		op: op{do: "read", typ: "Condition", id: "c4"}, status: 404},
	{name: "Condition categories: read within them", patient: "p1", scopes: "patient/Condition.rs?category=" + condCat + "|encounter-diagnosis patient/Condition.rs?category=" + condCat + "|problem-list-item",
		op: op{do: "read", typ: "Condition", id: "c2"}, status: 200, want: "Condition/c2"},
	{name: "Observation categories", patient: "p1", scopes: "patient/Observation.rs?category=" + obsCat + "|laboratory patient/Observation.rs?category=" + obsCat + "|vital-signs",
		op: op{do: "search", typ: "Observation"}, status: 200, want: "Observation/o1 Observation/o3 Observation/o4 |"},
	{name: "Observation categories: a search asking for another", patient: "p1", scopes: "patient/Observation.rs?category=" + obsCat + "|laboratory patient/Observation.rs?category=" + obsCat + "|vital-signs",
		op: op{do: "search", typ: "Observation", q: "category=social-history"}, status: 200, want: "|"},
	{name: "a restriction on an unconfined scope", scopes: "user/Observation.rs?code=Z", op: op{do: "search", typ: "Observation"}, status: 200, want: "Observation/o2 |"},
	{name: "a restriction the server cannot read allows nothing", scopes: "user/Observation.rs?shoe-size=42", op: op{do: "search", typ: "Observation"}, status: 403, err: "shoe-size"},
	{name: "restrictions that cannot be combined", patient: "p1", scopes: "patient/Observation.rs?code=A patient/Observation.rs?category=" + obsCat + "|laboratory",
		op: op{do: "search", typ: "Observation"}, status: 403, err: "cannot be combined"},

	// writes under a patient/ scope
	{name: "create in the compartment", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A")}, status: 201, written: 1},
	{name: "create in another patient's compartment: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "A")}, status: 403, err: "the resource written is outside it"},
	{name: "create of another Patient: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Patient", body: `{"resourceType":"Patient"}`}, status: 403},
	{name: "create of shared data: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Medication", body: `{"resourceType":"Medication"}`}, status: 403, err: "it needs user/Medication.c or system/Medication.c"},
	{name: "update of the patient's own", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Observation", id: "o1", body: obs("o1", "p1", "laboratory", "Y")}, status: 200, written: 1},
	{name: "update moving it to another patient: 403", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Observation", id: "o1", body: obs("o1", "p2", "laboratory", "Y")}, status: 403},
	{name: "update of another patient's: 403", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Observation", id: "o2", body: obs("o2", "p1", "laboratory", "Y")}, status: 403, err: "Observation/o2 is outside it"},
	{name: "update as create in the compartment", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Observation", id: "o9", body: obs("o9", "p1", "laboratory", "Y")}, status: 201, written: 1},
	{name: "patch of another patient's: 403", scopes: pat1, patient: "p1", op: op{do: "patch", typ: "Observation", id: "o2", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 403},
	{name: "patch moving it to another patient: 403", scopes: pat1, patient: "p1", op: op{do: "patch", typ: "Observation", id: "o1", body: `[{"op":"replace","path":"/subject/reference","value":"Patient/p2"}]`}, status: 403},
	{name: "patch of the patient's own", scopes: pat1, patient: "p1", op: op{do: "patch", typ: "Observation", id: "o1", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 200, written: 1},
	{name: "delete of another patient's: 403", scopes: pat1, patient: "p1", op: op{do: "delete", typ: "Observation", id: "o2"}, status: 403},
	{name: "delete of the patient's own", scopes: pat1, patient: "p1", op: op{do: "delete", typ: "Observation", id: "o1"}, status: 204, written: 1},
	{name: "restricted create within the restriction", scopes: "patient/Observation.c?category=" + obsCat + "|laboratory", patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A")}, status: 201, written: 1},
	{name: "restricted create outside the restriction: 403", scopes: "patient/Observation.c?category=" + obsCat + "|laboratory", patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p1", "vital-signs", "A")}, status: 403},
	{name: "a restriction on a write that is not a token: 403", scopes: "user/Observation.c?date=ge2020", op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A")}, status: 403, err: "only token parameters"},

	// a confined write must leave the resource in the launch patient's compartment only
	{name: "create in another patient's compartment naming the patient: 403", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Observation", body: obsBy("", "p2", "p1")}, status: 403, err: "the resource written is outside it"},
	{name: "update moving it to another patient, naming the patient: 403", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Observation", id: "o1", body: obsBy("o1", "p2", "p1")}, status: 403},
	{name: "patch moving it to another patient, naming the patient: 403", scopes: pat1, patient: "p1", op: op{do: "patch", typ: "Observation", id: "o1", body: `[{"op":"add","path":"/performer/-","value":{"reference":"Patient/p1"}},{"op":"replace","path":"/subject/reference","value":"Patient/p2"}]`}, status: 403},
	{name: "another patient's naming the patient is read", scopes: pat1, patient: "p1", more: []stored{{"Observation", obsBy("o6", "p2", "p1")}}, op: op{do: "read", typ: "Observation", id: "o6"}, status: 200, want: "Observation/o6"},
	{name: "another patient's naming the patient is not updated", scopes: pat1, patient: "p1", more: []stored{{"Observation", obsBy("o6", "p2", "p1")}}, op: op{do: "update", typ: "Observation", id: "o6", body: obsBy("o6", "p2", "p1")}, status: 403, err: "Observation/o6 is outside it"},
	{name: "another patient's naming the patient is not patched", scopes: pat1, patient: "p1", more: []stored{{"Observation", obsBy("o6", "p2", "p1")}}, op: op{do: "patch", typ: "Observation", id: "o6", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 403},
	{name: "another patient's naming the patient is not deleted", scopes: pat1, patient: "p1", more: []stored{{"Observation", obsBy("o6", "p2", "p1")}}, op: op{do: "delete", typ: "Observation", id: "o6"}, status: 403},
	{name: "the launch Patient linking itself to another: 403", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Patient", id: "p1", body: `{"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p2"},"type":"seealso"}]}`}, status: 403},
	{name: "a Patient linking to the launch patient is read", scopes: pat1, patient: "p1", more: []stored{{"Patient", `{"resourceType":"Patient","id":"p3","link":[{"other":{"reference":"Patient/p1"},"type":"seealso"}]}`}}, op: op{do: "read", typ: "Patient", id: "p3"}, status: 200, want: "Patient/p3"},
	{name: "a Patient linking to the launch patient is not changed", scopes: pat1, patient: "p1", more: []stored{{"Patient", `{"resourceType":"Patient","id":"p3","link":[{"other":{"reference":"Patient/p1"},"type":"seealso"}]}`}}, op: op{do: "update", typ: "Patient", id: "p3", body: `{"resourceType":"Patient","id":"p3","link":[{"other":{"reference":"Patient/p1"},"type":"seealso"}]}`}, status: 403},
	{name: "a Patient linking to the launch patient is not created", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Patient", body: `{"resourceType":"Patient","link":[{"other":{"reference":"Patient/p1"},"type":"seealso"}]}`}, status: 403},
	{name: "a Task of the patient naming another outside its patient parameter", scopes: pat1, patient: "p1", op: op{do: "update", typ: "Task", id: "t1", body: `{"resourceType":"Task","id":"t1","status":"requested","intent":"order","for":{"reference":"Patient/p1"},"focus":{"reference":"Patient/p2"}}`}, status: 200, written: 1},
	{name: "a conditional update of another patient's naming the patient: 403", scopes: pat1, patient: "p1", more: []stored{{"Observation", obsBy("o6", "p2", "p1")}}, op: op{do: "cupdate", typ: "Observation", q: "_id=o6", body: obsBy("o6", "p1", "p1")}, status: 403, err: "Observation/o6 is outside it"},

	// conditional interactions: the match is narrowed, a forbidden one is no match
	{name: "conditional create matching another patient's creates", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "Z"), pre: service.Preconditions{IfNoneExist: "code=Z"}}, status: 201, written: 1},
	{name: "conditional create matching the patient's", scopes: pat1, patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A"), pre: service.Preconditions{IfNoneExist: "code=A"}}, status: 200, want: "Observation/o1"},
	{name: "conditional update matching another patient's creates", scopes: pat1, patient: "p1", op: op{do: "cupdate", typ: "Observation", q: "code=Z", body: obs("", "p1", "laboratory", "Z")}, status: 201, written: 1},
	{name: "conditional delete matching another patient's deletes nothing", scopes: pat1, patient: "p1", op: op{do: "cdelete", typ: "Observation", q: "code=Z"}, status: 204},
	{name: "conditional patch matching another patient's: no match", scopes: pat1, patient: "p1", op: op{do: "cpatch", typ: "Observation", q: "code=Z", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 404},
	{name: "conditional match with a write letter only: 403", scopes: "patient/Observation.d", patient: "p1", op: op{do: "cdelete", typ: "Observation", q: "code=A"}, status: 403, err: "search of Observation"},
	{name: "conditional match with the write letter and s", scopes: "patient/Observation.ds", patient: "p1", op: op{do: "cdelete", typ: "Observation", q: "code=A"}, status: 204, written: 1},
	{name: "conditional create with c alone: 403", scopes: "system/Observation.c", op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "Z"), pre: service.Preconditions{IfNoneExist: "subject=Patient/p2"}}, status: 403, err: "search of Observation"},
	{name: "conditional create without r: the match is withheld", scopes: "system/Observation.cs", op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "Z"), pre: service.Preconditions{IfNoneExist: "code=Z"}}, status: 200, want: "withheld Observation/o2"},
	{name: "conditional create with r: the match is returned", scopes: "system/Observation.crs", op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "Z"), pre: service.Preconditions{IfNoneExist: "code=Z"}}, status: 200, want: "Observation/o2"},
	{name: "conditional create with r elsewhere: the match is withheld", scopes: "system/Observation.cs user/Observation.r?code=A", op: op{do: "create", typ: "Observation", body: obs("", "p2", "laboratory", "Z"), pre: service.Preconditions{IfNoneExist: "code=Z"}}, status: 200, want: "withheld Observation/o2"},
	{name: "conditional create: s narrows the match", scopes: "user/Observation.c patient/Observation.rs", patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "Z"), pre: service.Preconditions{IfNoneExist: "code=Z"}}, status: 201, written: 1},
	{name: "conditional create: c narrows the match", scopes: "patient/Observation.c user/Observation.rs", patient: "p1", op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "Z"), pre: service.Preconditions{IfNoneExist: "code=Z"}}, status: 201, written: 1},
	{name: "conditional update with u alone: 403", scopes: "system/Observation.u", op: op{do: "cupdate", typ: "Observation", q: "code=Z", body: obs("", "p2", "laboratory", "Z")}, status: 403, err: "search of Observation"},
	{name: "conditional patch with u alone: 403", scopes: "system/Observation.u", op: op{do: "cpatch", typ: "Observation", q: "code=Z", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, status: 403, err: "search of Observation"},
	{name: "conditional update: s narrows the match", scopes: "user/Observation.u patient/Observation.s", patient: "p1", op: op{do: "cupdate", typ: "Observation", q: "code=Z", body: obs("", "p2", "laboratory", "Z")}, status: 201, written: 1},
	{name: "batch: an ifNoneExist with c alone", scopes: "system/Observation.c", op: op{do: "bundle", typ: "batch", body: string(bundleOf("batch", ent("POST", "Observation", obs("", "p2", "laboratory", "Z"), "ifNoneExist", "code=Z"), ent("POST", "Observation", obs("", "p2", "laboratory", "Y"))))},
		status: 200, want: "403 201", written: 1},
	{name: "transaction: an ifNoneExist with c alone fails whole", scopes: "system/Observation.c", op: op{do: "bundle", typ: "transaction", body: string(bundleOf("transaction", ent("POST", "Observation", obs("", "p2", "laboratory", "Y")), ent("POST", "Observation", obs("", "p2", "laboratory", "Z"), "ifNoneExist", "code=Z")))},
		status: 403, err: "Bundle.entry[1]: the token's scopes do not allow search of Observation"},
	{name: "transaction: an ifNoneExist match without r is withheld", scopes: "system/Observation.cs", op: op{do: "bundle", typ: "transaction", body: string(bundleOf("transaction", ent("POST", "Observation", obs("", "p2", "laboratory", "Y")), ent("POST", "Observation", obs("", "p2", "laboratory", "Z"), "ifNoneExist", "code=Z")))},
		status: 200, want: "201 200-withheld", written: 1},
	{name: "batch: an ifNoneExist match with r", scopes: "system/Observation.crs", op: op{do: "bundle", typ: "batch", body: string(bundleOf("batch", ent("POST", "Observation", obs("", "p2", "laboratory", "Z"), "ifNoneExist", "code=Z")))},
		status: 200, want: "200"},

	// Bundles: each entry checked on its own
	{name: "batch entries", scopes: pat1, patient: "p1", op: op{do: "bundle", typ: "batch", body: string(bundleOf("batch",
		ent("GET", "Observation/o2", ""), ent("GET", "Observation/o1", ""), ent("POST", "Observation", obs("", "p2", "laboratory", "A")),
		ent("POST", "Observation", obs("", "p1", "laboratory", "A")), ent("DELETE", "Observation/o2", ""), ent("GET", "Observation?code=Z", ""),
		ent("PUT", "Observation/o2", obs("o2", "p1", "laboratory", "A"))))},
		status: 200, want: "404 200 403 201 403 200 403", written: 1},
	{name: "batch entry of a letter not granted", scopes: "patient/Observation.rs", patient: "p1", op: op{do: "bundle", typ: "batch", body: string(bundleOf("batch",
		ent("POST", "Observation", obs("", "p1", "laboratory", "A")), ent("GET", "Observation/o1", ""), ent("GET", "Condition/c1", "")))},
		status: 200, want: "403 200 403"},
	{name: "transaction with an entry outside the compartment fails whole", scopes: pat1, patient: "p1", op: op{do: "bundle", typ: "transaction", body: string(bundleOf("transaction",
		ent("POST", "Observation", obs("", "p1", "laboratory", "A")), ent("PUT", "Observation/o2", obs("o2", "p1", "laboratory", "A"))))},
		status: 403, err: "Bundle.entry[1]"},
	{name: "transaction with an entry of a letter not granted fails whole", scopes: "patient/Observation.c", patient: "p1", op: op{do: "bundle", typ: "transaction", body: string(bundleOf("transaction",
		ent("POST", "Observation", obs("", "p1", "laboratory", "A")), ent("DELETE", "Observation/o1", "")))},
		status: 403, err: "Bundle.entry[1]: the token's scopes do not allow delete of Observation"},
	{name: "transaction creating in another patient's compartment fails whole", scopes: pat1, patient: "p1", op: op{do: "bundle", typ: "transaction", body: string(bundleOf("transaction",
		ent("POST", "Observation", obs("", "p1", "laboratory", "A")), ent("POST", "Observation", obs("", "p2", "laboratory", "A"))))},
		status: 403, err: "Bundle.entry[1]"},
	{name: "transaction within the compartment", scopes: pat1, patient: "p1", op: op{do: "bundle", typ: "transaction", body: string(bundleOf("transaction",
		ent("POST", "Observation", obs("", "p1", "laboratory", "A")), ent("PUT", "Observation/o1", obs("o1", "p1", "laboratory", "Y"))))},
		status: 200, want: "201 200", written: 2},
	{name: "transaction: a conditional reference to another patient's matches nothing", scopes: pat1, patient: "p1", op: op{do: "bundle", typ: "transaction", body: string(bundleOf("transaction",
		ent("POST", "Observation", strings.Replace(obs("", "p1", "laboratory", "A"), `"Patient/p1"`, `"Patient?name=Beta"`, 1))))},
		status: 412, err: "matches 0 resources"},
}

// TestAccess runs each interaction with a token's scopes on the stored
// accessData and checks what it answers and stores, on every engine.
func TestAccess(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			for _, c := range accessCases {
				t.Run(c.name, func(t *testing.T) {
					f := newFixture(t, e)
					if c.own {
						f = newFixtureWith(t, e, ownRegistry(t))
					}
					if c.op.do == "bundle" && c.op.typ == "transaction" && !f.svc.Store.Features().Transactions {
						t.Skip("engine without transactions")
					}
					runAccess(t, f.svc, c)
				})
			}
		})
	}
}

// storeAccessData stores accessData and more, with no Access (the
// server's own).
func storeAccessData(t *testing.T, s *service.Service, more ...stored) {
	t.Helper()
	for _, d := range append(slices.Clip(accessData), more...) {
		if typ, id, ok := strings.Cut(d.typ, "/"); ok && d.body == "DELETE" {
			if _, err := s.Delete(context.Background(), typ, id, service.Preconditions{}); err != nil {
				t.Fatalf("stored state: %v", err)
			}
			continue
		}
		var m struct{ ID string }
		_ = json.Unmarshal([]byte(d.body), &m)
		if _, err := s.Update(context.Background(), d.typ, m.ID, []byte(d.body), service.Preconditions{}); err != nil {
			t.Fatalf("stored state: %v", err)
		}
	}
}

func runAccess(t *testing.T, s *service.Service, c accessCase) {
	bg := context.Background()
	storeAccessData(t, s, c.more...)
	set, bad := scope.Parse(c.scopes)
	if len(bad) > 0 {
		t.Fatalf("bad scopes %v", bad)
	}
	ctx := service.WithAccess(bg, set.Access(c.patient))
	outcome{c.status, c.want, c.err, c.written}.check(t, s, ctx, c.op)
}

// outcome is what a case expects of its operation: the status, what it
// answered (when want is set), words of its error, the versions written.
type outcome struct {
	status    int
	want, err string
	written   int
}

// check runs o under ctx and compares what it did with x.
func (x outcome) check(t *testing.T, s *service.Service, ctx context.Context, o op) {
	t.Helper()
	before := versions(t, s)
	status, got, err := o.run(ctx, s)
	if written := versions(t, s) - before; written != x.written {
		t.Errorf("%d versions written, want %d", written, x.written)
	}
	if err != nil {
		var fe *fhir.Error
		if !errors.As(err, &fe) {
			t.Fatalf("an internal error (a 500): %v", err)
		}
		status = fe.Status
		if x.status != status || !strings.Contains(fmt.Sprint(fe.Issues), x.err) {
			t.Fatalf("error %d %v, want %d saying %q", fe.Status, fe.Issues, x.status, x.err)
		}
		if status == 403 && fe.Issues[0].Code != "forbidden" {
			t.Errorf("403 with code %q, want forbidden", fe.Issues[0].Code)
		}
		return
	}
	if status != x.status || (x.want != "" && got != x.want) {
		t.Fatalf("status %d %q, want %d %q", status, got, x.status, x.want)
	}
}

// run performs o, returning its status and what it answered (see accessCase).
func (o op) run(ctx context.Context, s *service.Service) (int, string, error) {
	vals, err := url.ParseQuery(o.q)
	if err != nil {
		return 0, "", err
	}
	switch o.do {
	case "read":
		r, err := s.Read(ctx, o.typ, o.id)
		if err != nil {
			return 0, "", err
		}
		return 200, r.Type + "/" + r.ID, nil
	case "vread":
		r, err := s.VRead(ctx, o.typ, o.id, o.vid)
		if err != nil {
			return 0, "", err
		}
		return 200, r.Type + "/" + r.ID, nil
	case "search":
		resp, err := s.SearchCompartment(ctx, o.comp, o.compID, o.typ, vals, true)
		if err != nil {
			return 0, "", err
		}
		var m, inc []string
		for _, r := range resp.Result.Resources {
			m = append(m, r.Type+"/"+r.ID)
		}
		for _, r := range resp.Result.Included {
			inc = append(inc, r.Type+"/"+r.ID)
		}
		slices.Sort(m)
		slices.Sort(inc)
		return 200, strings.TrimSpace(strings.Join(m, " ") + " | " + strings.Join(inc, " ")), nil
	case "history":
		p, err := s.History(ctx, o.typ, o.id, vals)
		if err != nil {
			return 0, "", err
		}
		var vs []string
		for _, v := range p.Versions {
			vs = append(vs, v.Type+"/"+v.ID)
		}
		return 200, strings.Join(vs, " "), nil
	case "reindex":
		if _, err := s.StartReindex(ctx, nil); err != nil {
			return 0, "", err
		}
		return 202, "", nil
	case "bundle":
		_, res, err := s.Bundle(ctx, []byte(o.body), service.BundleOptions{})
		if err != nil {
			return 0, "", err
		}
		var st []string
		for _, r := range res {
			switch {
			case r.Withheld && r.Resource != nil && r.Resource.JSON != nil:
				st = append(st, "LEAKED")
			case r.Withheld:
				st = append(st, fmt.Sprint(r.Status)+"-withheld")
			default:
				st = append(st, fmt.Sprint(r.Status))
			}
		}
		return 200, strings.Join(st, " "), nil
	}
	r := req{op: o.do, typ: o.typ, id: o.id, q: o.q, body: o.body, pre: o.pre}
	res, err := r.run(ctx, s)
	if err != nil {
		return 0, "", err
	}
	got := ""
	if res.Resource != nil && res.Status == 200 && o.pre.IfNoneExist != "" {
		got = res.Resource.Type + "/" + res.Resource.ID
	}
	switch {
	case res.Withheld && res.Resource != nil && res.Resource.JSON != nil:
		got = "LEAKED " + got
	case res.Withheld:
		got = strings.TrimSpace("withheld " + got)
	}
	return res.Status, got, nil
}

// TestAccessExplain: __explain shows what the token's scopes added.
func TestAccessExplain(t *testing.T) {
	f := newFixture(t, engines()[0])
	set, _ := scope.Parse("patient/Observation.rs?category=" + obsCat + "|laboratory patient/Patient.rs")
	ctx := service.WithAccess(context.Background(), set.Access("p1"))
	resp, err := f.svc.Search(ctx, "Observation", url.Values{"subject:Patient.name": {"Alpha"}, "_include": {"Observation:subject"}, service.ExplainParam: {"true"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, is := range resp.Explain {
		text = append(text, is.Diagnostics)
	}
	all := strings.Join(text, "\n")
	for _, w := range []string{
		"access: narrowed to the compartment of Patient/p1 and the restriction category=" + obsCat + "|laboratory by the token's scopes, as the clause(s) _compartment=Patient/p1 and category=" + obsCat + "|laboratory",
		"access: the chain subject:Patient.name=Alpha is resolved within the token's scopes to 0 reference(s)",
		"access: _include and _revinclude keep only the resources the token's scopes let the caller read or search",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("explain lacks %q:\n%s", w, all)
		}
	}
	if resp, err := f.svc.Search(context.Background(), "Observation", url.Values{service.ExplainParam: {"true"}}, true); err != nil || strings.Contains(fmt.Sprint(resp.Explain), "access:") {
		t.Errorf("unrestricted explain: %v %v", resp.Explain, err)
	}
}

// counting is an Access that counts the Grant calls it answers.
type counting struct {
	service.Access
	n int
}

func (c *counting) Grant(letter byte, typ string) (service.Grant, error) {
	c.n++
	return c.Access.Grant(letter, typ)
}

// TestAccessCost: under an unconfined, unrestricted grant an interaction
// asks one Grant per letter it needs (each Bundle entry its own), and
// narrows nothing: a conditional write asks 's' for its match too, and
// the answer showing a match (or a patch's result) 'r'.
func TestAccessCost(t *testing.T) {
	set, _ := scope.Parse("system/*.cruds")
	cases := []struct {
		op    op
		calls int
	}{
		{op{do: "read", typ: "Observation", id: "o1"}, 1},
		{op{do: "vread", typ: "Observation", id: "o1", vid: "1"}, 1},
		{op{do: "history", typ: "Observation", id: "o1"}, 1},
		{op{do: "history", typ: "Observation"}, 1},
		{op{do: "search", typ: "Observation", q: "code=A"}, 1},
		{op{do: "search", comp: "Patient", compID: "p1", typ: "Observation"}, 1},
		{op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A"), pre: service.Preconditions{IfNoneExist: "code=A"}}, 3},
		{op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A"), pre: service.Preconditions{IfNoneExist: "code=none"}}, 2},
		{op{do: "update", typ: "Observation", id: "o1", body: obs("o1", "p1", "laboratory", "Y")}, 1},
		{op{do: "cupdate", typ: "Observation", q: "code=A", body: obs("", "p1", "laboratory", "A")}, 2},
		{op{do: "patch", typ: "Observation", id: "o1", body: `[{"op":"replace","path":"/status","value":"amended"}]`}, 2},
		{op{do: "delete", typ: "Observation", id: "o1"}, 1},
		{op{do: "cdelete", typ: "Observation", q: "code=Z"}, 2},
		{op{do: "bundle", body: string(bundleOf("batch", ent("POST", "Observation", obs("", "p1", "laboratory", "A")), ent("GET", "Observation/o1", ""), ent("DELETE", "Observation/o2", "")))}, 3},
	}
	for _, c := range cases {
		t.Run(c.op.do+" "+c.op.typ, func(t *testing.T) {
			f := newFixture(t, engines()[0])
			storeAccessData(t, f.svc)
			a := &counting{Access: set.Access("")}
			if _, _, err := c.op.run(service.WithAccess(context.Background(), a), f.svc); err != nil {
				t.Fatal(err)
			}
			if a.n != c.calls {
				t.Errorf("%d Grant calls, want %d", a.n, c.calls)
			}
		})
	}
}
