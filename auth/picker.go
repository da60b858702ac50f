package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth/scope"
	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
	"github.com/dccfhir/dccfhir/store"
)

// The standalone patient picker (launch/patient without launch): after
// login, the user searches Patients by name or identifier and picks one;
// the token's patient/ scopes are then confined to that patient.
//
// What the user may see is what the user-level part of the grant allows
// (its user/ and system/ scopes; patient/ scopes confine to a patient
// not yet chosen, so they give nothing here). The picker needs that part
// to read Patient (authorize refuses launch/patient otherwise, with
// invalid_scope). The search runs with that access when it allows
// searching Patient; when it allows reading Patient but not searching,
// the search runs with the server's own access, narrowed by the read
// scope's restriction if any, since a user who may read every such
// Patient by id learns nothing more from finding them by name. The
// patient chosen is read with the user-level access before it is taken.
// Issue 10 narrows that access to the professional's care relationships.

const maxPicked = 20 // results shown

type patientRow struct{ ID, Name, Born, Identifier string }

// canPick reports whether granted, without a patient in context, reads
// Patient: its user/ and system/ scopes do; patient/ scopes, with no
// patient yet, allow nothing.
func canPick(granted scope.Set) bool {
	_, err := granted.Access("").Grant('r', "Patient")
	return err == nil
}

func (w *browserSide) pickerPage(c echo.Context, status int, sess *webSession, id string, client *Client, v *view) error {
	v.Title, v.CSRF, v.Pending, v.Client = "Choisir un patient", sess.CSRF, id, clientName(client)
	return w.render(c, status, "picker", v)
}

// picker is POST /auth/picker: a search (name, identifier), a choice
// (patient=ID) or cancel (access_denied).
func (w *browserSide) picker(c echo.Context) error {
	form, sess, ok, err := w.formSession(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	id := form.Get("pending")
	p, expires, ok, err := w.pendingOf(c, sess, id)
	if !ok {
		return err
	}
	if !sess.loggedIn() || !p.PickPatient || p.Patient != "" {
		return w.problem(c, http.StatusBadRequest, "Cette demande n'attend pas de choix de patient.")
	}
	client, ok, err := w.pendingClient(c, p)
	if !ok {
		return err
	}
	if form.Get("cancel") != "" {
		return w.finish(c, id, p, "access_denied", "the user chose no patient")
	}
	granted, _ := scope.Parse(p.Scope)
	access, err := w.narrow(ctx, granted.Access(""), sess) // user-level: no patient yet
	if fe := (*fhir.Error)(nil); errors.As(err, &fe) && fe.Status < 500 {
		return w.pickerPage(c, fe.Status, sess, id, client, &view{Error: "La recherche n'est pas possible : " + fe.Error()})
	} else if err != nil {
		return w.internal(c, "picker access", err)
	}
	if pid := form.Get("patient"); pid != "" {
		if !fhir.ValidID(pid) || w.s.cfg.Service == nil {
			return w.pickerPage(c, http.StatusBadRequest, sess, id, client, &view{Error: "Ce patient n'est pas disponible."})
		}
		if _, err := w.s.cfg.Service.Read(service.WithAccess(ctx, access), "Patient", pid); err != nil {
			var fe *fhir.Error
			if errors.As(err, &fe) && fe.Status < 500 {
				return w.pickerPage(c, http.StatusBadRequest, sess, id, client, &view{Error: "Ce patient n'est pas disponible."})
			}
			return w.internal(c, "picker read", err)
		}
		p.Patient, p.NeedPatientBanner = pid, true
		if err := w.save(ctx, KindPending, Digest(id), p, expires, false); err != nil {
			return w.internal(c, "pending request", err)
		}
		return w.proceed(c, sess, id, p)
	}
	v := &view{Name: strings.TrimSpace(form.Get("name")), Identifier: strings.TrimSpace(form.Get("identifier"))}
	if (v.Name == "" && v.Identifier == "") || len(v.Name) > 200 || len(v.Identifier) > 200 {
		v.Error = "Indiquez un nom ou un identifiant (200 caractères au plus)."
		return w.pickerPage(c, http.StatusOK, sess, id, client, v)
	}
	rows, err := w.searchPatients(ctx, access, v.Name, v.Identifier)
	var fe *fhir.Error
	switch {
	case errors.As(err, &fe) && fe.Status < 500:
		v.Error = "La recherche n'a pas abouti : " + fe.Error()
	case err != nil:
		return w.internal(c, "picker search", err)
	}
	v.Results, v.Searched = rows, err == nil
	return w.pickerPage(c, http.StatusOK, sess, id, client, v)
}

// searchPatients finds Patients by name and/or identifier as access
// allows (see the comment at the top of the file).
func (w *browserSide) searchPatients(ctx context.Context, access service.Access, name, identifier string) ([]patientRow, error) {
	svc := w.s.cfg.Service
	if svc == nil {
		return nil, fhir.Errorf(400, "not-supported", "", "no FHIR service")
	}
	params := url.Values{"_count": {"20"}}
	if name != "" {
		params.Set("name", name)
	}
	if identifier != "" {
		params.Set("identifier", identifier)
	}
	if _, err := access.Grant('s', "Patient"); err != nil {
		if _, err := access.Grant('r', "Patient"); err != nil {
			return nil, err
		}
		access = readAsSearch{access} // reads allowed, search not: the read grant narrows the search
	}
	sctx := service.WithAccess(ctx, access)
	resp, err := svc.Search(sctx, "Patient", params, false)
	if err != nil {
		return nil, err
	}
	var rows []patientRow
	for _, r := range resp.Result.Resources {
		if len(rows) == maxPicked {
			break
		}
		rows = append(rows, patientRowOf(r))
	}
	return rows, nil
}

// patientRowOf is how the picker shows a Patient: name, birth date, first
// identifier.
func patientRowOf(r *store.Resource) patientRow {
	var pt struct {
		Name []struct {
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		BirthDate  string `json:"birthDate"`
		Identifier []struct {
			Value string `json:"value"`
		} `json:"identifier"`
	}
	row := patientRow{ID: r.ID}
	if json.Unmarshal(r.JSON, &pt) != nil {
		return row
	}
	if len(pt.Name) > 0 {
		n := pt.Name[0]
		row.Name = n.Text
		if row.Name == "" {
			row.Name = strings.TrimSpace(strings.ToUpper(n.Family) + " " + strings.Join(n.Given, " "))
		}
	}
	if row.Name == "" {
		row.Name = "Patient/" + r.ID
	}
	row.Born = pt.BirthDate
	if len(pt.Identifier) > 0 {
		row.Identifier = pt.Identifier[0].Value
	}
	return row
}

// readAsSearch lets the picker search Patients as the read grant allows,
// the service enforcing its restriction as for any narrowed search.
type readAsSearch struct{ service.Access }

func (a readAsSearch) Grant(letter byte, typ string) (service.Grant, error) {
	if letter == 's' && typ == "Patient" {
		letter = 'r'
	}
	return a.Access.Grant(letter, typ)
}

// narrow is the user's access as the FHIR API would give it: the scopes,
// narrowed by Config.Narrow (the care circle) when set.
func (w *browserSide) narrow(ctx context.Context, scopes service.Access, sess *webSession) (service.Access, error) {
	if w.s.cfg.Narrow == nil {
		return scopes, nil
	}
	u, err := w.s.reg.User(ctx, sess.Username)
	if err != nil {
		return nil, err
	}
	return w.s.cfg.Narrow(ctx, scopes, u)
}
