package fhirpath

import (
	"errors"
)

// xmlToJSON converts a FHIR XML resource into the generic JSON tree.
func xmlToJSON(b []byte) (map[string]any, error) {
	return nil, errors.New("XML input without a JSON equivalent")
}
