package search

import (
	"sort"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/model"
	"github.com/dccfhir/dccfhir/fhir/search/internal/restrict"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// ParamsFromResource turns a SearchParameter resource (decoded by
// fhir.Decode) into one Param per resource type it applies to, the way the
// generator treats the R4 ones: multi-base expressions are narrowed to each
// base, Resource/DomainResource bases expand to every concrete type, and
// composite components are resolved against r by their definition URL.
// Errors are *fhir.Error (422) naming what is wrong.
func (r *Registry) ParamsFromResource(sp map[string]any) ([]*Param, error) {
	code, _ := sp["code"].(string)
	u, _ := sp["url"].(string)
	typ := query.ParseParamType(str(sp, "type"))
	expr := str(sp, "expression")
	bases := strList(sp["base"])
	switch {
	case code == "":
		return nil, errSP("SearchParameter.code is missing")
	case typ == query.TypeUnknown:
		return nil, errSP("SearchParameter.type %q is not a search parameter type", str(sp, "type"))
	case len(bases) == 0:
		return nil, errSP("SearchParameter.base is missing")
	}
	if u == "" {
		u = "urn:dccfhir:searchparameter:" + code
	}
	var comps []Component
	cs, _ := sp["component"].([]any)
	for _, c := range cs {
		m, _ := c.(map[string]any)
		def, cexpr := str(m, "definition"), str(m, "expression")
		ds := r.ByURL(def)
		if len(ds) == 0 {
			return nil, errSP("composite component %s is not a known SearchParameter", def)
		}
		comps = append(comps, Component{Definition: def, Code: ds[0].Code, Type: ds[0].Type, Expression: cexpr})
	}
	if typ == query.TypeComposite && len(comps) < 2 {
		return nil, errSP("a composite SearchParameter needs at least two components")
	}
	targets := strList(sp["target"])
	sort.Strings(targets)
	var comparators []query.Prefix
	for _, c := range strList(sp["comparator"]) {
		comparators = append(comparators, query.Prefix(c))
	}
	if len(comparators) == 0 && (typ == query.TypeDate || typ == query.TypeNumber || typ == query.TypeQuantity) {
		comparators = []query.Prefix{query.EQ, query.NE, query.GT, query.GE, query.LT, query.LE, query.SA, query.EB, query.AP}
	}
	mods := strList(sp["modifier"])
	if len(mods) == 0 {
		mods = defaultModifiers[typ]
	}
	var out []*Param
	for _, base := range bases {
		var types []string
		switch base {
		case "Resource", "DomainResource":
			for _, t := range fhir.ResourceTypes {
				if base == "Resource" || model.IsA(t, "DomainResource") {
					types = append(types, t)
				}
			}
		default:
			if !fhir.KnownType(base) {
				return nil, errSP("SearchParameter.base %q is not a resource type", base)
			}
			types = []string{base}
		}
		for _, t := range types {
			p := &Param{Base: t, Code: code, Type: typ, URL: u, Targets: targets, Modifiers: mods,
				Comparators: comparators, Components: comps}
			p.Expression = restrict.Expr(expr, base, t, len(bases) > 1)
			if expr == "" || typ == query.TypeSpecial {
				p.Unsupported = "no expression"
			} else if p.Expression == "" {
				return nil, errSP("SearchParameter.expression has no branch for %s", base)
			}
			if err := p.compile(); err != nil {
				return nil, errSP("%v", err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// AddResource registers the parameters of a SearchParameter resource.
func (r *Registry) AddResource(sp map[string]any) error {
	ps, err := r.ParamsFromResource(sp)
	if err != nil {
		return err
	}
	return r.Add(ps...)
}

var defaultModifiers = map[query.ParamType][]string{
	query.TypeString:    {"missing", "exact", "contains"},
	query.TypeToken:     {"missing", "text", "not", "above", "below", "in", "not-in", "of-type"},
	query.TypeReference: {"missing", "type", "identifier", "above", "below"},
	query.TypeDate:      {"missing"},
	query.TypeNumber:    {"missing"},
	query.TypeQuantity:  {"missing"},
	query.TypeURI:       {"missing", "above", "below"},
	query.TypeComposite: {"missing"},
}

func errSP(format string, args ...any) *fhir.Error {
	return fhir.Errorf(422, "processing", "", format, args...)
}

// RemoveURL unregisters the parameters of a (custom) SearchParameter by its
// canonical URL; where one had replaced an R4 parameter of the same type and
// code, the R4 one comes back. It reports whether anything was removed.
func (r *Registry) RemoveURL(url string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	gone := old.byURL[url]
	if len(gone) == 0 {
		return false
	}
	s := &snapshot{types: make(map[string]*typeParams, len(old.types)), byURL: make(map[string][]*Param, len(old.byURL))}
	for t, tp := range old.types {
		s.types[t] = tp
	}
	for u, ps := range old.byURL {
		if u != url {
			s.byURL[u] = ps[:len(ps):len(ps)]
		}
	}
	for _, p := range gone {
		tp := s.types[p.Base]
		if tp == nil || tp.byCode[p.Code] != p {
			continue
		}
		n := &typeParams{byCode: make(map[string]*Param, len(tp.byCode))}
		for _, q := range tp.list {
			if q != p {
				n.list = append(n.list, q)
				n.byCode[q.Code] = q
			}
		}
		s.types[p.Base] = n
		if b := r4Param(p.Base, p.Code); b != nil && b.URL != url {
			s.add(b)
			n.sort()
		}
	}
	r.snap.Store(s)
	r.gen.Add(1)
	return true
}

// Generation changes whenever parameters are added or removed, so caches
// derived from the registry (the CapabilityStatement) know to rebuild.
func (r *Registry) Generation() uint64 { return r.gen.Load() }

// r4Param is a fresh, compiled copy of the generated R4 parameter typ/code.
func r4Param(typ, code string) *Param {
	for _, gp := range r4Params {
		if gp.Base == typ && gp.Code == code {
			p := *gp
			if p.compile() != nil {
				return nil
			}
			return &p
		}
	}
	return nil
}
