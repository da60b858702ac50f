package access

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// everything is a user/*.cruds scope: unconfined, unrestricted.
type everything struct{}

func (everything) Grant(byte, string) (service.Grant, error) { return service.Grant{}, nil }

func role(e *circleEnv, id, practitioner, org, profession string) {
	r := map[string]any{"active": true, "practitioner": refTo(practitioner), "code": []any{map[string]any{"coding": []any{
		map[string]any{"system": ProfessionSystem, "code": profession}}}}}
	if org != "" {
		r["organization"] = refTo(org)
	}
	e.put("PractitionerRole", id, r)
}

func TestGate(t *testing.T) {
	e := newCircleEnv(t)
	e.put("Patient", "p3", map[string]any{"managingOrganization": refTo("Organization/h1")})
	role(e, "ra", "Practitioner/a", "Organization/h1", "10") // a doctor at h1
	role(e, "rn", "Practitioner/n", "Organization/h1", "60") // a nurse at h1
	e.put("CareTeam", "ct1", map[string]any{"status": "active", "subject": refTo("Patient/p1"), "participant": []any{
		map[string]any{"member": refTo("Practitioner/a")}, map[string]any{"member": refTo("PractitionerRole/rn")}}})
	e.put("CareTeam", "ct2", map[string]any{"status": "active", "subject": refTo("Patient/p2"), "participant": []any{
		map[string]any{"member": refTo("Practitioner/a")}}})
	e.put("CareTeam", "ct3", map[string]any{"status": "active", "subject": refTo("Patient/p3"), "participant": []any{
		map[string]any{"member": refTo("Practitioner/z")}}})
	// p2 objects to sharing, recorded by h2: h1's doctor no longer sees p2
	e.put("Consent", "c2", map[string]any{"meta": map[string]any{"profile": []any{ConsentProfile}}, "status": "active",
		"scope": map[string]any{"text": "privacy"}, "category": []any{map[string]any{"text": "share"}}, "patient": refTo("Patient/p2"),
		"organization": []any{refTo("Organization/h2")}, "provision": map[string]any{"type": "deny"}})
	g := &Gate{Circle: e.c, Policy: Default()}
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		caller      Caller
		letter      byte
		typ         string
		patients    []string // the confinement; nil: refused
		restriction url.Values
		status      int // of For or Grant's refusal
	}{
		{"a doctor's circle, less the consent deny", Caller{User: true, Practitioner: "Practitioner/a"}, 'r', "Observation", []string{"p1"}, nil, 0},
		{"a doctor by absolute fhirUser", Caller{User: true, Practitioner: "https://x.example/fhir/Practitioner/a"}, 's', "*", []string{"p1"}, nil, 0},
		{"a nurse sees CarePlans", Caller{User: true, Practitioner: "Practitioner/n"}, 's', "CarePlan", []string{"p1"}, nil, 0},
		{"a nurse, Communications addressed to her", Caller{User: true, Practitioner: "Practitioner/n"}, 's', "Communication", []string{"p1"},
			url.Values{"recipient": {"Practitioner/n,PractitionerRole/rn"}}, 0},
		{"a nurse does not see Observations", Caller{User: true, Practitioner: "Practitioner/n"}, 'r', "Observation", nil, nil, 403},
		{"a nurse, no compartment search", Caller{User: true, Practitioner: "Practitioner/n"}, 's', "*", nil, nil, 403},
		{"shared data for all", Caller{User: true, Practitioner: "Practitioner/n"}, 'r', "Organization", []string{}, nil, 0},
		{"a user with no Practitioner sees no patient", Caller{User: true}, 'r', "Observation", []string{}, nil, 0},
		{"a fhirUser of another type sees no patient", Caller{User: true, Practitioner: "RelatedPerson/r1"}, 'r', "Observation", []string{}, nil, 0},
		{"AuditEvent: not for a doctor", Caller{User: true, Practitioner: "Practitioner/a"}, 's', "AuditEvent", nil, nil, 403},
		{"AuditEvent: for an auditor", Caller{User: true, Roles: []string{"auditor"}}, 's', "AuditEvent", []string{}, nil, 0},
		{"break-the-glass, reason too short", Caller{User: true, Practitioner: "Practitioner/a", BreakGlass: " urgent  ", Patient: "p3"}, 'r', "Patient", nil, nil, 400},
		{"break-the-glass, not a doctor", Caller{User: true, Practitioner: "Practitioner/n", BreakGlass: "patient unconscious in the ER", Patient: "p3"}, 'r', "Patient", nil, nil, 403},
		{"break-the-glass, no patient named", Caller{User: true, Practitioner: "Practitioner/a", BreakGlass: "patient unconscious in the ER"}, 'r', "Patient", nil, nil, 400},
		{"break-the-glass of a patient that does not exist: the refusal, nothing sent", Caller{User: true, Practitioner: "Practitioner/a", BreakGlass: "patient unconscious in the ER", Patient: "nobody"}, 'r', "Patient", nil, nil, 403},
		{"break-the-glass opens p3", Caller{User: true, Practitioner: "Practitioner/a", BreakGlass: "patient unconscious in the ER", Patient: "p3"}, 'r', "Patient", []string{"p1", "p3"}, nil, 0},
	} {
		c.caller.Scopes = everything{}
		a, reason, err := g.For(ctx, c.caller)
		var gr service.Grant
		if err == nil {
			gr, err = a.Grant(c.letter, c.typ)
		}
		if c.status != 0 {
			var fe *fhir.Error
			if !asFHIR(err, &fe) || fe.Status != c.status {
				t.Errorf("%s: %v; want a %d", c.name, err, c.status)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		shared := len(c.patients) == 0 && !gr.Confined
		if !shared && (!gr.Confined || !slices.Equal(gr.Patients, c.patients)) {
			t.Errorf("%s: confined %v to %v; want %v", c.name, gr.Confined, gr.Patients, c.patients)
		}
		if c.restriction != nil && gr.Restriction.Encode() != c.restriction.Encode() {
			t.Errorf("%s: restriction %v; want %v", c.name, gr.Restriction, c.restriction)
		}
		if gr.Confined && gr.Refusal == nil {
			t.Errorf("%s: no refusal", c.name)
		}
		if (reason != "") != (c.caller.BreakGlass != "") {
			t.Errorf("%s: break-the-glass reason %q", c.name, reason)
		}
	}
	// the break-the-glass was notified: one Communication to p3's care team
	// and the organisations
	resp, err := e.svc.Search(service.WithAccess(ctx, nil), "Communication", url.Values{"subject": {"Patient/p3"}}, false)
	if err != nil || len(resp.Result.Resources) != 1 {
		t.Fatalf("break-the-glass Communications: %v, %v", resp, err)
	}
	body := string(resp.Result.Resources[0].JSON)
	for _, want := range []string{"CareTeam/ct3", "Organization/h1", "Practitioner/a", "patient unconscious in the ER", "break-the-glass"} {
		if !strings.Contains(body, want) {
			t.Errorf("the Communication lacks %s: %s", want, body)
		}
	}
}

func asFHIR(err error, fe **fhir.Error) bool {
	e, ok := err.(*fhir.Error)
	*fe = e
	return ok
}

// launchOf is a patient/ scope's Access: confined to one patient.
type launchOf string

func (p launchOf) Grant(byte, string) (service.Grant, error) {
	return service.Grant{Confined: true, Patients: []string{string(p)}}, nil
}

// TestAuditEventOfTheLaunchPatient: a patient reads the AuditEvents of
// their own record; a professional's launch patient is not a reason to
// read who looked at that patient.
func TestAuditEventOfTheLaunchPatient(t *testing.T) {
	e := newCircleEnv(t)
	role(e, "ra", "Practitioner/a", "Organization/h1", "10")
	g := &Gate{Circle: e.c, Policy: Default()}
	for _, c := range []struct {
		name   string
		caller Caller
		status int
	}{
		{"the patient", Caller{User: true, Practitioner: "Patient/p1", Scopes: launchOf("p1")}, 0},
		{"a doctor, launched on the patient", Caller{User: true, Practitioner: "Practitioner/a", Scopes: launchOf("p1")}, 403},
	} {
		a, _, err := g.For(context.Background(), c.caller)
		if err != nil {
			t.Fatal(err)
		}
		gr, err := a.Grant('s', "AuditEvent")
		switch {
		case c.status != 0 && status(err) != c.status:
			t.Errorf("%s: %v; want a %d", c.name, err, c.status)
		case c.status == 0 && (err != nil || !gr.Confined || !slices.Equal(gr.Patients, []string{"p1"})):
			t.Errorf("%s: %+v %v; want the patient's own", c.name, gr, err)
		}
	}
}
