// Package validator checks resources against the base FHIR R4 specification
// before they are stored, so the server never persists content other
// systems would reject. It is driven by tables generated from the official
// R4 definitions (the type model of package model, the invariants and the
// required value sets in tables_gen.go), runs offline, and is built once and
// shared: every write calls it, so it walks each resource once and evaluates
// precompiled FHIRPath only where the constrained element is present.
//
// See docs/validation.md for the rules, the decisions taken where the
// specification leaves room, and the invariants evaluated and skipped.
package validator

//go:generate go run ./internal/gen -out .

// invariantDef is one FHIRPath constraint from the R4 snapshots.
type invariantDef struct {
	Owner    string // type name or backbone path; the element path when Element
	Element  bool   // evaluated on each value of element Owner
	Key      string
	Severity string
	Human    string
	Expr     string
}

// vsSystem is the part of a required value set drawn from one code system.
type vsSystem struct {
	System string
	Codes  string // space-separated
}
