package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/dccfhir/dccfhir/access"
	"github.com/dccfhir/dccfhir/auth"
)

// The registration the SMART launch script expects (smart-launch.test.mjs
// says which scopes each launch asks).
const (
	smartAppID       = "dcc-viewer"
	smartAppScopes   = "launch launch/patient openid fhirUser patient/*.rs user/Patient.rs"
	smartUser        = "dr.lefebvre"
	smartPassword    = "trois pommes vertes sous la pluie"
	smartEHR         = "dpi-chu-rennes"
	smartINS         = "urn:oid:1.2.250.1.213.1.4.8"
	smartPatientName = "Kerbrat"
)

// TestSMARTClientLaunches runs fhirclient, the SMART App Launch JavaScript
// library, against a server with auth on: an EHR launch (an establishment
// system registered with --launch posts /auth/launch with the patient's
// INS and its backend-services token; the app opens with launch=…) and a
// standalone launch (launch/patient: the user picks the patient after
// login), both through the login and consent pages, both ending with the
// patient read and searched with the app's token; the EHR launch's token
// (patient/ scopes only) sees no other patient.
func TestSMARTClientLaunches(t *testing.T) {
	node := needNode(t)
	f := start(t, sqliteEngine(), withAuth)
	ctx := context.Background()
	reg := f.auth.Registry()

	// the app's own server: where the browser would land (the script stops
	// at the redirect, but the URI is the app's, a loopback http one)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("app"))
	}))
	t.Cleanup(app.Close)
	redirect := app.URL + "/callback"

	f.want(f.do("PUT", "/Practitioner/prat-lefebvre", map[string]any{
		"resourceType": "Practitioner", "id": "prat-lefebvre",
		"name": []any{map[string]any{"family": "Lefebvre", "given": []any{"Anne"}}},
	}), 201)
	// a doctor (PractitionerRole of profession 10), the patient's GP: the
	// patient is in her care circle, the other patient is not
	f.want(f.do("PUT", "/PractitionerRole/prat-lefebvre-md", map[string]any{
		"resourceType": "PractitionerRole", "id": "prat-lefebvre-md", "active": true,
		"practitioner": map[string]any{"reference": "Practitioner/prat-lefebvre"},
		"code":         []any{map[string]any{"coding": []any{map[string]any{"system": access.ProfessionSystem, "code": "10"}}}},
	}), 201)
	pat := withID(patient(smartPatientName, smartINS, "270037501234567"), "pat-kerbrat")
	pat["generalPractitioner"] = []any{map[string]any{"reference": "Practitioner/prat-lefebvre"}}
	f.want(f.do("PUT", "/Patient/pat-kerbrat", pat), 201)
	other := withID(patient("Kerbrat-Le Goff", smartINS, "180057501234599"), "pat-other")
	f.want(f.do("PUT", "/Patient/pat-other", other), 201)

	if _, err := reg.AddClient(ctx, auth.ClientSpec{
		ID: smartAppID, Name: "Visionneuse DCC", Kind: "public",
		RedirectURIs: []string{redirect}, Scopes: smartAppScopes,
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddUser(ctx, auth.UserSpec{Username: smartUser, Practitioner: "Practitioner/prat-lefebvre", Password: smartPassword}); err != nil {
		t.Fatal(err)
	}
	ehrKey := addBackendClient(t, f, auth.ClientSpec{
		ID: smartEHR, Name: "DPI du CHU", Scopes: "system/Patient.rs", Launch: true, Organization: "Organization/chu-rennes",
	}, jwa.ES384)
	ehrToken, err := auth.IssueToken(ctx, reg, auth.TokenRequest{ClientID: smartEHR, Key: ehrKey})
	if err != nil {
		t.Fatal(err)
	}
	issuer := strings.TrimSuffix(f.base, "/fhir")
	r := f.do("POST", issuer+"/auth/launch", map[string]any{"patient": smartINS + "|270037501234567"},
		"Content-Type", "application/json", "Authorization", "Bearer "+ehrToken)
	launch, _ := r.json["launch"].(string)
	if r.status != 200 || launch == "" {
		t.Fatalf("POST /auth/launch: %d %s", r.status, r.body)
	}

	runScript(t, node, "smart-launch.test.mjs",
		"DCC_FHIR_BASE="+f.base,
		"DCC_CLIENT_ID="+smartAppID,
		"DCC_REDIRECT_URI="+redirect,
		"DCC_USERNAME="+smartUser,
		"DCC_PASSWORD="+smartPassword,
		"DCC_LAUNCH="+launch,
		"DCC_PATIENT=pat-kerbrat",
		"DCC_PATIENT_NAME="+smartPatientName,
		"DCC_PRACTITIONER=prat-lefebvre",
		"DCC_OTHER_PATIENT=pat-other",
	)
}
