package service

import (
	"context"
	"errors"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// An AuditEvent has one version, and the audit trail's retention purges
// it by writing a deletion after it (audit.Writer.Purge). The engines
// keep the purged version in their history; the service does not show
// it: a vread or instance history of a purged AuditEvent is the 410 of
// its deletion, and type and system history leave its versions out.

// purgedAudit reports whether AuditEvent/id has been purged.
func (s *Service) purgedAudit(ctx context.Context, id string) (bool, error) {
	cur, err := s.Store.Read(ctx, "AuditEvent", id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return cur.Deleted, nil
}

// errPurged is the answer to a vread or history of a purged AuditEvent.
func errPurged(id string) error {
	return fhir.Errorf(410, "deleted", "", "AuditEvent/%s was purged by the audit trail's retention", id)
}

// withoutPurged leaves out of a history page the versions of purged
// AuditEvents (their deletions too): one read per AuditEvent it lists.
func (s *Service) withoutPurged(ctx context.Context, page *store.HistoryPage) error {
	var purged map[string]bool
	kept := page.Versions[:0]
	for _, v := range page.Versions {
		if v.Type == "AuditEvent" {
			p, seen := purged[v.ID]
			if !seen {
				var err error
				if p, err = s.purgedAudit(ctx, v.ID); err != nil {
					return err
				}
				if purged == nil {
					purged = map[string]bool{}
				}
				purged[v.ID] = p
			}
			if p {
				continue
			}
		}
		kept = append(kept, v)
	}
	page.Versions = kept
	return nil
}
