package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles"
	"github.com/dccfhir/dccfhir/service"
)

// Publish makes the conformance resources of the loaded packages readable
// and searchable through the REST API (by url, version, name…) by storing
// them as ordinary resources under their package ids, as trusted writes
// (service.UpdateTrusted: without the write validation, since they are the
// definitions the validator itself uses). A resource already stored with the
// same url and version is left alone, so restarts add no versions. It
// returns how many were written; failures are returned one by one and do
// not stop the others.
func Publish(ctx context.Context, svc *service.Service, v *profiles.Validator) (int, []error) {
	written := 0
	var errs []error
	for _, r := range v.Conformance() {
		if r.ID == "" || !fhir.ValidID(r.ID) || !fhir.KnownType(r.Type) {
			continue
		}
		if cur, err := svc.Read(ctx, r.Type, r.ID); err == nil && cur != nil {
			var head struct{ URL, Version string }
			if json.Unmarshal(cur.JSON, &head) == nil && head.URL == r.URL && head.Version == r.Version {
				continue
			}
		}
		body, err := json.Marshal(r.JSON)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", r.Type, r.ID, err))
			continue
		}
		if _, err := svc.UpdateTrusted(ctx, r.Type, r.ID, body); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s (%s): %w", r.Type, r.ID, r.File, err))
			continue
		}
		written++
	}
	return written, errs
}
