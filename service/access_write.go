package service

import (
	"context"
	"fmt"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// writeLetters are the scope letters of the write methods: an update
// that creates (PUT of an absent id, a conditional update matching
// nothing) needs 'u' only, as SMART says ("update (incl. update-as-create)").
var writeLetters = map[string]byte{"POST": 'c', "PUT": 'u', "PATCH": 'u', "DELETE": 'd'}

var writeVerbs = map[string]string{"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}

// writeGrant asks the caller's access for a write by method on typ: the
// one check of every write, the single request's and each Bundle entry's.
// A SearchParameter changes what every later write indexes (and $reindex
// what is stored), whoever's it is: writing one also needs what $reindex
// needs (mayRewriteIndex).
//
// No client writes an AuditEvent (405, whatever its access, without one
// too): the record of what was done is the server's (package audit puts
// them through store.Tx.Put), and a client that could change it could
// hide what it did.
func (s *Service) writeGrant(ctx context.Context, method, typ string) (*limit, error) {
	if typ == "AuditEvent" {
		return nil, fhir.Errorf(405, "not-supported", "", "AuditEvents are written by the server only")
	}
	l, err := s.grant(ctx, writeLetters[method], typ)
	if err == nil && typ == "SearchParameter" {
		err = mayRewriteIndex(ctx, writeVerbs[method]+" of a SearchParameter, which changes the index of every resource")
	}
	return l, err
}

// mayRewriteIndex refuses (403) what rewrites the search index of every
// resource ($reindex, a SearchParameter's write) to a caller without an
// unconfined, unrestricted update grant on every type (system/*.u).
func mayRewriteIndex(ctx context.Context, what string) error {
	a := AccessFrom(ctx)
	if a == nil {
		return nil
	}
	if g, err := a.Grant('u', "*"); err != nil || g.Confined || g.Restriction != nil {
		return fhir.Errorf(403, "forbidden", "", "the token's scopes do not allow %s: it needs system/*.u", what)
	}
	return nil
}

// mayChange refuses (403) an update, patch or delete of cur, the current
// version, when it is outside the grant: outside the scope's restriction,
// or, under a patient/ grant, not the launch patient's alone (in another
// patient's compartment too, by its index computed again: fits' strict
// check, as for the new content). Nothing is written. Unlike a read it
// says so rather than answering 404: the write would otherwise create or
// report success, which would say more.
func (s *Service) mayChange(ctx context.Context, r store.Reader, method string, l *limit, cur *store.Resource) error {
	if l == nil || cur == nil || cur.Deleted {
		return nil
	}
	ok, err := s.member(ctx, r, cur.Type, cur.ID, l)
	if err != nil {
		return err
	}
	if ok && l.confined {
		idx, err := s.indexOf(cur)
		if err != nil {
			return err
		}
		ok = refersTo(idx, l.by, l.patients, true)
	}
	if ok {
		return nil
	}
	return forbidden("confine %s of %s to %s: %s/%s is outside it, nothing is written", writeVerbs[method], cur.Type, l, cur.Type, cur.ID)
}

// mayWrite refuses (403) a new version whose own content, by the index
// computed for it, is outside the grant: not in the launch patient's
// compartment alone (it must refer to the patient through a parameter of
// the Patient CompartmentDefinition, e.g. Observation.subject, and to no
// other Patient through any; Task and Device by their patient
// parameter), or not matching the restriction (token, reference and _id
// parameters; any other kind of restriction refuses every write).
func (s *Service) mayWrite(w write, idx *query.Index) error {
	if w.lim == nil {
		return nil
	}
	ok, err := s.fits(w.lim, w.typ, w.id, idx, true)
	if err != nil || ok {
		return err
	}
	return forbidden("confine %s of %s to %s: the resource written is outside it, nothing is written", writeVerbs[w.method], w.typ, w.lim)
}

// matchGrant asks the caller's access for the match of a conditional
// write on typ: a search, which needs 's' (see match).
func (s *Service) matchGrant(ctx context.Context, typ string) (*limit, error) {
	return s.grant(ctx, 's', typ)
}

// withhold decides, after the commit, what a write's answer may show of
// r, a version holding more than what the caller sent (Result.shows: a
// conditional create's match, a patch's result): r and outcome as they
// are when the caller's scopes let it read r ('r' on its type, r within
// that grant); else r without its content, and an outcome saying why
// (validation's issues of r are dropped: they speak of its content).
func (s *Service) withhold(ctx context.Context, r *store.Resource, outcome []fhir.Issue) (*store.Resource, []fhir.Issue, bool) {
	if r == nil || s.mayRead(ctx, r) {
		return r, outcome, false
	}
	head := &store.Resource{Type: r.Type, ID: r.ID, Version: r.Version, LastUpdated: r.LastUpdated, Deleted: r.Deleted, Method: r.Method}
	why := fhir.Issue{Severity: "information", Code: "informational",
		Diagnostics: fmt.Sprintf("%s/%s (version %d): the token's scopes do not allow reading it, so its content is not returned", r.Type, r.ID, r.Version)}
	return head, []fhir.Issue{why}, true
}

// mayRead reports whether the caller may read r, a version just written
// or matched: 'r' on its type and, under a narrowing grant, r within it —
// by a membership search when r is still the current version, else by its
// own content (fitsStored). Any failure to tell counts as no.
func (s *Service) mayRead(ctx context.Context, r *store.Resource) bool {
	if AccessFrom(ctx) == nil {
		return true
	}
	l, err := s.grant(ctx, 'r', r.Type)
	switch {
	case err != nil:
		return false
	case l == nil:
		return true
	}
	cur, err := s.current(ctx, s.Store, r.Type, r.ID, l)
	switch {
	case err != nil || cur == nil:
		return false
	case cur.Version == r.Version:
		return true
	}
	ok, err := s.fitsStored(l, r)
	return err == nil && ok
}
