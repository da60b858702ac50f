package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
	"github.com/dccfhir/dccfhir/store/mongo/mongotest"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

// engine is a storage engine the service tests run on: the embedded
// SQLite in a temporary directory, and MongoDB (FerretDB embedded in the
// test process, or DCC_TEST_MONGODB_URI) outside -short.
type engine struct {
	name string
	open func(t *testing.T) store.Store
}

func engines() []engine {
	es := []engine{{"sqlite", func(t *testing.T) store.Store {
		st, err := sqlite.Open(filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}}}
	if !testing.Short() {
		es = append(es, engine{"mongodb", func(t *testing.T) store.Store { return mongotest.Open(t) }})
	}
	return es
}

// t0 is the fixed clock's origin; every interaction takes the next second.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a service on a fresh engine with a fixed clock and fixed ids.
type fixture struct {
	svc  *service.Service
	tick int       // instants handed out
	last time.Time // the last of them
	ids  int       // ids handed out: new-1, new-2…
}

func newFixture(t *testing.T, e engine) *fixture {
	return newFixtureWith(t, e, search.Default())
}

// newFixtureWith is newFixture on the parameter registry reg: a test
// that adds SearchParameters takes one of its own (ownRegistry), since
// search.Default() is shared by every test of the process.
func newFixtureWith(t *testing.T, e engine, reg *search.Registry) *fixture {
	f := &fixture{svc: service.New(e.open(t), reg)}
	f.svc.Now = func() time.Time {
		f.tick++
		f.last = t0.Add(time.Duration(f.tick) * time.Second)
		return f.last
	}
	f.svc.NewID = func() string { f.ids++; return fmt.Sprint("new-", f.ids) }
	return f
}

// ownRegistry is a registry of the R4 parameters for one test alone.
func ownRegistry(t *testing.T) *search.Registry {
	reg, err := search.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// req is one interaction as a client asks it.
type req struct {
	op         string // create, update, cupdate, delete, cdelete, patch, cpatch
	typ, id, q string // q: the criteria of a conditional interaction
	body       string
	ct         string // patch content type (default JSON Patch)
	pre        service.Preconditions
	multiple   bool // conditional delete of every match
}

func (r req) run(ctx context.Context, s *service.Service) (*service.Result, error) {
	typ := r.typ
	if typ == "" {
		typ = "Patient"
	}
	ct := r.ct
	if ct == "" {
		ct = service.JSONPatch
	}
	body := []byte(r.body)
	switch r.op {
	case "create":
		return s.Create(ctx, typ, body, r.pre)
	case "update":
		return s.Update(ctx, typ, r.id, body, r.pre)
	case "cupdate":
		return s.ConditionalUpdate(ctx, typ, r.q, body, r.pre)
	case "delete":
		return s.Delete(ctx, typ, r.id, r.pre)
	case "cdelete":
		return s.ConditionalDelete(ctx, typ, r.q, r.multiple)
	case "patch":
		return s.Patch(ctx, typ, r.id, ct, body, r.pre)
	case "cpatch":
		return s.ConditionalPatch(ctx, typ, r.q, ct, body, r.pre)
	}
	panic("unknown op " + r.op)
}

// pat is a Patient body: id and identifier value (urn:s system) when not
// empty, and a gender.
func pat(id, ident, gender string) string {
	m := map[string]any{"resourceType": "Patient", "gender": gender}
	if id != "" {
		m["id"] = id
	}
	if ident != "" {
		m["identifier"] = []any{map[string]any{"system": "urn:s", "value": ident}}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// State builders: what is stored before the request.
func put(id, ident, gender string) req {
	return req{op: "update", id: id, body: pat(id, ident, gender)}
}
func del(id string) req { return req{op: "delete", id: id} }

const (
	setMale   = `[{"op": "replace", "path": "/gender", "value": "male"}]`
	fpSetMale = `{"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
	  {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"}, {"name": "value", "valueCode": "male"}]}]}`
)

// want is what the request comes to: its status (of the result or of the
// error) and issue code, how many versions it wrote, and the resource it
// leaves: id, current version (0: none to check), deleted or its gender.
type want struct {
	status  int
	code    string
	written int
	id      string
	version int64
	deleted bool
	gender  string
}

type interactionCase struct {
	name  string
	given []req
	req   req
	want  want
}

var interactionCases = []interactionCase{
	// create
	{name: "create", req: req{op: "create", body: pat("", "a", "female")},
		want: want{status: 201, written: 1, id: "new-1", version: 1, gender: "female"}},
	{name: "create ignores the body id", req: req{op: "create", body: pat("mine", "", "female")},
		want: want{status: 201, written: 1, id: "new-1", version: 1}},
	{name: "create wrong resourceType", req: req{op: "create", typ: "Observation", body: pat("", "", "female")},
		want: want{status: 400, code: "invalid"}},
	{name: "create unknown type", req: req{op: "create", typ: "Unicorn", body: `{"resourceType": "Unicorn"}`},
		want: want{status: 404, code: "not-supported"}},
	{name: "create not JSON", req: req{op: "create", body: `{"resourceType": "Patient",`},
		want: want{status: 400}},
	{name: "create meta not an object", req: req{op: "create", body: `{"resourceType": "Patient", "meta": 3}`},
		want: want{status: 400, code: "structure"}},
	{name: "conditional create, no match", given: []req{put("p1", "a", "female")},
		req:  req{op: "create", body: pat("", "b", "male"), pre: service.Preconditions{IfNoneExist: "identifier=urn:s|b"}},
		want: want{status: 201, written: 1, id: "new-1", version: 1, gender: "male"}},
	{name: "conditional create, one match", given: []req{put("p1", "a", "female")},
		req:  req{op: "create", body: pat("", "a", "male"), pre: service.Preconditions{IfNoneExist: "identifier=urn:s|a"}},
		want: want{status: 200, written: 0, id: "p1", version: 1, gender: "female"}},
	{name: "conditional create, two matches", given: []req{put("p1", "a", "female"), put("p2", "a", "female")},
		req:  req{op: "create", body: pat("", "a", "male"), pre: service.Preconditions{IfNoneExist: "identifier=urn:s|a"}},
		want: want{status: 412, code: "multiple-matches"}},
	{name: "conditional create, match deleted", given: []req{put("p1", "a", "female"), del("p1")},
		req:  req{op: "create", body: pat("", "a", "male"), pre: service.Preconditions{IfNoneExist: "identifier=urn:s|a"}},
		want: want{status: 201, written: 1, id: "new-1", version: 1}},
	{name: "conditional create, unknown parameter", req: req{op: "create", body: pat("", "a", "male"), pre: service.Preconditions{IfNoneExist: "shoe-size=42"}},
		want: want{status: 400, code: "not-supported"}},

	// update
	{name: "update as create", req: req{op: "update", id: "p1", body: pat("p1", "", "female")},
		want: want{status: 201, written: 1, id: "p1", version: 1, gender: "female"}},
	{name: "update", given: []req{put("p1", "", "female")}, req: req{op: "update", id: "p1", body: pat("p1", "", "male")},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "update of a deleted resource", given: []req{put("p1", "", "female"), del("p1")}, req: req{op: "update", id: "p1", body: pat("p1", "", "male")},
		want: want{status: 201, written: 1, id: "p1", version: 3, gender: "male"}},
	{name: "update If-Match right", given: []req{put("p1", "", "female")},
		req:  req{op: "update", id: "p1", body: pat("p1", "", "male"), pre: service.Preconditions{IfMatch: `W/"1"`}},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "update If-Match wrong", given: []req{put("p1", "", "female")},
		req:  req{op: "update", id: "p1", body: pat("p1", "", "male"), pre: service.Preconditions{IfMatch: `W/"2"`}},
		want: want{status: 412, code: "conflict", id: "p1", version: 1, gender: "female"}},
	{name: "update If-Match malformed", given: []req{put("p1", "", "female")},
		req:  req{op: "update", id: "p1", body: pat("p1", "", "male"), pre: service.Preconditions{IfMatch: `W/"one"`}},
		want: want{status: 400, code: "invalid", id: "p1", version: 1, gender: "female"}},
	{name: "update If-Match on nothing", req: req{op: "update", id: "p1", body: pat("p1", "", "male"), pre: service.Preconditions{IfMatch: `W/"1"`}},
		want: want{status: 412, code: "conflict"}},
	{name: "update If-None-Match * on existing", given: []req{put("p1", "", "female")},
		req:  req{op: "update", id: "p1", body: pat("p1", "", "male"), pre: service.Preconditions{IfNoneMatchAny: true}},
		want: want{status: 412, code: "duplicate", id: "p1", version: 1, gender: "female"}},
	{name: "update If-None-Match * on nothing", req: req{op: "update", id: "p1", body: pat("p1", "", "male"), pre: service.Preconditions{IfNoneMatchAny: true}},
		want: want{status: 201, written: 1, id: "p1", version: 1}},
	{name: "update without id in the body", req: req{op: "update", id: "p1", body: pat("", "", "male")},
		want: want{status: 400, code: "required"}},
	{name: "update id mismatch", req: req{op: "update", id: "p1", body: pat("p2", "", "male")},
		want: want{status: 400, code: "invalid"}},
	{name: "update invalid id", req: req{op: "update", id: "p_1", body: pat("p_1", "", "male")},
		want: want{status: 400, code: "value"}},

	// conditional update
	{name: "conditional update, no match", given: []req{put("p1", "a", "female")},
		req:  req{op: "cupdate", q: "identifier=urn:s|b", body: pat("", "b", "male")},
		want: want{status: 201, written: 1, id: "new-1", version: 1, gender: "male"}},
	{name: "conditional update, no match, body id", req: req{op: "cupdate", q: "identifier=urn:s|b", body: pat("mine", "b", "male")},
		want: want{status: 201, written: 1, id: "mine", version: 1}},
	{name: "conditional update, no match, body id taken", given: []req{put("p1", "a", "female")},
		req:  req{op: "cupdate", q: "identifier=urn:s|b", body: pat("p1", "b", "male")},
		want: want{status: 409, code: "conflict", id: "p1", version: 1, gender: "female"}},
	{name: "conditional update, one match", given: []req{put("p1", "a", "female")},
		req:  req{op: "cupdate", q: "identifier=urn:s|a", body: pat("", "a", "male")},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "conditional update, one match, same id", given: []req{put("p1", "a", "female")},
		req:  req{op: "cupdate", q: "identifier=urn:s|a", body: pat("p1", "a", "male")},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "conditional update, id mismatch", given: []req{put("p1", "a", "female")},
		req:  req{op: "cupdate", q: "identifier=urn:s|a", body: pat("p2", "a", "male")},
		want: want{status: 400, code: "invalid", id: "p1", version: 1, gender: "female"}},
	{name: "conditional update, two matches", given: []req{put("p1", "a", "female"), put("p2", "a", "female")},
		req:  req{op: "cupdate", q: "identifier=urn:s|a", body: pat("", "a", "male")},
		want: want{status: 412, code: "multiple-matches"}},
	{name: "conditional update, If-Match wrong", given: []req{put("p1", "a", "female")},
		req:  req{op: "cupdate", q: "identifier=urn:s|a", body: pat("", "a", "male"), pre: service.Preconditions{IfMatch: `W/"3"`}},
		want: want{status: 412, code: "conflict", id: "p1", version: 1, gender: "female"}},
	{name: "conditional update, unknown parameter", req: req{op: "cupdate", q: "shoe-size=42", body: pat("", "a", "male")},
		want: want{status: 400, code: "not-supported"}},
	{name: "conditional update, no criteria", req: req{op: "cupdate", q: "_count=3", body: pat("", "a", "male")},
		want: want{status: 412, code: "processing"}},
	{name: "conditional update, malformed query", req: req{op: "cupdate", q: "identifier=%zz", body: pat("", "a", "male")},
		want: want{status: 400, code: "invalid"}},

	// delete
	{name: "delete", given: []req{put("p1", "", "female")}, req: del("p1"),
		want: want{status: 204, written: 1, id: "p1", version: 2, deleted: true}},
	{name: "delete of nothing", req: del("p1"), want: want{status: 204, written: 0}},
	{name: "delete of a deleted resource", given: []req{put("p1", "", "female"), del("p1")}, req: del("p1"),
		want: want{status: 204, written: 0, id: "p1", version: 2, deleted: true}},
	{name: "delete If-Match right", given: []req{put("p1", "", "female")}, req: req{op: "delete", id: "p1", pre: service.Preconditions{IfMatch: `"1"`}},
		want: want{status: 204, written: 1, id: "p1", version: 2, deleted: true}},
	{name: "delete If-Match wrong", given: []req{put("p1", "", "female")}, req: req{op: "delete", id: "p1", pre: service.Preconditions{IfMatch: `W/"2"`}},
		want: want{status: 412, code: "conflict", id: "p1", version: 1, gender: "female"}},
	{name: "conditional delete, no match", given: []req{put("p1", "a", "female")}, req: req{op: "cdelete", q: "identifier=urn:s|b"},
		want: want{status: 204, written: 0, id: "p1", version: 1, gender: "female"}},
	{name: "conditional delete, one match", given: []req{put("p1", "a", "female")}, req: req{op: "cdelete", q: "identifier=urn:s|a"},
		want: want{status: 204, written: 1, id: "p1", version: 2, deleted: true}},
	{name: "conditional delete, two matches, single", given: []req{put("p1", "a", "female"), put("p2", "a", "female")},
		req:  req{op: "cdelete", q: "identifier=urn:s|a"},
		want: want{status: 412, code: "multiple-matches", id: "p1", version: 1, gender: "female"}},
	{name: "conditional delete, two matches, multiple", given: []req{put("p1", "a", "female"), put("p2", "a", "female"), put("p3", "b", "female")},
		req:  req{op: "cdelete", q: "identifier=urn:s|a", multiple: true},
		want: want{status: 204, written: 2, id: "p2", version: 2, deleted: true}},
	{name: "conditional delete, unknown parameter", given: []req{put("p1", "a", "female")}, req: req{op: "cdelete", q: "shoe-size=42", multiple: true},
		want: want{status: 400, code: "not-supported", id: "p1", version: 1}},

	// patch
	{name: "JSON Patch", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: setMale},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "FHIRPath Patch", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: fpSetMale, ct: service.FHIRJSON},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "patch If-Match right", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: setMale, pre: service.Preconditions{IfMatch: `W/"1"`}},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "patch If-Match wrong", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: setMale, pre: service.Preconditions{IfMatch: `W/"2"`}},
		want: want{status: 412, code: "conflict", id: "p1", version: 1, gender: "female"}},
	{name: "patch If-Match malformed", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: setMale, pre: service.Preconditions{IfMatch: `W/`}},
		want: want{status: 400, code: "invalid", id: "p1", version: 1, gender: "female"}},
	{name: "patch of nothing", req: req{op: "patch", id: "p1", body: setMale}, want: want{status: 404, code: "not-found"}},
	{name: "patch of a deleted resource", given: []req{put("p1", "", "female"), del("p1")}, req: req{op: "patch", id: "p1", body: setMale},
		want: want{status: 410, code: "deleted", id: "p1", version: 2, deleted: true}},
	{name: "patch changing the id", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: `[{"op": "replace", "path": "/id", "value": "p2"}]`},
		want: want{status: 422, code: "processing", id: "p1", version: 1, gender: "female"}},
	{name: "patch failing test", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: `[{"op": "test", "path": "/gender", "value": "male"}]`},
		want: want{status: 422, id: "p1", version: 1, gender: "female"}},
	{name: "patch not an array", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: `{"op": "replace"}`},
		want: want{status: 400, code: "structure", id: "p1", version: 1}},
	{name: "patch of another media type", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: setMale, ct: "text/plain"},
		want: want{status: 415, code: "not-supported", id: "p1", version: 1}},
	{name: "FHIRPath Patch not Parameters", given: []req{put("p1", "", "female")}, req: req{op: "patch", id: "p1", body: pat("", "", "male"), ct: service.FHIRJSON},
		want: want{status: 400, code: "invalid", id: "p1", version: 1}},
	{name: "conditional patch, one match", given: []req{put("p1", "a", "female")}, req: req{op: "cpatch", q: "identifier=urn:s|a", body: setMale},
		want: want{status: 200, written: 1, id: "p1", version: 2, gender: "male"}},
	{name: "conditional patch, no match", given: []req{put("p1", "a", "female")}, req: req{op: "cpatch", q: "identifier=urn:s|b", body: setMale},
		want: want{status: 404, code: "not-found", id: "p1", version: 1}},
	{name: "conditional patch, two matches", given: []req{put("p1", "a", "female"), put("p2", "a", "female")},
		req:  req{op: "cpatch", q: "identifier=urn:s|a", body: setMale},
		want: want{status: 412, code: "multiple-matches", id: "p1", version: 1, gender: "female"}},
	{name: "conditional patch, If-Match wrong", given: []req{put("p1", "a", "female")},
		req:  req{op: "cpatch", q: "identifier=urn:s|a", body: fpSetMale, ct: service.FHIRJSON, pre: service.Preconditions{IfMatch: `W/"9"`}},
		want: want{status: 412, code: "conflict", id: "p1", version: 1, gender: "female"}},
}

// TestInteractions runs each interaction on a stored state and checks its
// status, the versions it wrote and what it left stored, then that vread
// and history agree with it, on every engine.
func TestInteractions(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			for _, c := range interactionCases {
				t.Run(c.name, func(t *testing.T) { runInteraction(t, newFixture(t, e), c) })
			}
		})
	}
}

func runInteraction(t *testing.T, f *fixture, c interactionCase) {
	ctx := context.Background()
	s := f.svc
	for _, g := range c.given {
		if _, err := g.run(ctx, s); err != nil {
			t.Fatalf("stored state: %s %s: %v", g.op, g.id, err)
		}
	}
	before := versions(t, s)
	res, err := c.req.run(ctx, s)
	written := versions(t, s) - before
	switch {
	case err != nil:
		var fe *fhir.Error
		if !errors.As(err, &fe) {
			t.Fatalf("an internal error (a 500) for what the client sent: %v", err)
		}
		if fe.Status != c.want.status || (c.want.code != "" && fe.Issues[0].Code != c.want.code) {
			t.Fatalf("error %d %q (%v), want %d %q", fe.Status, fe.Issues[0].Code, fe, c.want.status, c.want.code)
		}
		if c.want.status < 400 {
			t.Fatalf("unexpected error %v", fe)
		}
	case c.want.status >= 400:
		t.Fatalf("status %d, want the error %d", res.Status, c.want.status)
	default:
		if res.Status != c.want.status {
			t.Fatalf("status %d, want %d", res.Status, c.want.status)
		}
		if c.want.id != "" && res.Resource != nil && res.Resource.ID != c.want.id && !c.req.multiple {
			t.Errorf("result is %s/%s, want id %s", res.Resource.Type, res.Resource.ID, c.want.id)
		}
	}
	if written != c.want.written {
		t.Errorf("%d versions written, want %d", written, c.want.written)
	}
	if c.want.id != "" && c.want.version > 0 {
		checkStored(t, f, "Patient", c.want.id, c.want, written > 0)
	}
}

// versions counts the versions stored, of every resource.
func versions(t *testing.T, s *service.Service) int {
	t.Helper()
	p, err := s.History(context.Background(), "", "", url.Values{"_count": {"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Versions)
}

// checkStored checks the current version of typ/id and that vread and
// history agree with it: versions 1..current, newest first, each with its
// versionId, the current one stamped by the fixed clock when just written.
func checkStored(t *testing.T, f *fixture, typ, id string, w want, justWritten bool) {
	t.Helper()
	ctx := context.Background()
	s := f.svc
	cur, err := s.Read(ctx, typ, id)
	var fe *fhir.Error
	switch {
	case w.deleted:
		if !errors.As(err, &fe) || fe.Status != 410 || cur == nil || !cur.Deleted {
			t.Fatalf("read %s/%s: %v %v, want 410 with the tombstone", typ, id, cur, err)
		}
	case err != nil:
		t.Fatalf("read %s/%s: %v", typ, id, err)
	}
	if cur.Version != w.version {
		t.Errorf("%s/%s is at version %d, want %d", typ, id, cur.Version, w.version)
	}
	if justWritten && w.id != "" && !cur.LastUpdated.Equal(f.last) && !w.deleted {
		t.Errorf("lastUpdated %v, want the request's instant %v", cur.LastUpdated, f.last)
	}
	if !w.deleted {
		var r struct {
			ID     string
			Gender string
			Meta   struct{ VersionID, LastUpdated string }
		}
		if err := json.Unmarshal(cur.JSON, &r); err != nil {
			t.Fatal(err)
		}
		if r.ID != id || r.Meta.VersionID != fmt.Sprint(cur.Version) || r.Meta.LastUpdated != service.FormatInstant(cur.LastUpdated) {
			t.Errorf("stored JSON not stamped as %s v%d at %v: %s", id, cur.Version, cur.LastUpdated, cur.JSON)
		}
		if w.gender != "" && r.Gender != w.gender {
			t.Errorf("gender %q, want %q", r.Gender, w.gender)
		}
	}
	h, err := s.History(ctx, typ, id, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != int(cur.Version) {
		t.Fatalf("history of %s/%s has %d versions, want %d", typ, id, len(h.Versions), cur.Version)
	}
	for i, v := range h.Versions {
		if want := cur.Version - int64(i); v.Version != want {
			t.Errorf("history[%d] is version %d, want %d", i, v.Version, want)
		}
		got, err := s.VRead(ctx, typ, id, fmt.Sprint(v.Version))
		if v.Deleted {
			if !errors.As(err, &fe) || fe.Status != 410 {
				t.Errorf("vread of deletion version %d: %v", v.Version, err)
			}
			continue
		}
		if err != nil || got.Version != v.Version || !strings.Contains(string(got.JSON), fmt.Sprintf(`"versionId":"%d"`, v.Version)) {
			t.Errorf("vread %d: %v %v", v.Version, got, err)
		}
		if i > 0 && !v.LastUpdated.Before(h.Versions[i-1].LastUpdated) {
			t.Errorf("history not newest first at %d", i)
		}
	}
}

// TestNewIDAndClockInjected: created resources take the ids NewID gives and
// the instant Now gives, so tests can state them.
func TestNewIDAndClockInjected(t *testing.T) {
	f := newFixture(t, engines()[0])
	r, err := f.svc.Create(context.Background(), "Patient", []byte(pat("", "", "female")), service.Preconditions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Resource.ID != "new-1" || !r.Resource.LastUpdated.Equal(t0.Add(time.Second)) {
		t.Fatalf("created %s at %v, want new-1 at %v", r.Resource.ID, r.Resource.LastUpdated, t0.Add(time.Second))
	}
}

// TestUpdateTrusted: a trusted write skips the write validation, which an
// ordinary update of the same body runs.
func TestUpdateTrusted(t *testing.T) {
	f := newFixture(t, engines()[0])
	f.svc.Validate = func(context.Context, string, map[string]any) ([]fhir.Issue, *fhir.Error) {
		return nil, fhir.Errorf(422, "invalid", "", "refused by the validator")
	}
	ctx := context.Background()
	body := []byte(`{"resourceType": "ValueSet", "id": "vs", "status": "active"}`)
	if _, err := f.svc.Update(ctx, "ValueSet", "vs", body, service.Preconditions{}); err == nil {
		t.Fatal("an ordinary update skipped the validator")
	}
	if r, err := f.svc.UpdateTrusted(ctx, "ValueSet", "vs", body); err != nil || r.Status != 201 {
		t.Fatalf("trusted update: %v %v", r, err)
	}
}
