package handlers_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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

// TestFhirKitClient drives the server with fhir-kit-client: create, read,
// vread, update, delete (410 after), history, search, transaction.
func TestFhirKitClient(t *testing.T) {
	node := needNode(t)
	f := start(t, sqliteEngine())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "fhir-kit-client.test.mjs")
	cmd.Dir = clientsDir
	cmd.Env = append(os.Environ(), "DCC_FHIR_BASE="+f.base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fhir-kit-client against %s: %v\n%s", f.base, err, out)
	}
	t.Logf("%s", out)
}
