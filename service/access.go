package service

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
	// Restriction is what every resource reached must also match (a
	// search-restricted scope such as patient/Observation.rs?category=laboratory),
	// nil when none. Values of one parameter are OR'ed as in a search.
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
