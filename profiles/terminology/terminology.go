// Package terminology answers the FHIR R4 terminology operations
// (ValueSet/$expand, ValueSet/$validate-code, CodeSystem/$validate-code,
// CodeSystem/$lookup) and the :in / :not-in search modifiers from the code
// systems and value sets of a conformance.Set: the R4 base ones, the DCC IG
// and any loaded package such as FR Core. There is no terminology server
// behind it, so a value set is expandable only when every code system it
// takes whole or by filter is loaded with complete content (SNOMED CT,
// LOINC and the ANS terminologies are not): such value sets are refused with
// a 422 naming the missing piece, never answered wrongly.
//
// The R4 base definitions in package conformance are a compact copy without
// displays; this package embeds the missing texts (r4text.json.gz, written
// by internal/gen) and lays them over it, so administrative-gender#male has
// its display "Male".
//
// Results are generic resource trees (map[string]any) ready for the HTTP
// layer to encode; failures are *fhir.Error with the status to answer:
// 400 for bad input, 404 for an unknown value set, code system or code,
// 422 for a value set that cannot be expanded here.
package terminology

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/conformance"
)

// Coding is a code of a code system as the operations take and give it.
type Coding struct {
	System  string `json:"system,omitempty"`
	Version string `json:"version,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Limits on what one request may cost. The loaded code systems all sit in
// memory, so computing a large expansion is cheap; sending it is not.
const (
	// MaxExpansion is the largest expansion computed at all (ValueSet
	// $expand with count, Codes): beyond it the answer is 422 too-costly.
	MaxExpansion = 10000
	// MaxUnpaged is the largest $expand answered in one piece when the
	// client gives no count; beyond it the client must filter or page.
	MaxUnpaged = 1000
)

// valueSet finds the value set url ("|version" allowed) or the one in
// version; 404 when not loaded.
func valueSet(set *conformance.Set, url, version string) (map[string]any, error) {
	if url == "" {
		return nil, fhir.Errorf(400, "required", "", "a value set url (or a valueSet resource) is required")
	}
	u, v, _ := strings.Cut(url, "|")
	if version == "" {
		version = v
	}
	key := u
	if version != "" {
		key = u + "|" + version
	}
	vs := set.ValueSet(key)
	if vs == nil {
		return nil, fhir.Errorf(404, "not-found", "", "value set %s is not known to this server", u)
	}
	if version != "" && str(vs["version"]) != version {
		return nil, fhir.Errorf(404, "not-found", "", "value set %s is known in version %s, not %s", u, str(vs["version"]), version)
	}
	return vs, nil
}

// codeSystem finds the code system url ("|version" allowed), nil when not
// loaded in that version.
func codeSystemOf(set *conformance.Set, url, version string) *codeSystem {
	u, v, _ := strings.Cut(url, "|")
	if version == "" {
		version = v
	}
	key := u
	if version != "" {
		key = u + "|" + version
	}
	raw := set.CodeSystem(key)
	if raw == nil {
		return nil
	}
	cs := indexOf(raw)
	if version != "" && cs.Version != version {
		return nil
	}
	return cs
}

// parameters builds a Parameters resource.
func parameters(params []any) map[string]any {
	return map[string]any{"resourceType": "Parameters", "parameter": params}
}

func param(name, typ string, value any) map[string]any {
	return map[string]any{"name": name, "value" + typ: value}
}

// newUUID is a random (version 4) UUID for expansion identifiers.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
