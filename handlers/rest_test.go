package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCRUDLifecycle(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		r := f.do("POST", "/Patient", patient("Durand"))
		f.want(r, 201)
		id := r.str("id")
		if id == "" || r.str("meta", "versionId") != "1" || r.str("meta", "lastUpdated") == "" {
			t.Fatalf("create did not stamp id/meta: %s", r.body)
		}
		if loc := r.header.Get("Location"); loc != f.base+"/Patient/"+id+"/_history/1" {
			t.Fatalf("Location %q", loc)
		}
		if r.header.Get("ETag") != `W/"1"` || r.header.Get("Last-Modified") == "" {
			t.Fatalf("headers %v", r.header)
		}
		if g := r.str("name", "0", "given", "0"); g != "Hélène" {
			t.Fatalf("content changed: %q", g)
		}

		r = f.do("GET", "/Patient/"+id, nil)
		f.want(r, 200)
		if r.str("name", "0", "family") != "Durand" {
			t.Fatalf("read: %s", r.body)
		}

		up := patient("Durand-Martin")
		up["id"] = id
		r = f.do("PUT", "/Patient/"+id, up)
		f.want(r, 200)
		if r.str("meta", "versionId") != "2" || r.header.Get("ETag") != `W/"2"` {
			t.Fatalf("update: %s", r.body)
		}
		r = f.do("GET", "/Patient/"+id+"/_history/1", nil)
		f.want(r, 200)
		if r.str("name", "0", "family") != "Durand" || r.header.Get("ETag") != `W/"1"` {
			t.Fatalf("vread 1: %s", r.body)
		}
		f.want(f.do("GET", "/Patient/"+id+"/_history/9", nil), 404)

		r = f.do("DELETE", "/Patient/"+id, nil)
		if r.status != 204 && r.status != 200 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		f.want(f.do("GET", "/Patient/"+id, nil), 410)
		f.want(f.do("GET", "/Patient/"+id+"/_history/3", nil), 410)
		f.want(f.do("GET", "/Patient/"+id+"/_history/2", nil), 200)

		h := f.do("GET", "/Patient/"+id+"/_history", nil)
		f.want(h, 200)
		if h.str("type") != "history" || len(dig(h.json, "entry").([]any)) != 3 {
			t.Fatalf("history: %s", h.body)
		}
		if h.str("entry", "0", "request", "method") != "DELETE" || dig(h.json, "entry", "0", "resource") != nil {
			t.Fatalf("history newest first with tombstone: %s", h.body)
		}
		if h.str("entry", "2", "request", "method") != "POST" {
			t.Fatalf("history oldest is the create: %s", h.body)
		}

		// update as create with a client id, then on a deleted resource
		c := patient("Client")
		c["id"] = "client-id-1"
		r = f.do("PUT", "/Patient/client-id-1", c)
		f.want(r, 201)
		up["id"] = id
		r = f.do("PUT", "/Patient/"+id, up)
		f.want(r, 201)
		if r.str("meta", "versionId") != "4" {
			t.Fatalf("re-create after delete must continue the version line: %s", r.body)
		}
	})
}

func TestClientErrors(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		cases := []struct {
			name, method, path string
			body               any
			hdr                []string
			status             int
		}{
			{"unknown type read", "GET", "/Unicorn/1", nil, nil, 404},
			{"unknown type create", "POST", "/Unicorn", `{"resourceType":"Unicorn"}`, nil, 404},
			{"unknown type search", "GET", "/Unicorn", nil, nil, 404},
			{"missing", "GET", "/Patient/nope", nil, nil, 404},
			{"malformed json", "POST", "/Patient", `{"resourceType":"Patient",`, nil, 400},
			{"not an object", "POST", "/Patient", `[1,2]`, nil, 400},
			{"trailing garbage", "POST", "/Patient", `{"resourceType":"Patient"} x`, nil, 400},
			{"type mismatch", "POST", "/Patient", `{"resourceType":"Observation"}`, nil, 400},
			{"no resourceType", "POST", "/Patient", `{"gender":"male"}`, nil, 400},
			{"id mismatch", "PUT", "/Patient/a", `{"resourceType":"Patient","id":"b"}`, nil, 400},
			{"id missing on update", "PUT", "/Patient/a", `{"resourceType":"Patient"}`, nil, 400},
			{"invalid id", "PUT", "/Patient/a_b", `{"resourceType":"Patient","id":"a_b"}`, nil, 400},
			{"id too long", "GET", "/Patient/" + strings.Repeat("a", 65), nil, nil, 400},
			{"method not allowed", "POST", "/Patient/abc", `{"resourceType":"Patient"}`, nil, 405},
			{"xml accept", "GET", "/metadata", nil, []string{"Accept", "application/fhir+xml"}, 406},
			{"xml format", "GET", "/metadata?_format=xml", nil, nil, 406},
			{"xml body", "POST", "/Patient", `<Patient xmlns="http://hl7.org/fhir"/>`, []string{"Content-Type", "application/fhir+xml"}, 415},
			{"empty body", "POST", "/Patient", "", nil, 400},
			{"bad patch type", "PATCH", "/Patient/x", `[]`, []string{"Content-Type", "text/plain"}, 415},
			{"bad bundle type", "POST", "", `{"resourceType":"Bundle","type":"collection"}`, nil, 400},
			{"not a bundle", "POST", "", `{"resourceType":"Patient"}`, nil, 400},
			{"bad _count", "GET", "/Patient?_count=abc", nil, nil, 400},
			{"forged page cursor", "GET", "/Patient?_page=garbage", nil, nil, 400},
			{"bad date value", "GET", "/Patient?birthdate=yesterday", nil, nil, 400},
			{"strict unknown parameter", "GET", "/Patient?shoe-size=42", nil, []string{"Prefer", "handling=strict"}, 400},
			{"unknown element", "POST", "/Patient", `{"resourceType":"Patient","colour":"blue"}`, nil, 422},
			{"bad date", "POST", "/Patient", `{"resourceType":"Patient","birthDate":"1970-13-45"}`, nil, 422},
			{"code outside required binding", "POST", "/Patient", `{"resourceType":"Patient","gender":"f"}`, nil, 422},
			{"wrong JSON type", "POST", "/Patient", `{"resourceType":"Patient","active":"yes"}`, nil, 422},
			{"missing required element", "POST", "/Observation", `{"resourceType":"Observation","code":{"text":"x"}}`, nil, 422},
			{"bad If-Match", "PUT", "/Patient/a", `{"resourceType":"Patient","id":"a"}`, []string{"If-Match", "nonsense"}, 400},
		}
		for _, c := range cases {
			r := f.do(c.method, c.path, c.body, c.hdr...)
			if r.status != c.status || r.str("resourceType") != "OperationOutcome" {
				t.Errorf("%s: %d %s, want %d with an OperationOutcome", c.name, r.status, r.body, c.status)
			}
		}
		// nothing of that was stored
		h := f.do("GET", "/_history", nil)
		f.want(h, 200)
		if n := len(entries(h)); n != 0 {
			t.Fatalf("bad requests stored %d versions: %s", n, h.body)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		big := fmt.Sprintf(`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"}}`, strings.Repeat("x", 5000))
		f.want(f.do("POST", "/Patient", big), 413)
		f.want(f.do("POST", "/Patient", patient("Small")), 201)
	}, func(c *handlersConfig) { c.MaxBodyBytes = 2000 })
}

func entries(r *resp) []any {
	e, _ := dig(r.json, "entry").([]any)
	return e
}

func TestPreconditions(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		p := patient("Martin")
		p["id"] = "pre"
		f.want(f.do("PUT", "/Patient/pre", p), 201)
		f.want(f.do("PUT", "/Patient/pre", p, "If-None-Match", "*"), 412)
		f.want(f.do("PUT", "/Patient/pre", p, "If-Match", `W/"2"`), 412)
		f.want(f.do("PUT", "/Patient/pre", p, "If-Match", `W/"1"`), 200)
		f.want(f.do("PUT", "/Patient/pre", p, "If-Match", `W/"1"`), 412)
		f.want(f.do("DELETE", "/Patient/pre", nil, "If-Match", `W/"1"`), 412)
		f.want(f.do("PATCH", "/Patient/pre", `[{"op":"replace","path":"/gender","value":"male"}]`, "Content-Type", "application/json-patch+json", "If-Match", `W/"1"`), 412)

		r := f.do("GET", "/Patient/pre", nil, "If-None-Match", `W/"2"`)
		if r.status != 304 {
			t.Fatalf("If-None-Match current: %d", r.status)
		}
		f.want(f.do("GET", "/Patient/pre", nil, "If-None-Match", `W/"1"`), 200)
		lm := r.header.Get("Last-Modified")
		if r := f.do("GET", "/Patient/pre", nil, "If-Modified-Since", lm); r.status != 304 {
			t.Fatalf("If-Modified-Since %s: %d", lm, r.status)
		}
		old := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
		f.want(f.do("GET", "/Patient/pre", nil, "If-Modified-Since", old), 200)
	})
}

func TestConditionalCreateRace(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		const n = 20
		var wg sync.WaitGroup
		ids := make([]string, n)
		codes := make([]int, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := f.do("POST", "/Patient", patient("Race", "urn:oid:1.2.250.1.213.1.4.8", "1234567890123"), "If-None-Exist", "identifier=urn:oid:1.2.250.1.213.1.4.8|1234567890123")
				ids[i], codes[i] = r.str("id"), r.status
			}(i)
		}
		wg.Wait()
		created := 0
		for i := range ids {
			if codes[i] == 201 {
				created++
			} else if codes[i] != 200 {
				t.Fatalf("request %d: status %d", i, codes[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("different ids: %v", ids)
			}
		}
		if created != 1 {
			t.Fatalf("%d creates, want 1", created)
		}
		r := f.do("GET", "/Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|1234567890123&_total=accurate", nil)
		f.want(r, 200)
		if len(entries(r)) != 1 {
			t.Fatalf("%d resources: %s", len(entries(r)), r.body)
		}
	})
}

func TestConcurrentIfMatchUpdates(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		p := patient("Conc")
		p["id"] = "conc"
		f.want(f.do("PUT", "/Patient/conc", p), 201)
		const workers, rounds = 6, 5
		var mu sync.Mutex
		acked := map[string]string{} // version → family written
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					cur := f.do("GET", "/Patient/conc", nil)
					family := fmt.Sprintf("w%d-%d", w, i)
					q := patient(family)
					q["id"] = "conc"
					r := f.do("PUT", "/Patient/conc", q, "If-Match", cur.header.Get("ETag"))
					switch r.status {
					case 200:
						mu.Lock()
						acked[r.str("meta", "versionId")] = family
						mu.Unlock()
					case 412:
					default:
						t.Errorf("update: %d %s", r.status, r.body)
					}
				}
			}(w)
		}
		wg.Wait()
		cur := f.do("GET", "/Patient/conc", nil)
		if want := fmt.Sprint(1 + len(acked)); cur.str("meta", "versionId") != want {
			t.Fatalf("version %s after %d acknowledged updates", cur.str("meta", "versionId"), len(acked))
		}
		for v, fam := range acked {
			r := f.do("GET", "/Patient/conc/_history/"+v, nil)
			if r.str("name", "0", "family") != fam {
				t.Fatalf("version %s holds %q, acknowledged %q", v, r.str("name", "0", "family"), fam)
			}
		}
	})
}

func TestConditionalUpdateAndDelete(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		sys := "https://rpps.esante.gouv.fr"
		pr := map[string]any{"resourceType": "Practitioner", "identifier": []any{map[string]any{"system": sys, "value": "10001"}}}
		r := f.do("PUT", "/Practitioner?identifier="+sys+"|10001", pr)
		f.want(r, 201)
		id := r.str("id")
		pr["active"] = true
		r = f.do("PUT", "/Practitioner?identifier="+sys+"|10001", pr)
		f.want(r, 200)
		if r.str("id") != id || r.str("meta", "versionId") != "2" {
			t.Fatalf("conditional update hit %s: %s", id, r.body)
		}
		// a second match makes it ambiguous
		f.want(f.do("POST", "/Practitioner", pr), 201)
		f.want(f.do("PUT", "/Practitioner?identifier="+sys+"|10001", pr), 412)
		// unknown criteria are refused rather than widening the match
		f.want(f.do("PUT", "/Practitioner?nonsense=1", pr), 400)

		// conditional patch needs exactly one
		f.want(f.do("PATCH", "/Practitioner?identifier="+sys+"|10001", `[{"op":"add","path":"/active","value":false}]`, "Content-Type", "application/json-patch+json"), 412)

		// conditional delete: multiple mode deletes both
		r = f.do("DELETE", "/Practitioner?identifier="+sys+"|10001", nil)
		if r.status != 200 && r.status != 204 {
			t.Fatalf("conditional delete: %d %s", r.status, r.body)
		}
		s := f.do("GET", "/Practitioner?identifier="+sys+"|10001", nil)
		if len(entries(s)) != 0 {
			t.Fatalf("still there: %s", s.body)
		}
	})
	// single mode refuses several matches
	forEach(t, func(t *testing.T, f *fixture) {
		pr := map[string]any{"resourceType": "Practitioner", "identifier": []any{map[string]any{"system": "s", "value": "v"}}}
		f.want(f.do("POST", "/Practitioner", pr), 201)
		f.want(f.do("POST", "/Practitioner", pr), 201)
		f.want(f.do("DELETE", "/Practitioner?identifier=s|v", nil), 412)
		f.want(f.do("DELETE", "/Practitioner?identifier=s|nothing", nil), 200)
	}, func(c *handlersConfig) { c.ConditionalDeleteMultiple = false })
}

func TestPatch(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		p := patient("Patch")
		p["id"] = "pa"
		f.want(f.do("PUT", "/Patient/pa", p), 201)
		r := f.do("PATCH", "/Patient/pa", `[{"op":"replace","path":"/gender","value":"male"},{"op":"add","path":"/active","value":true}]`, "Content-Type", "application/json-patch+json", "If-Match", `W/"1"`)
		f.want(r, 200)
		if r.str("gender") != "male" || dig(r.json, "active") != true || r.str("meta", "versionId") != "2" {
			t.Fatalf("json patch: %s", r.body)
		}
		fp := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1980-01-01"}]}]}`
		r = f.do("PATCH", "/Patient/pa", fp)
		f.want(r, 200)
		if r.str("birthDate") != "1980-01-01" || r.str("meta", "versionId") != "3" {
			t.Fatalf("fhirpath patch: %s", r.body)
		}
		// failing patches: nothing stored
		f.want(f.do("PATCH", "/Patient/pa", `[{"op":"test","path":"/gender","value":"female"}]`, "Content-Type", "application/json-patch+json"), 422)
		f.want(f.do("PATCH", "/Patient/pa", `[{"op":"replace","path":"/id","value":"other"}]`, "Content-Type", "application/json-patch+json"), 422)
		f.want(f.do("PATCH", "/Patient/pa", `{"op":"replace"}`, "Content-Type", "application/json-patch+json"), 400)
		f.want(f.do("PATCH", "/Patient/missing", `[]`, "Content-Type", "application/json-patch+json"), 404)
		if v := f.do("GET", "/Patient/pa", nil).str("meta", "versionId"); v != "3" {
			t.Fatalf("failed patches wrote version %s", v)
		}
	})
}

func TestHistoryLevels(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		for i := 0; i < 5; i++ {
			f.want(f.do("POST", "/Patient", patient(fmt.Sprint("H", i))), 201)
		}
		mid := time.Now().UTC()
		time.Sleep(5 * time.Millisecond)
		f.want(f.do("POST", "/Observation", map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}}), 201)

		h := f.do("GET", "/Patient/_history", nil)
		f.want(h, 200)
		if len(entries(h)) != 5 {
			t.Fatalf("type history: %d", len(entries(h)))
		}
		h = f.do("GET", "/_history?_since="+mid.Format(time.RFC3339Nano), nil)
		if len(entries(h)) != 1 || h.str("entry", "0", "resource", "resourceType") != "Observation" {
			t.Fatalf("_since: %s", h.body)
		}
		// _at: before the observation, 5 patients existed
		h = f.do("GET", "/_history?_at="+mid.Format(time.RFC3339Nano), nil)
		if len(entries(h)) != 5 {
			t.Fatalf("_at: %d entries", len(entries(h)))
		}
		// paging: 2 per page through 6 versions, no duplicates
		seen := map[string]bool{}
		next := "/_history?_count=2"
		pages := 0
		for next != "" && pages < 10 {
			pages++
			h = f.do("GET", next, nil)
			f.want(h, 200)
			for _, e := range entries(h) {
				u := dig(e, "fullUrl").(string)
				if seen[u] {
					t.Fatalf("duplicate %s", u)
				}
				seen[u] = true
			}
			next = ""
			for _, l := range dig(h.json, "link").([]any) {
				if dig(l, "relation") == "next" {
					next = dig(l, "url").(string)
				}
			}
		}
		if len(seen) != 6 || pages != 3 {
			t.Fatalf("paged %d versions in %d pages", len(seen), pages)
		}
		f.want(f.do("GET", "/Patient/nope/_history", nil), 404)
		f.want(f.do("GET", "/_history?_since=yesterday", nil), 400)
	})
}

func TestRepresentation(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		p := patient("Repr")
		p["text"] = map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">Repr</div>`}
		r := f.do("POST", "/Patient", p, "Prefer", "return=minimal")
		if r.status != 201 || len(r.body) != 0 || r.header.Get("Location") == "" {
			t.Fatalf("return=minimal: %d %q", r.status, r.body)
		}
		id := strings.Split(strings.TrimPrefix(r.header.Get("Location"), f.base+"/Patient/"), "/")[0]
		r = f.do("POST", "/Patient", p, "Prefer", "return=OperationOutcome")
		if r.status != 201 || r.str("resourceType") != "OperationOutcome" {
			t.Fatalf("return=OperationOutcome: %s", r.body)
		}
		r = f.do("GET", "/Patient/"+id+"?_summary=text", nil)
		if r.str("text", "status") != "generated" || dig(r.json, "gender") != nil {
			t.Fatalf("_summary=text: %s", r.body)
		}
		r = f.do("GET", "/Patient/"+id+"?_summary=true", nil)
		if dig(r.json, "text") != nil || r.str("gender") != "female" || r.str("birthDate") == "" {
			t.Fatalf("_summary=true: %s", r.body)
		}
		if !strings.Contains(string(r.body), "SUBSETTED") {
			t.Fatalf("_summary result not tagged SUBSETTED: %s", r.body)
		}
		r = f.do("GET", "/Patient/"+id+"?_elements=gender", nil)
		if r.str("gender") != "female" || dig(r.json, "name") != nil || r.str("id") != id {
			t.Fatalf("_elements: %s", r.body)
		}
		r = f.do("GET", "/Patient/"+id+"?_pretty=true&_format=json", nil)
		if !strings.Contains(string(r.body), "\n  ") {
			t.Fatalf("_pretty: %s", r.body)
		}
		r = f.do("GET", "/Patient/"+id, nil, "Accept", "application/json")
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("Accept application/json got %s", r.header.Get("Content-Type"))
		}
	})
}

func TestOperationalEndpoints(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		r := f.do("GET", "/metadata", nil)
		f.want(r, 200)
		if r.str("resourceType") != "CapabilityStatement" || r.str("fhirVersion") != "4.0.1" {
			t.Fatalf("metadata: %.300s", r.body)
		}
		res := dig(r.json, "rest", "0", "resource").([]any)
		if len(res) != 146 {
			t.Fatalf("%d resource types", len(res))
		}
		var inter []string
		for _, i := range dig(r.json, "rest", "0", "interaction").([]any) {
			inter = append(inter, dig(i, "code").(string))
		}
		if !contains(inter, "batch") || contains(inter, "transaction") != f.st.Features().Transactions {
			t.Fatalf("system interactions %v with transactions=%v", inter, f.st.Features().Transactions)
		}
		root := strings.TrimSuffix(f.base, "/fhir")
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := f.do("GET", root+p, nil); r.status != 200 {
				t.Fatalf("%s: %d", p, r.status)
			}
		}
		f.do("GET", "/Patient/x", nil)
		m := f.do("GET", root+"/metrics", nil)
		if !strings.Contains(string(m.body), `dccfhir_http_requests_total{interaction="read",status="404",type="Patient"}`) ||
			!strings.Contains(string(m.body), "dccfhir_http_request_duration_seconds_bucket") {
			t.Fatalf("metrics: %.2000s", m.body)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Fatal("no request id")
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
