package access

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/service"
)

// Gate builds each request's service.Access from its token: the scopes'
// Access, narrowed for a professional (a user token whose fhirUser is a
// Practitioner) to the patients of their care circle, to what their
// profession sees, and by the patients' consent; widened for one patient
// by break-the-glass.
type Gate struct {
	Circle *Circle
	Policy *Policy

	cache circleCache // cache.go
}

// Caller is what the gate knows of a request.
type Caller struct {
	// Scopes is the token's Access (auth/scope).
	Scopes service.Access
	// Practitioner is the user token's fhirUser (Practitioner/ID, or an
	// absolute URL ending so); anything else — "", another type — is a
	// user with no Practitioner, who sees no patient.
	Practitioner string
	// User is set for a user token (Practitioner or not).
	User bool
	// Roles are the account's roles (admin, auditor, observatory).
	Roles []string
	// Organization is a backend client's registered Organization
	// (Organization/ID, dccfhir client add --organization), "" when none:
	// a laboratory or establishment system is limited to what is
	// addressed to it (system.go).
	Organization string
	// BreakGlass is the X-Break-Glass header, "" when not sent, and
	// Patient the one patient the request is about ("" when it names none).
	BreakGlass, Patient string
}

// MinReason is the shortest break-the-glass reason accepted.
const MinReason = 10

// For is the Access of one request, and the break-the-glass reason when
// the request opened a patient outside the caller's circle (then a
// Communication has been written to the patient's care team and
// organisations, before anything is served).
func (g *Gate) For(ctx context.Context, c Caller) (service.Access, string, error) {
	if !c.User {
		if c.Organization != "" {
			return &systemAccess{ctx: ctx, gate: g, circle: g.Circle, scopes: c.Scopes, org: c.Organization}, "", nil // system.go
		}
		return c.Scopes, "", nil // backend tokens: their scopes (see docs/security.md)
	}
	a := &careAccess{ctx: ctx, gate: g, scopes: c.Scopes, auditor: slices.Contains(c.Roles, "auditor")}
	if i := strings.LastIndex(c.Practitioner, "Practitioner/"); i >= 0 {
		self := c.Practitioner[i:]
		a.stamp = g.stamp() // before reading: a write after it moves it
		e, hit := g.cache.get(self, a.stamp)
		if !hit {
			pro, rules, err := g.professional(ctx, self)
			if err != nil {
				return nil, "", err
			}
			e = cached{stamp: a.stamp, pro: pro, rules: rules}
			g.cache.put(self, e)
		}
		a.pro, a.rules = e.pro, e.rules
	}
	if c.BreakGlass == "" {
		return a, "", nil
	}
	reason := strings.TrimSpace(c.BreakGlass)
	switch {
	case len([]rune(reason)) < MinReason:
		return nil, "", fhir.Errorf(400, "value", "", "the header X-Break-Glass must give the reason of the emergency access, at least %d characters", MinReason)
	case !a.doctor():
		return nil, "", fhir.Errorf(403, "forbidden", "", "break-the-glass (X-Break-Glass) is open to doctors only (profession %s of %s)", doctorCode, ProfessionSystem)
	case c.Patient == "":
		return nil, "", fhir.Errorf(400, "value", "", "break-the-glass (X-Break-Glass) opens one patient: send it on Patient/ID, Patient/ID/$everything, a compartment search Patient/ID/..., or a search with patient= one patient")
	}
	in, err := a.patients()
	if err != nil {
		return nil, "", err
	}
	if slices.Contains(in, c.Patient) {
		return a, "", nil // already in the circle: nothing to break
	}
	if _, err := g.Circle.Service.Read(service.WithAccess(ctx, nil), "Patient", c.Patient); err != nil {
		if fe := (*fhir.Error)(nil); errors.As(err, &fe) && fe.Status < 500 {
			return nil, "", refusal // no such patient: the answer of one outside the circle, nothing opened or sent
		}
		return nil, "", err
	}
	if err := g.notify(ctx, a.pro, c.Patient, reason); err != nil {
		return nil, "", fhir.Errorf(503, "transient", "", "break-the-glass could not be notified, so it is not served: %v", err)
	}
	a.set = append(slices.Clone(in), c.Patient)
	slices.Sort(a.set)
	return a, reason, nil
}

// doctorCode is the profession of doctors, the only one that may break the glass.
const doctorCode = "10"

// professional finds the active roles of Practitioner/ID self, their
// professions and organizations, as the server.
func (g *Gate) professional(ctx context.Context, self string) (*Professional, []*Rule, error) {
	pro := &Professional{Practitioner: self}
	var rules []*Rule
	err := g.Circle.scan(service.WithAccess(ctx, nil), "PractitionerRole", url.Values{"practitioner": {self}, "active": {"true"}}, func(b []byte) {
		var r struct {
			ID           string `json:"id"`
			Organization ref    `json:"organization"`
			Code         []struct {
				Coding []struct{ System, Code string } `json:"coding"`
			} `json:"code"`
		}
		if json.Unmarshal(b, &r) != nil || r.ID == "" {
			return
		}
		pro.Roles = append(pro.Roles, "PractitionerRole/"+r.ID)
		org := r.Organization.Reference
		if strings.HasPrefix(org, "Organization/") && !slices.Contains(pro.Organizations, org) {
			pro.Organizations = append(pro.Organizations, org)
		}
		for _, cc := range r.Code {
			for _, cd := range cc.Coding {
				if cd.System == ProfessionSystem {
					if rule := g.Policy.Rule(cd.Code, org != ""); rule != nil {
						rules = append(rules, rule)
					}
				}
			}
		}
	})
	return pro, rules, err
}

// careAccess is a professional's Access for one request.
type careAccess struct {
	// ctx is the request's: Grant has none, and the circle is computed
	// at the first Grant that needs it, within the request.
	ctx     context.Context
	gate    *Gate
	scopes  service.Access
	pro     *Professional // nil: a user with no Practitioner (sees no patient)
	rules   []*Rule       // the professions of the pro's roles
	auditor bool
	// stamp is the storage's state before anything was read: what the
	// gate's cache holds is used while it is current (cache.go)
	stamp stamp

	once sync.Once
	set  []string // the patients: the circle, and one opened by break-the-glass
	err  error
}

func (a *careAccess) doctor() bool {
	for _, r := range a.rules {
		if r.Code == doctorCode {
			return true
		}
	}
	return false
}

// patients is the care circle, less the patients whose consent denies
// sharing with the pro's organizations; computed once per request (For
// adds to it a patient opened by break-the-glass).
func (a *careAccess) patients() ([]string, error) {
	a.once.Do(func() {
		if a.pro == nil {
			return
		}
		now := a.gate.Circle.Now()
		if e, ok := a.gate.cache.get(a.pro.Practitioner, a.stamp); ok && e.hasCircle && now.Before(e.until) {
			a.set = e.circle
			return
		}
		ctx := service.WithAccess(a.ctx, nil)
		set, until, err := a.gate.Circle.circle(ctx, a.pro)
		if err == nil {
			set, err = a.gate.Circle.consented(ctx, a.pro, set)
		}
		a.set, a.err = set, err
		if err == nil {
			if limit := now.Add(cacheAge); until.IsZero() || until.After(limit) {
				until = limit
			}
			a.gate.cache.put(a.pro.Practitioner, cached{stamp: a.stamp, pro: a.pro, rules: a.rules, circle: set, hasCircle: true, until: until})
		}
	})
	return a.set, a.err
}

// refusal is the answer for what lies outside the circle, the same for
// what does not exist.
var refusal = fhir.Errorf(403, "forbidden", "", "this resource is not in your care circle, or does not exist; a doctor may open a patient's record in an emergency by sending the header X-Break-Glass: <reason, at least 10 characters> (the access is recorded and the patient's care team notified)")

// Grant implements service.Access.
func (a *careAccess) Grant(letter byte, typ string) (service.Grant, error) {
	g, err := a.scopes.Grant(letter, typ)
	if err != nil {
		return g, err
	}
	if typ == "AuditEvent" {
		switch {
		case a.auditor && (letter == 'r' || letter == 's'):
			return g, nil
		case g.Confined && a.pro == nil: // a patient's own record, not a professional's launch patient
			return g, nil
		}
		return service.Grant{}, fhir.Errorf(403, "forbidden", "", "AuditEvents are read by accounts with the auditor role only (and by patients, of their own record)")
	}
	if g.Confined {
		return g, nil // a patient/ scope: the launch patient already
	}
	switch {
	case service.SharedType(typ):
		return g, nil
	}
	var restrict url.Values
	switch {
	case typ == "*":
		if !a.wholeCompartment() {
			return service.Grant{}, fhir.Errorf(403, "forbidden", "", "your profession sees part of a patient's record only: search its types one at a time")
		}
	default:
		ok, r := a.seesType(typ)
		if !ok {
			return service.Grant{}, fhir.Errorf(403, "forbidden", "", "your profession does not see %s resources of patients (the access policy)", typ)
		}
		restrict = merge(g.Restriction, r)
	}
	set, err := a.patients()
	if err != nil {
		return service.Grant{}, err
	}
	return service.Grant{Confined: true, Patients: set, Restriction: restrict, Refusal: refusal}, nil
}

// wholeCompartment reports whether one of the pro's professions sees the
// whole compartment.
func (a *careAccess) wholeCompartment() bool {
	for _, r := range a.rules {
		if r.Compartment {
			return true
		}
	}
	return false
}

// seesType is what the pro's professions show of typ: the widest of
// their roles (an unrestricted one over a restricted one).
func (a *careAccess) seesType(typ string) (bool, url.Values) {
	var self []string
	if a.pro != nil {
		self = a.pro.self()
	}
	found, out := false, url.Values(nil)
	for _, r := range a.rules {
		ok, v := r.Sees(typ, self)
		switch {
		case !ok:
		case v == nil:
			return true, nil
		case !found:
			found, out = true, v
		}
	}
	if !found && a.pro == nil && (search.InCompartment("Patient", typ) || typ == "Task" || typ == "Device") {
		return true, nil // no patient at all: the empty circle confines it
	}
	return found, out
}

// merge ANDs two restrictions (a repeated parameter ANDs).
func merge(a, b url.Values) url.Values {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	out := make(url.Values, len(a)+len(b))
	for k, vs := range a {
		out[k] = slices.Clone(vs)
	}
	for k, vs := range b {
		out[k] = append(out[k], vs...)
	}
	return out
}

// ConsentProfile is the DCC profile of the patient's consent to sharing.
const ConsentProfile = "https://dcc.example.fr/fhir/StructureDefinition/dcc-consent-share"

// consented keeps of ids the patients without an active sharing Consent
// that denies (provision.type deny), and those whose deny was recorded by
// an Organization pro works at.
func (c *Circle) consented(ctx context.Context, pro *Professional, ids []string) ([]string, error) {
	denied := map[string]bool{}
	for start := 0; start < len(ids); start += 100 {
		chunk := ids[start:min(start+100, len(ids))]
		refs := make([]string, len(chunk))
		for i, id := range chunk {
			refs[i] = "Patient/" + id
		}
		err := c.scan(ctx, "Consent", url.Values{"patient": {strings.Join(refs, ",")}, "status": {"active"}, "_profile": {ConsentProfile}}, func(b []byte) {
			var cs struct {
				Patient      ref   `json:"patient"`
				Organization []ref `json:"organization"`
				Provision    struct {
					Type string `json:"type"`
				} `json:"provision"`
			}
			if json.Unmarshal(b, &cs) != nil || cs.Provision.Type != "deny" || cs.Patient.patientID() == "" {
				return
			}
			for _, o := range cs.Organization {
				if slices.Contains(pro.Organizations, o.Reference) {
					return
				}
			}
			denied[cs.Patient.patientID()] = true
		})
		if err != nil {
			return nil, err
		}
	}
	if len(denied) == 0 {
		return ids, nil
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return denied[id] }), nil
}

// BreakGlassSystem is this server's code system of notification
// categories; break-the-glass is its code "break-the-glass".
const BreakGlassSystem = "https://dcc.example.fr/fhir/CodeSystem/dcc-notification"

// notify writes, as the server, the Communication of a break-the-glass:
// to the patient's active CareTeams, the patient's managing
// Organization and the doctor's Organizations (their administrators read
// what is addressed to them).
func (g *Gate) notify(ctx context.Context, pro *Professional, patient, reason string) error {
	// the server's own write, outside the request's trail: the request's
	// AuditEvent is the one of what it asked, which says break-the-glass
	ctx = service.WithTrail(service.WithAccess(ctx, nil), nil)
	var to []string
	add := func(r string) {
		if !slices.Contains(to, r) {
			to = append(to, r)
		}
	}
	err := g.Circle.scan(ctx, "CareTeam", url.Values{"subject": {"Patient/" + patient}, "status": {"active"}}, func(b []byte) {
		var r refs
		if json.Unmarshal(b, &r) == nil && r.ID != "" {
			add("CareTeam/" + r.ID)
		}
	})
	if err != nil {
		return err
	}
	if p, err := g.Circle.Service.Read(ctx, "Patient", patient); err == nil {
		var pt struct {
			ManagingOrganization ref `json:"managingOrganization"`
		}
		if json.Unmarshal(p.JSON, &pt) == nil && pt.ManagingOrganization.Reference != "" {
			add(pt.ManagingOrganization.Reference)
		}
	}
	for _, o := range pro.Organizations {
		add(o)
	}
	c := map[string]any{
		"resourceType": "Communication",
		"status":       "completed",
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": BreakGlassSystem, "code": "break-the-glass", "display": "Accès en urgence (bris de glace)"}}}},
		"priority": "urgent",
		"subject":  map[string]any{"reference": "Patient/" + patient},
		"sender":   map[string]any{"reference": pro.Practitioner},
		"sent":     g.Circle.Now().UTC().Format(time.RFC3339),
		"payload":  []any{map[string]any{"contentString": "Accès en urgence au dossier (bris de glace) : " + reason}},
	}
	if len(to) > 0 {
		recipients := make([]any, len(to))
		for i, r := range to {
			recipients[i] = map[string]any{"reference": r}
		}
		c["recipient"] = recipients
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = g.Circle.Service.Create(ctx, "Communication", b, service.Preconditions{})
	return err
}
