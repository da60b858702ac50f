package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dccfhir/dccfhir/app"
	"github.com/dccfhir/dccfhir/auth"
)

// credentialsFile is the name of the file the first start writes.
const credentialsFile = "admin-credentials.json"

// runToken is `dccfhir token`: an access token for the server using a
// storage, as a backend client (admin-cli by default, from the
// credentials of the first start; or any backend client with --key), on
// one line of stdout, so that
//
//	curl -H "Authorization: Bearer $(dccfhir token)" http://localhost:8080/fhir/Patient
//
// works in one line.
func runToken(args []string, stdout io.Writer) error {
	fs := newFlagSet("token", "[--storage S] [--client ID] [--scope \"…\"] [--key FILE] [--base-url URL]",
		"prints an access token for the server using this storage, alone on one line of stdout: the client-credentials grant of a backend client, run in process with its private key. Without --key: the client admin-cli, its key read from admin-credentials.json in the data folder (written by the server's first start).")
	storage := storageFlag(fs)
	dataDir := fs.String("data-dir", env("DCC_DATA_DIR", ""), "the folder of admin-credentials.json (DCC_DATA_DIR; default the SQLite file's folder; required with MongoDB unless --key)")
	client := fs.String("client", "", "the backend client (default admin-cli, or the client of the credentials file); with --key, required")
	scope := fs.String("scope", "", `the scopes asked, e.g. "system/Patient.rs system/Observation.rs" (default: all the client is registered for)`)
	keyFile := fs.String("key", "", "a file holding the client's private JWK (instead of admin-credentials.json)")
	baseURL := fs.String("base-url", env("DCC_BASE_URL", ""), "the token's audience: the server's FHIR base URL (DCC_BASE_URL; default the one the server recorded at its start)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	req := auth.TokenRequest{ClientID: *client, Scope: *scope, BaseURL: *baseURL}
	if *keyFile != "" {
		if *client == "" {
			return errors.New("token: --key needs --client, the client the key belongs to")
		}
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("token: --key: %w", err)
		}
		if !json.Valid(key) {
			return fmt.Errorf("token: --key %s: not a JWK (JSON)", *keyFile)
		}
		req.Key = key
	} else {
		creds, err := readCredentials(*dataDir, *storage)
		if err != nil {
			return err
		}
		switch {
		case req.ClientID == "":
			req.ClientID = creds.ClientID
		case req.ClientID != creds.ClientID:
			return fmt.Errorf("token: the credentials file holds the key of %s; for client %s give its private key with --key", creds.ClientID, req.ClientID)
		}
		req.Key = creds.Key
	}
	ctx, reg, done, err := openRegistry(*storage)
	if err != nil {
		return err
	}
	defer done()
	tok, err := auth.IssueToken(ctx, reg, req)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// readCredentials reads admin-credentials.json from dir, or from the
// folder of the SQLite storage; a file others may read is used with a
// warning on stderr.
func readCredentials(dir, storage string) (*auth.AdminCredentials, error) {
	if err := app.CheckStorage(storage); err != nil {
		return nil, err
	}
	if dir == "" {
		dir = defaultDataDir(storage)
	}
	if dir == "" {
		return nil, errors.New("token: with MongoDB storage, --data-dir names the folder of admin-credentials.json (or give --client and --key)")
	}
	path := filepath.Join(dir, credentialsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: %w (the server writes it at its first start; --data-dir names its folder)", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(os.Stderr, "dccfhir token: warning: %s is readable by other users (mode %v): chmod 600 it\n", path, fi.Mode().Perm())
	}
	creds := new(auth.AdminCredentials)
	if err := json.Unmarshal(b, creds); err != nil || creds.ClientID == "" || len(creds.Key) == 0 {
		return nil, fmt.Errorf("token: %s: not the credentials file the server writes", path)
	}
	return creds, nil
}
