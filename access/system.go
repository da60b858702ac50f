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

// A backend system registered for an Organization (a laboratory, issue
// 10) reaches what is addressed to it and what that references, within
// its scopes:
//   - ServiceRequest: those addressed to it — performer is the
//     Organization, or the focus or basedOn of a Task it owns (the DCC's
//     circuit: Task.owner is the current lab) — and those they reference
//     (an _id list: a performer restriction could not add the ones a Task
//     addresses, restrictions AND), under way or recent (below);
//   - Task: owner is the Organization;
//   - DiagnosticReport, Observation: based-on one of the ServiceRequests
//     addressed to it, and confined to their patients, so that a write
//     cannot put a result in the record of a patient the laboratory has no
//     request for;
//   - Patient: those of the requests (subject, Task.for), as a
//     confinement;
//   - the other resources those ServiceRequests and Tasks reference (subject,
//     for, focus, specimen, reasonReference, basedOn, supportingInfo,
//     encounter, a Task's input): an _id list per type; creating one
//     (a Specimen the laboratory derives) is confined to the requests'
//     patients, as an id not yet known cannot be listed;
//   - reference data (service.SharedType): as the scopes say;
//   - anything else, and a search of every type: 403.
// Nothing addressed leaves a list empty: the grant is then Confined to no
// patient at all, which the service enforces as matching nothing (every
// type above is in the Patient compartment, or Task), where an _id on an
// id that cannot exist would depend on what the search parser accepts.
// The lists are found as the server, once per request at the first Grant
// that needs them, each search bounded by MaxScanned (over it, 403).
//
// An establishment's record system is told apart by its Organization's
// type: a Healthcare Provider (EstablishmentType) is an establishment,
// anything else — no type, a laboratory, an Organization not stored — a
// laboratory, the narrower. An establishment reaches the whole
// compartment of its patients: those it manages (Patient
// managingOrganization), those of an Encounter it is the serviceProvider
// of (at any date: its own record), those of the requests addressed to it
// as above; it creates and updates the Patients it manages (a new
// patient: the Patient names it as managingOrganization, then its
// Encounters may follow in a later request — within one transaction the
// new patient is not yet one of its patients).

// systemAccess is the Access of a backend token registered for an
// Organization.
type systemAccess struct {
	ctx    context.Context // the request's
	gate   *Gate
	circle *Circle
	scopes service.Access
	org    string // Organization/ID

	once sync.Once
	err  error
	systemLists
}

// systemLists is what an Organization reaches, found once per request
// (or taken from the gate's cache: shared, never modified).
type systemLists struct {
	establishment bool
	// addressed are the ServiceRequests addressed to the Organization
	// (ServiceRequest/ID, sorted); ids the ids of what it may see, by type
	// (ServiceRequest included); patients those of the requests (and an
	// establishment's).
	addressed []string
	ids       map[string][]string
	patients  []string
}

// systemFixed are the types a laboratory always has a rule for, even
// when nothing references one (then it sees none).
var systemFixed = []string{"ServiceRequest", "Task", "DiagnosticReport", "Observation", "Patient", "Specimen", "Condition"}

// refusal answers a read outside what is addressed to the system,
// the same for what does not exist.
func (a *systemAccess) refusal() error {
	return fhir.Errorf(403, "forbidden", "", "this resource is not addressed to %s (this client's organization), nor referenced by what is, or does not exist", a.org)
}

// Grant implements service.Access.
func (a *systemAccess) Grant(letter byte, typ string) (service.Grant, error) {
	g, err := a.scopes.Grant(letter, typ)
	if err != nil || service.SharedType(typ) {
		return g, err
	}
	switch typ {
	case "*":
		return service.Grant{}, fhir.Errorf(403, "forbidden", "", "this client acts for %s and sees what is addressed to it only: search its types one at a time", a.org)
	case "AuditEvent": // who looked at its patients is not an establishment's or a laboratory's to read
		return service.Grant{}, fhir.Errorf(403, "forbidden", "", "this client acts for %s: AuditEvents are read by auditors only", a.org)
	}
	if err := a.compute(); err != nil {
		return service.Grant{}, err
	}
	limited := service.Grant{Confined: g.Confined, Patients: g.Patients, Restriction: g.Restriction, Refusal: a.refusal()}
	confine := func(set []string) {
		if !limited.Confined {
			limited.Confined, limited.Patients = true, set
		} else { // a patient/ scope as well: both
			limited.Patients = intersect(limited.Patients, set)
		}
	}
	restrict := func(param string, values ...string) error {
		switch {
		case len(values) == 0:
			confine([]string{}) // nothing: no patient at all
		case len(values) > search.MaxValuesPerParam:
			return fhir.Errorf(403, "too-costly", "", "%s has more than %d %s resources under way or changed in the last %d days, more than one search may list: access to them is refused; ask the operator", a.org, search.MaxValuesPerParam, typ, int(systemRecent.Hours()/24))
		default:
			limited.Restriction = merge(g.Restriction, url.Values{param: {strings.Join(values, ",")}})
		}
		return nil
	}
	if a.establishment {
		if typ == "Patient" && (letter == 'c' || letter == 'u') {
			err = restrict("organization", a.org) // the Patients it manages
		} else {
			confine(a.patients) // the service refuses a type it cannot confine
		}
		return limited, err
	}
	switch typ {
	case "Task":
		err = restrict("owner", a.org)
		if letter == 'c' || letter == 'u' || letter == 'd' {
			confine(a.patients) // its Tasks name its patients only: a Task it writes cannot widen its lists to another's
		}
	case "DiagnosticReport", "Observation":
		err = restrict("based-on", a.addressed...)
		confine(a.patients)
	case "Patient":
		confine(a.patients) // exact, and not bounded as an _id list is
	default:
		ids, ok := a.ids[typ]
		switch {
		case !ok && !slices.Contains(systemFixed, typ):
			return service.Grant{}, fhir.Errorf(403, "forbidden", "", "this client acts for %s: it sees the ServiceRequests and Tasks addressed to it, what they reference, and the DiagnosticReports and Observations based on them; no %s is among them", a.org, typ)
		case letter == 'c' && typ != "ServiceRequest":
			confine(a.patients) // a new one, for the requests' patients
		default:
			err = restrict("_id", ids...)
			if typ == "ServiceRequest" && (letter == 'u' || letter == 'd') {
				confine(a.patients) // an update cannot move a request to another patient
			}
		}
	}
	if err != nil {
		return service.Grant{}, err
	}
	return limited, nil
}

// The requests that make the lists are those under way — a
// ServiceRequest or Task of an open status — and those changed within
// systemRecent (a result amended after its request completed): the
// service reads a restriction as a search, whose parameters hold at most
// search.MaxValuesPerParam values, and a laboratory accumulates requests
// for years. A list over that bound refuses its type (403 too-costly)
// rather than serve a part of it. The Tasks themselves are not limited
// so (owner).
const (
	systemRecent = 30 * 24 * time.Hour
	srOpen       = "draft,active,on-hold"
	taskOpen     = "draft,requested,received,accepted,ready,in-progress,on-hold"
)

// current scans the resources of typ whose param names the Organization,
// open or changed within systemRecent (each may come twice).
func (a *systemAccess) current(ctx context.Context, typ, param, open string, each func([]byte)) error {
	if err := a.circle.scan(ctx, typ, url.Values{param: {a.org}, "status": {open}}, each); err != nil {
		return err
	}
	since := a.circle.Now().Add(-systemRecent).UTC().Format(time.RFC3339)
	return a.circle.scan(ctx, typ, url.Values{param: {a.org}, "_lastUpdated": {"ge" + since}}, each)
}

// intersect is the patients of both sorted sets.
func intersect(a, b []string) []string {
	out := []string{}
	for _, id := range a {
		if _, found := slices.BinarySearch(b, id); found {
			out = append(out, id)
		}
	}
	return out
}

// compute finds, once, what the Organization is, the ServiceRequests and
// Tasks addressed to it and what they reference, and an establishment's
// patients.
func (a *systemAccess) compute() error {
	a.once.Do(func() {
		now := a.circle.Now()
		st := a.gate.stamp() // before reading
		if e, ok := a.gate.cache.get(a.org, st); ok && e.lists != nil && now.Before(e.until) {
			a.systemLists = *e.lists
			return
		}
		ctx := service.WithAccess(a.ctx, nil)
		if a.establishment, a.err = a.isEstablishment(ctx); a.err != nil {
			return
		}
		if a.err = a.addressedTo(ctx); a.err == nil && a.establishment {
			a.err = a.managed(ctx)
		}
		if a.err == nil {
			lists := a.systemLists
			a.gate.cache.put(a.org, cached{stamp: st, lists: &lists, until: now.Add(cacheAge)})
		}
	})
	return a.err
}

// EstablishmentType is the Organization.type of an establishment
// (organization-type "prov", Healthcare Provider).
const EstablishmentType = "http://terminology.hl7.org/CodeSystem/organization-type|prov"

// managed adds to an establishment's patients those it manages and those
// of its Encounters.
func (a *systemAccess) managed(ctx context.Context) error {
	in := map[string]bool{}
	for _, id := range a.patients {
		in[id] = true
	}
	err := a.circle.scan(ctx, "Patient", url.Values{"organization": {a.org}}, func(b []byte) {
		var r refs
		if json.Unmarshal(b, &r) == nil && r.ID != "" {
			in[r.ID] = true
		}
	})
	if err != nil {
		return err
	}
	into := &admitted{ids: in}
	if err := a.circle.subjects(ctx, "Encounter", url.Values{"service-provider": {a.org}}, "", into); err != nil {
		return err
	}
	a.patients = sortedKeys(in)
	return nil
}

// isEstablishment reads whether the Organization is a Healthcare Provider.
func (a *systemAccess) isEstablishment(ctx context.Context) (bool, error) {
	_, id, _ := strings.Cut(a.org, "/")
	r, err := a.circle.Service.Read(ctx, "Organization", id)
	if err != nil {
		var fe *fhir.Error
		if errors.As(err, &fe) && fe.Status < 500 {
			return false, nil // not stored (404, 410): a laboratory
		}
		return false, err
	}
	var o struct {
		Type []struct {
			Coding []struct{ System, Code string } `json:"coding"`
		} `json:"type"`
	}
	if json.Unmarshal(r.JSON, &o) != nil {
		return false, nil
	}
	for _, t := range o.Type {
		for _, c := range t.Coding {
			if c.System+"|"+c.Code == EstablishmentType {
				return true, nil
			}
		}
	}
	return false, nil
}

// addressedTo finds the ServiceRequests and Tasks addressed to the
// Organization and what they reference.
func (a *systemAccess) addressedTo(ctx context.Context) error {
	seen := map[string]map[string]bool{}
	add := func(reference string) {
		typ, id, ok := localRef(reference)
		if !ok {
			return
		}
		if seen[typ] == nil {
			seen[typ] = map[string]bool{}
		}
		seen[typ][id] = true
	}
	addressed, patients := map[string]bool{}, map[string]bool{}
	// the ServiceRequests whose performer is the Organization
	err := a.current(ctx, "ServiceRequest", "performer", srOpen, func(b []byte) {
		var r struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &r) == nil && r.ID != "" {
			addressed["ServiceRequest/"+r.ID] = true
		}
	})
	if err != nil {
		return err
	}
	// the Tasks it owns, and the ServiceRequests they are about
	err = a.current(ctx, "Task", "owner", taskOpen, func(b []byte) {
		var t struct {
			For             ref   `json:"for"`
			Focus           ref   `json:"focus"`
			Encounter       ref   `json:"encounter"`
			BasedOn         []ref `json:"basedOn"`
			ReasonReference ref   `json:"reasonReference"`
			Input           []struct {
				ValueReference ref `json:"valueReference"`
			} `json:"input"`
		}
		if json.Unmarshal(b, &t) != nil {
			return
		}
		for _, r := range append([]ref{t.For, t.Focus, t.Encounter, t.ReasonReference}, t.BasedOn...) {
			add(r.Reference)
		}
		for _, r := range append([]ref{t.Focus}, t.BasedOn...) {
			if typ, _, _ := localRef(r.Reference); typ == "ServiceRequest" {
				addressed[trimHistory(r.Reference)] = true
			}
		}
		if id := t.For.patientID(); id != "" {
			patients[id] = true
		}
		for _, in := range t.Input {
			add(in.ValueReference.Reference)
		}
	})
	if err != nil {
		return err
	}
	// what the addressed ServiceRequests reference
	a.addressed = sortedKeys(addressed)
	for start := 0; start < len(a.addressed); start += 100 {
		chunk := a.addressed[start:min(start+100, len(a.addressed))]
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			ids[i] = strings.TrimPrefix(r, "ServiceRequest/")
			add(r)
		}
		err := a.circle.scan(ctx, "ServiceRequest", url.Values{"_id": {strings.Join(ids, ",")}}, func(b []byte) {
			var sr struct {
				Subject         ref   `json:"subject"`
				Encounter       ref   `json:"encounter"`
				Specimen        []ref `json:"specimen"`
				ReasonReference []ref `json:"reasonReference"`
				BasedOn         []ref `json:"basedOn"`
				SupportingInfo  []ref `json:"supportingInfo"`
			}
			if json.Unmarshal(b, &sr) != nil {
				return
			}
			add(sr.Subject.Reference)
			add(sr.Encounter.Reference)
			for _, rs := range [][]ref{sr.Specimen, sr.ReasonReference, sr.BasedOn, sr.SupportingInfo} {
				for _, r := range rs {
					add(r.Reference)
				}
			}
			if id := sr.Subject.patientID(); id != "" {
				patients[id] = true
			}
		})
		if err != nil {
			return err
		}
	}
	a.patients = sortedKeys(patients)
	a.ids = make(map[string][]string, len(seen))
	for typ, set := range seen {
		a.ids[typ] = sortedKeys(set)
	}
	return nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// localRef splits a relative reference Type/id (a version, /_history/n,
// dropped); ok false for an absolute, contained or malformed one, which
// names nothing this server can list.
func localRef(reference string) (typ, id string, ok bool) {
	typ, id, ok = strings.Cut(trimHistory(reference), "/")
	if !ok || typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' || strings.ContainsAny(id, "/,") {
		return "", "", false
	}
	return typ, id, true
}

func trimHistory(reference string) string {
	if i := strings.Index(reference, "/_history/"); i >= 0 {
		return reference[:i]
	}
	return reference
}
