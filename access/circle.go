package access

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// The care circle (issue 10): a professional reaches a patient's
// compartment when one of these rules holds, evaluated from the stored
// resources at request time — so a new Encounter opens access at once
// and an ended CareTeam membership closes it at once, with no index to
// keep in step. The searches run as the server (unrestricted): they
// decide access, they are not the caller's. Each rule is one function
// giving the patients it admits (all of them, or whether one of them):
// Of and Patients are both made of them, so they cannot disagree.

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
	TumourBoard                // rule 5: a participant of a tumour-board meeting where the case was presented
)

func (r Reason) String() string {
	return [...]string{"none", "care team", "general practitioner", "encounter", "order", "tumour board"}[r]
}

// encounterYears is how long after an Encounter ends its serviceProvider's
// staff stay in the circle.
const encounterYears = 3

// MaxScanned bounds the resources one rule may read to find a
// professional's patients: over it the circle is not computed and the
// request is refused (fail closed), rather than served from a part of it.
const MaxScanned = 50000

// MeetingProfile is the DCC profile of a tumour-board meeting (docs/profiles.md).
const MeetingProfile = "https://dcc.example.fr/fhir/StructureDefinition/dcc-tumor-board-meeting"

// Circle evaluates the rules over a service's resources.
type Circle struct {
	Service *service.Service
	Now     func() time.Time
}

// rule is one care-circle rule: the patients it admits pro to (only
// Patient/<patient> looked for when patient is set), as a set of ids.
type rule struct {
	reason Reason
	admit  func(c *Circle, ctx context.Context, pro *Professional, patient string, into *admitted) error
}

var rules = []rule{
	{CareTeamMember, (*Circle).careTeam},
	{GeneralPractitioner, (*Circle).generalPractitioner},
	{EncounterRelation, (*Circle).encounters},
	{OrderRelation, (*Circle).orders},
	{TumourBoard, (*Circle).tumourBoards},
}

// Of is the first rule that puts pro in the care circle of Patient/id,
// NotInCircle when none does.
func (c *Circle) Of(ctx context.Context, pro *Professional, id string) (Reason, error) {
	ctx = service.WithAccess(ctx, nil) // as the server
	for _, r := range rules {
		in := &admitted{ids: map[string]bool{}}
		if err := r.admit(c, ctx, pro, id, in); err != nil {
			return NotInCircle, err
		}
		if in.ids[id] {
			return r.reason, nil
		}
	}
	return NotInCircle, nil
}

// Patients is pro's care circle: the ids of every patient one of the
// rules admits pro to, sorted.
func (c *Circle) Patients(ctx context.Context, pro *Professional) ([]string, error) {
	set, _, err := c.circle(ctx, pro)
	return set, err
}

// circle is Patients, and until when time alone leaves it true (the
// first end of a CareTeam membership that admits a patient; zero: no
// such end): the gate's cache keeps it no longer.
func (c *Circle) circle(ctx context.Context, pro *Professional) ([]string, time.Time, error) {
	ctx = service.WithAccess(ctx, nil)
	in := &admitted{ids: map[string]bool{}}
	for _, r := range rules {
		if err := r.admit(c, ctx, pro, "", in); err != nil {
			return nil, time.Time{}, err
		}
	}
	out := make([]string, 0, len(in.ids))
	for id := range in.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, in.until, nil
}

// admitted is what the rules found: the patients, and the first instant
// at which one of them leaves by time alone (zero: none does).
type admitted struct {
	ids   map[string]bool
	until time.Time
}

func (a *admitted) add(id string) { a.ids[id] = true }

// endsAt notes that an admission holds until t.
func (a *admitted) endsAt(t time.Time) {
	if a.until.IsZero() || t.Before(a.until) {
		a.until = t
	}
}

// ErrTooLarge is a care circle, or what a system's Organization is
// addressed (system.go), that could not be computed within MaxScanned.
var ErrTooLarge = fhir.Errorf(403, "too-costly", "", "what this caller may reach (a professional's care circle, what is addressed to a system's organization) is larger than this server computes per request (%d resources read by one search): access is refused; ask the operator", MaxScanned)

// scan runs the search q on typ as the server, page by page, and calls
// each for every match, up to MaxScanned matches.
func (c *Circle) scan(ctx context.Context, typ string, q url.Values, each func(json []byte)) error {
	q.Set("_count", strconv.Itoa(c.Service.MaxCount))
	seen := 0
	for {
		resp, err := c.Service.Search(ctx, typ, q, false)
		if err != nil {
			return err
		}
		for _, r := range resp.Result.Resources {
			each(r.JSON)
		}
		seen += len(resp.Result.Resources)
		if resp.Result.Next == "" {
			return nil
		}
		if seen >= MaxScanned {
			return ErrTooLarge
		}
		q.Set(service.PageParam, resp.Result.Next)
	}
}

// refs is the part of a resource the rules read: who it is about.
type refs struct {
	ID      string `json:"id"`
	Subject ref    `json:"subject"`
	For     ref    `json:"for"`
}

type ref struct {
	Reference string `json:"reference"`
}

// patientID is the id of a reference to a Patient, "" for another.
func (r ref) patientID() string {
	id, ok := strings.CutPrefix(r.Reference, "Patient/")
	if !ok || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// subjects adds the Patient subject (or Task.for) of every match of q.
func (c *Circle) subjects(ctx context.Context, typ string, q url.Values, patient string, into *admitted) error {
	if patient != "" {
		param := "subject"
		if typ == "Task" {
			param = "patient"
		}
		q.Set(param, "Patient/"+patient)
	}
	return c.scan(ctx, typ, q, func(b []byte) {
		var r refs
		if json.Unmarshal(b, &r) != nil {
			return
		}
		for _, x := range []ref{r.Subject, r.For} {
			if id := x.patientID(); id != "" {
				into.add(id)
			}
		}
	})
}

// careTeam (rule 1): an active CareTeam of the patient where pro is a
// participant whose membership has not ended (participant.period.end).
func (c *Circle) careTeam(ctx context.Context, pro *Professional, patient string, into *admitted) error {
	self := pro.self()
	q := url.Values{"status": {"active"}, "participant": {strings.Join(self, ",")}}
	if patient != "" {
		q.Set("subject", "Patient/"+patient)
	}
	now := c.Now()
	return c.scan(ctx, "CareTeam", q, func(b []byte) {
		var ct struct {
			Subject     ref `json:"subject"`
			Participant []struct {
				Member ref `json:"member"`
				Period struct {
					End string `json:"end"`
				} `json:"period"`
			} `json:"participant"`
		}
		if json.Unmarshal(b, &ct) != nil || ct.Subject.patientID() == "" {
			return
		}
		for _, p := range ct.Participant {
			if slices.Contains(self, p.Member.Reference) && !ended(p.Period.End, now) {
				into.add(ct.Subject.patientID())
				if end, ok := endOf(p.Period.End); ok {
					into.endsAt(end)
				}
				return
			}
		}
	})
}

// generalPractitioner (rule 2): Patient.generalPractitioner names pro or
// one of their roles.
func (c *Circle) generalPractitioner(ctx context.Context, pro *Professional, patient string, into *admitted) error {
	q := url.Values{"general-practitioner": {strings.Join(pro.self(), ",")}}
	if patient != "" {
		q.Set("_id", patient)
	}
	return c.scan(ctx, "Patient", q, func(b []byte) {
		var r refs
		if json.Unmarshal(b, &r) == nil && r.ID != "" {
			into.add(r.ID)
		}
	})
}

// encounters (rule 3): a participant of one of the patient's Encounters,
// or staff of the serviceProvider of one that ended less than
// encounterYears ago or has not ended.
func (c *Circle) encounters(ctx context.Context, pro *Professional, patient string, into *admitted) error {
	if err := c.subjects(ctx, "Encounter", url.Values{"participant": {strings.Join(pro.self(), ",")}}, patient, into); err != nil {
		return err
	}
	if len(pro.Organizations) == 0 {
		return nil
	}
	since := c.Now().AddDate(-encounterYears, 0, 0).UTC().Format(time.RFC3339)
	return c.subjects(ctx, "Encounter", url.Values{"service-provider": {strings.Join(pro.Organizations, ",")}, "date": {"ge" + since}}, patient, into)
}

// orders (rule 4): requester or performer of a ServiceRequest, owner or
// requester of a Task, themselves, by a role or by their Organization.
func (c *Circle) orders(ctx context.Context, pro *Professional, patient string, into *admitted) error {
	withOrgs := strings.Join(append(pro.self(), pro.Organizations...), ",")
	for _, q := range []struct{ typ, param string }{
		{"ServiceRequest", "requester"}, {"ServiceRequest", "performer"}, {"Task", "owner"}, {"Task", "requester"},
	} {
		if err := c.subjects(ctx, q.typ, url.Values{q.param: {withOrgs}}, patient, into); err != nil {
			return err
		}
	}
	return nil
}

// tumourBoards (rule 5): a participant of a tumour-board meeting (an
// Encounter of the meeting profile, without subject) at which the
// patient's case (an Encounter partOf the meeting) was presented.
func (c *Circle) tumourBoards(ctx context.Context, pro *Professional, patient string, into *admitted) error {
	var meetings []string
	err := c.scan(ctx, "Encounter", url.Values{"participant": {strings.Join(pro.self(), ",")}, "_profile": {MeetingProfile}}, func(b []byte) {
		var r refs
		if json.Unmarshal(b, &r) == nil && r.ID != "" {
			meetings = append(meetings, "Encounter/"+r.ID)
		}
	})
	if err != nil {
		return err
	}
	for start := 0; start < len(meetings); start += 100 {
		chunk := meetings[start:min(start+100, len(meetings))]
		if err := c.subjects(ctx, "Encounter", url.Values{"part-of": {strings.Join(chunk, ",")}}, patient, into); err != nil {
			return err
		}
	}
	return nil
}

// ended: a period end (a FHIR dateTime, of any precision) before now.
func ended(end string, now time.Time) bool {
	t, ok := endOf(end)
	return ok && !now.Before(t)
}

// endOf is the instant a period end (a FHIR dateTime, of any precision)
// is past: a date of day, month or year precision ends with its day,
// month or year. ok false: none, or unreadable (the validator refuses it
// on write).
func endOf(end string) (time.Time, bool) {
	if end == "" {
		return time.Time{}, false
	}
	for _, f := range []struct {
		layout  string
		y, m, d int
	}{{time.RFC3339Nano, 0, 0, 0}, {"2006-01-02T15:04:05", 0, 0, 0}, {"2006-01-02", 0, 0, 1}, {"2006-01", 0, 1, 0}, {"2006", 1, 0, 0}} {
		if t, err := time.Parse(f.layout, end); err == nil {
			return t.AddDate(f.y, f.m, f.d), true
		}
	}
	return time.Time{}, false
}
