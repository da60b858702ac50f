package main

// End-to-end tests of issue 9 in the binary: protection on by default, the
// first start's administrator, `dccfhir token`, the administration
// commands working on the store of a running server, --auth off, TLS and
// --metrics-listen.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/store"
)

// runBinaryIn runs the built dccfhir with args and stdin.
func runBinaryIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	cmd := exec.Command(binPath, args...)
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("dccfhir %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// mustRun runs dccfhir args and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runBinary(t, args...)
	if code != 0 {
		t.Fatalf("dccfhir %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// tokenLine checks what `dccfhir token` printed is one line holding one
// token, and returns the token.
func tokenLine(t *testing.T, out string) string {
	t.Helper()
	tok, ok := strings.CutSuffix(out, "\n")
	if !ok || tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		t.Fatalf("dccfhir token printed %q, want the token alone on one line", out)
	}
	return tok
}

// adminToken is `dccfhir token --storage storage` (admin-cli, from the
// credentials the first start wrote).
func adminToken(t *testing.T, storage string, extra ...string) string {
	t.Helper()
	if storage == "" {
		t.Fatal("adminToken: the server's storage is not known")
	}
	out, errOut, code := runBinary(t, append([]string{"token", "--storage", storage}, extra...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("dccfhir token: exit %d, stderr %q", code, errOut)
	}
	return tokenLine(t, out)
}

func authz(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// noSecrets fails the test when the server's log holds any of secrets.
func noSecrets(t *testing.T, s *server, secrets map[string]string) {
	t.Helper()
	log := s.stderr.String()
	for what, v := range secrets {
		if v != "" && strings.Contains(log, v) {
			t.Errorf("the server's log holds the %s", what)
		}
	}
}

// TestAuthOnByDefault: `dccfhir serve` with nothing but its storage refuses
// a FHIR request without a valid token (401 with the Bearer challenge),
// serves metadata, discovery, health and metrics without one, writes the
// administrator's credentials once (mode 0600, its path logged, never the
// password or key), and `dccfhir token` prints one line the server
// accepts, before and after a restart.
func TestAuthOnByDefault(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	storage := "sqlite:" + filepath.Join(dir, "db")
	s := launch(t, addr, childEnv(), "--listen", addr, "--storage", storage)

	r := must(t, "GET", s.base+"/Patient", nil)
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `Bearer realm="dccfhir"`) || str(r.json, "resourceType") != "OperationOutcome" {
		t.Fatalf("unauthenticated read: %d, WWW-Authenticate %q: %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
	}
	r = must(t, "GET", s.base+"/Patient", nil, "Authorization", "Bearer not.a.token")
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("bad token: %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	for _, path := range []string{"/fhir/metadata", "/fhir/.well-known/smart-configuration", "/healthz", "/readyz", "/metrics"} {
		if r := must(t, "GET", "http://"+addr+path, nil); r.status != 200 {
			t.Errorf("GET %s without a token: %d, want 200", path, r.status)
		}
	}
	if m := must(t, "GET", "http://"+addr+"/metrics", nil); !strings.Contains(string(m.body), "dccfhir_auth_enabled 1") {
		t.Errorf("/metrics does not say dccfhir_auth_enabled 1")
	}

	credPath := filepath.Join(dir, credentialsFile)
	fi, err := os.Stat(credPath)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", credPath, fi.Mode().Perm())
	}
	credBytes, _ := os.ReadFile(credPath)
	var creds struct {
		Username string            `json:"username"`
		Password string            `json:"password"`
		ClientID string            `json:"client_id"`
		Key      map[string]string `json:"private_key"`
	}
	if err := json.Unmarshal(credBytes, &creds); err != nil || creds.Username != "admin" || creds.Password == "" || creds.ClientID != "admin-cli" || creds.Key["d"] == "" {
		t.Fatalf("%s: %v, want admin, a password, admin-cli and its private key", credPath, err)
	}
	if !strings.Contains(s.stderr.String(), credPath) {
		t.Errorf("the log does not name %s", credPath)
	}

	tok := adminToken(t, storage)
	if r := must(t, "GET", s.base+"/Patient", nil, authz(tok)...); r.status != 200 || str(r.json, "type") != "searchset" {
		t.Fatalf("read with the token of dccfhir token: %d %s", r.status, r.body)
	}
	if r := must(t, "POST", s.base+"/Patient", patientBody("", "Protégée"), authz(tok)...); r.status != 201 {
		t.Fatalf("create with the admin-cli token: %d %s", r.status, r.body)
	}
	// the one-line form the README shows
	sh := exec.Command("sh", "-c", `curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $("$0" token --storage "$1")" "$2/Patient"`, binPath, storage, s.base)
	sh.Env = childEnv()
	if out, err := sh.Output(); err == nil && string(out) != "200" {
		t.Errorf(`curl -H "Authorization: Bearer $(dccfhir token)": %s`, out)
	}

	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	secrets := map[string]string{"admin password": creds.Password, "admin-cli private key": creds.Key["d"], "access token": tok}
	noSecrets(t, s, secrets)

	// a second start keeps the administrator and the keys
	s = launch(t, addr, childEnv(), "--listen", addr, "--storage", storage)
	if again, _ := os.ReadFile(credPath); !bytes.Equal(again, credBytes) {
		t.Errorf("the second start rewrote %s", credPath)
	}
	if strings.Contains(s.stderr.String(), credPath) {
		t.Errorf("the second start logs %s as if it wrote it", credPath)
	}
	if r := must(t, "GET", s.base+"/Patient", nil, authz(tok)...); r.status != 200 {
		t.Errorf("a token of the first run after the restart: %d %s", r.status, r.body)
	}
	noSecrets(t, s, secrets)
}

// TestAuthOff: --auth off serves the FHIR API without a token, says so in
// a warning at start and in every scrape of /metrics, and writes no
// credentials.
func TestAuthOff(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s := launch(t, addr, childEnv(), "--listen", addr, "--storage", "sqlite:"+filepath.Join(dir, "db"), "--auth", "off")
	if r := must(t, "GET", s.base+"/Patient", nil); r.status != 200 {
		t.Fatalf("read with --auth off: %d %s", r.status, r.body)
	}
	if !regexp.MustCompile(`"level":"WARN","msg":"authentication is OFF`).MatchString(s.stderr.String()) {
		t.Errorf("no warning at start:\n%s", tail(s.stderr.String(), 2000))
	}
	for i := 0; i < 2; i++ {
		if m := must(t, "GET", "http://"+addr+"/metrics", nil); !strings.Contains(string(m.body), "dccfhir_auth_enabled 0") {
			t.Fatalf("scrape %d of /metrics does not say dccfhir_auth_enabled 0", i)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, credentialsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--auth off wrote credentials: %v", err)
	}
}

// jwkPair is a P-384 key as JWKs: the public set a client registers, and
// the private key `dccfhir token --key` signs with.
func jwkPair(t *testing.T, kid string) (jwks, private []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	d, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	pub := map[string]string{"kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig", "kid": kid, "x": b64(pt[1:49]), "y": b64(pt[49:])}
	jwks, _ = json.Marshal(map[string]any{"keys": []any{pub}})
	pub["d"] = b64(d)
	private, _ = json.Marshal(pub)
	return jwks, private
}

// jwkD is the private part of a JWK.
func jwkD(t *testing.T, jwk []byte) string {
	var k struct{ D string }
	if err := json.Unmarshal(jwk, &k); err != nil || k.D == "" {
		t.Fatalf("not a private JWK: %v", err)
	}
	return k.D
}

// TestAdminCommandsWhileServing: client add/list/remove, user add/disable,
// keys rotate and token work on the SQLite file of a running server, which
// sees each change at once: a laboratory system registered by the command
// gets a token the server accepts, limited to its scopes, and refused once
// the client is removed.
func TestAdminCommandsWhileServing(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	storage := "sqlite:" + filepath.Join(dir, "db")
	s := launch(t, addr, childEnv(), "--listen", addr, "--storage", storage)
	admin := adminToken(t, storage)
	if r := must(t, "PUT", s.base+"/Practitioner/p1", map[string]any{"resourceType": "Practitioner", "id": "p1",
		"name": []any{map[string]any{"family": "Martin"}}, "telecom": []any{map[string]any{"system": "email", "value": "martin@example.org"}}}, authz(admin)...); r.status != 201 {
		t.Fatalf("create Practitioner/p1: %d %s", r.status, r.body)
	}

	jwks, priv := jwkPair(t, "lab-1-2026")
	pubFile, keyFile := filepath.Join(dir, "lab.jwks"), filepath.Join(dir, "lab.key.json")
	os.WriteFile(pubFile, jwks, 0o644)
	os.WriteFile(keyFile, priv, 0o600)
	out := mustRun(t, "client", "add", "--storage", storage, "--id", "lab-1", "--name", "Laboratoire Nord", "--kind", "backend",
		"--jwks-file", pubFile, "--scopes", "system/Patient.rs", "--organization", "Organization/lab-nord")
	if strings.Contains(out, "client_secret") {
		t.Errorf("a backend client got a secret: %s", out)
	}
	out = mustRun(t, "client", "add", "--storage", storage, "--id", "app-c", "--name", "Dossier DCC", "--kind", "confidential",
		"--redirect-uri", "https://app.example.org/cb", "--scopes", "launch patient/*.rs openid fhirUser")
	m := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("client add --kind confidential printed no client_secret line:\n%s", out)
	}
	secret := m[1]
	mustRun(t, "client", "add", "--storage", storage, "--id", "app-p", "--name", "Visionneuse", "--kind", "public",
		"--redirect-uri", "http://localhost:9000/cb", "--redirect-uri", "http://localhost:9000/cb2", "--scopes", "launch/patient patient/*.rs", "--trusted")
	list := mustRun(t, "client", "list", "--storage", storage)
	for _, want := range []string{"admin-cli", "lab-1", "app-c", "app-p", "Organization/lab-nord", "trusted", "http://localhost:9000/cb"} {
		if !strings.Contains(list, want) {
			t.Errorf("client list lacks %s:\n%s", want, list)
		}
	}
	if strings.Contains(list, secret) || strings.Contains(list, "argon2") || strings.Contains(list, `"d"`) {
		t.Errorf("client list shows a secret:\n%s", list)
	}

	// the server sees the client the command registered
	labTok := tokenLine(t, mustRun(t, "token", "--storage", storage, "--client", "lab-1", "--key", keyFile))
	if r := must(t, "GET", s.base+"/Patient", nil, authz(labTok)...); r.status != 200 {
		t.Fatalf("search with the token of a client added while serving: %d %s", r.status, r.body)
	}
	if r := must(t, "POST", s.base+"/Patient", patientBody("", "Hors-scope"), authz(labTok)...); r.status != 403 {
		t.Errorf("create with system/Patient.rs: %d, want 403", r.status)
	}

	// accounts
	pwFile := filepath.Join(dir, "pw")
	const password = "correct-horse-battery-42"
	os.WriteFile(pwFile, []byte(password+"\n"), 0o600)
	mustRun(t, "user", "add", "--storage", storage, "--username", "dr.martin", "--practitioner", "Practitioner/p1", "--password-file", pwFile, "--role", "auditor")
	if _, errOut, code := runBinary(t, "user", "add", "--storage", storage, "--username", "dr.martin", "--practitioner", "Practitioner/p1", "--password-file", pwFile); code != 1 || errOut == "" {
		t.Errorf("a second dr.martin: exit %d, stderr %q", code, errOut)
	}
	const stdinPassword = "another-long-passphrase-7"
	if out, errOut, code := runBinaryIn(t, stdinPassword+"\n", "user", "add", "--storage", storage, "--username", "dr.durand", "--practitioner", "Practitioner/p1", "--email", "durand@example.org"); code != 0 {
		t.Errorf("user add with the password on stdin: exit %d\n%s%s", code, out, errOut)
	}
	mustRun(t, "user", "disable", "--storage", storage, "dr.martin")
	if _, errOut, code := runBinary(t, "user", "disable", "--storage", storage, "nobody"); code != 1 || !strings.Contains(errOut, "nobody") {
		t.Errorf("user disable nobody: exit %d, stderr %q", code, errOut)
	}

	// a new signing key: tokens signed with the previous one still pass
	out = mustRun(t, "keys", "rotate", "--storage", storage)
	if !strings.HasPrefix(out, "new signing key ") {
		t.Errorf("keys rotate printed %q", out)
	}
	if r := must(t, "GET", s.base+"/Patient", nil, authz(labTok)...); r.status != 200 {
		t.Errorf("a token signed before keys rotate: %d %s", r.status, r.body)
	}
	after := adminToken(t, storage)
	if r := must(t, "GET", s.base+"/Patient", nil, authz(after)...); r.status != 200 {
		t.Errorf("a token signed after keys rotate: %d %s", r.status, r.body)
	}

	// removing the client stops its token at once
	mustRun(t, "client", "remove", "--storage", storage, "lab-1")
	if r := must(t, "GET", s.base+"/Patient", nil, authz(labTok)...); r.status != 401 {
		t.Errorf("the token of a removed client: %d, want 401", r.status)
	}
	if _, errOut, code := runBinary(t, "client", "remove", "--storage", storage, "lab-1"); code != 1 || !strings.Contains(errOut, "lab-1") {
		t.Errorf("removing lab-1 twice: exit %d, stderr %q", code, errOut)
	}
	if list := mustRun(t, "client", "list", "--storage", storage); strings.Contains(list, "lab-1") {
		t.Errorf("client list after remove:\n%s", list)
	}
	noSecrets(t, s, map[string]string{"client secret": secret, "password": password, "stdin password": stdinPassword,
		"lab token": labTok, "admin token": admin, "lab private key": jwkD(t, priv)})
}

// TestAdminCommandErrors: the administration commands' refusals, exit 1
// with the reason on stderr (2 for a bad flag), and nothing created.
func TestAdminCommandErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary, which TestMain builds only without -short")
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "none", "db")
	for _, c := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"client", "list", "--storage", "sqlite:" + missing}, 1, "no database at"},
		{[]string{"token", "--storage", "sqlite:" + missing}, 1, credentialsFile},
		{[]string{"token", "--storage", "sqlite:" + missing, "--key", filepath.Join(dir, "k")}, 1, "--key needs --client"},
		{[]string{"token", "--storage", "mongodb://127.0.0.1:1/x"}, 1, "--data-dir"},
		{[]string{"client", "add", "--storage", "sqlite:" + missing, "--id", "x", "--name", "X", "--kind", "robot"}, 1, "want public, confidential or backend"},
		{[]string{"client", "add", "--storage", "sqlite:" + missing, "--id", "x", "--name", "X"}, 1, "required"},
		{[]string{"client", "add", "--storage", "sqlite:" + missing, "--id", "x", "--name", "X", "--kind", "backend", "--jwks-file", "a", "--jwks-url", "https://b"}, 1, "not both"},
		{[]string{"client", "add", "--storage", "sqlite:" + missing, "--id", "x", "--name", "X", "--kind", "backend", "--organization", "Patient/1"}, 1, "Organization/ID"},
		{[]string{"client", "remove", "--storage", "sqlite:" + missing}, 1, "name one client ID"},
		{[]string{"client"}, 2, "no verb"},
		{[]string{"client", "rename"}, 2, `unknown verb "rename"`},
		{[]string{"user", "add", "--storage", "sqlite:" + missing, "--username", "u", "--practitioner", "p1"}, 1, "Practitioner/ID"},
		{[]string{"user", "add", "--storage", "sqlite:" + missing, "--username", "u", "--practitioner", "Practitioner/p1", "--role", "root"}, 1, "--role"},
		{[]string{"user", "add", "--storage", "sqlite:" + missing, "--username", "u", "--practitioner", "Practitioner/p1", "s3cret-on-the-line"}, 1, "unexpected argument"},
		{[]string{"user", "disable", "--storage", "sqlite:" + missing}, 1, "USERNAME"},
		{[]string{"keys", "rotate", "--storage", "sqlite:" + missing}, 1, "no database at"},
		{[]string{"keys", "rotate", "--no-such-flag"}, 2, "flag provided but not defined"},
	} {
		t.Run(strings.Join(c.args[:min(2, len(c.args))], " "), func(t *testing.T) {
			out, errOut, code := runBinaryIn(t, "", c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) || out != "" {
				t.Errorf("dccfhir %v: exit %d (want %d), stdout %q, stderr %q (want %q)", c.args, code, c.code, out, errOut, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused command created %s", filepath.Dir(missing))
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dccfhir test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS: with --tls-cert and --tls-key the server speaks TLS 1.2 or
// later only, and its default base URL is https.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	certFile, keyFile, pool := selfSigned(t, dir)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	s := launchAt(t, addr, "https://"+addr, client, childEnv(), "--listen", addr, "--storage", "sqlite:"+filepath.Join(dir, "db"),
		"--auth", "off", "--tls-cert", certFile, "--tls-key", keyFile)
	body, _ := json.Marshal(patientBody("", "Chiffrée"))
	req, _ := http.NewRequest("POST", s.base+"/Patient", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || !strings.HasPrefix(res.Header.Get("Location"), "https://"+addr+"/fhir/Patient/") {
		t.Errorf("create over TLS: %d, Location %q (want the https base)", res.StatusCode, res.Header.Get("Location"))
	}
	if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %v", res.TLS)
	}
	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if res, err := old.Get(s.base + "/metadata"); err == nil {
		res.Body.Close()
		t.Errorf("a TLS 1.1 client was served")
	}
	if res, err := http.Get("http://" + addr + "/fhir/metadata"); err == nil {
		if res.StatusCode == 200 {
			t.Errorf("plain HTTP served on the TLS port")
		}
		res.Body.Close()
	}
}

// TestMetricsListen: --metrics-listen moves /metrics to its own address;
// the API's address no longer serves it, and the metrics address serves
// nothing else.
func TestMetricsListen(t *testing.T) {
	dir := t.TempDir()
	addr, maddr := freeAddr(t), freeAddr(t)
	launch(t, addr, childEnv("DCC_METRICS_LISTEN="+maddr), "--listen", addr, "--storage", "sqlite:"+filepath.Join(dir, "db"), "--auth", "off")
	if r := must(t, "GET", "http://"+maddr+"/metrics", nil); r.status != 200 || !strings.Contains(string(r.body), "dccfhir_panics_total") {
		t.Fatalf("GET /metrics on --metrics-listen: %d %s", r.status, tail(string(r.body), 300))
	}
	if r := must(t, "GET", "http://"+addr+"/metrics", nil); r.status != 404 {
		t.Errorf("GET /metrics on --listen: %d, want 404", r.status)
	}
	if r := must(t, "GET", "http://"+maddr+"/fhir/metadata", nil); r.status != 404 {
		t.Errorf("GET /fhir/metadata on --metrics-listen: %d, want 404", r.status)
	}
}

// TestSecondProcessWhileServing: what the administration commands rely on.
// Another process (this test) opens the SQLite file of a running server
// as the commands do, writes and reads auth records while the server
// takes writes, and closes it; neither side sees an error, and the
// records are there for the next opener.
func TestSecondProcessWhileServing(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	storage := "sqlite:" + filepath.Join(dir, "db")
	s := launch(t, addr, childEnv(), "--listen", addr, "--storage", storage, "--auth", "off", "--log-level", "warn")
	stop, first := make(chan struct{}), make(chan struct{})
	werr := make(chan error, 1)
	go func() { // the server's writer, busy all along
		n := 0
		defer func() { close(werr) }()
		for {
			select {
			case <-stop:
				if n == 0 {
					werr <- errors.New("no write went through")
				}
				return
			default:
			}
			r, err := call("POST", s.base+"/Patient", patientBody("", "Concurrent"))
			if err != nil || r.status != 201 {
				werr <- errors.New("server write failed while another process used the file")
				return
			}
			if n++; n == 1 {
				close(first)
			}
		}
	}()
	// the rounds start once the server writes (else they may all end
	// before its first write: the test would prove nothing)
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("the server's first write did not come")
	}
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		st, err := app.OpenStore(ctx, storage)
		if err != nil {
			t.Fatalf("open beside the server: %v", err)
		}
		for i := 0; i < 20; i++ {
			rec := &store.Record{Kind: "auth.client", Key: fmt.Sprintf("c%d-%d", round, i), Value: []byte(`{"id":"x"}`)}
			if err := st.PutRecord(ctx, rec); err != nil {
				t.Fatalf("PutRecord beside the server: %v", err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatalf("close beside the server: %v", err)
		}
	}
	close(stop)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	st, err := app.OpenStore(ctx, storage)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListRecords(ctx, "auth.client")
	if err != nil || len(recs) != 60 {
		t.Fatalf("records after the rounds: %d, %v; want 60", len(recs), err)
	}
	if r := must(t, "GET", s.base+"/Patient?_summary=count", nil); r.status != 200 {
		t.Fatalf("the server after the other process closed: %d %s", r.status, r.body)
	}
}
