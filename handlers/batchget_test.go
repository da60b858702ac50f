package handlers_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/handlers"
)

// logBuffer collects the server's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// requests returns the access log lines written so far (method and path).
func (b *logBuffer) requests(t *testing.T) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var l struct{ Msg, Method, Path string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if l.Msg == "request" {
			out = append(out, l.Method+" "+l.Path)
		}
	}
	return out
}

// withoutBundleIdentity drops what differs between two renderings of the
// same Bundle: its id and meta.lastUpdated.
func withoutBundleIdentity(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	delete(m, "id")
	delete(m, "meta")
	return m
}

// TestBatchGetEntriesAsDirect: a GET entry of a batch answers what the same
// GET answers on its own (the searchset with its paging links, the history,
// the resource with its etag), and the batch is one request in the access
// log, not one per entry.
func TestBatchGetEntriesAsDirect(t *testing.T) {
	logs := &logBuffer{}
	withLog := func(c *handlers.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) }
	forEach(t, func(t *testing.T, f *fixture) {
		for i := 1; i <= 4; i++ {
			p := patient("Same")
			p["id"] = fmt.Sprint("g", i)
			f.want(f.do("PUT", fmt.Sprint("/Patient/g", i), p), 201)
		}
		p := patient("Same")
		p["id"], p["gender"] = "g1", "other"
		f.want(f.do("PUT", "/Patient/g1", p), 200)
		f.want(f.do("DELETE", "/Patient/g3", nil), 204)
		f.want(f.do("POST", "/Observation", map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "subject": map[string]any{"reference": "Patient/g1"}}), 201)

		first := f.do("GET", "/Patient?family=Same&_count=1&_sort=_id", nil)
		f.want(first, 200)
		var next string
		for _, l := range dig(first.json, "link").([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = strings.TrimPrefix(l.(map[string]any)["url"].(string), f.base+"/")
			}
		}
		if next == "" {
			t.Fatalf("no next link: %s", first.body)
		}
		urls := []string{
			"Patient?family=Same&_count=1&_sort=_id", // searchset with a next link
			next,                                     // its second page: self, previous and next links
			"Patient/g1",                             // read
			"Patient/g1?_summary=true",
			"Patient/g1/_history/1", // vread
			"Patient/g1/_history",   // instance history
			"Patient/_history?_count=2",
			"_history?_count=10",
			"Patient/g1/*", // compartment search
			"Patient/g1/Observation",
			"?_type=Patient&family=Same",
			"Patient/g3",            // deleted: 410 with the tombstone's etag
			"Patient/none",          // 404
			"Patient/g1/_history/7", // no such version
			"Patient?birthdate=yesterday",
		}
		es := make([]map[string]any, len(urls))
		for i, u := range urls {
			es[i] = txEntry("", "GET", u, nil)
		}
		before := len(logs.requests(t))
		b := f.do("POST", "", bundle("batch", es...))
		f.want(b, 200)
		// The access log line is written once the response is out: wait for it.
		var lines []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if lines = logs.requests(t)[before:]; len(lines) > 0 {
				break
			}
		}
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "POST ") {
			t.Errorf("the batch logged %q, want its one POST line", lines)
		}
		for i, u := range urls {
			d := f.do("GET", "/"+u, nil)
			e := dig(b.json, "entry", fmt.Sprint(i)).(map[string]any)
			resp := e["response"].(map[string]any)
			if got, want := resp["status"], fmt.Sprint(d.status, " ", http.StatusText(d.status)); got != want {
				t.Errorf("%s: entry status %q, direct %q", u, got, want)
				continue
			}
			if et := d.header.Get("ETag"); resp["etag"] != nil || et != "" {
				if resp["etag"] != et {
					t.Errorf("%s: entry etag %v, direct ETag %q", u, resp["etag"], et)
				}
				lm, err := time.Parse(time.RFC3339Nano, resp["lastModified"].(string))
				hlm, herr := http.ParseTime(d.header.Get("Last-Modified"))
				if err != nil || herr != nil || !lm.Truncate(time.Second).Equal(hlm) {
					t.Errorf("%s: entry lastModified %v, direct Last-Modified %q", u, resp["lastModified"], d.header.Get("Last-Modified"))
				}
			}
			if d.status >= 400 {
				if oo, _ := resp["outcome"].(map[string]any); oo["resourceType"] != "OperationOutcome" {
					t.Errorf("%s: failed entry without an outcome: %v", u, e)
				}
				continue
			}
			got, _ := json.Marshal(e["resource"])
			if d.str("resourceType") == "Bundle" {
				if g, w := withoutBundleIdentity(t, got), withoutBundleIdentity(t, d.body); !reflect.DeepEqual(g, w) {
					t.Errorf("%s: entry Bundle\n%s\nwant (direct)\n%s", u, got, d.body)
				}
				continue
			}
			var g, w any
			_ = json.Unmarshal(got, &g)
			_ = json.Unmarshal(d.body, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s: entry resource\n%s\nwant (direct)\n%s", u, got, d.body)
			}
		}
		if n := len(dig(b.json, "entry", "1", "resource", "link").([]any)); n != 3 {
			t.Errorf("second page has %d links, want self, next and previous: %s", n, b.body)
		}
	}, withLog)
}

// TestBatchGetEntryConditions: a GET entry honours its own ifNoneMatch and
// ifModifiedSince (304), Prefer: handling=strict of the Bundle, and refuses
// what is not a read, vread, search or history with an outcome in the entry.
func TestBatchGetEntryConditions(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		p := patient("Cond")
		p["id"] = "c1"
		w := f.do("PUT", "/Patient/c1", p)
		f.want(w, 201)
		lm := w.str("meta", "lastUpdated")
		b := f.do("POST", "", bundle("batch",
			txEntry("", "GET", "Patient/c1", nil, "ifNoneMatch", `W/"1"`),
			txEntry("", "GET", "Patient/c1", nil, "ifNoneMatch", `W/"0"`),
			txEntry("", "GET", "Patient/c1", nil, "ifModifiedSince", lm),
			txEntry("", "GET", "Patient/c1", nil, "ifModifiedSince", "2001-01-01T00:00:00Z"),
			txEntry("", "GET", "Patient?shoe-size=42", nil),
			txEntry("", "GET", "metadata", nil),
			txEntry("", "GET", "Patient/c1/$validate", nil),
			txEntry("", "GET", "Patient/c1/_history/1/extra", nil),
		), "Prefer", "handling=strict")
		f.want(b, 200)
		want := []string{"304", "200", "304", "200", "400", "400", "400", "404"}
		for i, w := range want {
			e := dig(b.json, "entry", fmt.Sprint(i)).(map[string]any)
			st, _ := dig(e, "response", "status").(string)
			if !strings.HasPrefix(st, w+" ") {
				t.Errorf("entry %d: status %q, want %s: %v", i, st, w, e)
			}
			_, hasRes := e["resource"]
			if (w == "304" || w >= "400") == hasRes {
				t.Errorf("entry %d (%s): resource present %v", i, st, hasRes)
			}
			if w >= "400" && dig(e, "response", "outcome", "resourceType") != "OperationOutcome" {
				t.Errorf("entry %d: no outcome: %v", i, e)
			}
			if w == "304" && dig(e, "response", "etag") != `W/"1"` {
				t.Errorf("entry %d: 304 without the etag: %v", i, e)
			}
		}
		if s := dig(b.json, "entry", "4", "response", "outcome", "issue", "0", "diagnostics"); !strings.Contains(fmt.Sprint(s), "shoe-size") {
			t.Errorf("strict search entry does not name the parameter: %v", s)
		}
	})
}
