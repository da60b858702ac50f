package psc

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Identity is the professional a Pro Santé Connect login proved.
type Identity struct {
	// Subject is the provider's sub (the ID token's and the userinfo's).
	Subject string
	// NationalID is the idNatPs (SubjectNameID): 8 + RPPS, 0 + ADELI, …
	NationalID string
	// Family and Given are family_name and given_name.
	Family, Given string
	// ACR is the authentication level the ID token states.
	ACR string
	// Exercices are the professions exercised (SubjectRefPro.exercices),
	// as the provider sent them: Link leaves out those it cannot use.
	Exercices []Exercice
}

// Exercice is one profession of the professional, at the sites where it
// is exercised.
type Exercice struct {
	// CodeProfession is in TRE_G15-ProfessionSante (10 doctor, 21
	// pharmacist, 60 nurse…).
	CodeProfession string     `json:"codeProfession"`
	Activities     []Activity `json:"activities"`
}

// Activity is a place of exercise; NumeroFinessSite is "" for a site
// without a FINESS (a private practice known by its SIRET).
type Activity struct {
	NumeroFinessSite  string `json:"numeroFinessSite"`
	RaisonSocialeSite string `json:"raisonSocialeSite"`
}

// What the identifiers may look like: they end up in FHIR identifiers,
// search criteria and a username, so a value with anything else in it is
// refused (the national id: the login) or left out (an exercice, by Link)
// rather than escaped. idNatPs is up to 64 letters and digits (a type-3
// id carries a '/' between FINESS and local id); a profession code a few
// digits.
var (
	nationalIDForm = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/]{0,63}$`)
	professionForm = regexp.MustCompile(`^[0-9A-Za-z]{1,8}$`)
)

// userinfo is the claims of PSC's userinfo that the server uses.
type userinfo struct {
	Sub           string          `json:"sub"`
	SubjectNameID string          `json:"SubjectNameID"`
	GivenName     string          `json:"given_name"`
	FamilyName    string          `json:"family_name"`
	SubjectRefPro json.RawMessage `json:"SubjectRefPro"`
}

type refPro struct {
	Exercices []Exercice `json:"exercices"`
}

// identity combines a verified ID token and its userinfo.
func identity(id *idToken, ui *userinfo) (*Identity, error) {
	const step = "userinfo"
	if ui.Sub == "" || ui.Sub != id.subject {
		return nil, refused(step, ErrSubject, "")
	}
	out := &Identity{
		Subject:    id.subject,
		NationalID: firstOf(ui.SubjectNameID, id.nationalID),
		Family:     firstOf(ui.FamilyName, id.family),
		Given:      firstOf(ui.GivenName, id.given),
		ACR:        id.acr,
	}
	if !nationalIDForm.MatchString(out.NationalID) {
		return nil, refused(step, ErrClaims, fmt.Sprintf("SubjectNameID %q is not a national professional id", printable(out.NationalID)))
	}
	if len(ui.SubjectRefPro) > 0 && string(ui.SubjectRefPro) != "null" {
		var rp refPro
		raw := ui.SubjectRefPro
		var s string
		if json.Unmarshal(raw, &s) == nil { // some deployments send it as a JSON string
			raw = []byte(s)
		}
		if err := json.Unmarshal(raw, &rp); err != nil {
			return nil, refused(step, ErrClaims, "SubjectRefPro is not an object with exercices")
		}
		out.Exercices = rp.Exercices
	}
	return out, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
