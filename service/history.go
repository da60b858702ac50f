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
// system history a wildcard 's' (*.s). The engines cannot narrow a
// history, so type and system history under a grant that narrows them
// (a patient/ scope on a type of the Patient compartment, a restricted
// scope) are refused (403: search with _lastUpdated instead); instance
// history under such a grant needs the current version within it (else
// the 404 of an unknown resource, checked first) and lists it, and of the
// older versions only those within the grant by their own content
// (fitsStored: a restriction clause it cannot check on an index, such as
// a date, fails closed), and the deletions.
func (s *Service) History(ctx context.Context, typ, id string, params url.Values) (*store.HistoryPage, error) {
	if typ != "" {
		if err := checkTypeID(typ, id); err != nil {
			return nil, err
		}
	}
	lim, err := s.historyGrant(ctx, typ, id)
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

// historyGrant asks the caller's access for a history (see History).
func (s *Service) historyGrant(ctx context.Context, typ, id string) (*limit, error) {
	if id != "" {
		return s.grant(ctx, 'r', typ)
	}
	of := typ
	if of == "" {
		of = "*"
	}
	lim, err := s.grant(ctx, 's', of)
	if err != nil || lim == nil {
		return nil, err
	}
	what := "the history of " + typ
	if typ == "" {
		what = "the history of the whole server"
	}
	return nil, forbidden("narrow %s to %s, which a history cannot be: search with _lastUpdated instead, or read the history of one resource", what, lim)
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
