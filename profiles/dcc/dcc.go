// Package dcc carries the DCC implementation guide (npm package dcc.fhir.ig)
// inside the binary, so a server on a fresh machine has its profiles without
// fetching anything.
//
// The package folder holds differential-only StructureDefinitions (resource
// profiles and extensions), CodeSystems, ValueSets, the ImplementationGuide
// resource, package.json and .index.json, in the npm FHIR package layout.
// The profiles derive from the R4 base types and restate the FR Core 2.2.0
// rules they need, so FR Core does not have to be loaded. Snapshots are left
// to the snapshot generator. profiles.md beside this file documents them; the
// examples live in testdata/dcc.
package dcc

import (
	"embed"
	"io/fs"
)

// Package identity, as in package.json.
const (
	Name        = "dcc.fhir.ig"
	Version     = "0.1.0"
	Canonical   = "https://dcc.example.fr/fhir"
	FHIRVersion = "4.0.1"
)

// .index.json is named explicitly: a directory pattern skips dot files.
//
//go:embed package package/.index.json
var files embed.FS

// FS returns the package folder (the "package/" directory of the npm
// tarball): package.json, .index.json and one JSON file per resource, named
// <resourceType>-<id>.json.
func FS() fs.FS {
	sub, err := fs.Sub(files, "package")
	if err != nil {
		panic(err) // cannot happen: "package" is a valid embedded directory
	}
	return sub
}
