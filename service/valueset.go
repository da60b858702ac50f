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

// maxValuesOf is the parser's bound on the OR'ed values of cl.
func maxValuesOf(cl *query.Clause) int {
	if cl.Chain != nil || cl.Has != nil {
		return search.MaxChainedValues
	}
	return search.MaxValuesPerParam
}

// expandValueSets returns q with every :in / :not-in clause (in chains and
// _has too) replaced by the token clause over the value set's codes, so
// the engines only ever see plain tokens, and records each expansion in
// log (when not nil). q itself is left as the client wrote it, for the
// self link.
func (s *Service) expandValueSets(q *query.Query, log *[]Expansion) (*query.Query, error) {
	var out *query.Query
	for i := range q.Where {
		cl, changed, err := s.expandClause(&q.Where[i], log)
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
	return out, nil
}

func (s *Service) expandClause(cl *query.Clause, log *[]Expansion) (*query.Clause, bool, error) {
	switch {
	case cl.Chain != nil:
		inner, changed, err := s.expandClause(cl.Chain, log)
		if err != nil || !changed {
			return cl, false, err
		}
		cp := *cl
		cp.Chain = inner
		return &cp, true, nil
	case cl.Has != nil:
		inner, changed, err := s.expandClause(&cl.Has.Where, log)
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
	if max := maxValuesOf(cl); len(cp.Values) > max {
		return nil, false, fhir.Errorf(400, "too-costly", cl.Param+":"+cl.Modifier,
			"%s:%s expands to %d codes, over the limit of %d values per parameter (MaxValuesPerParam): search with a smaller value set or list the codes", cl.Param, cl.Modifier, len(cp.Values), max)
	}
	cp.Modifier = ""
	if cl.Modifier == "not-in" {
		cp.Modifier = "not"
	}
	return &cp, true, nil
}
