package terminology

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/profiles/conformance"
)

// ValidateRequest is the input of $validate-code, at ValueSet or
// CodeSystem level.
type ValidateRequest struct {
	// URL is the value set (ValidateCode) or code system
	// (ValidateCodeSystemCode) canonical, "|version" allowed; Version its
	// version (valueSetVersion, or version at CodeSystem level).
	URL, Version string
	// Resource is a value set or code system given inline (POSTed, or the
	// stored one for instance-level calls); it takes precedence over URL.
	Resource map[string]any
	// Codings are what to check: the code/system/display parameters or the
	// coding as one Coding, or the codings of the codeableConcept.
	Codings []Coding
	// CodeableConcept says Codings came from a codeableConcept: the answer
	// is true when any one of them is valid.
	CodeableConcept bool
	// Abstract allows codes marked abstract (notSelectable).
	Abstract bool
}

// verdict is the check of one coding.
type verdict struct {
	ok      bool
	display string
	msgs    []string
}

// ValidateCode answers ValueSet/$validate-code with a Parameters resource:
// result, message (why not, or a note such as an inactive code) and display
// (the code's display when known). A code is valid when it is in the
// expansion, is not abstract (unless Abstract) and, when a display is
// given, that display is the code's display or one of its designations,
// compared ignoring case and runs of spaces; a wrong display makes the
// result false. A coding without system matches the one code of that value
// in the value set. 404 when the value set is unknown; 422 when the coding's
// system is a part of the value set that cannot be computed here (a code
// system that is not loaded), since neither true nor false would be known.
func ValidateCode(set *conformance.Set, req ValidateRequest) (map[string]any, error) {
	if len(req.Codings) == 0 {
		return nil, fhir.Errorf(400, "required", "", "$validate-code needs code, coding or codeableConcept")
	}
	vs := req.Resource
	if vs == nil {
		var err error
		if vs, err = valueSet(set, req.URL, req.Version); err != nil {
			return nil, err
		}
	}
	x, err := (&expander{set: set, tolerant: true}).expand(vs)
	if err != nil {
		return nil, err
	}
	url := str(vs["url"])
	return combine(req, func(c Coding) (verdict, error) {
		var m *member
		if c.System == "" {
			var found []*member
			for _, k := range x.codes.list {
				if k.Code == c.Code {
					found = append(found, k)
				}
			}
			if len(found) > 1 {
				return verdict{msgs: []string{fmt.Sprintf("The code '%s' is in value set %s in several systems: a system is required", c.Code, url)}}, nil
			}
			if len(found) == 1 {
				m = found[0]
			}
		} else {
			m = x.codes.get(c.System, c.Code)
			if m == nil {
				if cs := codeSystemOf(set, c.System, ""); cs != nil && !cs.CaseSensitive {
					if k := cs.find(c.Code); k != nil {
						m = x.codes.get(c.System, k.Code)
					}
				}
			}
		}
		if m == nil {
			if e := x.unknown[c.System]; e != nil {
				return verdict{}, e
			}
			if e := x.unknown[""]; e != nil {
				return verdict{}, e
			}
			msg := fmt.Sprintf("The code '%s' from system '%s' is not in the value set %s", c.Code, c.System, url)
			if c.System != "" {
				if cs := codeSystemOf(set, c.System, ""); cs != nil && cs.complete() && cs.find(c.Code) == nil {
					msg = fmt.Sprintf("Unknown code '%s' in code system '%s' (so not in the value set %s)", c.Code, c.System, url)
				}
			}
			return verdict{msgs: []string{msg}}, nil
		}
		return judge(c, m.System, m.Version, m.Code, m.Display, m.Designations, m.Abstract, m.Inactive, req.Abstract), nil
	})
}

// ValidateCodeSystemCode answers CodeSystem/$validate-code: whether the
// code is defined by the code system (URL, Resource, or else the codings'
// system), with the same display and abstract checks as ValidateCode. 404
// when the code system is unknown; 422 when it is loaded without its codes
// (content not-present, fragment, example) and the code is not among those
// it lists.
func ValidateCodeSystemCode(set *conformance.Set, req ValidateRequest) (map[string]any, error) {
	if len(req.Codings) == 0 {
		return nil, fhir.Errorf(400, "required", "", "$validate-code needs code, coding or codeableConcept")
	}
	var cs *codeSystem
	switch {
	case req.Resource != nil:
		cs = buildIndex(req.Resource)
	default:
		url := req.URL
		if url == "" {
			url = req.Codings[0].System
		}
		if url == "" {
			return nil, fhir.Errorf(400, "required", "", "a code system url (or a coding with a system) is required")
		}
		if cs = codeSystemOf(set, url, req.Version); cs == nil {
			return nil, unknownCodeSystem(set, url, req.Version)
		}
	}
	return combine(req, func(c Coding) (verdict, error) {
		if c.System != "" && c.System != cs.URL {
			return verdict{msgs: []string{fmt.Sprintf("The system '%s' is not the code system %s", c.System, cs.URL)}}, nil
		}
		k := cs.find(c.Code)
		if k == nil {
			if !cs.complete() {
				return verdict{}, notSupported("code system %s has content %q: whether '%s' is one of its codes is not known here", cs.URL, cs.Content, c.Code)
			}
			return verdict{msgs: []string{fmt.Sprintf("Unknown code '%s' in code system '%s'", c.Code, cs.URL)}}, nil
		}
		return judge(c, cs.URL, cs.Version, k.Code, k.Display, k.Designations, k.Abstract, k.Inactive, req.Abstract), nil
	})
}

func unknownCodeSystem(set *conformance.Set, url, version string) error {
	if version != "" {
		if codeSystemOf(set, url, "") != nil {
			return fhir.Errorf(404, "not-found", "", "code system %s is not known to this server in version %s", url, version)
		}
	}
	return fhir.Errorf(404, "not-found", "", "code system %s is not known to this server", url)
}

// judge checks a coding against the member (or concept) it was found as.
func judge(c Coding, system, version, code, display string, designations []any, abstract, inactive, abstractOK bool) verdict {
	v := verdict{ok: true, display: display}
	id := system + "#" + code
	if c.Version != "" && version != "" && c.Version != version {
		v.ok = false
		v.msgs = append(v.msgs, fmt.Sprintf("Version '%s' of code system %s is not known here (loaded: %s)", c.Version, system, version))
	}
	if abstract && !abstractOK {
		v.ok = false
		v.msgs = append(v.msgs, fmt.Sprintf("The code %s is abstract (not selectable) and is not allowed here", id))
	}
	if c.Display != "" && display != "" && !displayMatches(c.Display, display, designations) {
		v.ok = false
		v.msgs = append(v.msgs, fmt.Sprintf("The display '%s' is not a valid display for %s: expected '%s'", c.Display, id, display))
	}
	if inactive {
		v.msgs = append(v.msgs, fmt.Sprintf("The code %s is inactive", id))
	}
	return v
}

func displayMatches(given, display string, designations []any) bool {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	g := norm(given)
	if strings.EqualFold(g, norm(display)) {
		return true
	}
	for _, d := range designations {
		dm, _ := d.(map[string]any)
		if strings.EqualFold(g, norm(str(dm["value"]))) {
			return true
		}
	}
	return false
}

// combine runs check on each coding and builds the Parameters answer. For a
// codeableConcept one valid coding is enough, and the failures of the
// others are not reported then; a coding that could not be checked at all
// (422) fails the call only when no other coding is valid.
func combine(req ValidateRequest, check func(Coding) (verdict, error)) (map[string]any, error) {
	var (
		ok       bool
		display  string
		msgs     []string
		okMsgs   []string
		firstErr error
	)
	for _, c := range req.Codings {
		if c.Code == "" {
			return nil, fhir.Errorf(400, "required", "", "a coding without code cannot be validated")
		}
		v, err := check(c)
		if err != nil {
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Status != 422 {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if v.ok && !ok {
			ok, display, okMsgs = true, v.display, v.msgs
		}
		if display == "" {
			display = v.display
		}
		msgs = append(msgs, v.msgs...)
	}
	if !ok && firstErr != nil {
		return nil, firstErr
	}
	out := []any{param("result", "Boolean", ok)}
	if ok {
		msgs = okMsgs
	}
	if len(msgs) > 0 {
		out = append(out, param("message", "String", strings.Join(msgs, "; ")))
	}
	if display != "" {
		out = append(out, param("display", "String", display))
	}
	return parameters(out), nil
}
