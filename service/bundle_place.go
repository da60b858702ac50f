package service

import (
	"context"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// placement is where a Bundle's POSTs and PUTs land (steps 2 and 3 of the
// processing), read from the storage the way it was when placed.
type placement struct {
	// pending are the POSTs whose ifNoneExist matched: nothing to write.
	pending map[int]*Result
	// cond is every conditional reference resolved, to Type/id.
	cond map[string]string
}

// creates lists the POST entries that create a resource.
func (p *placement) creates(es []*entry) []*entry {
	var out []*entry
	for _, e := range es {
		if e.method == "POST" && p.pending[e.index] == nil {
			out = append(out, e)
		}
	}
	return out
}

// place decides the id of every POST and PUT entry and rewrites the
// references of their resources (fullUrls of other entries, conditional
// references). A new resource takes the id seed gives its entry, else a
// new one.
func (s *Service) place(ctx context.Context, tx store.Tx, es []*entry, seed map[int]string) (*placement, error) {
	p := &placement{pending: map[int]*Result{}, cond: map[string]string{}}
	refs := map[string]string{} // fullUrl → Type/id
	// 2. Decide where every POST and PUT lands, so references can be resolved
	// in any direction before anything is written.
	for _, e := range es {
		switch e.method {
		case "POST":
			e.id = ""
			if e.req.IfNoneExist != "" {
				m, err := s.match(ctx, tx, e.typ, e.req.IfNoneExist, true, e.lim, e.mlim)
				if err != nil {
					return nil, entryErr(e.index, err)
				}
				if len(m) > 1 {
					return nil, entryErr(e.index, fhir.Errorf(412, "multiple-matches", "", "ifNoneExist %q matches more than one %s", e.req.IfNoneExist, e.typ))
				}
				if len(m) == 1 {
					p.pending[e.index] = &Result{Resource: m[0], Status: 200, shows: true}
					e.id = m[0].ID
				}
			}
			if e.id == "" {
				if e.id = seed[e.index]; e.id == "" {
					e.id = s.newID()
				}
			}
		case "PUT":
			if e.query != "" {
				id, err := s.resolveConditionalID(ctx, tx, e.typ, e.query, e.bodyID, e.lim, e.mlim)
				if err != nil {
					return nil, entryErr(e.index, err)
				}
				e.id = id
			}
		default:
			continue
		}
		e.finalRef = e.typ + "/" + e.id
		if e.fullURL != "" {
			refs[e.fullURL] = e.finalRef
		}
	}
	// 3. Resolve references: fullUrls of other entries, and conditional
	// references (Type?criteria), which must match exactly one resource.
	resolve := func(ref string) (string, bool, error) {
		if to, ok := refs[ref]; ok {
			return to, true, nil
		}
		if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
			return "", false, fhir.Errorf(400, "not-found", "", "reference %q is not the fullUrl of any entry", ref)
		}
		typ, query, ok := strings.Cut(ref, "?")
		if !ok || !fhir.KnownType(typ) {
			return "", false, nil
		}
		if to, ok := p.cond[ref]; ok {
			return to, true, nil
		}
		// a conditional reference is a search of typ: narrowed to the
		// caller's 's' grant, and refused as no match without one
		var m []*store.Resource
		if lim, err := s.grant(ctx, 's', typ); err == nil {
			if m, err = s.match(ctx, tx, typ, query, false, lim); err != nil {
				return "", false, err
			}
		}
		if len(m) != 1 {
			return "", false, fhir.Errorf(412, "not-found", "", "conditional reference %q matches %d resources; it must match exactly one", ref, len(m))
		}
		to := typ + "/" + m[0].ID
		p.cond[ref] = to
		return to, true, nil
	}
	for _, e := range es {
		if (e.method != "POST" && e.method != "PUT") || p.pending[e.index] != nil {
			continue
		}
		raw, err := fhir.RewriteReferences(e.raw, resolve)
		if err != nil {
			return nil, entryErr(e.index, err)
		}
		e.raw = raw
	}
	return p, nil
}
