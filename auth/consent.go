package auth

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/store"
)

// consentPage asks the user to approve an app not marked trusted: what
// it would be allowed, in plain words.
func (w *browserSide) consentPage(c echo.Context, sess *webSession, id string, p *pendingRequest, client *Client) error {
	v := &view{Title: "Autoriser l'application", CSRF: sess.CSRF, Pending: id, Client: clientName(client), User: sess.Username, Scopes: describeScopes(p.Scope)}
	if p.Patient != "" {
		v.Patient = "Patient/" + p.Patient
	}
	return w.render(c, http.StatusOK, "consent", v)
}

// consent is POST /auth/consent: decision=allow gives the app its code;
// anything else sends it access_denied.
func (w *browserSide) consent(c echo.Context) error {
	form, sess, ok, err := w.formSession(c)
	if !ok {
		return err
	}
	id := form.Get("pending")
	p, _, ok, err := w.pendingOf(c, sess, id)
	if !ok {
		return err
	}
	if !sess.loggedIn() || (p.PickPatient && p.Patient == "") {
		return w.problem(c, http.StatusBadRequest, "Cette demande n'en est pas à l'autorisation.")
	}
	if form.Get("decision") == "allow" {
		return w.issueCode(c, sess, id)
	}
	if _, err := w.take(c.Request().Context(), KindPending, Digest(id), nil); errors.Is(err, store.ErrNotFound) {
		return w.problem(c, http.StatusBadRequest, "Cette demande a expiré ou a déjà reçu sa réponse.")
	} else if err != nil {
		return w.internal(c, "pending request", err)
	}
	return w.redirectError(c, p, "access_denied", "the user refused")
}

// describeScopes says what a granted scope string allows, one line a scope.
func describeScopes(granted string) []string {
	set, _ := scope.Parse(granted)
	var out []string
	for _, cl := range set.Clinical {
		out = append(out, describeClinical(cl))
	}
	for _, o := range set.Other {
		if d, ok := otherScopes[o]; ok {
			out = append(out, d)
		} else {
			out = append(out, o)
		}
	}
	return out
}

var otherScopes = map[string]string{
	"openid":           "Connaître votre identité (OpenID Connect)",
	"fhirUser":         "Connaître votre fiche de professionnel (Practitioner)",
	"profile":          "Connaître votre nom",
	"launch":           "Recevoir le contexte d'ouverture (patient, séjour) du logiciel qui l'a lancée",
	"launch/patient":   "Travailler dans le dossier du patient choisi",
	"launch/encounter": "Recevoir le séjour en cours",
	"offline_access":   "Garder l'accès après votre déconnexion (jeton de rafraîchissement durable)",
	"online_access":    "Garder l'accès tant que vous restez connecté·e",
}

var letterVerbs = map[byte]string{'c': "créer", 'r': "lire", 'u': "modifier", 'd': "supprimer", 's': "rechercher"}

var contextWords = map[string]string{
	"patient": "du patient en contexte",
	"user":    "auxquelles vous avez accès",
	"system":  "de tout le serveur",
}

// describeClinical: "Lire et rechercher les ressources Observation du
// patient en contexte (seulement category=laboratory)".
func describeClinical(cl scope.Clinical) string {
	var verbs []string
	for i := range len(cl.Letters) {
		verbs = append(verbs, letterVerbs[cl.Letters[i]])
	}
	s := joinFrench(verbs)
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	if cl.Type == "*" {
		s += " toutes les ressources"
	} else {
		s += " les ressources " + cl.Type
	}
	s += " " + contextWords[cl.Context]
	if len(cl.Query) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(cl.Query)) {
			parts = append(parts, k+"="+strings.Join(cl.Query[k], ","))
		}
		s += " (seulement " + strings.Join(parts, " et ") + ")"
	}
	return s
}

func joinFrench(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " et " + words[len(words)-1]
}
