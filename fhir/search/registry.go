package search

import (
	"fmt"
	"github.com/dccfhir/dccfhir/fhir/search/query"
	"sort"
	"sync"
	"sync/atomic"
)

// Param is one search parameter as it applies to one resource type: the
// R4 definition narrowed to Base, so parsing and extraction never have to
// look at other types' branches of a shared expression.
type Param struct {
	// Base is the resource type this entry applies to.
	Base string
	// Code is the name used in the query string ("patient", "_id").
	Code string
	Type query.ParamType
	// URL is the canonical URL of the SearchParameter.
	URL string
	// Expression is the FHIRPath expression, restricted to Base.
	Expression string
	// Targets are the resource types a reference parameter may point to.
	Targets []string
	// Modifiers are the modifiers the parameter accepts ("type" standing
	// for the ":[Type]" form of reference parameters).
	Modifiers []string
	// Comparators are the prefixes a date/number/quantity parameter accepts.
	Comparators []query.Prefix
	// Components are the parts of a composite parameter, in order.
	Components []Component
	// Unsupported, when set, says why the server does not search on this
	// parameter (e.g. _text, _content, near); the parser reports it as unknown.
	Unsupported string

	// eval is the compiled expression (nil when unsupported or not compiled).
	eval evaluator
	// comps are the compiled component expressions, parallel to Components.
	comps []evaluator
}

// Component is one part of a composite parameter: the parameter it is
// defined by (resolved to its code and type) and the expression that
// selects its value relative to the composite's element.
type Component struct {
	Definition string
	Code       string
	Type       query.ParamType
	Expression string
}

// HasModifier reports whether m is allowed on p ("Patient"-like type
// modifiers count as "type").
func (p *Param) HasModifier(m string) bool {
	for _, x := range p.Modifiers {
		if x == m {
			return true
		}
	}
	return false
}

// HasTarget reports whether a reference parameter may point to type t.
func (p *Param) HasTarget(t string) bool {
	for _, x := range p.Targets {
		if x == t {
			return true
		}
	}
	return false
}

// Registry maps resource types to their search parameters. Reads are
// lock-free on an immutable snapshot; Add copies the snapshot, so a
// SearchParameter registered at run time never races with searches.
type Registry struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[snapshot]
	gen  atomic.Uint64
}

type snapshot struct {
	types map[string]*typeParams
	byURL map[string][]*Param
}

type typeParams struct {
	list   []*Param // sorted by code
	byCode map[string]*Param
}

// NewRegistry returns a registry of the R4 parameters (and nothing else),
// with every supported expression compiled. It fails only if an expression
// of the generated table does not compile.
func NewRegistry() (*Registry, error) {
	r := &Registry{}
	s := &snapshot{types: map[string]*typeParams{}, byURL: map[string][]*Param{}}
	for _, gp := range r4Params {
		p := *gp // the generated table stays pristine
		if err := p.compile(); err != nil {
			return nil, err
		}
		s.add(&p)
	}
	for _, tp := range s.types {
		tp.sort()
	}
	r.snap.Store(s)
	return r, nil
}

var defaultRegistry = sync.OnceValues(NewRegistry)

// Default returns the shared registry of R4 parameters, built on first use.
func Default() *Registry {
	r, err := defaultRegistry()
	if err != nil {
		panic("search: generated parameter table does not compile: " + err.Error())
	}
	return r
}

func (s *snapshot) add(p *Param) {
	tp := s.types[p.Base]
	if tp == nil {
		tp = &typeParams{byCode: map[string]*Param{}}
		s.types[p.Base] = tp
	}
	if old := tp.byCode[p.Code]; old != nil {
		for i, q := range tp.list {
			if q == old {
				tp.list = append(tp.list[:i:i], tp.list[i+1:]...)
				break
			}
		}
	}
	tp.byCode[p.Code] = p
	tp.list = append(tp.list, p)
	s.byURL[p.URL] = append(s.byURL[p.URL], p)
}

func (tp *typeParams) sort() {
	sort.Slice(tp.list, func(i, j int) bool { return tp.list[i].Code < tp.list[j].Code })
}

// Lookup returns the parameter code of resource type typ, or nil.
func (r *Registry) Lookup(typ, code string) *Param {
	tp := r.snap.Load().types[typ]
	if tp == nil {
		return nil
	}
	return tp.byCode[code]
}

// Params returns the parameters of typ sorted by code. The slice is shared:
// callers must not modify it.
func (r *Registry) Params(typ string) []*Param {
	tp := r.snap.Load().types[typ]
	if tp == nil {
		return nil
	}
	return tp.list
}

// Types returns the resource types that have parameters, sorted.
func (r *Registry) Types() []string {
	s := r.snap.Load()
	out := make([]string, 0, len(s.types))
	for t := range s.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ByURL returns the per-type entries of the SearchParameter with canonical url.
func (r *Registry) ByURL(url string) []*Param {
	return r.snap.Load().byURL[url]
}

// Add registers params (e.g. from a custom SearchParameter resource, see
// ParamsFromResource), replacing any of the same type and code. Expressions
// are compiled first; on error nothing is added.
func (r *Registry) Add(params ...*Param) error {
	for _, p := range params {
		if p.Base == "" || p.Code == "" {
			return fmt.Errorf("search parameter without base or code")
		}
		if err := p.compile(); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	s := &snapshot{types: make(map[string]*typeParams, len(old.types)), byURL: make(map[string][]*Param, len(old.byURL)+len(params))}
	for t, tp := range old.types {
		s.types[t] = tp
	}
	for u, ps := range old.byURL {
		s.byURL[u] = ps[:len(ps):len(ps)] // appends must not write into old's arrays
	}
	copied := map[string]bool{}
	for _, p := range params {
		if !copied[p.Base] {
			copied[p.Base] = true
			if tp := s.types[p.Base]; tp != nil {
				n := &typeParams{list: append([]*Param(nil), tp.list...), byCode: make(map[string]*Param, len(tp.byCode)+1)}
				for c, q := range tp.byCode {
					n.byCode[c] = q
				}
				s.types[p.Base] = n
			}
		}
		s.add(p)
	}
	for t := range copied {
		s.types[t].sort()
	}
	r.snap.Store(s)
	r.gen.Add(1)
	return nil
}
