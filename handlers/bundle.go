package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
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

// searchsetBundle renders a page of search results as a searchset Bundle
// whose self link shows the query as understood (ignored parameters left
// out) and whose next and previous links carry the engine's cursor. comp,
// compID and typ are the search as addressed: typ "" for a system search,
// and for a compartment search "" or "*" for all its types. It is the one
// place a searchset and its links are built: for a search of its own and
// for a GET entry of a batch or transaction alike.
func (s *Server) searchsetBundle(comp, compID, typ string, resp *service.SearchResponse) ([]byte, error) {
	q, res := resp.Query, resp.Result
	base := s.cfg.BaseURL + "/"
	if comp != "" {
		base += comp + "/" + compID + "/"
		if typ == "" {
			typ = "*"
		}
	}
	if typ != "" {
		base += typ
	}
	// the compartment is in the path; resp.Query is the client's search
	// without it
	self := q.Encode(strings.TrimSuffix(typ, "*"))
	selfURL := base
	if self != "" {
		selfURL += "?" + self
	}
	if q.Page != "" {
		selfURL = pageURL(base, self, q.Page)
	}
	links := []link{{"self", selfURL}}
	if res.Next != "" {
		links = append(links, link{"next", pageURL(base, self, res.Next)})
	}
	if res.Prev != "" {
		links = append(links, link{"previous", pageURL(base, self, res.Prev)})
	}
	w := newBundle("searchset", res.Total, links)
	if len(resp.Explain) > 0 { // __explain=true: the plan, first (as Blaze puts it)
		w.entry(fhir.Member{Key: "resource", Value: fhir.Outcome(resp.Explain)}, fhir.Member{Key: "search", Value: []byte(`{"mode":"outcome"}`)})
	}
	summary := q.Summary
	if summary == "count" {
		return w.bytes(), nil
	}
	for _, r := range res.Resources {
		body, err := fhir.Summarize(r.Type, r.JSON, summary, q.Elements)
		if err != nil {
			return nil, err
		}
		w.entry(fhir.Member{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + r.Type + "/" + r.ID)},
			fhir.Member{Key: "resource", Value: body},
			fhir.Member{Key: "search", Value: []byte(`{"mode":"match"}`)})
	}
	for _, r := range res.Included {
		w.entry(fhir.Member{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + r.Type + "/" + r.ID)},
			fhir.Member{Key: "resource", Value: r.JSON},
			fhir.Member{Key: "search", Value: []byte(`{"mode":"include"}`)})
	}
	if len(resp.Ignored) > 0 {
		issues := make([]fhir.Issue, 0, len(resp.Ignored))
		for _, u := range resp.Ignored {
			issues = append(issues, fhir.Issue{Severity: "warning", Code: "not-supported", Diagnostics: "parameter " + u.Name + " was ignored: " + u.Reason})
		}
		w.entry(fhir.Member{Key: "resource", Value: fhir.Outcome(issues)}, fhir.Member{Key: "search", Value: []byte(`{"mode":"outcome"}`)})
	}
	return w.bytes(), nil
}

// pageURL is the link to the page cursor names of the search or history at
// base with query (encoded, without a cursor): the cursor goes last.
func pageURL(base, query, cursor string) string {
	if query != "" {
		query += "&"
	}
	return base + "?" + query + service.PageParam + "=" + url.QueryEscape(cursor)
}

// historyBundle renders a page of versions as a history Bundle with its
// self link (the request's parameters as sent) and next link (the same with
// the engine's cursor): the one place a history and its links are built.
// typ and id are the history asked for ("" at the type or system level).
func (s *Server) historyBundle(typ, id string, params url.Values, page *store.HistoryPage) []byte {
	path := s.cfg.BaseURL + "/_history"
	switch {
	case id != "":
		path = s.cfg.BaseURL + "/" + typ + "/" + id + "/_history"
	case typ != "":
		path = s.cfg.BaseURL + "/" + typ + "/_history"
	}
	self := path
	if len(params) > 0 {
		self += "?" + params.Encode()
	}
	links := []link{{"self", self}}
	if page.Next != "" {
		rest := url.Values{}
		for k, v := range params {
			if k != service.PageParam {
				rest[k] = v
			}
		}
		links = append(links, link{"next", pageURL(path, rest.Encode(), page.Next)})
	}
	w := newBundle("history", page.Total, links)
	for _, v := range page.Versions {
		ms := []fhir.Member{{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + v.Type + "/" + v.ID)}}
		if !v.Deleted {
			ms = append(ms, fhir.Member{Key: "resource", Value: v.JSON})
		}
		reqURL := v.Type + "/" + v.ID
		if v.Method == "POST" {
			reqURL = v.Type
		}
		ms = append(ms, fhir.Member{Key: "request", Value: fhir.Object([]fhir.Member{{Key: "method", Value: jsonStr(v.Method)}, {Key: "url", Value: jsonStr(reqURL)}})})
		status := 200
		switch {
		case v.Deleted:
			status = 204
		case v.Version == 1 || v.Method == "POST":
			status = 201
		}
		ms = append(ms, fhir.Member{Key: "response", Value: response(status, v, "", nil)})
		w.entry(ms...)
	}
	return w.bytes()
}

// bundle answers POST to the base: a batch or a transaction. Its GET
// entries are answered by the service, and rendered here by the same code
// as the interactions they name, so an entry is what the request on its
// own would have answered, and the Bundle is one request (one access log
// line, one metric).
func (s *Server) bundle(c echo.Context) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	typ, results, err := s.svc.Bundle(ctx, body, service.BundleOptions{Strict: prefer(c, "handling") == "strict"})
	if typ != "" {
		c.Set(keyInteraction, typ)
	}
	if err != nil {
		return err
	}
	ret := prefer(c, "return")
	w := newBundle(typ+"-response", -1, nil)
	for i := range results {
		r := &results[i]
		var ms []fhir.Member
		res := r.Resource
		switch {
		case r.Get != nil && r.Status < 300:
			ms = s.getEntry(c, r)
		case res != nil && !res.Deleted && r.Status < 300:
			outcome := r.Outcome // with validation's warnings of the version written
			ms = append(ms, fhir.Member{Key: "fullUrl", Value: jsonStr(s.cfg.BaseURL + "/" + res.Type + "/" + res.ID)})
			ret := ret
			if r.Withheld && ret != "minimal" { // the caller may not read it
				ret = "OperationOutcome"
			}
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

// getEntry renders the answer of a GET entry that succeeded: the resource
// (with the URL's _summary and _elements) and its etag and lastModified, a
// 304 when the entry's ifNoneMatch or ifModifiedSince say the reader has it,
// or the searchset or history Bundle.
func (s *Server) getEntry(c echo.Context, r *service.EntryResult) []fhir.Member {
	g := r.Get
	var body []byte
	var err error
	switch {
	case r.Search != nil:
		body, err = s.searchsetBundle(g.Compartment, g.CompartmentID, g.Type, r.Search)
	case r.History != nil:
		body = s.historyBundle(g.Type, g.ID, g.Params, r.History)
	default:
		if g.Interaction == service.GetRead && unchanged(r.Resource, r.Request.IfNoneMatch, entryInstant(r.Request.IfModifiedSince), time.Microsecond) {
			return []fhir.Member{{Key: "response", Value: response(304, r.Resource, "", nil)}}
		}
		body, err = renderResource(r.Resource, g.Params)
	}
	if err != nil {
		fe, ok := err.(*fhir.Error)
		if !ok {
			logger(c).Error("internal error in a Bundle GET entry", "url", r.Request.URL, "err", err)
			fe = fhir.Errorf(500, "exception", "", "internal error; the request id is %s", c.Response().Header().Get("X-Request-Id"))
		}
		return []fhir.Member{{Key: "response", Value: response(fe.Status, nil, "", fe.Issues)}}
	}
	return []fhir.Member{{Key: "resource", Value: body}, {Key: "response", Value: response(200, r.Resource, "", nil)}}
}

// entryInstant reads Bundle.entry.request.ifModifiedSince: a FHIR instant
// (or, leniently, an HTTP date). Like the header, a value that is neither
// is ignored.
func entryInstant(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}
