package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bad input is refused with the status it deserves and an OperationOutcome
// saying what and where, and nothing of it is stored: these tests send it
// through every interaction that takes a body.

// wantIssue fails unless r has the status and its first issue the severity
// and code, diagnostics holding every one of diag, and (when expr is set)
// that expression.
func wantIssue(t *testing.T, r *resp, status int, code, expr string, diag ...string) {
	t.Helper()
	if r.status != status || r.str("resourceType") != "OperationOutcome" {
		t.Fatalf("status %d, want %d with an OperationOutcome: %s", r.status, status, r.body)
	}
	if sev, c := r.str("issue", "0", "severity"), r.str("issue", "0", "code"); sev != "error" || c != code {
		t.Fatalf("issue %s/%s, want error/%s: %s", sev, c, code, r.body)
	}
	for _, d := range diag {
		if !strings.Contains(r.str("issue", "0", "diagnostics"), d) {
			t.Fatalf("diagnostics do not say %q: %s", d, r.body)
		}
	}
	if expr != "" && r.str("issue", "0", "expression", "0") != expr {
		t.Fatalf("expression %q, want %q: %s", r.str("issue", "0", "expression", "0"), expr, r.body)
	}
}

// route is one interaction taking a body; tmpl holds BAD where the bad
// content goes, expr is where an OperationOutcome locates it (with the
// index of the entry for a Bundle).
type route struct {
	name, method, path string
	hdr                []string
	tmpl               string
	expr               string
}

const patchJSON = "application/json-patch+json"

// bodyRoutes puts a value into Patient.name[0].family through every
// interaction: p1 is an existing patient the updates and patches target.
func bodyRoutes() []route {
	pat := `{"resourceType":"Patient","id":"new1","name":[{"family":"BAD"}]}`
	good := `{"resourceType":"Patient","name":[{"family":"Good"}]}`
	return []route{
		{"create", "POST", "/Patient", nil, `{"resourceType":"Patient","name":[{"family":"BAD"}]}`, "Patient.name[0].family"},
		{"update as create", "PUT", "/Patient/new1", nil, pat, "Patient.name[0].family"},
		{"update", "PUT", "/Patient/p1", nil, `{"resourceType":"Patient","id":"p1","name":[{"family":"BAD"}]}`, "Patient.name[0].family"},
		{"conditional update", "PUT", "/Patient?identifier=urn:x|1", nil, pat, "Patient.name[0].family"},
		{"JSON Patch", "PATCH", "/Patient/p1", []string{"Content-Type", patchJSON}, `[{"op":"replace","path":"/name/0/family","value":"BAD"}]`, ""},
		{"FHIRPath Patch", "PATCH", "/Patient/p1", nil,
			`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.name[0].family"},{"name":"value","valueString":"BAD"}]}]}`,
			"Parameters.parameter[0].part[2].value"},
		{"transaction", "POST", "", nil,
			`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":` + good + `},{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","name":[{"family":"BAD"}]}}]}`,
			"Bundle.entry[1].resource.name[0].family"},
		{"batch", "POST", "", nil,
			`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"POST","url":"Patient"},"resource":` + good + `},{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","name":[{"family":"BAD"}]}}]}`,
			"Bundle.entry[1].resource.name[0].family"},
		{"$validate", "POST", "/Patient/$validate", nil, `{"resourceType":"Patient","name":[{"family":"BAD"}]}`, "Patient.name[0].family"},
	}
}

// seedP1 stores the patient the updates and patches target and returns
// its version as read.
func seedP1(t *testing.T, f *fixture) []byte {
	p := patient("Durand")
	p["id"] = "p1"
	f.want(f.do("PUT", "/Patient/p1", p), 201)
	r := f.do("GET", "/Patient/p1", nil)
	f.want(r, 200)
	return r.body
}

// wantNothingStored checks the only version on the server is p1 as seeded.
func wantNothingStored(t *testing.T, f *fixture, p1 []byte) {
	t.Helper()
	h := f.do("GET", "/_history", nil)
	f.want(h, 200)
	if n := len(entries(h)); n != 1 {
		t.Fatalf("%d versions stored, want only the seeded one: %s", n, h.body)
	}
	r := f.do("GET", "/Patient/p1", nil)
	if r.status != 200 || string(r.body) != string(p1) {
		t.Fatalf("p1 changed: %s", r.body)
	}
	if s := f.do("GET", "/Patient?name=Good", nil); len(entries(s)) != 0 {
		t.Fatalf("a Bundle entry was stored: %s", s.body)
	}
}

// TestInvalidTextRefused: JSON text is UTF-8 (RFC 8259), and a \u escape
// must be a Unicode scalar value. Anything else in a string is a 400 naming
// its byte offset, whatever the interaction, and the whole of a Bundle is
// refused, batch included, since its body is not JSON.
func TestInvalidTextRefused(t *testing.T) {
	bad := []struct{ name, in, msg string }{
		{"stray byte ff", "Du\xffrand", "invalid UTF-8 (ff"},
		{"overlong C0 AF", "Du\xc0\xafrand", "invalid UTF-8 (c0 af"},
		{"encoded surrogate ED A0 80", "Du\xed\xa0\x80rand", "invalid UTF-8 (ed a0 80"},
		{"lone high surrogate", `Du\ud800rand`, `\ud800 is a high surrogate`},
		{"lone low surrogate", `Du\udc00rand`, `\udc00 is a low surrogate`},
		{"high surrogate then no low one", `Du\ud800\u0041rand`, `\ud800 is a high surrogate`},
		{"raw control character", "Du\x01rand", `control character '\x01'`},
	}
	forEach(t, func(t *testing.T, f *fixture) {
		p1 := seedP1(t, f)
		for _, rt := range bodyRoutes() {
			for _, b := range bad {
				t.Run(rt.name+"/"+b.name, func(t *testing.T) {
					body := strings.Replace(rt.tmpl, "BAD", b.in, 1)
					offset := strings.Index(rt.tmpl, "BAD") + 2 // after "Du"
					r := f.do(rt.method, rt.path, body, rt.hdr...)
					expr := "Bundle"
					switch {
					case rt.method == "PATCH" && rt.expr == "":
						expr = ""
					case rt.path != "": // a resource: the JSON location of the string
						expr = strings.Replace(rt.expr, ".value", ".valueString", 1)
					}
					wantIssue(t, r, 400, "structure", expr, b.msg, "at byte offset "+strconv.Itoa(offset))
				})
			}
		}
		wantNothingStored(t, f, p1)
	})
}

// TestStringsThatAreFine: tab, CR, LF, non-ASCII UTF-8 and surrogate pairs
// are text like any other, stored and read back as sent.
func TestStringsThatAreFine(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		for _, c := range []struct{ name, in, want string }{
			{"tab CR LF escapes", `Du\t\r\nrand`, "Du\t\r\nrand"},
			{"non-ASCII", "Hélène €", "Hélène €"},
			{"four-byte UTF-8", "Du😀rand", "Du😀rand"},
			{"surrogate pair escape", `Du\ud83d\ude00rand`, "Du😀rand"},
			{"escaped non-ASCII", `H\u00e9l\u00e8ne`, "Hélène"},
			{"DEL is not a C0 control", `Du\u007frand`, "Du\x7frand"},
		} {
			r := f.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"`+c.in+`"}]}`)
			f.want(r, 201)
			g := f.do("GET", "/Patient/"+r.str("id"), nil)
			if got := g.str("name", "0", "family"); got != c.want {
				t.Errorf("%s: read back %q, want %q", c.name, got, c.want)
			}
		}
	})
}

// TestControlCharactersRefused: a FHIR string ([ \r\n\t\S]+) holds no
// control character but tab, CR and LF. Written as an escape it is valid
// JSON, so the validator refuses it, with the status of any invalid value
// (422, 200 with the verdict for $validate) and the element's FHIRPath.
func TestControlCharactersRefused(t *testing.T) {
	ctl := []struct{ name, in string }{
		{"U+0001", `Du\u0001rand`},
		{"U+0000", `Du\u0000rand`},
		{"U+001F", `Du\u001Frand`},
		{"vertical tab", `Du\u000brand`},
		{"form feed", `Du\frand`},
		{"backspace", `Du\brand`},
	}
	forEach(t, func(t *testing.T, f *fixture) {
		p1 := seedP1(t, f)
		for _, rt := range bodyRoutes() {
			for _, c := range ctl {
				t.Run(rt.name+"/"+c.name, func(t *testing.T) {
					r := f.do(rt.method, rt.path, strings.Replace(rt.tmpl, "BAD", c.in, 1), rt.hdr...)
					expr := rt.expr
					if strings.HasPrefix(rt.name, "FHIRPath Patch") || rt.name == "JSON Patch" {
						expr = "Patient.name[0].family" // the patched resource is what is validated
					}
					switch {
					case rt.name == "transaction" && !f.st.Features().Transactions:
						wantIssue(t, r, 400, "not-supported", "Bundle.type") // refused whole here
					case rt.name == "batch": // the entry fails on its own; the good one is stored (and removed below)
						f.want(r, 200)
						if st := r.str("entry", "1", "response", "status"); !strings.HasPrefix(st, "422") {
							t.Fatalf("bad entry: %s", r.body)
						}
						if x := r.str("entry", "1", "response", "outcome", "issue", "0", "expression", "0"); x != expr {
							t.Fatalf("bad entry expression %q: %s", x, r.body)
						}
						loc := r.str("entry", "0", "response", "location")
						if !strings.HasPrefix(r.str("entry", "0", "response", "status"), "201") || loc == "" {
							t.Fatalf("good entry: %s", r.body)
						}
						// take the good entry back out so that the store holds only p1's versions to check
						purge(t, f, strings.TrimPrefix(loc, f.base))
					case rt.name == "$validate":
						f.want(r, 200)
						if !hasIssueSaying(r, "error", "value", expr, "control character") {
							t.Fatalf("$validate does not report it at %s: %s", expr, r.body)
						}
					default:
						wantIssue(t, r, 422, "value", expr, "control character")
					}
				})
			}
		}
		wantNothingStoredBut(t, f, p1)
	})
}

// purge deletes what a batch entry stored (the delete leaves a tombstone).
func purge(t *testing.T, f *fixture, loc string) {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(loc, "/"), "/")
	if r := f.do("DELETE", "/"+parts[0]+"/"+parts[1], nil); r.status >= 300 {
		t.Fatalf("delete %s: %d %s", loc, r.status, r.body)
	}
}

// wantNothingStoredBut is wantNothingStored when batches stored (and
// deleted) their good entries: p1 is unchanged, no Patient but p1 is live.
func wantNothingStoredBut(t *testing.T, f *fixture, p1 []byte) {
	t.Helper()
	if r := f.do("GET", "/Patient/p1", nil); r.status != 200 || string(r.body) != string(p1) {
		t.Fatalf("p1 changed: %s", r.body)
	}
	if h := f.do("GET", "/Patient/p1/_history", nil); len(entries(h)) != 1 {
		t.Fatalf("p1 has new versions: %s", h.body)
	}
	if s := f.do("GET", "/Patient", nil); len(entries(s)) != 1 {
		t.Fatalf("patients stored: %s", s.body)
	}
}

// hasIssueSaying reports whether the OperationOutcome r holds an issue of that
// severity and code at expr whose diagnostics contain diag.
func hasIssueSaying(r *resp, sev, code, expr, diag string) bool {
	issues, _ := dig(r.json, "issue").([]any)
	for i := range issues {
		is := strconv.Itoa(i)
		if r.str("issue", is, "severity") == sev && r.str("issue", is, "code") == code &&
			r.str("issue", is, "expression", "0") == expr && strings.Contains(r.str("issue", is, "diagnostics"), diag) {
			return true
		}
	}
	return false
}

// TestMetaValidatedAsSent: the server sets meta.versionId and
// meta.lastUpdated, but one a client sends that is no id or no instant is
// refused like any bad value, not silently replaced.
func TestMetaValidatedAsSent(t *testing.T) {
	bad := []struct {
		name, meta, expr, code string
	}{
		{"lastUpdated not an instant", `{"lastUpdated":"yesterday"}`, "meta.lastUpdated", "value"},
		{"lastUpdated a date", `{"lastUpdated":"2024-01-01"}`, "meta.lastUpdated", "value"},
		{"lastUpdated a number", `{"lastUpdated":20240101}`, "meta.lastUpdated", "structure"},
		{"versionId with a space", `{"versionId":"a b"}`, "meta.versionId", "value"},
		{"versionId of 70 characters", `{"versionId":"` + strings.Repeat("v", 70) + `"}`, "meta.versionId", "value"},
		{"versionId empty", `{"versionId":""}`, "meta.versionId", "value"},
		{"versionId null", `{"versionId":null}`, "meta.versionId", "structure"},
	}
	routes := []struct {
		name, method, path string
		hdr                []string
		tmpl, expr         string
	}{
		{"create", "POST", "/Patient", nil, `{"resourceType":"Patient","meta":META}`, "Patient."},
		{"update", "PUT", "/Patient/p1", nil, `{"resourceType":"Patient","id":"p1","meta":META}`, "Patient."},
		{"JSON Patch", "PATCH", "/Patient/p1", []string{"Content-Type", patchJSON}, `[{"op":"replace","path":"/meta","value":META}]`, "Patient."},
		{"transaction", "POST", "", nil, `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","name":[{"family":"Good"}]}},{"request":{"method":"PUT","url":"Patient/p1"},"resource":{"resourceType":"Patient","id":"p1","meta":META}}]}`, "Bundle.entry[1].resource."},
	}
	forEach(t, func(t *testing.T, f *fixture) {
		p1 := seedP1(t, f)
		for _, rt := range routes {
			for _, b := range bad {
				t.Run(rt.name+"/"+b.name, func(t *testing.T) {
					r := f.do(rt.method, rt.path, strings.Replace(rt.tmpl, "META", b.meta, 1), rt.hdr...)
					if rt.name == "transaction" && !f.st.Features().Transactions {
						wantIssue(t, r, 400, "not-supported", "Bundle.type") // refused whole here
						return
					}
					wantIssue(t, r, 422, b.code, rt.expr+b.expr)
				})
			}
		}
		wantNothingStored(t, f, p1)

		// valid values (and an empty meta) are replaced by the server's, as before
		for _, meta := range []string{`{"versionId":"7","lastUpdated":"2001-01-01T00:00:00Z"}`, `{}`, `{"versionId":"1"}`} {
			r := f.do("POST", "/Patient", `{"resourceType":"Patient","meta":`+meta+`}`)
			f.want(r, 201)
			lu, err := time.Parse(time.RFC3339Nano, r.str("meta", "lastUpdated"))
			if r.str("meta", "versionId") != "1" || err != nil || time.Since(lu) > time.Hour {
				t.Fatalf("meta %s: the server did not set its own: %s", meta, r.body)
			}
		}
	})
}

// TestTooLargeBodyReadable: a body over --max-body-bytes gets its 413
// OperationOutcome even when the client writes the whole body before it
// reads anything (as Python's urllib does): the server answers from
// Content-Length, then reads the rest of the body away before it closes, so
// the client's write completes instead of being reset.
func TestTooLargeBodyReadable(t *testing.T) {
	const limit = 2000
	const size = 32 << 20 // far more than the loopback socket buffers hold
	forEach(t, func(t *testing.T, f *fixture) {
		addr := f.srv.Listener.Addr().String()
		body := `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", size) + `"}]}`
		for _, c := range []struct {
			name    string
			chunked bool
		}{{"Content-Length", false}, {"chunked", true}} {
			t.Run("whole body then read/"+c.name, func(t *testing.T) {
				r := writeThenRead(t, addr, "/fhir/Patient", body, c.chunked)
				if r.StatusCode != 413 {
					t.Fatalf("status %d, want 413", r.StatusCode)
				}
				b, _ := io.ReadAll(r.Body)
				res := &resp{status: r.StatusCode, body: b}
				res.json = decodeJSON(b)
				wantIssue(t, res, 413, "too-costly", "", "exceeds the limit of 2000 bytes")
				if !r.Close {
					t.Fatal("the 413 does not close the connection")
				}
			})
		}
		t.Run("Expect 100-continue", func(t *testing.T) {
			// the client sends no body unless told to continue: the 413 comes
			// at once and the server closes without waiting for a body
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "POST /fhir/Patient HTTP/1.1\r\nHost: %s\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, size)
			br := bufio.NewReader(conn)
			r, err := http.ReadResponse(br, nil)
			if err != nil || r.StatusCode != 413 {
				t.Fatalf("want a 413 before any body: %v %v", r, err)
			}
			io.Copy(io.Discard, r.Body)
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("the connection stays open: %v", err)
			}
		})
		t.Run("python urllib", func(t *testing.T) {
			py, err := exec.LookPath("python3")
			if err != nil {
				t.Skip("python3 not installed")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, "-c", urllibPost, f.base+"/Patient", strconv.Itoa(size)).CombinedOutput()
			if err != nil {
				t.Fatalf("urllib could not read the answer: %v\n%s", err, out)
			}
			if !strings.HasPrefix(string(out), "413 close ") || !strings.Contains(string(out), `"too-costly"`) {
				t.Fatalf("urllib read: %s", out)
			}
		})
		if h := f.do("GET", "/_history", nil); len(entries(h)) != 0 {
			t.Fatalf("stored: %s", h.body)
		}
		// the server still serves, small bodies included
		f.want(f.do("POST", "/Patient", patient("Small")), 201)
	}, func(c *handlersConfig) { c.MaxBodyBytes = limit })
}

// urllibPost posts a body of argv[2] bytes with urllib (which sends the
// whole body before reading) and prints the status, the Connection header
// and the body of the answer.
const urllibPost = `
import sys, urllib.request, urllib.error
url, n = sys.argv[1], int(sys.argv[2])
data = b'{"resourceType":"Patient","name":[{"family":"' + b'x' * n + b'"}]}'
req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/fhir+json"})
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        print(r.status, r.headers.get("Connection"), r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get("Connection"), e.read().decode())
`

// writeThenRead is a client that writes its whole request, headers and
// body, and only then reads the response.
func writeThenRead(t *testing.T, addr, path, body string, chunked bool) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	head := "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/fhir+json\r\n"
	w := bufio.NewWriterSize(conn, 64<<10)
	if chunked {
		fmt.Fprintf(w, "%sTransfer-Encoding: chunked\r\n\r\n", head)
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 32<<10)
			fmt.Fprintf(w, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		w.WriteString("0\r\n\r\n")
	} else {
		fmt.Fprintf(w, "%sContent-Length: %d\r\n\r\n%s", head, len(body), body)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("the client could not write its request (reset before it could read the 413): %v", err)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+path, nil)
	r, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("no response after writing the request: %v", err)
	}
	t.Cleanup(func() { r.Body.Close() })
	return r
}

func decodeJSON(b []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// TestDuplicateKeysRefused: a JSON key written twice is a 400 naming its
// byte offset (FHIR JSON has no duplicate properties; validating the last
// value while storing both would let the first through unchecked).
func TestDuplicateKeysRefused(t *testing.T) {
	key := regexp.MustCompile(`"(\w+)":"BAD"`)
	forEach(t, func(t *testing.T, f *fixture) {
		p1 := seedP1(t, f)
		for _, rt := range bodyRoutes() {
			if rt.name == "batch" { // a batch entry fails alone: TestInvalidTextRefused covers the batch
				continue
			}
			if rt.name == "transaction" && !f.st.Features().Transactions {
				continue
			}
			t.Run(rt.name, func(t *testing.T) {
				k := key.FindStringSubmatch(rt.tmpl)[1]
				body := strings.Replace(rt.tmpl, `"BAD"`, `"first","`+k+`":"second"`, 1)
				r := f.do(rt.method, rt.path, body, rt.hdr...)
				if r.status != 400 || !strings.Contains(string(r.body), "duplicate object key") {
					t.Fatalf("%d %s", r.status, r.body)
				}
			})
		}
		wantNothingStored(t, f, p1)
	})
}
