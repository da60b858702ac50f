package handlers_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/dccfhir/dccfhir/access"
	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/auth/psc/psctest"
	"github.com/dccfhir/dccfhir/handlers"
	"github.com/dccfhir/dccfhir/internal/smtptest"
	"github.com/dccfhir/dccfhir/store"
)

// The end-to-end security suite's fixture: one server per engine, built
// by app.New as `dccfhir serve` builds it (authorization server on, the
// administrator bootstrapped into a data folder), with Pro Santé Connect
// played by psctest and an SMTP server from smtptest, both in process on
// 127.0.0.1, a clock the tests move, and the server's whole log kept for
// the final scan for secrets.

// The suite's registrations.
const (
	secApp         = "e2e-app" // public SMART app
	secAppRedirect = "https://app.e2e.example/cb"
	secAppScopes   = "openid fhirUser profile launch launch/patient launch/encounter offline_access online_access patient/*.cruds user/*.cruds"
	secWeb         = "e2e-web" // confidential app (client_secret_basic)
	secWebRedirect = "https://web.e2e.example/cb"
	secES          = "e2e-es384"    // backend, registered JWKS, ES384
	secRS          = "e2e-rs384"    // backend, registered JWKS, RS384
	secURL         = "e2e-jwks-url" // backend, JWKS URL, RS384
	secEHR         = "e2e-ehr"      // backend registered with --launch
	secPlain       = "e2e-nolaunch" // backend without --launch

	secUser     = "e2e-dr"
	secPassword = "pavillon lumière quatorze"
	secLockUser = "e2e-lock"
	secLockPass = "orage calme sur la digue"
	secLockMail = "lock@hopital.example"
	secGoneUser = "e2e-gone"
	secGonePass = "tiroir bleu du matin"

	secCodes  = "https://e2e.example/code"
	secINS    = "urn:oid:1.2.250.1.213.1.4.8"
	secINSVal = "2700199123456"
	secFrom   = "dcc-noreply@reseau.example"
)

// secClock is the server's and the provider's clock; tests move it.
type secClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *secClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *secClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// secLog is the server's log, kept whole.
type secLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *secLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *secLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// secretSet is every secret value the suite saw: none may be in the log.
type secretSet struct {
	mu   sync.Mutex
	vals map[string]string // value → what it is
}

func (s *secretSet) add(what string, vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		if len(v) >= 12 { // shorter values could be ordinary words of a log line
			s.vals[v] = what
		}
	}
}

func (s *secretSet) all() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.vals))
	for k, v := range s.vals {
		out[k] = v
	}
	return out
}

// secHitServer is a server of the attacker's: it serves a JWKS and counts
// the requests, which must stay at zero (the server never fetches a URL
// named inside a token).
type secHitServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
}

func newSecHitServer(t testing.TB, body []byte) *secHitServer {
	h := &secHitServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits++
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *secHitServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits
}

// secKey is a key pair: the private JWK (kid and alg set) and the public
// set to register.
type secKey struct {
	priv jwk.Key
	jwks json.RawMessage
}

func newSecKey(t testing.TB, alg jwa.SignatureAlgorithm, kid string) *secKey {
	t.Helper()
	var raw any
	var err error
	switch alg {
	case jwa.ES384:
		raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jwa.ES256:
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		raw, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return &secKey{priv: k, jwks: b}
}

// secFixture is the started server of one engine and what the suite
// registered on it.
type secFixture struct {
	t        *testing.T
	ctx      context.Context
	engine   string
	srv      *httptest.Server
	base     string // FHIR base
	issuer   string // the server's URL (base without /fhir)
	tokenURL string
	st       store.Store
	app      *app.App
	reg      *auth.Registry
	clock    *secClock
	logs     *secLog
	secrets  *secretSet
	psc      *psctest.Provider
	mail     *smtptest.Server
	admin    auth.AdminCredentials
	keys     map[string]*secKey // backend client id → its key
	// webSecret is the confidential app's client secret.
	webSecret string
	// attacker serves the attacker's key set and counts its requests.
	attacker    *secHitServer
	attackerKey *secKey
	jwksServer  *secHitServer // e2e-jwks-url's registered JWKS URL

	// Set by the grant tests, used by later ones.
	dr           *secBrowser // a browser logged in as secUser
	patientToken string      // an EHR launch token for Patient/e2e-pa, patient/*.rs
	patientIDTok string      // that launch's ID token
}

// startSecurity starts the server of engine e with everything the suite
// needs registered and seeded.
func startSecurity(t *testing.T, e engine) *secFixture {
	t.Helper()
	f := openSecServer(t, e, slog.LevelDebug, func(f *secFixture, c *app.Config) {
		f.secrets.add("Pro Santé Connect client secret", f.psc.ClientSecret)
		mail, err := smtptest.New(smtptest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mail.Close)
		f.mail = mail
		c.Auth.PSC = &auth.PSCConfig{DiscoveryURL: f.psc.DiscoveryURL, ClientID: f.psc.ClientID, ClientSecret: f.psc.ClientSecret}
		c.Auth.SMTPURL, c.Auth.SMTPFrom = mail.URL(), secFrom
	})
	adminKey := f.keys[f.admin.ClientID].priv
	f.secrets.add("admin password", f.admin.Password)
	f.addPrivate("admin-cli key", adminKey)
	f.addServerKeys()

	f.register()
	f.seed()
	return f
}

// openSecServer starts the server of engine e as `dccfhir serve` builds it
// (app.New, the authorization server on, the administrator bootstrapped
// into a data folder), with Pro Santé Connect played by psctest, a log at
// level kept in f.logs, and the administrator's client key in f.keys;
// configure completes the app's configuration first.
func openSecServer(t *testing.T, e engine, level slog.Level, configure func(f *secFixture, c *app.Config)) *secFixture {
	t.Helper()
	f := &secFixture{t: t, ctx: context.Background(), engine: e.name,
		clock: &secClock{t: time.Now().UTC().Truncate(time.Millisecond)}, logs: &secLog{},
		secrets: &secretSet{vals: map[string]string{}}, keys: map[string]*secKey{}}
	f.st = e.open(t)
	f.srv = httptest.NewUnstartedServer(nil)
	f.issuer = "http://" + f.srv.Listener.Addr().String()
	f.base = f.issuer + "/fhir"
	f.tokenURL = f.issuer + "/auth/token"
	// The browser follows redirects to the provider's host: one is needed
	// even where nobody logs in through it.
	f.psc = psctest.Start(t, psctest.Options{RedirectURIs: []string{f.issuer + "/auth/psc/callback"}, Now: f.clock.Now})

	var out io.Writer = f.logs
	if os.Getenv("DCC_TEST_LOG") != "" {
		out = io.MultiWriter(f.logs, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	cfg := app.Config{
		Store: f.st, Validator: fullValidator(t), Logger: log, DataDir: t.TempDir(),
		HTTP: handlers.Config{BaseURL: f.base, Logger: log},
		Auth: &auth.Config{Now: f.clock.Now},
	}
	configure(f, &cfg)
	a, err := app.New(f.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.app, f.reg = a, a.Auth.Registry()
	f.srv.Config.Handler = a.Handler
	f.srv.Start()
	t.Cleanup(f.srv.Close)

	// The bootstrap's credentials: the administrator's client signs the
	// suites' admin tokens.
	if a.Credentials == "" {
		t.Fatal("no admin-credentials.json written at first start")
	}
	b, err := os.ReadFile(a.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f.admin); err != nil {
		t.Fatal(err)
	}
	adminKey, err := jwk.ParseKey(f.admin.Key)
	if err != nil {
		t.Fatal(err)
	}
	f.keys[f.admin.ClientID] = &secKey{priv: adminKey}
	return f
}

// addPrivate records the private parts of a key as secrets.
func (f *secFixture) addPrivate(what string, k jwk.Key) {
	b, err := json.Marshal(k)
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if s, ok := m[name].(string); ok {
			f.secrets.add(what+" ("+name+")", s)
		}
	}
}

// addServerKeys records the server's private signing keys as secrets.
func (f *secFixture) addServerKeys() {
	recs, err := f.st.ListRecords(f.ctx, auth.KindKey)
	if err != nil || len(recs) == 0 {
		f.t.Fatalf("the server's keys: %v (%d)", err, len(recs))
	}
	for _, rec := range recs {
		k, _ := f.serverKeyOf(rec)
		f.addPrivate("server signing key", k)
	}
}

// serverKey is the server's signing key as stored (the suite forges
// tokens with it to show each claim check works on a valid signature).
func (f *secFixture) serverKey() (jwk.Key, string) {
	recs, err := f.st.ListRecords(f.ctx, auth.KindKey)
	if err != nil || len(recs) == 0 {
		f.t.Fatalf("the server's keys: %v", err)
	}
	return f.serverKeyOf(recs[len(recs)-1])
}

func (f *secFixture) serverKeyOf(rec *store.Record) (jwk.Key, string) {
	var sk struct {
		KID string          `json:"kid"`
		JWK json.RawMessage `json:"jwk"`
	}
	if err := json.Unmarshal(rec.Value, &sk); err != nil {
		f.t.Fatal(err)
	}
	k, err := jwk.ParseKey(sk.JWK)
	if err != nil {
		f.t.Fatal(err)
	}
	return k, sk.KID
}

// register adds the suite's clients and accounts.
func (f *secFixture) register() {
	t := f.t
	add := func(spec auth.ClientSpec) string {
		t.Helper()
		secret, err := f.reg.AddClient(f.ctx, spec)
		if err != nil {
			t.Fatalf("client %s: %v", spec.ID, err)
		}
		return secret
	}
	add(auth.ClientSpec{ID: secApp, Name: "Dossier e2e", Kind: "public", RedirectURIs: []string{secAppRedirect}, Scopes: secAppScopes})
	f.webSecret = add(auth.ClientSpec{ID: secWeb, Kind: "confidential", RedirectURIs: []string{secWebRedirect}, Scopes: "openid fhirUser offline_access user/*.rs"})
	f.secrets.add("confidential client secret", f.webSecret)

	for _, c := range []struct {
		id     string
		alg    jwa.SignatureAlgorithm
		scopes string
		launch bool
	}{
		{secES, jwa.ES384, "system/*.cruds", false},
		{secRS, jwa.RS384, "system/Patient.rs system/Observation.rs", false},
		{secEHR, jwa.ES384, "system/Patient.r", true},
		{secPlain, jwa.ES384, "system/Patient.r", false},
	} {
		k := newSecKey(t, c.alg, c.id+"-key-1")
		f.keys[c.id] = k
		f.addPrivate(c.id+" key", k.priv)
		add(auth.ClientSpec{ID: c.id, Kind: "backend", JWKS: k.jwks, Scopes: c.scopes, Launch: c.launch})
	}
	// A backend client whose keys are at a JWKS URL (a server on 127.0.0.1).
	k := newSecKey(t, jwa.RS384, "url-key-1")
	f.keys[secURL] = k
	f.addPrivate(secURL+" key", k.priv)
	f.jwksServer = newSecHitServer(t, k.jwks)
	add(auth.ClientSpec{ID: secURL, Kind: "backend", JWKSURL: f.jwksServer.URL + "/jwks.json", Scopes: "system/Patient.rs"})

	f.attackerKey = newSecKey(t, jwa.RS256, "attacker-key")
	f.attacker = newSecHitServer(t, f.attackerKey.jwks)

	for _, u := range []auth.UserSpec{
		{Username: secUser, Practitioner: "Practitioner/e2e-dr", Password: secPassword},
		{Username: secLockUser, Practitioner: "Practitioner/e2e-dr", Password: secLockPass, Email: secLockMail},
		{Username: secGoneUser, Practitioner: "Practitioner/e2e-dr", Password: secGonePass},
	} {
		if err := f.reg.AddUser(f.ctx, u); err != nil {
			t.Fatalf("user %s: %v", u.Username, err)
		}
		f.secrets.add("password of "+u.Username, u.Password)
	}
}

// seed stores the suite's FHIR data with an admin token: two patients,
// an encounter, and Observations placed so that includes, chains and _has
// would cross from one patient's compartment to the other's if they were
// not narrowed.
func (f *secFixture) seed() {
	tok := f.adminToken()
	ref := func(r string) map[string]any { return map[string]any{"reference": r} }
	for _, r := range []map[string]any{
		{"resourceType": "Practitioner", "id": "e2e-dr", "name": []any{map[string]any{"family": "Durand", "given": []any{"Claire"}}},
			"telecom": []any{map[string]any{"system": "email", "value": "claire.durand@hopital.example", "use": "work"}}},
		{"resourceType": "Patient", "id": "e2e-pa", "name": []any{map[string]any{"family": "Alpha"}}, "gender": "female", "birthDate": "1970-01-01",
			"identifier": []any{map[string]any{"system": secINS, "value": secINSVal}}, "generalPractitioner": []any{ref("Practitioner/e2e-dr")}},
		{"resourceType": "Patient", "id": "e2e-pb", "name": []any{map[string]any{"family": "Beta"}}, "gender": "male", "birthDate": "1960-02-02"},
		// The user's Practitioner is a doctor (profession 10), Alpha's GP
		// and in Beta's care team: both are in her care circle (the
		// region suite, region_test.go, tests the circle itself).
		{"resourceType": "PractitionerRole", "id": "e2e-dr-md", "active": true, "practitioner": ref("Practitioner/e2e-dr"),
			"code": []any{map[string]any{"coding": []any{map[string]any{"system": access.ProfessionSystem, "code": "10"}}}}},
		{"resourceType": "CareTeam", "id": "e2e-ct-b", "status": "active", "subject": ref("Patient/e2e-pb"),
			"participant": []any{map[string]any{"member": ref("Practitioner/e2e-dr")}}},
		{"resourceType": "Encounter", "id": "e2e-ea", "status": "finished", "subject": ref("Patient/e2e-pa"),
			"class": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}},
		secObs("e2e-oa", "Patient/e2e-pa", "A", map[string]any{"encounter": ref("Encounter/e2e-ea"), "performer": []any{ref("Practitioner/e2e-dr")}}),
		// Beta's, attached to Alpha's encounter: an _revinclude from the encounter must leave it out.
		secObs("e2e-ob", "Patient/e2e-pb", "B", map[string]any{"encounter": ref("Encounter/e2e-ea")}),
		// Alpha's, with Beta's as a member: _include and chains through has-member.
		secObs("e2e-oc", "Patient/e2e-pa", "C", map[string]any{"hasMember": []any{ref("Observation/e2e-ob")}}),
		// Beta's, about Alpha through focus (not a compartment parameter): _has and _revinclude.
		secObs("e2e-ox", "Patient/e2e-pb", "X", map[string]any{"focus": []any{ref("Patient/e2e-pa")}}),
		// Alpha's, performed by Beta: _include and chains into Beta.
		secObs("e2e-op", "Patient/e2e-pa", "P", map[string]any{"performer": []any{ref("Patient/e2e-pb")}}),
	} {
		path := "/" + r["resourceType"].(string) + "/" + r["id"].(string)
		if res := f.fhir("PUT", path, tok, r); res.status != 201 && res.status != 200 {
			f.t.Fatalf("seed %s: %d %s", path, res.status, res.body)
		}
	}
}

// secObs is an Observation of subject with code (in secCodes).
func secObs(id, subject, code string, extra map[string]any) map[string]any {
	o := map[string]any{"resourceType": "Observation", "status": "final",
		"code":    map[string]any{"coding": []any{map[string]any{"system": secCodes, "code": code}}},
		"subject": map[string]any{"reference": subject}}
	if id != "" {
		o["id"] = id
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// secResp is an answer, its body decoded when JSON.
type secResp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *secResp) str(path ...string) string {
	s, _ := dig(r.json, path...).(string)
	return s
}

func (f *secFixture) send(req *http.Request) *secResp {
	f.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := &secResp{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

// fhir sends a FHIR request below the base with token ("" : none); body
// is a string (sent as is) or a value to marshal.
func (f *secFixture) fhir(method, path, token string, body any, hdr ...string) *secResp {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return f.send(req)
}

// post sends a form to an auth endpoint (path below the issuer); basic
// is "id:secret" for HTTP Basic.
func (f *secFixture) post(path string, form url.Values, basic string) *secResp {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id, secret, ok := strings.Cut(basic, ":"); ok {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	r := f.send(req)
	f.keepTokens(r)
	return r
}

// keepTokens records the tokens of a token response as secrets.
func (f *secFixture) keepTokens(r *secResp) {
	f.secrets.add("access token", r.str("access_token"))
	f.secrets.add("refresh token", r.str("refresh_token"))
	f.secrets.add("ID token", r.str("id_token"))
}

// assertion is a client assertion of a registered backend client.
func (f *secFixture) assertion(clientID string) string {
	f.t.Helper()
	k := f.keys[clientID]
	if k == nil {
		f.t.Fatalf("no key for %s", clientID)
	}
	a, err := auth.ClientAssertion(k.priv, clientID, f.tokenURL, f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	f.secrets.add("client assertion", a)
	return a
}

// secBackendForm is a client_credentials request with assertion.
func secBackendForm(assertion, scope string) url.Values {
	v := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	if scope != "" {
		v.Set("scope", scope)
	}
	return v
}

// backend runs the client-credentials grant of clientID.
func (f *secFixture) backend(clientID, scope string) *secResp {
	f.t.Helper()
	return f.post("/auth/token", secBackendForm(f.assertion(clientID), scope), "")
}

// backendToken is an access token of clientID for scope ("" : all it may have).
func (f *secFixture) backendToken(clientID, scope string) string {
	f.t.Helper()
	r := f.backend(clientID, scope)
	if r.status != 200 || r.str("access_token") == "" {
		f.t.Fatalf("backend token of %s (%s): %d %s", clientID, scope, r.status, r.body)
	}
	return r.str("access_token")
}

// adminToken is a fresh admin-cli token (system/*.cruds).
func (f *secFixture) adminToken() string { return f.backendToken(f.admin.ClientID, "") }

// secRefs lists the "Type/id" of a searchset's entries, sorted.
func secRefs(r *secResp) []string {
	var out []string
	entries, _ := dig(r.json, "entry").([]any)
	for _, e := range entries {
		res, _ := dig(e, "resource").(map[string]any)
		typ, _ := res["resourceType"].(string)
		id, _ := res["id"].(string)
		out = append(out, typ+"/"+id)
	}
	sort.Strings(out)
	return out
}

// secWantRefs fails unless r is a 200 searchset of exactly want.
func secWantRefs(t *testing.T, what string, r *secResp, want ...string) {
	t.Helper()
	if r.status != 200 {
		t.Errorf("%s: %d %s", what, r.status, r.body)
		return
	}
	sort.Strings(want)
	if got := secRefs(r); !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// secWantInvalidToken fails unless r is the 401 of a refused token.
func secWantInvalidToken(t *testing.T, what string, r *secResp) {
	t.Helper()
	if r.status != 401 || r.str("resourceType") != "OperationOutcome" || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("%s: want 401 invalid_token, got %d %q %s", what, r.status, r.header.Get("WWW-Authenticate"), r.body)
	}
}

// secWantOAuthError fails unless r is an OAuth error JSON of status and code.
func secWantOAuthError(t *testing.T, what string, r *secResp, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code || r.json["access_token"] != nil {
		t.Errorf("%s: want %d %s, got %d %s", what, status, code, r.status, r.body)
	}
}

// secB64JSON is the base64url of v's JSON.
func secB64JSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secSignJWS signs header and claims exactly as given (alg from the header)
// with key: tokens no well-behaved library would make. alg "none" gives
// an empty signature.
func secSignJWS(t testing.TB, key any, hdr, claims map[string]any) string {
	t.Helper()
	return secSignRaw(t, key, hdr["alg"].(string), secB64JSON(hdr)+"."+secB64JSON(claims))
}

func secSignRaw(t testing.TB, key any, alg, in string) string {
	t.Helper()
	if alg == "none" {
		return in + "."
	}
	if k, ok := key.(jwk.Key); ok {
		var raw any
		if err := k.Raw(&raw); err != nil {
			t.Fatal(err)
		}
		key = raw
	}
	signer, err := jws.NewSigner(jwa.SignatureAlgorithm(alg))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(in), key)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// secRandomID is 16 random bytes, base64url.
func secRandomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
