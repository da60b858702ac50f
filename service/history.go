package service

import (
	"cmp"
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// History lists versions of one resource (typ and id), of a type (typ) or
// of the whole server (neither), newest first, honouring _since, _at,
// _count and the paging cursor.
//
// Access: instance history needs 'r' on typ, type history 's' on typ and
// system history a wildcard 's' (*.s). Instance history under a grant
// that narrows typ needs the current version within it (else the grant's
// refusal, checked first) and lists it, and of the older versions only
// those within the grant by their own content (fitsStored: a restriction
// clause it cannot check on an index, such as a date, fails closed), and
// the deletions. Type history under a narrowing grant, and system history
// under any Access, list only the versions the caller may see
// (historyNarrowed).
func (s *Service) History(ctx context.Context, typ, id string, params url.Values) (*store.HistoryPage, error) {
	page, err := s.history(ctx, typ, id, params)
	if err == nil && (typ == "" || typ == "AuditEvent") {
		err = s.withoutPurged(ctx, page)
	}
	if err != nil {
		return nil, err
	}
	return page, nil
}

// history is History before purged AuditEvents are left out.
func (s *Service) history(ctx context.Context, typ, id string, params url.Values) (*store.HistoryPage, error) {
	if typ != "" {
		if err := checkTypeID(typ, id); err != nil {
			return nil, err
		}
	}
	lim, narrowed, err := s.historyGrant(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	q := &store.HistoryQuery{Type: typ, ID: id, Page: params.Get(PageParam)}
	if q.Count, err = s.count(params); err != nil {
		return nil, err
	}
	if v := params.Get("_since"); v != "" {
		if q.Since, err = parseInstantParam("_since", v, false); err != nil {
			return nil, err
		}
	}
	if v := params.Get("_at"); v != "" {
		if q.At, err = parseInstantParam("_at", v, true); err != nil {
			return nil, err
		}
	}
	q.Total = params.Get("_total") == "accurate"
	if id == "" && narrowed {
		return s.historyNarrowed(ctx, q, lim)
	}
	var cur *store.Resource
	if id != "" && lim != nil {
		if cur, err = s.current(ctx, s.Store, typ, id, lim); err != nil || cur == nil {
			return nil, cmp.Or(storeErr(err), lim.notKnown(typ, id))
		}
	} else if id != "" {
		if _, err := s.Store.VRead(ctx, typ, id, 1); errors.Is(err, store.ErrNotFound) {
			return nil, notKnown(typ, id)
		} else if err != nil {
			return nil, err // a storage failure, not a missing resource
		}
		if typ == "AuditEvent" { // after the grant: the 410 tells the id existed
			if p, err := s.purgedAudit(ctx, id); err != nil || p {
				return nil, cmp.Or(err, errPurged(id))
			}
		}
	}
	page, err := s.Store.History(ctx, q)
	if err != nil {
		return nil, storeErr(err)
	}
	if lim != nil {
		kept := page.Versions[:0:0]
		for _, v := range page.Versions {
			ok := v.Version == cur.Version || v.Deleted
			if !ok {
				if ok, err = s.fitsStored(lim, v); err != nil {
					return nil, err
				}
			}
			if ok {
				kept = append(kept, v)
			}
		}
		page.Versions = kept
	}
	return page, nil
}

// historyGrant asks the caller's access for a history (see History): the
// limit on typ, and whether a type or system history must be narrowed
// version by version — a type history under a grant that narrows typ, a
// system history under any Access (its types are each granted apart).
func (s *Service) historyGrant(ctx context.Context, typ, id string) (*limit, bool, error) {
	if id != "" {
		l, err := s.grant(ctx, 'r', typ)
		return l, false, err
	}
	if typ != "" {
		l, err := s.grant(ctx, 's', typ)
		return l, l != nil, err
	}
	_, err := s.grant(ctx, 's', "*")
	return nil, AccessFrom(ctx) != nil && err == nil, err
}

// historyPages bounds the store pages one narrowed history page reads.
const historyPages = 8

// historyNarrowed is a type history under lim (a grant narrowing q.Type),
// or a system history under an Access (lim nil): the versions whose own
// content is within the grant on their type (fitsStored, as an older
// version of an instance history: the compartment index computed again,
// a restriction checked on its index entries, any other kind failing
// closed), deletions left out (what they deleted cannot be checked);
// under a type the grant leaves unnarrowed (shared data under a patient/
// scope, an unconfined scope) every version and deletion. A system
// history asks 's' on the type of each version, once per type, and
// leaves out the types refused (an AuditEvent to a non-auditor) or that
// the grant cannot confine (Binary under a patient/ scope). It reads at
// most historyPages store pages, each asking only for what the answer
// still lacks, so no version read is skipped: an answer may hold fewer
// versions than _count, none, with the store's cursor for the next page.
// No total: counting would need every version read.
func (s *Service) historyNarrowed(ctx context.Context, q *store.HistoryQuery, lim *limit) (*store.HistoryPage, error) {
	out := &store.HistoryPage{Total: -1}
	need := q.Count
	if need <= 0 {
		return out, nil
	}
	q.Total = false
	lims := map[string]*limit{}
	refused := map[string]bool{}
	limitFor := func(typ string) (*limit, bool, error) {
		if q.Type != "" {
			return lim, true, nil
		}
		if refused[typ] {
			return nil, false, nil
		}
		if l, ok := lims[typ]; ok {
			return l, true, nil
		}
		l, err := s.grant(ctx, 's', typ)
		if fe, ok := isClientErr(err); ok && fe.Status == 403 {
			refused[typ] = true
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
		lims[typ] = l
		return l, true, nil
	}
	for range historyPages {
		sq := *q
		sq.Count = need - len(out.Versions)
		page, err := s.Store.History(ctx, &sq)
		if err != nil {
			return nil, storeErr(err)
		}
		for _, v := range page.Versions {
			l, ok, err := limitFor(v.Type)
			if err != nil {
				return nil, err
			}
			if ok && l != nil {
				ok, err = s.fitsStored(l, v)
				if fe, is := isClientErr(err); is && fe.Status == 403 && q.Type == "" {
					// a restriction the server cannot enforce on this
					// type: the type is refused, not the whole history
					refused[v.Type], ok, err = true, false, nil
				}
				if err != nil {
					return nil, err
				}
			}
			if ok {
				out.Versions = append(out.Versions, v)
			}
		}
		out.Next, q.Page = page.Next, page.Next
		if page.Next == "" || len(out.Versions) == need {
			break
		}
	}
	return out, nil
}

// count reads _count, defaulting and capping it.
func (s *Service) count(params url.Values) (int, error) {
	v := params.Get("_count")
	if v == "" {
		return s.DefaultCount, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fhir.Errorf(400, "invalid", "", "_count must be a non-negative integer, not %q", v)
	}
	if n > s.MaxCount {
		n = s.MaxCount
	}
	return n, nil
}

var instantLayouts = []struct {
	layout string
	step   func(time.Time) time.Time
}{
	{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
	{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
	{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
	{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Microsecond) }},
}

// parseInstantParam reads a FHIR date/dateTime/instant. A partial date is
// the period it names (in UTC); end picks the last instant of it rather than
// the first.
func parseInstantParam(name, v string, end bool) (time.Time, error) {
	for _, l := range instantLayouts {
		if t, err := time.Parse(l.layout, v); err == nil {
			if end {
				return l.step(t).Add(-time.Microsecond), nil
			}
			return t, nil
		}
	}
	return time.Time{}, fhir.Errorf(400, "invalid", "", "%s: %q is not a FHIR date, dateTime or instant", name, v)
}
