package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/dccfhir/dccfhir/auth"
)

// clientsDir holds the npm client packages and their scripts.
var clientsDir = filepath.Join("..", "testdata", "clients")

// needNode returns the path of node and makes sure the client packages are
// installed (npm ci when node_modules is missing). Without node the test
// fails. Under -short the npm client tests skip (they are the full tier).
func needNode(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("npm client test (-short)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the client tests need Node 20 (node is not on PATH): %v", err)
	}
	if _, err := os.Stat(filepath.Join(clientsDir, "node_modules")); os.IsNotExist(err) {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("%s/node_modules is missing and npm is not on PATH: %v", clientsDir, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = clientsDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", clientsDir, err, out)
		}
	}
	return node
}

// runScript runs a script of clientsDir with env (NAME=value) added to the
// test's, and fails with its output when it exits non-zero. The failure
// names the variables, not their values (tokens, passwords).
func runScript(t *testing.T, node, script string, env ...string) {
	t.Helper()
	names := make([]string, len(env))
	for i, kv := range env {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = clientsDir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s (with %s): %v\n%s", script, strings.Join(names, " "), err, out)
	}
	t.Logf("%s", out)
}

// TestFhirKitClient drives the server with fhir-kit-client: create, read,
// vread, update, delete (410 after), history, search, transaction; once
// with auth off, once with auth on and a SMART Backend Services token of a
// laboratory system registered with an RS384 key and only the scopes the
// script needs.
func TestFhirKitClient(t *testing.T) {
	node := needNode(t)
	t.Run("auth off", func(t *testing.T) {
		f := start(t, sqliteEngine())
		runScript(t, node, "fhir-kit-client.test.mjs", "DCC_FHIR_BASE="+f.base)
	})
	t.Run("backend services token", func(t *testing.T) {
		f := start(t, sqliteEngine(), withAuth)
		priv := addBackendClient(t, f, auth.ClientSpec{
			// a record system registered with no Organization: its scopes
			// alone (a laboratory's --organization would limit it to what
			// is addressed to it, region_test.go)
			ID: "lab-platform", Name: "Dossier patient du CHU",
			Scopes: "system/Patient.cruds system/Observation.cruds",
		}, jwa.RS384)
		tok, err := auth.IssueToken(context.Background(), f.auth.Registry(), auth.TokenRequest{ClientID: "lab-platform", Key: priv})
		if err != nil {
			t.Fatal(err)
		}
		runScript(t, node, "fhir-kit-client.test.mjs", "DCC_FHIR_BASE="+f.base, "DCC_FHIR_TOKEN="+tok)
		// the script's calls were checked: without the token they are refused
		r := f.do("GET", "/Patient", nil, "Authorization", "")
		f.want(r, 401)
	})
}

// addBackendClient registers a backend client of spec (Kind set to
// backend) with a new key pair for alg (RS384 or ES384) and returns its
// private JWK, as a laboratory system would keep it.
func addBackendClient(t *testing.T, f *fixture, spec auth.ClientSpec, alg jwa.SignatureAlgorithm) json.RawMessage {
	t.Helper()
	var raw any
	var err error
	switch alg {
	case jwa.RS384:
		raw, err = rsa.GenerateKey(rand.Reader, 2048)
	case jwa.ES384:
		raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{jwk.KeyIDKey: spec.ID + "-key-1", jwk.AlgorithmKey: alg} {
		if err := key.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	if spec.JWKS, err = json.Marshal(set); err != nil {
		t.Fatal(err)
	}
	spec.Kind = "backend"
	if _, err := f.auth.Registry().AddClient(context.Background(), spec); err != nil {
		t.Fatalf("registering %s: %v", spec.ID, err)
	}
	priv, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}
