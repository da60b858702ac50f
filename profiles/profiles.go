// Package profiles puts validation together for the server and the command
// line: base R4 validation (profiles/validator), the DCC implementation
// guide and FR Core built into the binary (profiles/dcc, profiles/frcore),
// the FHIR packages the deployment loads (profiles/packages) and profile
// validation against them (profiles/conformance). One Validator serves every
// write path, $validate and `dccfhir validate`, so they all give the same
// answers.
//
// A claimed meta.profile the server does not know is a warning by default,
// as in the HL7 (HAPI) validator: data from elsewhere (Synthea claims US
// Core) loads, checked against base R4 and every profile the server does
// know. Options.UnknownProfileError makes it an error. A claimed profile in
// the DCC guide's namespace is always known or an error, and the required
// profiles are always enforced.
package profiles

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/conformance"
	"github.com/dccfhir/dccfhir/profiles/dcc"
	"github.com/dccfhir/dccfhir/profiles/frcore"
	"github.com/dccfhir/dccfhir/profiles/packages"
	"github.com/dccfhir/dccfhir/profiles/terminology"
	"github.com/dccfhir/dccfhir/profiles/validator"
)

// DCC is the canonical base of the built-in DCC implementation guide.
const DCC = "https://dcc.example.fr/fhir"

// Options configure a Validator.
type Options struct {
	// Packages are the extra FHIR packages to load: .tgz files, folders or
	// NAME@VERSION from the package cache.
	Packages []string
	// Required maps a resource type to profiles every resource of that type
	// must conform to, whatever it claims (e.g. Patient → the DCC patient).
	Required map[string][]string
	// UnknownProfileError makes a claimed meta.profile that is not loaded an
	// error (422) instead of the default warning, for deployments that must
	// vouch for every conformance their data claims.
	UnknownProfileError bool
}

// Validator is the complete validation of a resource.
type Validator struct {
	Base     *validator.Validator
	Set      *conformance.Set
	Packages []*packages.Package
	opts     Options
}

var baseOnce = sync.OnceValue(validator.New)

// New loads the built-in guides (DCC, FR Core) and the configured packages.
// A configured package named like a built-in one replaces it (another FR
// Core release); the same package given twice is loaded once. Missing
// package dependencies are returned as warnings, not errors: the bindings
// and extensions they would define are then reported as uncheckable (the
// built-in guides' own are not repeated: the README lists them).
func New(opts Options) (*Validator, []string, error) {
	// FR Core (6 MB of JSON) decodes on another core while the R4 base
	// definitions load: a third of the start-up time otherwise.
	type loaded struct {
		p   *packages.Package
		err error
	}
	frc := make(chan loaded, 1)
	go func() { p, err := frcore.Load(); frc <- loaded{p, err} }()
	ig, err := packages.LoadFS(dcc.FS())
	if err != nil {
		return nil, nil, fmt.Errorf("built-in DCC guide: %w", err)
	}
	var extra []*packages.Package
	for _, spec := range opts.Packages {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		p, err := packages.Load(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("package %s: %w", spec, err)
		}
		extra = append(extra, p)
	}
	set, err := conformance.NewSet()
	if err != nil {
		return nil, nil, err
	}
	fr := <-frc
	if fr.err != nil {
		return nil, nil, fmt.Errorf("built-in FR Core package: %w", fr.err)
	}
	pkgs := mergePackages([]*packages.Package{ig, fr.p}, extra)
	for _, p := range pkgs {
		if err := set.AddPackage(p); err != nil {
			return nil, nil, err
		}
	}
	// What the built-in guides miss (FR Core's terminology and extension
	// packages) is documented, and said at every start and every `dccfhir
	// validate` it would only be noise; what configured packages miss is
	// news to the operator.
	var builtin packages.Collection
	builtin.Add(ig, fr.p)
	known := map[string]bool{}
	for _, m := range builtin.Missing() {
		known[m] = true
	}
	var warnings []string
	for _, m := range set.MissingDependencies() {
		if !known[m] {
			warnings = append(warnings, "package dependency not loaded: "+m+" (its bindings and extensions are reported as not checkable)")
		}
	}
	for typ, urls := range opts.Required {
		for _, u := range urls {
			if !set.Has(u) {
				return nil, nil, fmt.Errorf("required profile %s for %s is not loaded", u, typ)
			}
		}
	}
	return &Validator{Base: baseOnce(), Set: set, Packages: pkgs, opts: opts}, warnings, nil
}

// mergePackages is the built-in packages, less those a configured package
// of the same name replaces, then the configured ones without repeats: two
// releases of one guide would define the same canonical URLs and publish
// over each other's resources at every start.
func mergePackages(builtin, configured []*packages.Package) []*packages.Package {
	seen := map[string]bool{}
	for _, p := range configured {
		seen[p.Name] = true
	}
	var out []*packages.Package
	for _, p := range builtin {
		if !seen[p.Name] {
			out = append(out, p)
		}
	}
	loaded := map[string]bool{}
	for _, p := range configured {
		if !loaded[p.ID()] {
			loaded[p.ID()] = true
			out = append(out, p)
		}
	}
	return out
}

// Validate returns every issue of res: base R4, its claimed profiles, the
// profiles required for its type and the extra ones asked for (e.g. the
// profile parameter of $validate). A claimed profile that is not loaded is
// an issue at its meta.profile element (see unknownProfile); an extra or
// required one that is not loaded is always an error.
func (v *Validator) Validate(typ string, res map[string]any, extra ...string) []fhir.Issue {
	issues := v.Base.Validate(typ, res)
	done := map[string]bool{}
	meta, _ := res["meta"].(map[string]any)
	claimed, _ := meta["profile"].([]any)
	for i, p := range claimed {
		u, _ := p.(string)
		if u == "" || done[u] {
			continue
		}
		done[u] = true
		if v.Set.Has(u) {
			issues = append(issues, v.Set.Validate(res, u)...)
		} else {
			issues = append(issues, v.unknownProfile(typ, i, u))
		}
	}
	for _, u := range append(append([]string(nil), v.opts.Required[typ]...), extra...) {
		if !done[u] {
			done[u] = true
			issues = append(issues, v.Set.Validate(res, u)...)
		}
	}
	return issues
}

// unknownProfile is the issue for meta.profile[i] = u, a profile not
// loaded: an error in the DCC namespace (the guide is built in, so such a
// profile does not exist: a typo or a newer guide) or with
// UnknownProfileError, else a warning.
func (v *Validator) unknownProfile(typ string, i int, u string) fhir.Issue {
	is := fhir.Issue{Severity: "error", Code: "not-supported", Expression: []string{typ + ".meta.profile[" + strconv.Itoa(i) + "]"}}
	switch {
	case strings.HasPrefix(u, DCC+"/"):
		is.Diagnostics = fmt.Sprintf("claimed profile %s is in the namespace of the DCC guide (%s %s) but the guide has no such profile", u, dcc.Name, dcc.Version)
	case v.opts.UnknownProfileError:
		is.Diagnostics = fmt.Sprintf("claimed profile %s is not known to this server", u)
	default:
		is.Severity = "warning"
		is.Diagnostics = fmt.Sprintf("claimed profile %s is not known to this server: the resource was validated against base R4 and the profiles the server knows, not against this one", u)
	}
	return is
}

// HasErrors reports whether issues hold an error or a fatal issue.
func HasErrors(issues []fhir.Issue) bool { return conformance.HasErrors(issues) }

// Check is the service's write hook: the issues of a resource it accepts
// (warnings never block a write; the response reports them), or a 422
// listing every issue when at least one is an error.
func (v *Validator) Check(_ context.Context, typ string, res map[string]any) ([]fhir.Issue, *fhir.Error) {
	issues := v.Validate(typ, res)
	if !HasErrors(issues) {
		return issues, nil
	}
	sort.SliceStable(issues, func(i, j int) bool { return rank(issues[i].Severity) < rank(issues[j].Severity) })
	return nil, &fhir.Error{Status: 422, Issues: issues}
}

func rank(sev string) int {
	switch sev {
	case "fatal":
		return 0
	case "error":
		return 1
	case "warning":
		return 2
	}
	return 3
}

// ParseRequired reads "Type=url,Type=url" into Options.Required.
func ParseRequired(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, u, ok := strings.Cut(part, "=")
		if !ok || !fhir.KnownType(t) || u == "" {
			return nil, fmt.Errorf("required profile %q: want ResourceType=profile-url", part)
		}
		out[t] = append(out[t], u)
	}
	return out, nil
}

// Conformance lists the conformance resources of the loaded packages (the
// DCC guide first), for the server to publish through its REST API.
func (v *Validator) Conformance() []*packages.Resource {
	var out []*packages.Resource
	for _, p := range v.Packages {
		out = append(out, p.Resources...)
	}
	return out
}

// ValueSetCodes expands a loaded value set into system|code pairs, for the
// search modifiers :in and :not-in.
func (v *Validator) ValueSetCodes(url string) ([][2]string, error) {
	cs, err := terminology.Codes(v.Set, url)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, len(cs))
	for i, c := range cs {
		out[i] = [2]string{c.System, c.Code}
	}
	return out, nil
}
