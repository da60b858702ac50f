package service_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
)

// auditOf is an AuditEvent about Patient/patient, as package audit records one.
func auditOf(id, patient string) string {
	return `{"resourceType":"AuditEvent","id":"` + id + `","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},"recorded":"2024-01-01T00:00:00Z",` +
		`"agent":[{"requestor":true,"who":{"reference":"Practitioner/dr1"}}],"source":{"observer":{"reference":"Organization/org1"}},"entity":[{"what":{"reference":"Patient/` + patient + `"}}]}`
}

// putAudit stores an AuditEvent as the server does: through the store,
// not the service, which refuses every write of one.
func putAudit(t *testing.T, s *service.Service, id, patient string) {
	t.Helper()
	body := []byte(auditOf(id, patient))
	tree, err := fhir.DecodeStored(body)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := search.ExtractLocal(s.Params, "AuditEvent", tree, s.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	w := &store.Write{Resource: store.Resource{Type: "AuditEvent", ID: id, Version: 1, LastUpdated: s.Now().UTC(), Method: "POST", JSON: body}, Index: idx}
	if err := s.Store.Update(context.Background(), func(tx store.Tx) error { return tx.Put(context.Background(), w) }); err != nil {
		t.Fatal(err)
	}
}

// noAudit is a grant refusing AuditEvent, as a non-auditor's is.
type noAudit struct{ g service.Grant }

func (a noAudit) Grant(_ byte, typ string) (service.Grant, error) {
	if typ == "AuditEvent" {
		return service.Grant{}, fhir.Errorf(403, "forbidden", "", "AuditEvents are read by auditors only")
	}
	return a.g, nil
}

// TestAccessCompartmentTypes: a compartment search of every type,
// $everything and a system history ask the grant of each type and leave
// out those it refuses (AuditEvents, which are in the Patient
// compartment), the rest still coming; a type named is refused.
func TestAccessCompartmentTypes(t *testing.T) {
	f := newFixture(t, engines()[0])
	storeAccessData(t, f.svc)
	putAudit(t, f.svc, "ae1", "p1")
	all := fixed{circle("p1")}
	refusing := noAudit{circle("p1")}
	compartment := func(ctx context.Context, q url.Values) (string, error) {
		resp, err := f.svc.SearchCompartment(ctx, "Patient", "p1", "*", q, true)
		if err != nil {
			return "", err
		}
		return idsOf(resp.Result.Resources), nil
	}
	everything := func(ctx context.Context) (string, error) {
		resp, err := f.svc.Everything(ctx, "p1", url.Values{"_count": {"100"}})
		if err != nil {
			return "", err
		}
		return idsOf(resp.Result.Resources), nil
	}
	history := func(ctx context.Context) (string, error) {
		p, err := f.svc.History(ctx, "", "", url.Values{"_count": {"100"}})
		if err != nil {
			return "", err
		}
		return idsOf(p.Versions), nil
	}
	for _, c := range []struct {
		name string
		do   func(context.Context) (string, error)
	}{
		{"Patient/p1/*", func(ctx context.Context) (string, error) { return compartment(ctx, url.Values{"_count": {"100"}}) }},
		{"$everything", everything},
		{"system history", history},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.do(service.WithAccess(context.Background(), all))
			if err != nil || !strings.Contains(got, "AuditEvent/ae1") || !strings.Contains(got, "Observation/o1") {
				t.Fatalf("granted: %s %v, want AuditEvent/ae1 and Observation/o1 among them", got, err)
			}
			got, err = c.do(service.WithAccess(context.Background(), refusing))
			if err != nil || strings.Contains(got, "AuditEvent") || !strings.Contains(got, "Observation/o1") || !strings.Contains(got, "Patient/p1") {
				t.Errorf("AuditEvent refused: %s %v, want no AuditEvent, Observation/o1 and Patient/p1 still", got, err)
			}
		})
	}
	if _, err := compartment(service.WithAccess(context.Background(), refusing), url.Values{"_type": {"AuditEvent,Observation"}}); err == nil {
		t.Errorf("_type naming a refused type: no error, want its 403")
	}
}

func idsOf(rs []*store.Resource) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Type+"/"+r.ID)
	}
	return strings.Join(out, " ")
}

// TestAuditEventWrites: no client interaction writes an AuditEvent —
// create, update, patch, delete, their conditional variants, Bundle
// entries — with an Access or without one: 405, nothing written.
func TestAuditEventWrites(t *testing.T) {
	const amend = `[{"op":"replace","path":"/recorded","value":"2025-01-01T00:00:00Z"}]`
	ops := []op{
		{do: "create", typ: "AuditEvent", body: auditOf("", "p1")},
		{do: "create", typ: "AuditEvent", body: auditOf("", "p1"), pre: service.Preconditions{IfNoneExist: "_id=zz"}},
		{do: "update", typ: "AuditEvent", id: "ae1", body: auditOf("ae1", "p2")},
		{do: "update", typ: "AuditEvent", id: "ae9", body: auditOf("ae9", "p2")},
		{do: "cupdate", typ: "AuditEvent", q: "_id=ae1", body: auditOf("ae1", "p2")},
		{do: "patch", typ: "AuditEvent", id: "ae1", body: amend},
		{do: "cpatch", typ: "AuditEvent", q: "_id=ae1", body: amend},
		{do: "delete", typ: "AuditEvent", id: "ae1"},
		{do: "cdelete", typ: "AuditEvent", q: "_id=ae1"},
	}
	bundles := []string{
		string(bundleOf("batch", ent("POST", "AuditEvent", auditOf("", "p1")))),
		string(bundleOf("batch", ent("PUT", "AuditEvent/ae1", auditOf("ae1", "p2")))),
		string(bundleOf("batch", ent("DELETE", "AuditEvent/ae1", ""))),
		string(bundleOf("batch", ent("PATCH", "AuditEvent/ae1", `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"AuditEvent.entity"}]}]}`))),
		string(bundleOf("transaction", ent("POST", "AuditEvent", auditOf("", "p1")))),
	}
	for _, o := range []struct {
		name string
		ctx  context.Context
	}{
		{"no Access", context.Background()},
		{"every scope", service.WithAccess(context.Background(), fixed{service.Grant{}})},
	} {
		t.Run(o.name, func(t *testing.T) {
			f := newFixture(t, engines()[0])
			storeAccessData(t, f.svc)
			putAudit(t, f.svc, "ae1", "p1")
			for _, c := range ops {
				before := versions(t, f.svc)
				_, _, err := c.run(o.ctx, f.svc)
				var fe *fhir.Error
				if !errors.As(err, &fe) || fe.Status != 405 || fe.Issues[0].Code != "not-supported" || !strings.Contains(fe.Issues[0].Diagnostics, "AuditEvents are written by the server only") {
					t.Errorf("%s %s: %v, want the 405", c.do, c.id+c.q, err)
				}
				if versions(t, f.svc) != before {
					t.Errorf("%s %s wrote", c.do, c.id+c.q)
				}
			}
			for i, b := range bundles {
				before := versions(t, f.svc)
				_, res, err := f.svc.Bundle(o.ctx, []byte(b), service.BundleOptions{})
				var fe *fhir.Error
				switch {
				case errors.As(err, &fe):
					if fe.Status != 405 {
						t.Errorf("bundle %d: %v, want 405", i, err)
					}
				case err != nil:
					t.Errorf("bundle %d: %v", i, err)
				case res[0].Status != 405:
					t.Errorf("bundle %d: entry %d, want 405", i, res[0].Status)
				}
				if versions(t, f.svc) != before {
					t.Errorf("bundle %d wrote", i)
				}
			}
		})
	}
}

// TestPurgedAuditEvent: an AuditEvent purged by retention (a deletion
// after its one version) is not shown by vread or history, though the
// engine keeps the version.
func TestPurgedAuditEvent(t *testing.T) {
	f := newFixture(t, engines()[0])
	ctx := context.Background()
	putAudit(t, f.svc, "ae1", "p1")
	putAudit(t, f.svc, "ae2", "p1")
	del := &store.Write{Resource: store.Resource{Type: "AuditEvent", ID: "ae1", Version: 2, LastUpdated: f.svc.Now().UTC(), Method: "DELETE", Deleted: true}}
	if err := f.svc.Store.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, del) }); err != nil {
		t.Fatal(err)
	}
	var fe *fhir.Error
	if _, err := f.svc.VRead(ctx, "AuditEvent", "ae1", "1"); !errors.As(err, &fe) || fe.Status != 410 {
		t.Errorf("vread of a purged AuditEvent: %v", err)
	}
	if _, err := f.svc.History(ctx, "AuditEvent", "ae1", url.Values{}); !errors.As(err, &fe) || fe.Status != 410 {
		t.Errorf("history of a purged AuditEvent: %v", err)
	}
	// asked first: the caller who may not read AuditEvents learns nothing of the purge
	if _, err := f.svc.History(service.WithAccess(ctx, noAudit{circle("p1")}), "AuditEvent", "ae1", url.Values{}); !errors.As(err, &fe) || fe.Status != 403 {
		t.Errorf("history of a purged AuditEvent by a non-auditor: %v; want the 403", err)
	}
	if _, err := f.svc.VRead(ctx, "AuditEvent", "ae2", "1"); err != nil {
		t.Errorf("vread of a kept AuditEvent: %v", err)
	}
	for _, typ := range []string{"AuditEvent", ""} {
		page, err := f.svc.History(ctx, typ, "", url.Values{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range page.Versions {
			if v.Type == "AuditEvent" {
				got = append(got, v.ID)
			}
		}
		if strings.Join(got, ",") != "ae2" {
			t.Errorf("history %q lists the AuditEvents %v; want ae2 only", typ, got)
		}
	}
}
