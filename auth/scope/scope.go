// Package scope is the SMART App Launch 2.2 scope language: parsing
// (v2 "patient/Observation.rs?category=…", v1 ".read/.write/.*" read as
// their v2 equivalents), narrowing what a client asks for to what it is
// registered for, and deciding what a granted set allows (the
// service.Access a token's scopes give). Pure: no storage, no HTTP.
package scope

import (
	"net/url"

	"github.com/dccfhir/dccfhir/service"
)

// Clinical is one resource scope: Context/Type.Letters[?Query].
type Clinical struct {
	Context string     // "patient", "user" or "system"
	Type    string     // a resource type or "*"
	Letters string     // a non-empty, in-order subset of "cruds"
	Query   url.Values // a search-restricted scope's parameters, nil when none
	// V1 is set when it was written as .read, .write or .*; String gives
	// it back as written.
	V1  bool
	raw string
}

// Set is a parsed scope string.
type Set struct {
	Clinical []Clinical
	// Other holds the non-resource scopes (openid, fhirUser, profile,
	// launch, launch/patient, launch/encounter, offline_access,
	// online_access...) in the order given.
	Other []string
}

// Parse reads a space-separated scope string. Scopes it cannot read
// (unknown context, letters out of order, a bad query) are returned in
// bad and left out of the set.
func Parse(s string) (set Set, bad []string) { panic("scope.Parse: not yet") }

// String is the space-separated scope string, each scope as written.
func (s Set) String() string { panic("not yet") }

// Has reports whether a non-resource scope (e.g. "offline_access") is in s.
func (s Set) Has(name string) bool { panic("not yet") }

// Narrow returns what of asked may be granted to a client registered for
// allowed: each asked scope intersected with the registered ones (a
// wildcard narrowed to the asked type, letters intersected), the
// non-resource scopes kept when registered or always allowed.
func Narrow(asked, allowed Set) Set { panic("not yet") }

// Access is the service.Access a granted set gives; patient is the launch
// patient's id that patient/ scopes confine to ("" when none is in
// context: then patient/ scopes allow nothing).
func (s Set) Access(patient string) service.Access { panic("not yet") }
