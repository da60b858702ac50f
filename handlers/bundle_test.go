package handlers_test

import (
	"fmt"
	"strings"
	"testing"
)

func txEntry(fullURL, method, url string, res map[string]any, extra ...string) map[string]any {
	req := map[string]any{"method": method, "url": url}
	for i := 0; i+1 < len(extra); i += 2 {
		req[extra[i]] = extra[i+1]
	}
	e := map[string]any{"request": req}
	if fullURL != "" {
		e["fullUrl"] = fullURL
	}
	if res != nil {
		e["resource"] = res
	}
	return e
}

func bundle(typ string, es ...map[string]any) map[string]any {
	list := make([]any, len(es))
	for i, e := range es {
		list[i] = e
	}
	return map[string]any{"resourceType": "Bundle", "type": typ, "entry": list}
}

// needsTx skips transaction tests on deployments without transactions,
// after checking those refuse transaction Bundles with a clear outcome.
func needsTx(t *testing.T, f *fixture) {
	if f.st.Features().Transactions {
		return
	}
	r := f.do("POST", "", bundle("transaction", txEntry("", "POST", "Patient", patient("X"))))
	f.want(r, 400)
	if !strings.Contains(string(r.body), "transactions") {
		t.Fatalf("refusal does not name the requirement: %s", r.body)
	}
	t.Skip("storage without multi-document transactions: transaction Bundles are refused (checked)")
}

func TestTransactionResolvesReferences(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		needsTx(t, f)
		f.want(f.do("POST", "/Practitioner", map[string]any{"resourceType": "Practitioner", "identifier": []any{map[string]any{"system": "https://rpps.esante.gouv.fr", "value": "810000000001"}}}), 201)
		pat := "urn:uuid:6b3a1f4e-0000-4000-8000-000000000001"
		obs := map[string]any{
			"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "egfr"},
			"subject":   map[string]any{"reference": pat},
			"performer": []any{map[string]any{"reference": "Practitioner?identifier=https://rpps.esante.gouv.fr|810000000001"}},
			"extension": []any{map[string]any{"url": "http://example.org/ext", "valueReference": map[string]any{"reference": pat}}},
			"contained": []any{map[string]any{"resourceType": "Specimen", "id": "sp", "subject": map[string]any{"reference": pat}}},
			"specimen":  map[string]any{"reference": "#sp"},
			"component": []any{map[string]any{"code": map[string]any{"text": "c"}, "extension": []any{map[string]any{"url": "http://example.org/deep", "valueReference": map[string]any{"reference": pat}}}}},
		}
		// the observation comes first: references resolve in any direction
		r := f.do("POST", "", bundle("transaction",
			txEntry("urn:uuid:6b3a1f4e-0000-4000-8000-000000000002", "POST", "Observation", obs),
			txEntry(pat, "POST", "Patient", patient("Tx")),
		))
		f.want(r, 200)
		if r.str("type") != "transaction-response" || r.str("entry", "0", "response", "status") != "201 Created" {
			t.Fatalf("response: %s", r.body)
		}
		loc := r.str("entry", "1", "response", "location")
		if !strings.Contains(loc, "/Patient/") || r.str("entry", "1", "response", "etag") != `W/"1"` || r.str("entry", "1", "response", "lastModified") == "" {
			t.Fatalf("patient entry response: %s", r.body)
		}
		pid := "Patient/" + strings.Split(strings.SplitN(loc, "/Patient/", 2)[1], "/")[0]
		o := f.do("GET", strings.TrimPrefix(r.str("entry", "0", "response", "location"), f.base), nil)
		f.want(o, 200)
		body := string(o.body)
		if strings.Contains(body, "urn:uuid") || strings.Count(body, `"`+pid+`"`) != 4 {
			t.Fatalf("references not all resolved to %s: %s", pid, body)
		}
		if !strings.Contains(o.str("performer", "0", "reference"), "Practitioner/") {
			t.Fatalf("conditional reference: %s", body)
		}
		// a conditional reference matching nothing fails the transaction
		obs2 := map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "performer": []any{map[string]any{"reference": "Practitioner?identifier=none|0"}}}
		f.want(f.do("POST", "", bundle("transaction", txEntry("", "POST", "Observation", obs2))), 412)
		// an unresolvable urn:uuid is an error, not stored as is
		obs2["performer"] = []any{map[string]any{"reference": "urn:uuid:6b3a1f4e-0000-4000-8000-00000000dead"}}
		f.want(f.do("POST", "", bundle("transaction", txEntry("", "POST", "Observation", obs2))), 400)
	})
}

func TestTransactionAllOrNothing(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		needsTx(t, f)
		var es []map[string]any
		for i := 0; i < 10; i++ {
			p := patient(fmt.Sprint("Atomic", i), "urn:test", fmt.Sprint("atomic-", i))
			e := txEntry("", "POST", "Patient", p)
			if i == 4 { // the 5th entry is broken: its resource is not a Patient
				e = txEntry("", "POST", "Patient", map[string]any{"resourceType": "Observation", "status": "final"})
			}
			es = append(es, e)
		}
		r := f.do("POST", "", bundle("transaction", es...))
		f.want(r, 400)
		if !strings.Contains(string(r.body), "Bundle.entry[4]") {
			t.Fatalf("the outcome does not name the failing entry: %s", r.body)
		}
		s := f.do("GET", "/Patient?_total=accurate", nil)
		if n := len(entries(s)); n != 0 {
			t.Fatalf("%d patients persisted from a failed transaction", n)
		}
		h := f.do("GET", "/_history", nil)
		if n := len(entries(h)); n != 0 {
			t.Fatalf("%d versions persisted", n)
		}
		// a late failure (a PUT with a stale If-Match, processed after the POSTs) rolls back too
		es[4] = txEntry("", "PUT", "Patient/late", map[string]any{"resourceType": "Patient", "id": "late"}, "ifMatch", `W/"7"`)
		r = f.do("POST", "", bundle("transaction", es...))
		f.want(r, 412)
		if n := len(entries(f.do("GET", "/_history", nil))); n != 0 {
			t.Fatalf("%d versions persisted after a failed PUT", n)
		}
		// the same bundle without the broken entry commits all
		es[4] = txEntry("", "POST", "Patient", patient("Atomic4"))
		f.want(f.do("POST", "", bundle("transaction", es...)), 200)
		if n := len(entries(f.do("GET", "/Patient?_count=50", nil))); n != 10 {
			t.Fatalf("%d patients after a good transaction", n)
		}
	})
}

func TestTransactionConditionalEntries(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		needsTx(t, f)
		org := map[string]any{"resourceType": "Organization", "identifier": []any{map[string]any{"system": "https://finess.esante.gouv.fr", "value": "310000001"}}, "name": "CHU"}
		b := bundle("transaction", txEntry("urn:uuid:0c000000-0000-4000-8000-000000000001", "POST", "Organization", org, "ifNoneExist", "identifier=https://finess.esante.gouv.fr|310000001"),
			txEntry("", "POST", "Patient", map[string]any{"resourceType": "Patient", "managingOrganization": map[string]any{"reference": "urn:uuid:0c000000-0000-4000-8000-000000000001"}}))
		r1 := f.do("POST", "", b)
		f.want(r1, 200)
		r2 := f.do("POST", "", b)
		f.want(r2, 200)
		if r2.str("entry", "0", "response", "status") != "200 OK" {
			t.Fatalf("ifNoneExist match should answer 200: %s", r2.body)
		}
		if r1.str("entry", "0", "response", "location") != r2.str("entry", "0", "response", "location") {
			t.Fatalf("ifNoneExist created a second organization")
		}
		// the second patient points to the existing organization
		pl := strings.TrimPrefix(r2.str("entry", "1", "response", "location"), f.base)
		p := f.do("GET", pl, nil)
		if !strings.HasPrefix(p.str("managingOrganization", "reference"), "Organization/") {
			t.Fatalf("reference to matched entry: %s", p.body)
		}
		// DELETE, conditional PUT, GET in one transaction
		b = bundle("transaction",
			txEntry("", "PUT", "Organization?identifier=https://finess.esante.gouv.fr|310000001", map[string]any{"resourceType": "Organization", "identifier": org["identifier"], "name": "CHU de Toulouse"}),
			txEntry("", "DELETE", strings.TrimPrefix(pl, "/")[:len("Patient/")+36], nil),
			txEntry("", "GET", "Organization?identifier=https://finess.esante.gouv.fr|310000001", nil),
		)
		r := f.do("POST", "", b)
		f.want(r, 200)
		if r.str("entry", "0", "resource", "name") != "CHU de Toulouse" || r.str("entry", "0", "response", "status") != "200 OK" {
			t.Fatalf("conditional PUT entry: %s", r.body)
		}
		if r.str("entry", "2", "resource", "resourceType") != "Bundle" || r.str("entry", "2", "resource", "entry", "0", "resource", "name") != "CHU de Toulouse" {
			t.Fatalf("GET entry runs after the writes: %s", r.body)
		}
		if g := f.do("GET", "/"+strings.TrimPrefix(pl, "/")[:len("Patient/")+36], nil); g.status != 410 {
			t.Fatalf("deleted in the transaction, read gives %d; transaction response %s", g.status, r.body)
		}
	})
}

func TestBatchEntriesStandAlone(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		p := patient("Batch")
		p["id"] = "b1"
		f.want(f.do("PUT", "/Patient/b1", p), 201)
		r := f.do("POST", "", bundle("batch",
			txEntry("", "POST", "Patient", patient("Batch2")),
			txEntry("", "POST", "Patient", map[string]any{"resourceType": "Observation"}),
			txEntry("", "PUT", "Patient/b1", p, "ifMatch", `W/"9"`),
			txEntry("", "GET", "Patient/b1", nil),
			txEntry("", "GET", "Patient/none", nil),
			txEntry("", "DELETE", "Patient/b1", nil),
		))
		f.want(r, 200)
		want := []string{"201", "400", "412", "200", "404", "204"}
		// GETs run last: Patient/b1 is deleted by then
		want[3] = "410"
		for i, w := range want {
			if got := r.str("entry", fmt.Sprint(i), "response", "status"); !strings.HasPrefix(got, w) {
				t.Errorf("entry %d: %q, want %s (%s)", i, got, w, r.body)
			}
		}
		if r.str("entry", "1", "response", "outcome", "resourceType") != "OperationOutcome" {
			t.Fatalf("failed entry without outcome: %s", r.body)
		}
		if r.str("type") != "batch-response" {
			t.Fatal(r.str("type"))
		}
	})
}

// TestBundleMalformedJSON: a Bundle is split without decoding its
// resources, yet malformed JSON anywhere in it is a 400 OperationOutcome
// naming where, and stores nothing.
func TestBundleMalformedJSON(t *testing.T) {
	good := `{"fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111", "request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient", "active": true}}`
	cases := []struct{ name, body, where string }{
		{"bad literal in a resource", `{"resourceType": "Bundle", "type": "TYPE", "entry": [` + good + `, {"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient", "active": tru}}]}`, "entry[1]"},
		{"bad number in a resource", `{"resourceType": "Bundle", "type": "TYPE", "entry": [` + good + `, {"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient", "multipleBirthInteger": 1.2.3}}]}`, "entry[1]"},
		{"content after the Bundle", `{"resourceType": "Bundle", "type": "TYPE", "entry": [` + good + `]} {}`, "Bundle"},
		{"truncated", `{"resourceType": "Bundle", "type": "TYPE", "entry": [` + good, "Bundle"},
		{"entry not an array", `{"resourceType": "Bundle", "type": "TYPE", "entry": {"a": 1}}`, "Bundle.entry"},
		{"bad request member", `{"resourceType": "Bundle", "type": "TYPE", "entry": [{"request": {"method": POST, "url": "Patient"}, "resource": {"resourceType": "Patient"}}]}`, "entry[0]"},
		{"bad unread member", `{"resourceType": "Bundle", "type": "TYPE", "meta": {"versionId": nul}, "entry": [` + good + `]}`, "Bundle.meta"},
		{"bad resource in a DELETE", `{"resourceType": "Bundle", "type": "TYPE", "entry": [` + good + `, {"request": {"method": "DELETE", "url": "Patient/x"}, "resource": {"a": nul}}]}`, "entry[1]"},
	}
	forEach(t, func(t *testing.T, f *fixture) {
		types := []string{"batch"}
		if f.st.Features().Transactions {
			types = append(types, "transaction")
		}
		for _, typ := range types {
			before := len(entries(f.do("GET", "/_history?_count=1000", nil)))
			for _, c := range cases {
				body := strings.ReplaceAll(c.body, "TYPE", typ)
				r := f.do("POST", "", []byte(body))
				if typ == "batch" && r.status == 200 {
					// a batch answers a bad entry in the entry itself
					if !strings.Contains(string(r.body), `"status":"400`) {
						t.Errorf("%s %s: 200 without a 400 entry: %s", typ, c.name, r.body)
					}
					continue
				}
				if r.status != 400 || r.str("resourceType") != "OperationOutcome" || !strings.Contains(string(r.body), c.where) {
					t.Errorf("%s %s: %d %s, want 400 naming %s", typ, c.name, r.status, r.body, c.where)
				}
			}
			if after := len(entries(f.do("GET", "/_history?_count=1000", nil))); typ == "transaction" && after != before {
				t.Errorf("%d versions stored by malformed transactions", after-before)
			}
		}
	})
}
