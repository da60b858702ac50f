package psc_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth/psc"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/profiles"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store/sqlite"
)

var validatorOnce = sync.OnceValues(func() (*profiles.Validator, error) {
	v, _, err := profiles.New(profiles.Options{})
	return v, err
})

// server is a service on a new SQLite store, validating as serve does
// (base R4, FR Core and the DCC guide).
func server(t *testing.T) (*service.Service, *profiles.Validator) {
	t.Helper()
	v, err := validatorOnce()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := app.New(context.Background(), app.Config{Store: st, Validator: v, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTP: handlers.Config{BaseURL: "http://127.0.0.1/fhir"}})
	if err != nil {
		t.Fatal(err)
	}
	return a.Service, v
}

// sandbox is the identity psctest.Sandbox() proves.
func sandbox() *psc.Identity {
	return &psc.Identity{
		Subject: "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700218896", NationalID: "899700218896",
		Family: "MARTIN", Given: "Camille", ACR: "eidas1",
		Exercices: []psc.Exercice{{CodeProfession: "10", Activities: []psc.Activity{
			{NumeroFinessSite: "750000018", RaisonSocialeSite: "CENTRE HOSPITALIER DE TEST"},
		}}},
	}
}

// all returns every resource of typ matching params (parsed).
func all(t *testing.T, svc *service.Service, typ string, params string) []map[string]any {
	t.Helper()
	q, err := url.ParseQuery(params)
	if err != nil {
		t.Fatal(err)
	}
	q.Set("_count", "100")
	sr, err := svc.Search(context.Background(), typ, q, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range sr.Result.Resources {
		var m map[string]any
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// counts is the number of Practitioners, Organizations and PractitionerRoles.
func counts(t *testing.T, svc *service.Service) [3]int {
	return [3]int{len(all(t, svc, "Practitioner", "")), len(all(t, svc, "Organization", "")), len(all(t, svc, "PractitionerRole", ""))}
}

func link(t *testing.T, svc *service.Service, id *psc.Identity) string {
	t.Helper()
	ref, err := psc.Link(context.Background(), svc, id)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestLinkCreatesThenReuses(t *testing.T) {
	svc, v := server(t)
	ref := link(t, svc, sandbox())
	if got := counts(t, svc); got != [3]int{1, 1, 1} {
		t.Fatalf("after the first login: %v Practitioner, Organization, PractitionerRole", got)
	}
	pract := all(t, svc, "Practitioner", "identifier="+psc.SystemIDNatPs+"|899700218896")
	if len(pract) != 1 || "Practitioner/"+pract[0]["id"].(string) != ref {
		t.Fatalf("Practitioner %v, link %s", pract, ref)
	}
	if n := len(all(t, svc, "Practitioner", "identifier="+psc.SystemRPPS+"|99700218896&name=MARTIN&given=Camille")); n != 1 {
		t.Errorf("the Practitioner carries no RPPS number or name (%d)", n)
	}
	org := all(t, svc, "Organization", "identifier="+psc.SystemFINESS+"|750000018&name=CENTRE HOSPITALIER DE TEST")
	if len(org) != 1 {
		t.Fatalf("Organization %v", org)
	}
	roles := all(t, svc, "PractitionerRole", "practitioner="+ref+"&organization=Organization/"+org[0]["id"].(string)+
		"&role="+psc.SystemProfession+"|10&active=true")
	if len(roles) != 1 {
		t.Fatalf("PractitionerRole %v", roles)
	}
	// what was created conforms to the profiles it claims (FR Core, DCC)
	for typ, res := range map[string]map[string]any{"Practitioner": pract[0], "Organization": org[0], "PractitionerRole": roles[0]} {
		for _, is := range v.Validate(typ, res) {
			if is.Severity == "error" || is.Severity == "fatal" || strings.Contains(is.Diagnostics, "not known") {
				t.Errorf("%s: %s %s %v", typ, is.Severity, is.Diagnostics, is.Expression)
			}
		}
	}

	if again := link(t, svc, sandbox()); again != ref {
		t.Fatalf("second login linked %s, first %s", again, ref)
	}
	if got := counts(t, svc); got != [3]int{1, 1, 1} {
		t.Fatalf("after the second login: %v", got)
	}
	if r := all(t, svc, "PractitionerRole", ""); r[0]["meta"].(map[string]any)["versionId"] != "1" {
		t.Errorf("the second login rewrote the role: %v", r[0]["meta"])
	}
}

// Roles follow the claims: a new site or profession adds a role, one the
// claims no longer list is made inactive, and comes back when listed again.
func TestLinkFollowsTheClaims(t *testing.T) {
	svc, _ := server(t)
	ref := link(t, svc, sandbox())
	more := sandbox()
	more.Exercices[0].Activities = append(more.Exercices[0].Activities,
		psc.Activity{NumeroFinessSite: "2A0000016", RaisonSocialeSite: "CLINIQUE D'AJACCIO"},
		psc.Activity{NumeroFinessSite: "not-a-finess"}, // left out
		psc.Activity{RaisonSocialeSite: "CABINET"},     // no FINESS: left out
	)
	more.Exercices = append(more.Exercices, psc.Exercice{CodeProfession: "21"}) // no site: a role without organization
	link(t, svc, more)
	if got := counts(t, svc); got != [3]int{1, 2, 3} {
		t.Fatalf("with a second site and a second profession: %v", got)
	}
	if n := len(all(t, svc, "PractitionerRole", "practitioner="+ref+"&role="+psc.SystemProfession+"|21&organization:missing=true")); n != 1 {
		t.Errorf("%d roles for the profession without site", n)
	}
	link(t, svc, sandbox())
	if got := counts(t, svc); got != [3]int{1, 2, 3} {
		t.Fatalf("back to one site: %v", got)
	}
	if n := len(all(t, svc, "PractitionerRole", "active=true")); n != 1 {
		t.Errorf("%d active roles, want the one of the claims", n)
	}
	link(t, svc, more)
	if n := len(all(t, svc, "PractitionerRole", "active=true")); n != 3 {
		t.Errorf("%d active roles after the sites came back, want 3", n)
	}
	if got := counts(t, svc); got != [3]int{1, 2, 3} {
		t.Fatalf("sites back: %v", got)
	}
}

// A profession exercised at no FINESS site has a role of its own, not
// mistaken for its roles at sites.
func TestLinkRoleWithoutSite(t *testing.T) {
	svc, _ := server(t)
	noSite := sandbox()
	noSite.Exercices[0].Activities = nil
	ref := link(t, svc, noSite)
	link(t, svc, sandbox())
	link(t, svc, noSite)
	if got := counts(t, svc); got != [3]int{1, 1, 2} {
		t.Fatalf("%v", got)
	}
	if n := len(all(t, svc, "PractitionerRole", "practitioner="+ref+"&organization:missing=true&active=true")); n != 1 {
		t.Errorf("%d active roles without organization", n)
	}
}

// A Practitioner an establishment created with the RPPS number alone is
// the professional's: no second one is made.
func TestLinkFindsByRPPS(t *testing.T) {
	svc, _ := server(t)
	body := `{"resourceType":"Practitioner","identifier":[{"system":"` + psc.SystemRPPS + `","value":"99700218896"}],"name":[{"family":"MARTIN"}]}`
	res, err := svc.Create(context.Background(), "Practitioner", []byte(body), service.Preconditions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := link(t, svc, sandbox()); ref != "Practitioner/"+res.Resource.ID {
		t.Fatalf("linked %s, want the existing Practitioner/%s", ref, res.Resource.ID)
	}
	if got := counts(t, svc); got[0] != 1 {
		t.Fatalf("%d Practitioners", got[0])
	}
}

// Two first logins at once create one of each.
func TestLinkConcurrentFirstLogins(t *testing.T) {
	svc, _ := server(t)
	refs := make([]string, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs[i], errs[i] = psc.Link(context.Background(), svc, sandbox())
		}()
	}
	wg.Wait()
	for i := range refs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if refs[i] != refs[0] {
			t.Fatalf("links %v", refs)
		}
	}
	if got := counts(t, svc); got != [3]int{1, 1, 1} {
		t.Fatalf("after concurrent first logins: %v", got)
	}
}

// Link writes as the server, whatever access the caller's context carries
// (meaningful once the service asks service.Access: the access helper's work).
func TestLinkRunsAsTheServer(t *testing.T) {
	svc, _ := server(t)
	ctx := service.WithAccess(context.Background(), denyAll{})
	if _, err := psc.Link(ctx, svc, sandbox()); err != nil {
		t.Fatal(err)
	}
}

type denyAll struct{}

func (denyAll) Grant(letter byte, typ string) (service.Grant, error) {
	return service.Grant{}, fhir.Errorf(403, "forbidden", "", "no scope allows %c on %s", letter, typ)
}
