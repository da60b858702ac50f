package service

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"github.com/dccfhir/dccfhir/store"
)

// explain renders p, then the engine's account of p.Match when the engine
// gives one (store.Explainer), as the issues of the __explain
// OperationOutcome: one informational issue per line, "what: detail".
func (s *Service) explain(ctx context.Context, p *Plan) ([]fhir.Issue, error) {
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }

	types := "every type"
	if len(p.Match.Types) > 0 {
		types = strings.Join(p.Match.Types, ", ")
	}
	if d := p.Driving(); d != nil {
		add("driving clause: %s (%s): the search starts from its matches among %s and checks the other clauses on them", describe(d), kindOf(d), types)
	} else {
		add("driving clause: none: every resource of %s is checked against the clauses", types)
	}
	if len(p.Match.Where) > 0 {
		var order []string
		for i := range p.Match.Where {
			cl := &p.Match.Where[i]
			role := "check"
			if i == 0 && p.Driving() != nil {
				role = "drives"
			}
			order = append(order, fmt.Sprintf("%d. %s (%s, %s)", i+1, describe(cl), kindOf(cl), role))
		}
		add("clause order: %s", strings.Join(order, "; "))
	}
	if c := p.Compartment; c != nil && len(c.Values) > 0 {
		add("compartment: %s/%s, as the clause %s", c.Values[0].RefType, c.Values[0].RefID, describe(c))
	}
	for _, a := range p.Access {
		add("access: %s", a)
	}
	for _, e := range p.ValueSets {
		add("value set: %s=%s expanded to %d codes", e.Param, e.URL, e.Codes)
	}
	if len(p.Include)+len(p.RevInclude) == 0 {
		add("includes: none")
	} else {
		var ds []string
		for _, d := range p.Include {
			ds = append(ds, directive("_include", d, p.Depth))
		}
		for _, d := range p.RevInclude {
			ds = append(ds, directive("_revinclude", d, p.Depth))
		}
		add("includes: %s; each level is one batched store call per directive", strings.Join(ds, "; "))
	}
	if ex, ok := s.Store.(store.Explainer); ok {
		e, err := ex.Explain(ctx, p.Match)
		if err != nil {
			return nil, err
		}
		for _, n := range e.Notes {
			sep := " "
			if strings.HasPrefix(n.Text, "\n") { // a block of lines starts under its label
				sep = ""
			}
			add("%s %s:%s%s", e.Engine, n.Label, sep, n.Text)
		}
	}
	issues := make([]fhir.Issue, len(lines))
	for i, l := range lines {
		issues[i] = fhir.Issue{Severity: "information", Code: "informational", Diagnostics: l}
	}
	return issues, nil
}

// directive renders one include directive with how far it is followed.
func directive(name string, d query.Include, depth int) string {
	k := name
	reach := "level 1 only"
	if d.Iterate {
		k += ":iterate"
		reach = fmt.Sprintf("up to %d levels", depth)
	}
	v := d.Type + ":" + d.Param
	if d.Type == "" {
		v = d.Param
	}
	if d.TargetType != "" {
		v += ":" + d.TargetType
	}
	return fmt.Sprintf("%s=%s (%s)", k, v, reach)
}

// maxDescribed bounds a clause as explain shows it (an expanded value set
// can have thousands of codes).
const maxDescribed = 200

// describe is a clause as a query parameter, key=value, unescaped.
func describe(cl *query.Clause) string {
	c := *cl
	// maxDescribed characters hold fewer values than that: encode no more
	// (a care circle's confinement has thousands, on every narrowed search)
	c.Values = c.Values[:min(len(c.Values), maxDescribed)]
	enc := (&query.Query{Where: []query.Clause{c}, Summary: "count"}).Encode("Resource")
	enc, _, _ = strings.Cut(enc, "&_summary=")
	if u, err := url.QueryUnescape(enc); err == nil {
		enc = u
	}
	if len(enc) > maxDescribed {
		enc = enc[:maxDescribed] + fmt.Sprintf("… (%d values)", len(cl.Values))
	}
	return enc
}

// kindOf names what a clause is: chain, _has, or its parameter type.
func kindOf(cl *query.Clause) string {
	switch {
	case cl.Chain != nil:
		return "chain"
	case cl.Has != nil:
		return "_has"
	}
	return cl.Type.String()
}
