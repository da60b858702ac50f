package service_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/service"
)

// obsOn is an Observation of p1 based on the references basedOn.
func obsOn(id string, basedOn ...string) string {
	var refs []string
	for _, r := range basedOn {
		refs = append(refs, `{"reference":"`+r+`"}`)
	}
	b := obs(id, "p1", "laboratory", "L")
	if refs == nil {
		return b
	}
	return strings.Replace(b, `"status":"final"`, `"status":"final","basedOn":[`+strings.Join(refs, ",")+`]`, 1)
}

// orders are the ServiceRequests a laboratory's Observations are based on.
var orders = []stored{
	{"ServiceRequest", `{"resourceType":"ServiceRequest","id":"sr1","status":"active","intent":"order","subject":{"reference":"Patient/p1"}}`},
	{"ServiceRequest", `{"resourceType":"ServiceRequest","id":"sr2","status":"active","intent":"order","subject":{"reference":"Patient/p1"}}`},
	{"ServiceRequest", `{"resourceType":"ServiceRequest","id":"sr3","status":"active","intent":"order","subject":{"reference":"Patient/p1"}}`},
}

// restricted is an unconfined grant restricted to r (param=value pairs).
func restricted(kv ...string) service.Grant {
	r := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Add(kv[i], kv[i+1])
	}
	return service.Grant{Restriction: r}
}

// TestAccessRestrictedWrites: a write's new content must match a
// reference restriction by its reference entries and an _id restriction
// by its id (a laboratory writes only what is based on its orders);
// other kinds still refuse writes.
func TestAccessRestrictedWrites(t *testing.T) {
	lab := restricted("based-on", "ServiceRequest/sr1,ServiceRequest/sr2")
	more := append(orders, stored{"Observation", obsOn("o30", "ServiceRequest/sr1")}, stored{"Observation", obsOn("o31", "ServiceRequest/sr3")})
	runSetCases(t, []setCase{
		{name: "based on one of the orders", grant: lab, more: more, op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr2")}, status: 201, written: 1},
		{name: "based on another order too", grant: lab, more: more, op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr3", "ServiceRequest/sr1")}, status: 201, written: 1},
		{name: "based on another order only", grant: lab, more: more, op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr3")}, status: 403, err: "the resource written is outside it"},
		{name: "based on nothing", grant: lab, more: more, op: op{do: "create", typ: "Observation", body: obsOn("")}, status: 403, err: "outside it"},
		{name: "an update within", grant: lab, more: more, op: op{do: "update", typ: "Observation", id: "o30", body: obsOn("o30", "ServiceRequest/sr1")}, status: 200, written: 1},
		{name: "an update moving it out", grant: lab, more: more, op: op{do: "update", typ: "Observation", id: "o30", body: obsOn("o30", "ServiceRequest/sr3")}, status: 403, written: 0},
		{name: "an update of one outside", grant: lab, more: more, op: op{do: "update", typ: "Observation", id: "o31", body: obsOn("o31", "ServiceRequest/sr1")}, status: 403, err: "o31 is outside it"},
		{name: "a bare id", grant: restricted("based-on", "sr1"), more: more, op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr1")}, status: 201, written: 1},
		{name: "a bare id of another", grant: restricted("based-on", "sr1"), more: more, op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr2")}, status: 403},
		{name: "a URL value cannot be checked", grant: restricted("based-on", "http://example.org/fhir/ServiceRequest/sr1"), more: more, op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr1")}, status: 403, err: "cannot be checked on what is written"},
		{name: "a modifier cannot be checked", grant: restricted("based-on:missing", "false"), more: more, op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr1")}, status: 403, err: "cannot be checked on what is written"},
		{name: "_id: an update as create of one of the ids", grant: restricted("_id", "o40,o41"), op: op{do: "update", typ: "Observation", id: "o41", body: obs("o41", "p1", "laboratory", "A")}, status: 201, written: 1},
		{name: "_id: another id", grant: restricted("_id", "o40,o41"), op: op{do: "update", typ: "Observation", id: "o42", body: obs("o42", "p1", "laboratory", "A")}, status: 403, err: "outside it"},
		{name: "_id: a create, its id the server's", grant: restricted("_id", "o40,o41"), op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A")}, status: 403, err: "outside it"},
		{name: "a date still cannot be checked", grant: restricted("date", "ge2024"), op: op{do: "create", typ: "Observation", body: obs("", "p1", "laboratory", "A")}, status: 403, err: "cannot be checked on what is written"},
		{name: "confined and based on an order", grant: service.Grant{Confined: true, Patients: []string{"p1"}, Restriction: url.Values{"based-on": {"ServiceRequest/sr1"}}}, more: more,
			op: op{do: "create", typ: "Observation", body: obsOn("", "ServiceRequest/sr1")}, status: 201, written: 1},
	})
}
