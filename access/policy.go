// Package access decides what of a patient's record a professional sees:
// by profession (policy.go, this file), and — to come with issue 10 — by
// care relationship, consent and break-the-glass.
package access

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
)

// ProfessionSystem is the national profession code system
// (TRE_G15-ProfessionSante), that of PractitionerRole.code and of Pro
// Santé Connect's codeProfession.
const ProfessionSystem = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"

// Self in a restriction stands for the professional's own references
// (their Practitioner and PractitionerRoles).
const Self = "{self}"

//go:embed default-policy.json
var defaultPolicy []byte

// Policy is the profession table: what each profession sees of the
// patients of its care circle. It is configuration (--access-policy
// FILE), not code; Default is the built-in one, documented in
// docs/security.md.
type Policy struct {
	rules map[ruleKey]*Rule
}

type ruleKey struct {
	code string
	org  bool // a role at an Organization
}

// Rule is what one profession, at an Organization or at none, sees.
type Rule struct {
	Code, Label string
	// Compartment: the patient's whole compartment.
	Compartment bool
	// Types (when not Compartment): the types seen, each with the search
	// it is restricted to (nil: all of that type); Self in a value is the
	// professional's references.
	Types map[string]url.Values
}

// policyFile is the file's shape.
type policyFile struct {
	System      string           `json:"system"`
	Professions []professionFile `json:"professions"`
}

type professionFile struct {
	Code  string          `json:"code"`
	Label string          `json:"label"`
	At    string          `json:"at"`  // any, organization or none
	See   json.RawMessage `json:"see"` // "compartment", or a list of Type or Type?search
}

// Default is the built-in policy.
func Default() *Policy {
	p, err := Parse(defaultPolicy)
	if err != nil {
		panic("access: the built-in policy: " + err.Error())
	}
	return p
}

// Load reads a policy file.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse reads a policy; every mistake is an error naming the profession
// and the entry (a policy that says less than its author meant must not
// start a server).
func Parse(b []byte) (*Policy, error) {
	var f policyFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("access policy: %w", err)
	}
	if f.System != ProfessionSystem {
		return nil, fmt.Errorf("access policy: system must be %s", ProfessionSystem)
	}
	p := &Policy{rules: map[ruleKey]*Rule{}}
	for i, pf := range f.Professions {
		where := fmt.Sprintf("access policy: professions[%d] (code %q)", i, pf.Code)
		if pf.Code == "" {
			return nil, errors.New(where + ": code is required")
		}
		r := &Rule{Code: pf.Code, Label: pf.Label}
		var all string
		var list []string
		switch {
		case json.Unmarshal(pf.See, &all) == nil:
			if all != "compartment" {
				return nil, fmt.Errorf("%s: see is \"compartment\" or a list of types", where)
			}
			r.Compartment = true
		case json.Unmarshal(pf.See, &list) == nil:
			r.Types = map[string]url.Values{}
			for _, s := range list {
				typ, q, hasQ := strings.Cut(s, "?")
				if !fhir.KnownType(typ) {
					return nil, fmt.Errorf("%s: see %q: unknown resource type", where, s)
				}
				if _, dup := r.Types[typ]; dup {
					return nil, fmt.Errorf("%s: see names %s twice", where, typ)
				}
				var v url.Values
				if hasQ {
					var err error
					if v, err = url.ParseQuery(q); err != nil || len(v) == 0 {
						return nil, fmt.Errorf("%s: see %q: the search is not a query string", where, s)
					}
				}
				r.Types[typ] = v
			}
		default:
			return nil, fmt.Errorf("%s: see is \"compartment\" or a list of types", where)
		}
		var keys []ruleKey
		switch pf.At {
		case "any":
			keys = []ruleKey{{pf.Code, true}, {pf.Code, false}}
		case "organization":
			keys = []ruleKey{{pf.Code, true}}
		case "none":
			keys = []ruleKey{{pf.Code, false}}
		default:
			return nil, fmt.Errorf("%s: at is any, organization or none", where)
		}
		for _, k := range keys {
			if _, dup := p.rules[k]; dup {
				return nil, fmt.Errorf("%s: a rule for this code and place is already given", where)
			}
			p.rules[k] = r
		}
	}
	return p, nil
}

// Rule is what profession code sees from a role at an Organization
// (atOrganization) or at none; nil: nothing (a profession the policy does
// not name sees nothing until configured).
func (p *Policy) Rule(code string, atOrganization bool) *Rule {
	return p.rules[ruleKey{code, atOrganization}]
}

// Sees says whether r shows resources of typ, and the search they must
// also match (nil: all of them), with Self replaced by self (the
// professional's references, e.g. Practitioner/1 and PractitionerRole/2,
// OR'ed).
func (r *Rule) Sees(typ string, self []string) (bool, url.Values) {
	if r == nil {
		return false, nil
	}
	if r.Compartment {
		return true, nil
	}
	v, ok := r.Types[typ]
	if !ok {
		return false, nil
	}
	if v == nil {
		return true, nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		for _, s := range vs {
			if strings.Contains(s, Self) && len(self) == 0 {
				return false, nil // no reference of theirs: nothing matches
			}
			out[k] = append(out[k], strings.ReplaceAll(s, Self, strings.Join(self, ",")))
		}
	}
	return true, out
}
