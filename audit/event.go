// Package audit is the audit trail of issue 10: every request to the FHIR
// API and the authorization server becomes an AuditEvent (IHE BALP shapes),
// stored as a FHIR resource in the server's own storage, chained by hashes
// so that altering any stored event is detected at that event (Verify).
//
// The package stores AuditEvents itself (Writer), inside the storage
// transaction of a write (Writer.Append) or, for reads, through one
// goroutine that batches concurrent requests' events into one transaction
// (Writer.Record): a read does not each pay a commit. docs/security.md,
// "Audit trail", documents the shapes, the chain and retention.
package audit

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Code systems of the events (IHE BALP 1.1, FHIR R4 terminology, DICOM).
const (
	sysEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	sysInteraction = "http://hl7.org/fhir/restful-interaction"
	sysDICOM       = "http://dicom.nema.org/resources/ontology/DCM"
	sysEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	sysObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	sysParticipant = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	sysSourceType  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	sysActReason   = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	sysBALPEntity  = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
	// SysUsername and SysClient name the identifiers of a user without a
	// Practitioner and of a client: agent:identifier=SYS|value finds them.
	SysUsername = "https://dcc.example.fr/fhir/sid/username"
	SysClient   = "https://dcc.example.fr/fhir/sid/client-id"
	sysServer   = "https://dcc.example.fr/fhir/sid/server"
)

// Kind is what an event records.
type Kind int

const (
	// Rest is a FHIR interaction: type rest, subtype the interaction.
	Rest Kind = iota
	// Login and Logout are authentications (DICOM 110114 User
	// Authentication, subtype 110122 Login / 110123 Logout).
	Login
	Logout
	// Authn is another request to the authorization server (authorize,
	// consent, picker, introspect...): 110114 without a subtype.
	Authn
)

// Event describes one audited request; Writer turns it into an AuditEvent.
type Event struct {
	Kind Kind
	// Interaction is the restful-interaction code (read, search-type,
	// create, operation...) of a Rest event.
	Interaction string
	// Action is C, R, U, D or E ("" for the one the interaction implies).
	Action string
	// Status is the HTTP status answered; Failure the OperationOutcome's
	// text of a failure (outcomeDesc). Failed marks a failure the status
	// does not show (a refused password answered by a 200 login page).
	Status  int
	Failure string
	Failed  bool
	// Recorded is when the request was answered.
	Recorded time.Time

	// The user: Practitioner (a reference: fhirUser), else Username.
	Practitioner, Username string
	ClientID               string
	Address                string // the client's network address (IP)
	// BreakGlass is the reason of an emergency access, "" when none.
	BreakGlass string

	// Resources are the resources concerned: Type/id or Type/id/_history/v.
	Resources []string
	// Patients are the patients concerned: Patient/ID.
	Patients []string
	// Query is the query string of a search ("" otherwise), recorded as
	// base64 (BALP: the raw request, malicious patterns included).
	Query     string
	Search    bool
	RequestID string
}

// action is the CRUDE code of the event.
func (e *Event) action() string {
	if e.Action != "" {
		return e.Action
	}
	switch e.Interaction {
	case "create":
		return "C"
	case "read", "vread", "history-instance", "history-type", "history-system":
		return "R"
	case "update", "patch":
		return "U"
	case "delete":
		return "D"
	}
	return "E"
}

// outcome is the R4 AuditEvent outcome: 0 success, 4 minor failure (the
// client's: 4xx, a refused login), 8 serious failure (the server's: 5xx).
func (e *Event) outcome() string {
	switch {
	case e.Status >= 500:
		return "8"
	case e.Status >= 400 || e.Failed:
		return "4"
	}
	return "0"
}

// coding is a Coding without display: the code says it, and every byte
// of an event is stored, hashed and written to the WAL for every request
// (a read's event fits two to a page without them: docs/benchmarks.md).
func coding(system, code string) map[string]any {
	return map[string]any{"system": system, "code": code}
}

func concept(system, code string) map[string]any {
	return map[string]any{"coding": []any{coding(system, code)}}
}

// tree is the AuditEvent of e, without id, meta and chain (Writer adds them).
func (e *Event) tree(server string) map[string]any {
	ae := map[string]any{"resourceType": "AuditEvent"}
	switch e.Kind {
	case Login, Logout, Authn:
		ae["type"] = coding(sysDICOM, "110114")
		switch e.Kind {
		case Login:
			ae["subtype"] = []any{coding(sysDICOM, "110122")}
		case Logout:
			ae["subtype"] = []any{coding(sysDICOM, "110123")}
		}
	default:
		ae["type"] = coding(sysEventType, "rest")
		sub := []any{}
		if e.Interaction != "" {
			sub = append(sub, coding(sysInteraction, e.Interaction))
		}
		if e.Search {
			// the DICOM code of a query too, so type/subtype searches of
			// either tradition find searches
			sub = append(sub, coding(sysDICOM, "110112"))
		}
		if len(sub) > 0 {
			ae["subtype"] = sub
		}
	}
	ae["action"] = e.action()
	ae["recorded"] = e.Recorded.UTC().Format(stamp)
	ae["outcome"] = e.outcome()
	if e.outcome() != "0" {
		desc := e.Failure
		if desc == "" {
			desc = "HTTP " + strconv.Itoa(e.Status)
			if e.Failed {
				desc = "authentication failed"
			}
		}
		ae["outcomeDesc"] = desc
	}
	var btg []any
	if e.BreakGlass != "" {
		btg = []any{map[string]any{"coding": []any{coding(sysActReason, "BTG")}, "text": e.BreakGlass}}
		ae["purposeOfEvent"] = btg
	}

	var agents []any
	if e.Practitioner != "" || e.Username != "" {
		who := map[string]any{}
		if e.Practitioner != "" {
			who["reference"] = e.Practitioner
		}
		if e.Username != "" {
			who["identifier"] = map[string]any{"system": SysUsername, "value": e.Username}
		}
		u := map[string]any{"type": concept(sysParticipant, "IRCP"), "who": who, "requestor": true}
		if btg != nil {
			u["purposeOfUse"] = btg
		}
		agents = append(agents, u)
	}
	client := map[string]any{"type": concept(sysDICOM, "110153"), "requestor": e.Practitioner == "" && e.Username == ""}
	if e.ClientID != "" {
		client["who"] = map[string]any{"identifier": map[string]any{"system": SysClient, "value": e.ClientID}}
	}
	if e.Address != "" {
		client["network"] = map[string]any{"address": e.Address, "type": "2"}
	}
	agents = append(agents, client,
		map[string]any{"type": concept(sysDICOM, "110152"), "requestor": false,
			"who": map[string]any{"identifier": map[string]any{"system": sysServer, "value": server}}})
	ae["agent"] = agents
	ae["source"] = map[string]any{
		"observer": map[string]any{"identifier": map[string]any{"system": sysServer, "value": server}},
		"type":     []any{coding(sysSourceType, "4")},
	}

	var ents []any
	for _, r := range e.Resources {
		ents = append(ents, map[string]any{"what": map[string]any{"reference": r},
			"type": coding(sysEntityType, "2"), "role": coding(sysObjectRole, "4")})
	}
	for _, p := range e.Patients {
		ents = append(ents, map[string]any{"what": map[string]any{"reference": p},
			"type": coding(sysEntityType, "1"), "role": coding(sysObjectRole, "1")})
	}
	if e.Search {
		ents = append(ents, map[string]any{"type": coding(sysEntityType, "2"),
			"role": coding(sysObjectRole, "24"), "query": base64.StdEncoding.EncodeToString([]byte(e.Query))})
	}
	if e.RequestID != "" {
		ents = append(ents, map[string]any{"what": map[string]any{"identifier": map[string]any{"value": e.RequestID}},
			"type": coding(sysBALPEntity, "XrequestId")})
	}
	if len(ents) > 0 {
		ae["entity"] = ents
	}
	return ae
}

// PatientOf is the Patient reference of a resource reference when it is
// one (Patient/ID, Patient/ID/_history/v), "" otherwise.
func PatientOf(ref string) string {
	rest, ok := strings.CutPrefix(ref, "Patient/")
	if !ok || rest == "" {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return "Patient/" + id
}
