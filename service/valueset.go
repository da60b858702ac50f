package service

import (
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// CodeLister expands a value set (by canonical URL) into system|code pairs,
// for the token modifiers :in and :not-in.
type CodeLister func(url string) ([][2]string, error)

// noCode matches nothing: an empty expansion must not become "any code".
var noCode = query.Value{Prefix: query.EQ, System: "urn:dccfhir:no-code", HasSystem: true, Code: "\x00"}

// Expansion is one value set a search expanded, for __explain.
type Expansion struct {
	Param, URL string // the clause's parameter (with :in or :not-in) and the value set
	Codes      int
}

// countValues is how many values q's clauses hold, chains, _has and
// composite components included: what search.MaxValues bounds.
func countValues(where []query.Clause) int {
	n := 0
	for i := range where {
		cl := &where[i]
		n += len(cl.Values)
		if cl.Chain != nil {
			n += countValues([]query.Clause{*cl.Chain})
		}
		if cl.Has != nil {
			n += countValues([]query.Clause{cl.Has.Where})
		}
		for _, comp := range cl.Components {
			n += countValues(comp)
		}
	}
	return n
}

// expandValueSets returns q with every :in / :not-in clause (in chains and
// _has too) replaced by the token clause over the value set's codes, so
// the engines only ever see plain tokens, and records each expansion in
// log (when not nil). q itself is left as the client wrote it, for the
// self link.
func (s *Service) expandValueSets(q *query.Query, log *[]Expansion) (*query.Query, error) {
	var out *query.Query
	for i := range q.Where {
		cl, changed, err := s.expandClause(&q.Where[i], false, log)
		if err != nil {
			return nil, err
		}
		if changed {
			if out == nil {
				cp := *q
				cp.Where = append([]query.Clause(nil), q.Where...)
				out = &cp
			}
			out.Where[i] = *cl
		}
	}
	if out == nil {
		return q, nil
	}
	// the expansions count against the bound on the values of a whole
	// search, as the values the client wrote do (SQLite's bound variables)
	if n := countValues(out.Where); n > search.MaxValues {
		return nil, fhir.Errorf(400, "too-costly", "", "with its value sets expanded the search has %d values, over the limit of %d (MaxValues): search with smaller value sets", n, search.MaxValues)
	}
	return out, nil
}

// expandClause expands cl; chained is set under a chain or _has, where
// fewer values are allowed.
func (s *Service) expandClause(cl *query.Clause, chained bool, log *[]Expansion) (*query.Clause, bool, error) {
	switch {
	case cl.Chain != nil:
		inner, changed, err := s.expandClause(cl.Chain, true, log)
		if err != nil || !changed {
			return cl, false, err
		}
		cp := *cl
		cp.Chain = inner
		return &cp, true, nil
	case cl.Has != nil:
		inner, changed, err := s.expandClause(&cl.Has.Where, true, log)
		if err != nil || !changed {
			return cl, false, err
		}
		cp, h := *cl, *cl.Has
		h.Where = *inner
		cp.Has = &h
		return &cp, true, nil
	case cl.Type != query.TypeToken || (cl.Modifier != "in" && cl.Modifier != "not-in"):
		return cl, false, nil
	}
	if s.ValueSetCodes == nil {
		return nil, false, fhir.Errorf(400, "not-supported", "", "%s:%s needs a terminology service, which this server has not configured", cl.Param, cl.Modifier)
	}
	cp := *cl
	cp.Values = nil
	for _, v := range cl.Values {
		codes, err := s.ValueSetCodes(v.Str)
		if err != nil {
			if fe, ok := isClientErr(err); ok {
				// the search is what the client sent: a value set we cannot expand is a bad request
				return nil, false, &fhir.Error{Status: 400, Issues: fe.Issues}
			}
			return nil, false, err
		}
		for _, c := range codes {
			cp.Values = append(cp.Values, query.Value{Prefix: query.EQ, System: c[0], HasSystem: c[0] != "", Code: c[1], Raw: c[0] + "|" + c[1]})
		}
		if log != nil {
			*log = append(*log, Expansion{Param: cl.Param + ":" + cl.Modifier, URL: v.Str, Codes: len(codes)})
		}
	}
	if len(cp.Values) == 0 {
		cp.Values = []query.Value{noCode}
	}
	// the expansion becomes an OR list like any other: the parser's bound on
	// values per parameter holds for it too, or the engines would get a list
	// they cannot answer (SQLite's expression depth)
	if max, limit := search.ValueBound(chained); len(cp.Values) > max {
		return nil, false, fhir.Errorf(400, "too-costly", cl.Param+":"+cl.Modifier,
			"%s:%s expands to %d codes, over the limit of %d values per parameter (%s): search with a smaller value set or list the codes", cl.Param, cl.Modifier, len(cp.Values), max, limit)
	}
	cp.Modifier = ""
	if cl.Modifier == "not-in" {
		cp.Modifier = "not"
	}
	return &cp, true, nil
}
