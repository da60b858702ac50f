// Package frcore carries the FR Core implementation guide (HL7 France,
// hl7.fhir.fr.core 2.2.0) inside the binary, so that a server on a fresh
// machine checks what French systems send against the FR Core profiles they
// claim (meta.profile https://hl7.fr/ig/fhir/core/StructureDefinition/…)
// without downloading anything or being configured.
//
// The file embedded is the package tarball of the HL7 France / Interop'Santé
// release hl7.fhir.fr.core#2.2.0 (the FHIR package registry,
// packages.fhir.org), unmodified: it is the copy the team shares in
// ../shared/data/fhir-packages. SHA256 and SHA1 (the form of the registry's
// npm shasum) record it, and frcore_test.go checks the embedded bytes against
// them and against the shared copy when present. Its package.json and its
// ImplementationGuide declare the licence CC0-1.0. To move to another
// release, replace the file, the constants and the embed name together; a
// different FR Core version given to --packages replaces this one at run
// time (profiles.New).
package frcore

import (
	"bytes"
	_ "embed"

	"github.com/dccfhir/dccfhir/profiles/packages"
)

// Package identity and the published tarball's checksums.
const (
	Name      = "hl7.fhir.fr.core"
	Version   = "2.2.0"
	Canonical = "https://hl7.fr/ig/fhir/core"
	License   = "CC0-1.0"
	File      = "hl7.fhir.fr.core-2.2.0.tgz"
	SHA256    = "085e61bf579829a6d5520c6f388d763d27ba400f9f6ca548bc88da5545ba13f9"
	SHA1      = "7196ce9d965bdbf04f2de70bfcca2a55b8c625f0"
)

//go:embed hl7.fhir.fr.core-2.2.0.tgz
var tarball []byte

// Tarball returns the embedded package file (not to be modified).
func Tarball() []byte { return tarball }

// Load reads the embedded package. Its examples are dropped: they are test
// material, and a server would only hold them in memory.
func Load() (*packages.Package, error) {
	p, err := packages.Read(bytes.NewReader(tarball))
	if err != nil {
		return nil, err
	}
	p.Examples = nil
	return p, nil
}
