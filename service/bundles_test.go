package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// ent is a Bundle entry: method, url, resource (JSON or "") and request
// members (ifMatch, ifNoneExist…) as pairs.
func ent(method, u, res string, req ...string) map[string]any {
	r := map[string]any{"method": method, "url": u}
	for i := 0; i+1 < len(req); i += 2 {
		r[req[i]] = req[i+1]
	}
	e := map[string]any{"request": r}
	if res != "" {
		e["resource"] = json.RawMessage(res)
	}
	return e
}

func bundleOf(typ string, es ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": typ, "entry": es})
	return b
}

type bundleCase struct {
	name  string
	given []req
	typ   string // batch or transaction
	entry []map[string]any
	// statuses of the entries; or, for a transaction refused as a whole,
	// the error's status and the entry it names.
	statuses []int
	err      int
	errAt    string
	written  int
}

var bundleCases = []bundleCase{
	{name: "transaction of a create and an update", typ: "transaction",
		entry:    []map[string]any{ent("POST", "Patient", pat("", "a", "female")), ent("PUT", "Patient/p1", pat("p1", "", "male"))},
		statuses: []int{201, 201}, written: 2},
	{name: "transaction, stale If-Match fails it all", typ: "transaction", given: []req{put("p1", "", "female")},
		entry: []map[string]any{ent("POST", "Patient", pat("", "a", "female")), ent("PUT", "Patient/p1", pat("p1", "", "male"), "ifMatch", `W/"2"`)},
		err:   412, errAt: "Bundle.entry[1]"},
	{name: "transaction, conditional create matching", typ: "transaction", given: []req{put("p1", "a", "female")},
		entry:    []map[string]any{ent("POST", "Patient", pat("", "a", "male"), "ifNoneExist", "identifier=urn:s|a")},
		statuses: []int{200}, written: 0},
	{name: "transaction, conditional patch matching nothing", typ: "transaction", given: []req{put("p1", "a", "female")},
		entry: []map[string]any{ent("POST", "Patient", pat("", "b", "female")), ent("PATCH", "Patient?identifier=urn:s|zz", fpSetMale)},
		err:   404, errAt: "Bundle.entry[1]"},
	{name: "transaction, a resource touched twice", typ: "transaction",
		entry: []map[string]any{ent("PUT", "Patient/p1", pat("p1", "", "male")), ent("DELETE", "Patient/p1", "")},
		err:   400, errAt: "entries 1 and 0"},
	{name: "batch, each entry on its own", typ: "batch", given: []req{put("p1", "a", "female"), put("p2", "a", "female"), put("p3", "c", "female")},
		entry: []map[string]any{
			ent("PATCH", "Patient?identifier=urn:s|zz", fpSetMale), // no match
			ent("PATCH", "Patient?identifier=urn:s|a", fpSetMale),  // two
			ent("PATCH", "Patient?identifier=urn:s|c", fpSetMale),  // one
			ent("DELETE", "Patient?identifier=urn:s|a", ""),        // two, never several in a Bundle
			ent("PUT", "Patient/p1", pat("p1", "", "male"), "ifMatch", `W/"5"`),
			ent("POST", "Patient", `{"resourceType": "Observation"}`),
			ent("POST", "Patient", pat("", "d", "male")),
		},
		statuses: []int{404, 412, 200, 412, 412, 400, 201}, written: 2},
}

// TestBundles runs batches and transactions on a stored state and checks
// each entry's status, or the refusal of a whole transaction naming its
// entry, and the versions written, on every engine.
func TestBundles(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			for _, c := range bundleCases {
				t.Run(c.name, func(t *testing.T) {
					f := newFixture(t, e)
					ctx := context.Background()
					for _, g := range c.given {
						if _, err := g.run(ctx, f.svc); err != nil {
							t.Fatalf("stored state: %v", err)
						}
					}
					if c.typ == "transaction" && !f.svc.Store.Features().Transactions {
						_, _, err := f.svc.Bundle(ctx, bundleOf(c.typ, c.entry...), service.BundleOptions{})
						var fe *fhir.Error
						if !errors.As(err, &fe) || fe.Status != 400 {
							t.Fatalf("transaction on an engine without transactions: %v, want a 400", err)
						}
						t.Skip("engine without transactions: refused (checked)")
					}
					before := versions(t, f.svc)
					_, res, err := f.svc.Bundle(ctx, bundleOf(c.typ, c.entry...), service.BundleOptions{})
					if written := versions(t, f.svc) - before; written != c.written {
						t.Errorf("%d versions written, want %d", written, c.written)
					}
					if c.err != 0 {
						var fe *fhir.Error
						if !errors.As(err, &fe) || fe.Status != c.err || !strings.Contains(fmt.Sprint(fe.Issues), c.errAt) {
							t.Fatalf("error %v, want %d naming %s", err, c.err, c.errAt)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					for i, want := range c.statuses {
						if res[i].Status != want {
							t.Errorf("entry %d: status %d (%v), want %d", i, res[i].Status, res[i].Outcome, want)
						}
						if want >= 400 && len(res[i].Outcome) == 0 {
							t.Errorf("entry %d: failed without an outcome", i)
						}
					}
				})
			}
		})
	}
}

// TestBundleGetEntries: GET entries are answered by the service's own
// read, vread, search and history after the writes, as data the HTTP layer
// renders; what names no such interaction fails in its entry.
func TestBundleGetEntries(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			f := newFixture(t, e)
			ctx := context.Background()
			for _, g := range []req{put("p1", "a", "female"), put("p2", "a", "female"), del("p2")} {
				if _, err := g.run(ctx, f.svc); err != nil {
					t.Fatal(err)
				}
			}
			_, res, err := f.svc.Bundle(ctx, bundleOf("batch",
				ent("GET", "Patient/p1", ""),
				ent("GET", "Patient/p1/_history/1", ""),
				ent("GET", "Patient?identifier=urn:s|a", ""),
				ent("GET", "Patient/p1/_history", ""),
				ent("GET", "_history?_count=2", ""),
				ent("GET", "Patient/p1/*", ""),
				ent("GET", "Patient/p2", ""),
				ent("GET", "metadata", ""),
				ent("GET", "Patient/p1/_history/1/x", ""),
				ent("GET", "Patient?identifier=%zz", ""),
				ent("PUT", "Patient/p1", pat("p1", "a", "male")), // runs first
			), service.BundleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			check := func(i, status int, interaction string) *service.EntryResult {
				t.Helper()
				r := &res[i]
				if r.Status != status {
					t.Fatalf("entry %d: status %d %v, want %d", i, r.Status, r.Outcome, status)
				}
				if interaction != "" && (r.Get == nil || r.Get.Interaction != interaction) {
					t.Fatalf("entry %d: read as %+v, want %s", i, r.Get, interaction)
				}
				return r
			}
			if r := check(0, 200, service.GetRead); r.Resource.Version != 2 {
				t.Errorf("read after the PUT gives version %d, want 2", r.Resource.Version)
			}
			if r := check(1, 200, service.GetVRead); r.Resource.Version != 1 {
				t.Errorf("vread gives version %d", r.Resource.Version)
			}
			if r := check(2, 200, service.GetSearch); len(r.Search.Result.Resources) != 1 {
				t.Errorf("search found %d", len(r.Search.Result.Resources))
			}
			if r := check(3, 200, service.GetHistory); len(r.History.Versions) != 2 {
				t.Errorf("history has %d versions", len(r.History.Versions))
			}
			if r := check(4, 200, service.GetHistory); len(r.History.Versions) != 2 || r.History.Next == "" {
				t.Errorf("system history page: %d versions, next %q", len(r.History.Versions), r.History.Next)
			}
			if r := check(5, 200, service.GetSearch); r.Get.Compartment != "Patient" || r.Get.CompartmentID != "p1" || r.Get.Type != "*" {
				t.Errorf("compartment search read as %+v", r.Get)
			}
			if r := check(6, 410, ""); r.Resource == nil || !r.Resource.Deleted {
				t.Errorf("410 without the tombstone")
			}
			check(7, 400, "")
			check(8, 404, "")
			check(9, 400, "")
			check(10, 200, "")
		})
	}
}
