package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/service"
	"github.com/dccfhir/dccfhir/store"
)

// bundleWriter streams a Bundle whose entries embed stored resources
// verbatim: nothing is decoded and re-encoded on the way out.
type bundleWriter struct {
	buf     bytes.Buffer
	entries int
}

type link struct{ rel, url string }

func newBundle(typ string, total int, links []link) *bundleWriter {
	w := &bundleWriter{}
	w.buf.WriteString(`{"resourceType":"Bundle","id":`)
	w.str(uuid.NewString())
	w.buf.WriteString(`,"meta":{"lastUpdated":`)
	w.str(service.FormatInstant(time.Now()))
	w.buf.WriteString(`},"type":`)
	w.str(typ)
	if total >= 0 {
		w.buf.WriteString(`,"total":`)
		w.buf.WriteString(strconv.Itoa(total))
	}
	if len(links) > 0 {
		w.buf.WriteString(`,"link":[`)
		for i, l := range links {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.buf.WriteString(`{"relation":`)
			w.str(l.rel)
			w.buf.WriteString(`,"url":`)
			w.str(l.url)
			w.buf.WriteByte('}')
		}
		w.buf.WriteByte(']')
	}
	w.buf.WriteString(`,"entry":[`)
	return w
}

func (w *bundleWriter) str(s string) {
	b, _ := json.Marshal(s)
	w.buf.Write(b)
}

// entry writes one entry from its already-encoded members.
func (w *bundleWriter) entry(fields ...fhir.Member) {
	if w.entries > 0 {
		w.buf.WriteByte(',')
	}
	w.entries++
	w.buf.Write(fhir.Object(fields))
}

func (w *bundleWriter) bytes() []byte {
	b := w.buf.Bytes()
	if w.entries == 0 { // drop the empty entry array
		b = bytes.TrimSuffix(b, []byte(`,"entry":[`))
		return append(b, '}')
	}
	return append(b, ']', '}')
}

func jsonStr(s string) []byte { b, _ := json.Marshal(s); return b }

func statusLine(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// response builds Bundle.entry.response for a stored version.
func response(status int, r *store.Resource, location string, outcome []fhir.Issue) []byte {
	ms := []fhir.Member{{Key: "status", Value: jsonStr(statusLine(status))}}
	if location != "" {
		ms = append(ms, fhir.Member{Key: "location", Value: jsonStr(location)})
	}
	if r != nil {
		ms = append(ms, fhir.Member{Key: "etag", Value: jsonStr(etag(r.Version))}, fhir.Member{Key: "lastModified", Value: jsonStr(service.FormatInstant(r.LastUpdated))})
	}
	if len(outcome) > 0 {
		ms = append(ms, fhir.Member{Key: "outcome", Value: fhir.Outcome(outcome)})
	}
	return fhir.Object(ms)
}

// bundle answers POST to the base: a batch or a transaction.
func (s *Server) bundle(c echo.Context) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	ctx, warnings := fhir.WithWarnings(c.Request().Context())
	typ, results, err := s.svc.Bundle(ctx, body, s.getter(c))
	if typ != "" {
		c.Set(keyInteraction, typ)
	}
	if err != nil {
		return err
	}
	ret := prefer(c, "return")
	w := newBundle(typ+"-response", -1, nil)
	for _, r := range results {
		var ms []fhir.Member
		res := r.Resource
		switch {
		case r.Body != nil:
			ms = append(ms, fhir.Member{Key: "resource", Value: r.Body})
			rm := []fhir.Member{{Key: "status", Value: jsonStr(statusLine(r.Status))}}
			if r.ETag != "" {
				rm = append(rm, fhir.Member{Key: "etag", Value: jsonStr(r.ETag)})
			}
			if r.LastModified != "" {
				rm = append(rm, fhir.Member{Key: "lastModified", Value: jsonStr(r.LastModified)})
			}
			ms = append(ms, fhir.Member{Key: "response", Value: fhir.Object(rm)})
		case res != nil && !res.Deleted && r.Status < 300:
			outcome := r.Outcome
			// the warnings noted for the version this entry wrote (a POST
			// answered 200 found an existing resource and wrote nothing)
			if r.Status != 200 || !strings.EqualFold(r.Request.Method, "POST") {
				outcome = writeIssues(warnings, &service.Result{Resource: res, Outcome: r.Outcome})
			}
			ms = append(ms, fhir.Member{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + res.Type + "/" + res.ID)})
			switch ret {
			case "minimal":
			case "OperationOutcome":
				info := fhir.Issue{Severity: "information", Code: "informational", Diagnostics: statusLine(r.Status)}
				ms = append(ms, fhir.Member{Key: "resource", Value: fhir.Outcome(append([]fhir.Issue{info}, outcome...))})
			default:
				ms = append(ms, fhir.Member{Key: "resource", Value: res.JSON})
			}
			ms = append(ms, fhir.Member{Key: "response", Value: response(r.Status, res, s.location(res), outcome)})
		default:
			ms = append(ms, fhir.Member{Key: "response", Value: response(r.Status, res, "", r.Outcome)})
		}
		w.entry(ms...)
	}
	return s.writeJSON(c, 200, w.bytes())
}

// getter answers a Bundle GET entry by running it through this same router,
// so reads, searches and history in a Bundle behave exactly as over HTTP.
func (s *Server) getter(parent echo.Context) service.Getter {
	return func(ctx context.Context, raw string) (int, []byte, string, string, error) {
		target := basePath(s.cfg.BaseURL) + "/" + strings.TrimPrefix(raw, "/")
		req := httptest.NewRequest(http.MethodGet, target, nil).WithContext(ctx)
		req.Header.Set("Accept", "application/fhir+json")
		rec := httptest.NewRecorder()
		parent.Echo().ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes(), rec.Header().Get("ETag"), rec.Header().Get("Last-Modified"), nil
	}
}
