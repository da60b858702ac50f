package store

import (
	"context"
	"slices"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// IncludeDepth bounds _include:iterate and _revinclude:iterate: an included
// resource is at most IncludeDepth references away from a match. Level 1
// is what every directive brings from the page's matches; each further
// level is what the :iterate directives bring from the level before. FHIR
// leaves the bound to the server; 4 reaches from an Observation its
// Patient, the Patient's Organization and two levels of parent
// organizations, while :iterate directives that fan out (everything that
// refers to a patient, then everything that refers to those...) cannot
// walk the whole database. Cycles end anyway: a resource comes once.
const IncludeDepth = 4

// MaxIncluded bounds how many resources the includes of one page may bring
// in: past it the search is refused (ErrTooCostly) rather than loading an
// unbounded part of the database into one response. A page of 50
// Patients revincluding their Encounters stays well under it (Synthea-120's
// 64 female patients bring 2,926).
const MaxIncluded = 10000

// IncludeSpec is what Includes follows, and how far.
type IncludeSpec struct {
	Include, RevInclude []query.Include
	// Depth is the number of levels (IncludeDepth for a search).
	Depth int
	// Max is how many resources they may bring (0: MaxIncluded).
	Max int
	// Keep, when set, filters what each level brought before it is kept
	// and followed further (the caller's access: :iterate must not walk on
	// from a resource the caller may not see). It gets the level's new
	// resources at once, so it can check them with one query per type.
	Keep func(ctx context.Context, level []*Resource) ([]*Resource, error)
}

// Includes follows the _include and _revinclude directives of spec from
// matches on r, to at most spec.Depth levels and spec.Max resources. It
// asks r once per directive and level, for the whole level (never once
// per resource), and returns what they brought in: each resource once,
// none of matches, level by level and within a call by type and id.
//
// It is the one implementation of the include loop: engines supply only
// Targets and Referrers, so every engine follows directives alike.
func Includes(ctx context.Context, r Reader, matches []*Resource, spec IncludeSpec) ([]*Resource, error) {
	inc, rev, depth, max := spec.Include, spec.RevInclude, spec.Depth, spec.Max
	if max <= 0 {
		max = MaxIncluded
	}
	seen := make(map[Ref]bool, len(matches))
	for _, m := range matches {
		seen[Ref{m.Type, m.ID}] = true
	}
	var out []*Resource
	frontier := matches
	for level := 1; level <= depth && len(frontier) > 0; level++ {
		var next []*Resource
		// take adds what one directive brought that is new, checking the
		// bound after each directive so one level cannot pile up far more
		take := func(rs []*Resource, err error) error {
			if err != nil {
				return err
			}
			slices.SortFunc(rs, func(a, b *Resource) int {
				if c := strings.Compare(a.Type, b.Type); c != 0 {
					return c
				}
				return strings.Compare(a.ID, b.ID)
			})
			for _, x := range rs {
				if k := (Ref{x.Type, x.ID}); !seen[k] {
					seen[k] = true
					next = append(next, x)
				}
			}
			if len(out)+len(next) > max {
				return tooMany(max)
			}
			return nil
		}
		for _, d := range inc {
			if level > 1 && !d.Iterate {
				continue
			}
			if from := refsOf(frontier, d.Type); len(from) > 0 {
				if err := take(r.Targets(ctx, from, d.Param, d.TargetType)); err != nil {
					return nil, err
				}
			}
		}
		for _, d := range rev {
			if level > 1 && !d.Iterate {
				continue
			}
			if to := refsOf(frontier, d.TargetType); len(to) > 0 {
				if err := take(r.Referrers(ctx, d.Type, d.Param, to)); err != nil {
					return nil, err
				}
			}
		}
		if spec.Keep != nil && len(next) > 0 {
			var err error
			if next, err = spec.Keep(ctx, next); err != nil {
				return nil, err
			}
		}
		out = append(out, next...)
		frontier = next
	}
	return out, nil
}

// tooMany refuses includes past their bound.
func tooMany(max int) error {
	return Errorf(ErrTooCostly, "_include/_revinclude bring more than %d resources for this page: ask for fewer matches per page (_count) or fewer directives", max)
}

// refsOf names the resources of rs of type typ ("" or "*": all).
func refsOf(rs []*Resource, typ string) []Ref {
	var out []Ref
	for _, r := range rs {
		if AnyType(typ) || r.Type == typ {
			out = append(out, Ref{r.Type, r.ID})
		}
	}
	return out
}

// AnyParam reports whether an include's param means every reference parameter.
func AnyParam(param string) bool { return param == "" || param == "*" }

// AnyType reports whether an include's type means every resource type.
func AnyType(typ string) bool { return typ == "" || typ == "*" }
