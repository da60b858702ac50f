package service

// How the service enforces the caller's Access (the files access_*.go;
// docs/security.md repeats it for operators):
//
// Letters. read, vread and instance history need 'r' on the type; type,
// compartment and system search, type and system history 's'; create 'c';
// update 'u' (an update that creates, too: SMART's "update (incl.
// update-as-create)"), patch 'u'; delete 'd'. A conditional interaction
// (create with If-None-Exist, update, patch and delete on criteria, a
// Bundle's ifNoneExist and conditional URLs) also needs 's' on the type:
// its match is a search, run narrowed by both grants, and a resource
// outside them behaves as no match (conditional.go). A search of several
// types (_type, a compartment's types) needs 's' on each, and all must be
// narrowed alike (one search carries one set of clauses; else 403); a
// search naming no type needs a wildcard *.s (unconfined for a system
// search, which reaches shared types too: else name them with _type).
// A compartment search of every type (Patient/x/*, $everything) and a
// system history need the wildcard too, and ask 's' of each type they
// reach besides: the types refused on their own (AuditEvent, to a
// non-auditor) are left out, the others narrowed by the wildcard's grant
// (a type named in _type and refused is a 403). A type history under a
// narrowing grant is narrowed version by version (see Compartment).
// $reindex, and any write of a SearchParameter (it changes what every
// resource is indexed under), need an unconfined, unrestricted *.u
// (system/*.u). No client writes an AuditEvent, with any scope or none:
// every create, update, patch and delete of one, conditional or in a
// Bundle, is a 405 (the audit trail is the server's: package audit
// stores it through the store). Each write entry of a Bundle is asked as
// its single request is, before anything runs: a transaction with one
// refused entry is refused whole (403, naming the entry), a batch entry
// fails alone; GET entries are checked by the read or search they run.
//
// Mixed contexts. When several scopes allow an interaction the widest
// wins, for that interaction alone (an unconfined user/ or system/ scope
// over a patient/ one, an unrestricted one over a search-restricted one;
// auth/scope): with user/Observation.s and patient/Observation.r a search
// of Observations reaches every patient's and a read only the launch
// patient's. Each interaction is narrowed by its own letter's grant.
//
// What a write shows. Write letters do not imply read (SMART): the answer
// of a write shows a resource beyond what the caller sent — a conditional
// create's match, the result of a patch — only when 'r' allows it (the
// type, and that version within the 'r' grant); otherwise the version's
// content is withheld (Result.Withheld: the HTTP answer is an
// OperationOutcome, with the ETag and Location). An update answers with
// what was sent. A patch's test operations remain an oracle for a token
// with 'u' and no 'r': a failing test is a 422, one guess per request
// (every patch that applies writes a version, a no-op one too).
//
// Compartment. A confined grant (Grant.Confined) confines to the
// compartments of a set of patients (Grant.Patients): a patient/ grant
// to the launch patient, a professional's to the care circle; "the
// patient" below is any of them, and a set that is empty confines to
// nothing at all (every search matches nothing and every read is
// refused, without asking the store: Plan.Nothing):
//   - the types of the R4 Patient compartment, by the compartment index
//     (_compartment=Patient/<id>: the Patient itself, the resources
//     referring to it through the parameters of the Patient
//     CompartmentDefinition, and Patients whose link points to it — so a
//     patient app reads the Patients linked to its patient, as SMART says
//     it SHALL). Compartments are computed from the built-in R4
//     parameters only, never from a custom SearchParameter replacing one;
//   - Task and Device, outside the R4 compartment, by their patient
//     parameter (Task.for, Device.patient): this server's addition to the
//     compartment; refused when a custom SearchParameter replaced that
//     parameter;
//   - reference, conformance and terminology types (sharedTypes:
//     Practitioner, Organization, Medication, ValueSet, SearchParameter...)
//     are read and searched unconfined, and never written under it;
//   - every other type (Binary, Bundle, Contract, Linkage...) may hold
//     anything of anyone, cannot be confined, and is refused (403 naming
//     the user/ or system/ scope it needs).
// Searches get the confinement clause; reads, vreads and instance history
// of a resource outside it (or deleted, which cannot be checked) answer
// the 404 of an unknown resource, same words (or the grant's Refusal:
// What answers reveal). Type and system history
// list only the versions whose own content is within the grant (its
// compartment index computed again, the restriction checked as for an
// older version below), deletions left out, without a total, reading at
// most 8 store pages per page answered (it may hold fewer versions than
// _count, or none, and pages on from the store's cursor); a system
// history asks the grant of each type it lists, once per type, and
// leaves out the types refused or unconfinable (history.go). A write
// must leave the resource confined to the patients of the set alone:
// every Patient entry of the new content's compartment index (Task,
// Device: of their patient parameter) must be one of them —
// Observation{subject: p2, performer: [p1]} is in p1's compartment and
// p1 may read it, never write it — and an update, patch or delete needs
// the same of the current version (its index computed again), else 403
// and nothing is written.
//
// Restriction. A search-restricted grant (Grant.Restriction) is parsed by
// the search parser (once per restriction and types, cached) and ANDed to
// every search; reads check membership with one narrowed search; a
// write's new content must match it by its index entries — token
// (category=system|code), reference of Type/id or bare ids
// (based-on=ServiceRequest/1,ServiceRequest/2: a laboratory client
// writes only the DiagnosticReports and Observations based on its
// orders) — and by its id for _id; a restriction on another kind of
// parameter, a modifier, a chain or a URL value refuses writes. An older
// version, and any version a type or system history lists, is shown
// only when its own entries match the same way, and never under a
// restriction of another kind (date, string...), which only the current
// version can be checked against (fail closed); a restriction the server
// cannot read or enforce allows nothing.
//
// What answers reveal. Under a narrowing grant the access check comes
// before anything that tells resources apart: every refusal of a read,
// vread or history — outside the grant, unknown, a malformed or missing
// version, deleted — is the same 404 "Type/id is not known", and so is a
// patch of an unknown or deleted resource; when the grant has a Refusal
// (a professional's: outside the care circle, break-the-glass possible)
// each of them is that Refusal instead, the same error whatever the
// reason — so too $everything of a Patient so refused and a Bundle's GET
// entries, which run the same read. Writes do reveal existence, as
// the issue requires the 403: an update or delete of another patient's
// live resource is 403, of an absent id 201 or 204; a conditional update
// whose body id is another's live resource 409.
//
// Includes, chains, _has. Each level of _include/_revinclude (:iterate
// included) keeps only resources of a type the caller may 's' or 'r',
// within that grant's confinement and restriction, checked with one
// search per type and level, before the next level follows them. A chain
// follows only target types the caller may search, and a _has needs 's'
// on its type; when that grant narrows the inner type, the inner search
// runs narrowed and the clause becomes the references or ids it found
// (bounded; over the bound a 400), so neither is an oracle on resources
// the caller may not see. __explain lists, as "access:" lines, every
// clause the access added and every chain it resolved.
//
// Cost. Without an Access nothing of this runs; under an unconfined,
// unrestricted grant an interaction costs one Grant call per letter it
// needs (a conditional write 's' too, an answer showing a match or a
// patch's result 'r' too; more for the types its includes and chains
// reach), and allocates nothing for it — but a system history asks one
// Grant per type it lists, and a compartment search of every type (and
// $everything) one per type of the compartment. Under a narrowing grant
// a read, or a vread of the current version, is one store query (the
// membership search), a vread of an older version two; the confinement
// is one clause whatever the size of the set (the engines take a long
// list of patients as one IN / $in: 40,000 on SQLite, store/storetest).

import (
	"context"
	"net/url"
)

// Access is what the caller of one request may do, as its token's scopes
// grant it (auth builds it; the care-relationship rules of issue 10 will
// narrow it further). The service asks it before any interaction touches
// the store, for each entry of a batch or transaction on its own, and
// narrows every search, read, include and write to what the Grant allows.
// A request whose context carries no Access is the server's own or runs
// with protection off: it may do anything.
type Access interface {
	// Grant says how the caller may perform the interaction letter on
	// resources of typ — a SMART scope letter: 'c' create, 'r' read, vread
	// and instance history, 'u' update and patch, 'd' delete, 's' search
	// and type or system history — or refuses it with a 403 *fhir.Error
	// (code "forbidden") whose message names the missing scope. When
	// several scopes allow it, the widest wins (an unconfined user/ or
	// system/ scope over a patient/ one, an unrestricted one over a
	// search-restricted one).
	Grant(letter byte, typ string) (Grant, error)
}

// Grant is the extent of one allowed interaction.
type Grant struct {
	// Confined confines it to the compartments of Patients, a set (ids,
	// sorted, without duplicates; empty: no patient at all) — the launch
	// patient of a patient/ scope, the care circle of a professional
	// (access): the service confines each type as the rules above say.
	// false: not confined.
	Confined bool
	Patients []string
	// Refusal, when set, is the answer to a read, vread or history of a
	// resource outside the grant, and of one that does not exist, deleted
	// or unknown alike, and to a patch of an absent or deleted resource
	// (the care circle's 403, which says break-the-glass is possible),
	// returned as it is; nil: the 404 of an unknown resource. It counts
	// only when the grant narrows (Confined or Restriction).
	Refusal error
	// Restriction is a search every resource reached must also match (a
	// search-restricted scope such as patient/Observation.rs?category=laboratory),
	// nil when none. The service reads it with the search parser, as it
	// reads a query string: each value of a parameter is one condition
	// (repeated, they AND) and commas OR within a value, so the scopes
	// restricting one same parameter merge into one value (category=a,b).
	// It may be shared between requests: never modify it.
	Restriction url.Values
}

type accessKey struct{}

// WithAccess returns ctx carrying the caller's access.
func WithAccess(ctx context.Context, a Access) context.Context {
	return context.WithValue(ctx, accessKey{}, a)
}

// AccessFrom returns the caller's access, nil when unrestricted.
func AccessFrom(ctx context.Context) Access {
	a, _ := ctx.Value(accessKey{}).(Access)
	return a
}
