package handlers

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/audit"
	"github.com/dccfhir/dccfhir/auth"
)

// TestAuditNotes: what the gate notes (notePatient, noteBreakGlass) and
// the token's user reach the request's event.
func TestAuditNotes(t *testing.T) {
	s := New(nil, Config{BaseURL: "http://x/fhir"})
	for _, c := range []struct {
		name, path, route, inter string
		params                   []string
		patients                 []string // noted
		reason                   string
		wantPatients             []string
		wantResources            []string
	}{
		{"read, patient noted", "/fhir/Observation/o1", "/fhir/:type/:id", "read", []string{"Observation", "o1"},
			[]string{"p9", "Patient/p9"}, "", []string{"Patient/p9"}, []string{"Observation/o1"}},
		{"break-the-glass read of a patient", "/fhir/Patient/p2", "/fhir/:type/:id", "read", []string{"Patient", "p2"},
			nil, "arrêt cardiaque aux urgences", []string{"Patient/p2"}, []string{"Patient/p2"}},
		{"compartment search", "/fhir/Patient/p3/Observation?code=x", "/fhir/:type/:id/:compartment", "search-compartment",
			[]string{"Patient", "p3", "Observation"}, nil, "", []string{"Patient/p3"}, []string{"Patient/p3"}},
		{"search by subject", "/fhir/Observation?subject=Patient/p4,http://x/fhir/Patient/p5", "/fhir/:type", "search-type",
			[]string{"Observation"}, nil, "", []string{"Patient/p4", "Patient/p5"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := s.e.NewContext(httptest.NewRequest("GET", c.path, nil), httptest.NewRecorder())
			ctx.SetPath(c.route)
			names := []string{"type", "id", "compartment"}[:len(c.params)]
			ctx.SetParamNames(names...)
			ctx.SetParamValues(c.params...)
			ctx.Set(keyInteraction, c.inter)
			ctx.Set(keyAuditNote, &audit.Note{})
			ctx.Set(keyPrincipal, &auth.Principal{Username: "dr", ClientID: "app", FHIRUser: "http://x/fhir/Practitioner/dr"})
			for _, p := range c.patients {
				notePatient(ctx, p)
			}
			if c.reason != "" {
				noteBreakGlass(ctx, c.reason)
			}
			ev := s.auditEvent(ctx, 200, nil)
			if ev.Practitioner != "Practitioner/dr" || ev.Username != "dr" || ev.ClientID != "app" {
				t.Errorf("agents: %q %q %q", ev.Practitioner, ev.Username, ev.ClientID)
			}
			if !slices.Equal(ev.Patients, c.wantPatients) || !slices.Equal(ev.Resources, c.wantResources) || ev.BreakGlass != c.reason {
				t.Errorf("patients %v resources %v reason %q; want %v %v %q", ev.Patients, ev.Resources, ev.BreakGlass, c.wantPatients, c.wantResources, c.reason)
			}
			if strings.HasPrefix(c.inter, "search") != ev.Search {
				t.Errorf("search %v", ev.Search)
			}
		})
	}
}
