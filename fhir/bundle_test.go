package fhir

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitBundle(t *testing.T) {
	body := []byte(`{"resourceType": "Bundle", "id": "b", "type": "transaction", "meta": {"tag": []}, "entry": [
	  {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=s|v"}},
	  {"resource": null, "request": {"method": "DELETE", "url": "Patient/x", "ifMatch": "W/\"2\""}, "search": {"mode": "match"}},
	  {"request": {"method": "GET", "url": "Patient"}}
	]}`)
	for _, mode := range []SplitMode{StrictSplit, LenientSplit} {
		b, err := SplitBundle(body, mode)
		if err != nil {
			t.Fatal(err)
		}
		if b.ResourceType != "Bundle" || b.Type != "transaction" || b.ID != "b" || len(b.Entry) != 3 {
			t.Fatalf("head %+v", b)
		}
		e := b.Entry
		if e[0].FullURL != "urn:uuid:1" || string(e[0].Resource) != `{"resourceType": "Patient", "active": true}` ||
			*e[0].Request != (BundleRequest{Method: "POST", URL: "Patient", IfNoneExist: "identifier=s|v"}) {
			t.Errorf("entry 0: %+v %s", e[0], e[0].Resource)
		}
		if e[1].Resource != nil || e[1].Request.IfMatch != `W/"2"` || e[2].Request.Method != "GET" {
			t.Errorf("entries 1, 2: %+v %+v", e[1], e[2])
		}
		for i := range e {
			if e[i].Err != nil {
				t.Errorf("entry %d: %v", i, e[i].Err)
			}
		}
		// the resource is a sub-slice of the body, not a copy
		if i := strings.Index(string(body), `{"resourceType": "Patient"`); &body[i] != &e[0].Resource[0] {
			t.Error("resource copied")
		}
	}
	// not a Bundle: the head only, whatever its entry member holds
	b, err := SplitBundle([]byte(`{"resourceType": "List", "id": "l", "entry": [{"item": {}}]}`), StrictSplit)
	if err != nil || b.ResourceType != "List" || b.ID != "l" || b.Entry != nil {
		t.Errorf("List: %+v %v", b, err)
	}
}

// TestSplitBundleStrictness: a strict split refuses a malformed member,
// naming where; a lenient one keeps the structure's errors but passes an
// entry's problems on in its Err, with what could be read.
func TestSplitBundleStrictness(t *testing.T) {
	const good = `{"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient"}}`
	cases := []struct {
		name, body, where string
		lenient           bool   // the lenient split succeeds
		entryErr          int    // …with this entry's Err set (-1: none)
		method            string // …and this entry's (or every entry's) method read all the same
	}{
		{"not an object", `[1]`, "Bundle", false, -1, ""},
		{"truncated", `{"resourceType": "Bundle", "type": "batch", "entry": [` + good, "Bundle", false, -1, ""},
		{"content after", `{"resourceType": "Bundle"} {}`, "Bundle", false, -1, ""},
		{"type a number", `{"resourceType": "Bundle", "type": 3}`, "Bundle.type", false, -1, ""},
		{"entry an object", `{"resourceType": "Bundle", "type": "batch", "entry": {}}`, "Bundle.entry", false, -1, ""},
		{"entry with a trailing comma", `{"resourceType": "Bundle", "type": "batch", "entry": [` + good + `,]}`, "Bundle.entry", false, -1, ""},
		{"unread member invalid", `{"resourceType": "Bundle", "type": "batch", "meta": {"versionId": nul}, "entry": [` + good + `]}`, "Bundle.meta", true, -1, "POST"},
		{"entry not an object", `{"resourceType": "Bundle", "type": "batch", "entry": [` + good + `, 1]}`, "Bundle.entry[1]", true, 1, ""},
		{"method a number", `{"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": 3, "url": "Patient"}}]}`, "Bundle.entry[0]", true, 0, ""},
		{"url a number", `{"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "POST", "url": 7}}]}`, "Bundle.entry[0]", true, 0, "POST"},
		{"request a string", `{"resourceType": "Bundle", "type": "batch", "entry": [{"request": "POST"}]}`, "Bundle.entry[0]", true, 0, ""},
		{"fullUrl a number", `{"resourceType": "Bundle", "type": "batch", "entry": [{"fullUrl": 1, "request": {"method": "PUT", "url": "Patient/p"}}]}`, "Bundle.entry[0]", true, 0, "PUT"},
		{"duplicate key in the head", `{"resourceType": "Bundle", "type": "batch", "type": "transaction", "entry": [` + good + `]}`, "Bundle.type", true, -1, "POST"},
		{"duplicate key in an entry", `{"resourceType": "Bundle", "type": "batch", "entry": [{"request": null, "request": {"method": "GET", "url": "Patient"}}]}`, "Bundle.entry[0]", true, 0, "GET"},
		{"entry member invalid", `{"resourceType": "Bundle", "type": "batch", "entry": [{"search": {"mode": matc}, "request": {"method": "GET", "url": "Patient"}}]}`, "Bundle.entry[0]", true, -1, "GET"},
	}
	for _, c := range cases {
		_, err := SplitBundle([]byte(c.body), StrictSplit)
		var fe *Error
		if !errors.As(err, &fe) || fe.Status != 400 || fe.Issues[0].Code != "structure" || fe.Issues[0].Expression[0] != c.where {
			t.Errorf("%s, strict: %v, want a 400 at %s", c.name, err, c.where)
		}
		b, err := SplitBundle([]byte(c.body), LenientSplit)
		if !c.lenient {
			if !errors.As(err, &fe) || fe.Issues[0].Expression[0] != c.where {
				t.Errorf("%s, lenient: %v, want a 400 at %s", c.name, err, c.where)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s, lenient: %v", c.name, err)
			continue
		}
		for i, e := range b.Entry {
			if (e.Err != nil) != (i == c.entryErr) {
				t.Errorf("%s, lenient: entry %d Err %v", c.name, i, e.Err)
			}
			if i == c.entryErr || c.entryErr < 0 {
				got := ""
				if e.Request != nil {
					got = e.Request.Method
				}
				if got != c.method {
					t.Errorf("%s, lenient: entry %d method %q, want %q", c.name, i, got, c.method)
				}
			}
		}
	}
}
