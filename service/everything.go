package service

import (
	"context"
	"net/url"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
)

// everythingParams are the parameters Patient/$everything takes; start
// and end (the care dates) need each type's clinical date and are refused
// rather than ignored.
var everythingParams = map[string]bool{"_type": true, "_since": true, "_count": true, PageParam: true, ExplainParam: true}

// Everything is Patient/[id]/$everything: the Patient and every resource
// of its compartment, answered as the compartment
// search Patient/[id]/* it is (paged, _type and _count as a search takes
// them; _since as _lastUpdated=ge). It is a read of the Patient and a
// search of each type, so the caller needs r on Patient and s on the
// types it returns: the access rules of those two interactions apply.
func (s *Service) Everything(ctx context.Context, id string, params url.Values) (*SearchResponse, error) {
	for k := range params {
		if !everythingParams[k] {
			return nil, fhir.Errorf(400, "not-supported", k, "$everything does not take the parameter %s (it takes _type, _since and _count)", k)
		}
	}
	vals := make(url.Values, len(params))
	for k, vs := range params {
		if k != "_since" {
			vals[k] = vs
		}
	}
	if vs := params["_since"]; len(vs) > 0 {
		if len(vs) > 1 {
			return nil, fhir.Errorf(400, "invalid", "_since", "_since is given more than once")
		}
		if _, err := time.Parse(time.RFC3339Nano, vs[0]); err != nil {
			return nil, fhir.Errorf(400, "invalid", "_since", "_since must be an instant with a time zone (2024-01-31T12:00:00Z): %q", vs[0])
		}
		vals.Set("_lastUpdated", "ge"+vs[0])
	}
	// the read first: a Patient the caller may not read, or that is
	// absent or deleted, is answered as a read of it is
	if _, err := s.Read(ctx, "Patient", id); err != nil {
		return nil, err
	}
	// the Patient is in its own compartment: the search returns it too
	return s.SearchCompartment(ctx, "Patient", id, "", vals, true)
}
