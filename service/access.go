package service

// How the service enforces the caller's Access (the files access_*.go;
// docs/security.md repeats it for operators):
//
// Letters. read, vread and instance history need 'r' on the type; type,
// compartment and system search, type and system history 's'; create 'c';
// update 'u' (an update that creates, too: SMART's "update (incl.
// update-as-create)"), patch 'u'; delete 'd'. A conditional interaction
// needs its own letter only: its match runs narrowed to that grant, and a
// resource outside it behaves as no match (conditional.go). A search of
// several types (_type, a compartment's types) needs 's' on each, and all
// must be narrowed alike (one search carries one set of clauses; else
// 403); a search naming no type needs a wildcard *.s (unconfined for a
// system search, which reaches shared types too: else name them with
// _type). $reindex
// needs an unconfined, unrestricted *.u (system/*.u). Each write entry of a
// Bundle is asked as its single request is, before anything runs: a
// transaction with one refused entry is refused whole (403, naming the
// entry), a batch entry fails alone; GET entries are checked by the read
// or search they run.
//
// Compartment. A patient/ grant (Grant.Patient) confines the types that
// can be in a Patient compartment to the compartment of the launch
// patient (the resources indexed under _compartment=Patient/<id>: the
// Patient itself, those referring to it through the parameters of the
// Patient CompartmentDefinition, and Patients whose link points to it);
// the other types (Medication, Practitioner, Organization...) are shared
// reference data, not confined. Searches get the compartment clause;
// reads, vreads and instance history of a resource outside it (or
// deleted, which cannot be checked) answer the 404 of an unknown resource,
// same words, so nothing tells whether it exists; type and system history
// cannot be narrowed and are refused (403). A write must leave the
// resource in the compartment (by the index computed for the new
// content), and an update, patch or delete needs the current version in
// it, else 403 and nothing is written.
//
// Restriction. A search-restricted grant (Grant.Restriction) is parsed by
// the search parser and ANDed to every search; reads check membership
// with one narrowed search; a write's new content must match it by its
// token index entries (a restriction on another kind of parameter refuses
// writes); a restriction the server cannot read or enforce allows nothing.
//
// Includes, chains, _has. Each level of _include/_revinclude (:iterate
// included) keeps only resources of a type the caller may 's' or 'r',
// within that grant's compartment and restriction, checked with one
// search per type and level, before the next level follows them. A chain
// follows only target types the caller may search, and a _has needs 's'
// on its type; when that grant narrows the inner type, the inner search
// runs narrowed and the clause becomes the references or ids it found
// (bounded; over the bound a 400), so neither is an oracle on resources
// the caller may not see. __explain lists, as "access:" lines, every
// clause the access added and every chain it resolved.
//
// Cost. Without an Access nothing of this runs; under an unconfined,
// unrestricted grant an interaction costs one Grant call (more only for
// the types its includes and chains reach).

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
	// Patient confines it to the compartment of Patient/<Patient>
	// (patient/ scopes): "" when it is not confined.
	Patient string
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
