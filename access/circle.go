package access

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/service"
)

// The care circle (issue 10): a professional reaches a patient's
// compartment when one of these rules holds, evaluated from the stored
// resources at request time — so a new Encounter opens access at once
// and an ended CareTeam membership closes it at once, with no index to
// keep in step. The searches run as the server (unrestricted): they
// decide access, they are not the caller's.
//
// Rule 5 (a participant of a tumour-board meeting at which the case was
// presented) is still to come with the boards' profiles.

// Professional is who asks: their Practitioner, their active
// PractitionerRoles and the Organizations of those roles.
type Professional struct {
	Practitioner  string   // Practitioner/1
	Roles         []string // PractitionerRole/2, active
	Organizations []string // Organization/3, of those roles
}

// self is the professional's own references.
func (p *Professional) self() []string {
	return append([]string{p.Practitioner}, p.Roles...)
}

// Reason is the rule that puts a professional in a patient's care circle.
type Reason int

const (
	NotInCircle         Reason = iota
	CareTeamMember             // rule 1: an active CareTeam of the patient
	GeneralPractitioner        // rule 2: Patient.generalPractitioner
	EncounterRelation          // rule 3: an Encounter's participant, or its serviceProvider's staff within 3 years
	OrderRelation              // rule 4: requester, performer or owner of a ServiceRequest or Task
)

func (r Reason) String() string {
	return [...]string{"none", "care team", "general practitioner", "encounter", "order"}[r]
}

// encounterYears is how long after an Encounter ends its serviceProvider's
// staff stay in the circle.
const encounterYears = 3

// Circle evaluates the rules over a service's resources.
type Circle struct {
	Service *service.Service
	Now     func() time.Time
}

// Of is the first rule that puts pro in the care circle of Patient/id,
// NotInCircle when none does.
func (c *Circle) Of(ctx context.Context, pro *Professional, id string) (Reason, error) {
	ctx = service.WithAccess(ctx, nil) // as the server
	patient := "Patient/" + id
	self := strings.Join(pro.self(), ",")
	withOrgs := strings.Join(append(pro.self(), pro.Organizations...), ",")
	if ok, err := c.careTeam(ctx, patient, pro); ok || err != nil {
		return CareTeamMember, err
	}
	if ok, err := c.any(ctx, "Patient", url.Values{"_id": {id}, "general-practitioner": {self}}); ok || err != nil {
		return GeneralPractitioner, err
	}
	if ok, err := c.any(ctx, "Encounter", url.Values{"subject": {patient}, "participant": {self}}); ok || err != nil {
		return EncounterRelation, err
	}
	if len(pro.Organizations) > 0 {
		since := c.Now().AddDate(-encounterYears, 0, 0).UTC().Format(time.RFC3339)
		q := url.Values{"subject": {patient}, "service-provider": {strings.Join(pro.Organizations, ",")}, "date": {"ge" + since}}
		if ok, err := c.any(ctx, "Encounter", q); ok || err != nil {
			return EncounterRelation, err
		}
	}
	for _, q := range []struct {
		typ string
		v   url.Values
	}{
		{"ServiceRequest", url.Values{"subject": {patient}, "requester": {withOrgs}}},
		{"ServiceRequest", url.Values{"subject": {patient}, "performer": {withOrgs}}},
		{"Task", url.Values{"patient": {patient}, "owner": {withOrgs}}},
		{"Task", url.Values{"patient": {patient}, "requester": {withOrgs}}},
	} {
		if ok, err := c.any(ctx, q.typ, q.v); ok || err != nil {
			return OrderRelation, err
		}
	}
	return NotInCircle, nil
}

// any reports whether the search finds something.
func (c *Circle) any(ctx context.Context, typ string, q url.Values) (bool, error) {
	q.Set("_count", "1")
	resp, err := c.Service.Search(ctx, typ, q, false)
	if err != nil {
		return false, err
	}
	return len(resp.Result.Resources) > 0, nil
}

// careTeam: an active CareTeam of the patient where pro is a participant
// whose membership has not ended (participant.period.end).
func (c *Circle) careTeam(ctx context.Context, patient string, pro *Professional) (bool, error) {
	self := pro.self()
	q := url.Values{"subject": {patient}, "status": {"active"}, "participant": {strings.Join(self, ",")}, "_count": {"100"}}
	resp, err := c.Service.Search(ctx, "CareTeam", q, false)
	if err != nil {
		return false, err
	}
	now := c.Now()
	for _, r := range resp.Result.Resources {
		var ct struct {
			Participant []struct {
				Member struct {
					Reference string `json:"reference"`
				} `json:"member"`
				Period struct {
					End string `json:"end"`
				} `json:"period"`
			} `json:"participant"`
		}
		if json.Unmarshal(r.JSON, &ct) != nil {
			continue
		}
		for _, p := range ct.Participant {
			if slices.Contains(self, p.Member.Reference) && !ended(p.Period.End, now) {
				return true, nil
			}
		}
	}
	return false, nil
}

// ended: a period end (a FHIR dateTime, of any precision) before now.
func ended(end string, now time.Time) bool {
	if end == "" {
		return false
	}
	// a date of day, month or year precision ends with its day, month or year
	for _, f := range []struct {
		layout  string
		y, m, d int
	}{{time.RFC3339Nano, 0, 0, 0}, {"2006-01-02T15:04:05", 0, 0, 0}, {"2006-01-02", 0, 0, 1}, {"2006-01", 0, 1, 0}, {"2006", 1, 0, 0}} {
		if t, err := time.Parse(f.layout, end); err == nil {
			return !now.Before(t.AddDate(f.y, f.m, f.d))
		}
	}
	return false // unreadable: the validator refuses it on write
}
