package psc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// Identifier and code systems (FR Core 2.2.0, the MOS nomenclatures).
const (
	SystemIDNatPs    = "urn:oid:1.2.250.1.71.4.2.1"
	SystemRPPS       = "https://rpps.esante.gouv.fr"
	SystemFINESS     = "https://finess.esante.gouv.fr"
	SystemProfession = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
	systemIDType     = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
	frCore           = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
	dccProfile       = "https://dcc.example.fr/fhir/StructureDefinition/"
	profilePractRole = frCore + "fr-core-practitioner-role"
	profilePract     = frCore + "fr-core-practitioner"
	profileOrg       = frCore + "fr-core-organization"
	profileDCCPract  = dccProfile + "dcc-practitioner"
	profileDCCOrg    = dccProfile + "dcc-organization"
	TagSystem        = "https://dcc.example.fr/fhir/CodeSystem/dcc-cs-managed-by"
	TagCode          = "pro-sante-connect"
	maxRoles         = 100
)

// rppsNationalID is an idNatPs made of 8 and an RPPS number.
var rppsNationalID = regexp.MustCompile(`^8([0-9]{11})$`)

// dccFINESS is a FINESS the DCC guide accepts (dcc-org-1): an activity
// whose FINESS is not one is left out rather than refusing the login.
var dccFINESS = regexp.MustCompile(`^([0-9]{2}|2A|2B)[0-9]{7}$`)

// Link makes the FHIR side of a login: the Practitioner carrying the
// professional's idNatPs (or, for an 8+RPPS id, the RPPS number), created
// from the claims when there is none; for each profession at each site
// with a FINESS, the Organization with that FINESS (created when absent,
// named by raisonSocialeSite) and an active PractitionerRole with the
// profession's code (a profession exercised at no FINESS site gets a role
// without organization). The roles a previous login created and that the
// claims no longer list are made inactive; the others are reused as they
// are. Every write is a conditional create, so two first logins at once
// create one of each. It runs as the server (whatever access ctx
// carried) and returns the Practitioner's reference (Practitioner/ID).
//
// What it creates conforms to FR Core (Practitioner, Organization,
// PractitionerRole) and to the DCC guide's Practitioner and Organization
// (the DCC PractitionerRole needs an MSSanté address the claims do not
// give).
func Link(ctx context.Context, svc *service.Service, id *Identity) (practitioner string, err error) {
	if id == nil || !nationalIDForm.MatchString(id.NationalID) {
		return "", errors.New("psc: link: no valid national id")
	}
	ctx = service.WithAccess(ctx, nil)
	pract, err := linkPractitioner(ctx, svc, id)
	if err != nil {
		return "", err
	}
	practitioner = "Practitioner/" + pract
	orgs := map[string]string{} // FINESS → Organization id
	keep := map[string]bool{}   // PractitionerRole ids of this login
	for _, e := range id.Exercices {
		if !professionForm.MatchString(e.CodeProfession) {
			continue
		}
		sites := 0
		for _, a := range e.Activities {
			if !dccFINESS.MatchString(a.NumeroFinessSite) {
				continue
			}
			sites++
			org, ok := orgs[a.NumeroFinessSite]
			if !ok {
				if org, err = linkOrganization(ctx, svc, a); err != nil {
					return "", err
				}
				orgs[a.NumeroFinessSite] = org
			}
			role, err := linkRole(ctx, svc, practitioner, "Organization/"+org, e.CodeProfession)
			if err != nil {
				return "", err
			}
			keep[role] = true
		}
		if sites == 0 {
			role, err := linkRole(ctx, svc, practitioner, "", e.CodeProfession)
			if err != nil {
				return "", err
			}
			keep[role] = true
		}
	}
	if err := retireRoles(ctx, svc, practitioner, keep); err != nil {
		return "", err
	}
	return practitioner, nil
}

// linkPractitioner finds or creates the Practitioner of id.
func linkPractitioner(ctx context.Context, svc *service.Service, id *Identity) (string, error) {
	idents := []any{map[string]any{
		"use":    "official",
		"type":   codeable(systemIDType, "IDNPS"),
		"system": SystemIDNatPs,
		"value":  id.NationalID,
	}}
	criteria := SystemIDNatPs + "|" + id.NationalID
	byIDNatPs := url.Values{"identifier": {criteria}}.Encode()
	if m := rppsNationalID.FindStringSubmatch(id.NationalID); m != nil {
		idents = append(idents, map[string]any{
			"type":   codeable(systemIDType, "RPPS"),
			"system": SystemRPPS,
			"value":  m[1],
		})
		criteria += "," + SystemRPPS + "|" + m[1]
	}
	name := map[string]any{"use": "official", "family": id.Family}
	if id.Family == "" {
		name["family"] = id.NationalID // dcc-practitioner needs a family name; the claims always have one
	}
	if id.Given != "" {
		name["given"] = []any{id.Given}
	}
	body := map[string]any{
		"resourceType": "Practitioner",
		"meta":         map[string]any{"profile": []any{profilePract, profileDCCPract}},
		"identifier":   idents,
		"active":       true,
		"name":         []any{name},
	}
	ref, err := ensure(ctx, svc, "Practitioner", url.Values{"identifier": {criteria}}.Encode(), body)
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Status == 412 && criteria != SystemIDNatPs+"|"+id.NationalID {
		// one Practitioner has the idNatPs, another the RPPS: the idNatPs decides
		ref, err = ensure(ctx, svc, "Practitioner", byIDNatPs, body)
	}
	return ref, err
}

// linkOrganization finds or creates the Organization of a FINESS site.
func linkOrganization(ctx context.Context, svc *service.Service, a Activity) (string, error) {
	name := a.RaisonSocialeSite
	if name == "" {
		name = "FINESS " + a.NumeroFinessSite // the DCC guide requires a name
	}
	body := map[string]any{
		"resourceType": "Organization",
		"meta":         map[string]any{"profile": []any{profileOrg, profileDCCOrg}},
		"identifier": []any{map[string]any{
			"use":    "official",
			"type":   codeable(systemIDType, "FINEG"),
			"system": SystemFINESS,
			"value":  a.NumeroFinessSite,
		}},
		"active": true,
		"name":   name,
	}
	return ensure(ctx, svc, "Organization", url.Values{"identifier": {SystemFINESS + "|" + a.NumeroFinessSite}}.Encode(), body)
}

// linkRole finds or creates the active PractitionerRole of practitioner
// at org ("" : none) with a profession code.
func linkRole(ctx context.Context, svc *service.Service, practitioner, org, code string) (string, error) {
	q := url.Values{"practitioner": {practitioner}, "role": {SystemProfession + "|" + code}}
	body := map[string]any{
		"resourceType": "PractitionerRole",
		"meta": map[string]any{
			"profile": []any{profilePractRole},
			"tag":     []any{map[string]any{"system": TagSystem, "code": TagCode}},
		},
		"active":       true,
		"practitioner": map[string]any{"reference": practitioner},
		"code":         []any{codeable(SystemProfession, code)},
	}
	if org != "" {
		q.Set("organization", org)
		body["organization"] = map[string]any{"reference": org}
	} else {
		q.Set("organization:missing", "true")
	}
	res, err := create(ctx, svc, "PractitionerRole", q.Encode(), body)
	if err != nil {
		return "", err
	}
	r := res.Resource
	if res.Status == 200 && !isActive(r.JSON) {
		if err := setActive(ctx, svc, r.ID, r.Version, r.JSON, true); err != nil {
			return "", err
		}
	}
	return r.ID, nil
}

// retireRoles makes inactive the PractitionerRoles an earlier login made
// for practitioner that this login did not confirm (keep).
func retireRoles(ctx context.Context, svc *service.Service, practitioner string, keep map[string]bool) error {
	q := url.Values{
		"practitioner": {practitioner},
		"_tag":         {TagSystem + "|" + TagCode},
		"active":       {"true"},
		"_count":       {strconv.Itoa(maxRoles)},
	}
	sr, err := svc.Search(ctx, "PractitionerRole", q, true)
	if err != nil {
		return fmt.Errorf("psc: link: PractitionerRoles of %s: %w", practitioner, err)
	}
	for _, r := range sr.Result.Resources {
		if !keep[r.ID] {
			if err := setActive(ctx, svc, r.ID, r.Version, r.JSON, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensure is the id of the single typ matching criteria, created from body
// when none does.
func ensure(ctx context.Context, svc *service.Service, typ, criteria string, body map[string]any) (string, error) {
	res, err := create(ctx, svc, typ, criteria, body)
	if err != nil {
		return "", err
	}
	return res.Resource.ID, nil
}

// create is the conditional create of body (If-None-Exist: criteria).
func create(ctx context.Context, svc *service.Service, typ, criteria string, body map[string]any) (*service.Result, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	res, err := svc.Create(ctx, typ, b, service.Preconditions{IfNoneExist: criteria})
	if err != nil {
		return nil, fmt.Errorf("psc: link: %s?%s: %w", typ, criteria, err)
	}
	return res, nil
}

// setActive stores version v of typ/id (JSON doc) with active set, unless
// it changed meanwhile (If-Match: the next login will see it).
func setActive(ctx context.Context, svc *service.Service, id string, v int64, doc []byte, active bool) error {
	var res map[string]any
	if err := json.Unmarshal(doc, &res); err != nil {
		return fmt.Errorf("psc: link: PractitionerRole/%s: %w", id, err)
	}
	res["active"] = active
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = svc.Update(ctx, "PractitionerRole", id, b, service.Preconditions{IfMatch: strconv.FormatInt(v, 10)})
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Status == 412 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("psc: link: PractitionerRole/%s: %w", id, err)
	}
	return nil
}

func isActive(doc []byte) bool {
	var r struct {
		Active *bool `json:"active"`
	}
	return json.Unmarshal(doc, &r) == nil && (r.Active == nil || *r.Active)
}

func codeable(system, code string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}}
}
