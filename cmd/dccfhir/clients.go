package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/dccfhir/dccfhir/auth"
)

// runClient is `dccfhir client add|list|remove`: the registered
// applications and systems.
func runClient(args []string, stdout io.Writer) error {
	return runGroup("client", "registers, lists and removes the applications and systems allowed to ask for tokens; works while the server runs.", []subcommand{
		{"add", "--id ID --name NAME --kind public|confidential|backend [flags]", clientAdd},
		{"list", "[--storage S]", clientList},
		{"remove", "[--storage S] ID", clientRemove},
	}, args, stdout)
}

func clientAdd(args []string, stdout io.Writer) error {
	fs := newFlagSet("client add", "--id ID --name NAME --kind public|confidential|backend [--redirect-uri URL]... [--jwks-file F | --jwks-url URL] [--scopes \"…\"] [--trusted] [--launch] [--organization Organization/ID]",
		"registers a client. public: a SMART app in a browser or on a device (code + PKCE, no secret); confidential: a SMART app with a server side (code + PKCE, client_secret_basic: the secret is printed once, as a line client_secret: …, and stored hashed); backend: an establishment or laboratory system (client credentials, private_key_jwt with the keys of --jwks-file or --jwks-url).")
	storage := storageFlag(fs)
	var spec auth.ClientSpec
	fs.StringVar(&spec.ID, "id", "", "the client id (required)")
	fs.StringVar(&spec.Name, "name", "", "the name shown on the consent page and in lists (required)")
	fs.StringVar(&spec.Kind, "kind", "", "public, confidential or backend (required)")
	var redirects listFlag
	fs.Var(&redirects, "redirect-uri", "a redirect URI of a public or confidential app, matched exactly; repeat for several (their origins may call the API from a browser)")
	jwksFile := fs.String("jwks-file", "", "a backend client's public keys: a JWKS file ({\"keys\":[…]})")
	fs.StringVar(&spec.JWKSURL, "jwks-url", "", "a backend client's public keys, fetched from this https URL")
	fs.StringVar(&spec.Scopes, "scopes", "", `the most the client may be granted, space-separated, e.g. "system/Observation.cru system/Patient.rs" or "launch patient/*.rs openid fhirUser"`)
	fs.BoolVar(&spec.Trusted, "trusted", false, "no consent page for this app (the network's own apps)")
	fs.BoolVar(&spec.Launch, "launch", false, "a backend client that may create EHR launch contexts (POST /auth/launch)")
	fs.StringVar(&spec.Organization, "organization", "", "the establishment or laboratory the client acts for: Organization/ID")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("client add: unexpected argument %q", fs.Arg(0))
	}
	spec.RedirectURIs = redirects
	switch {
	case spec.ID == "" || spec.Name == "" || spec.Kind == "":
		return errors.New("client add: --id, --name and --kind are required")
	case spec.Kind != "public" && spec.Kind != "confidential" && spec.Kind != "backend":
		return fmt.Errorf("client add: --kind %q: want public, confidential or backend", spec.Kind)
	case *jwksFile != "" && spec.JWKSURL != "":
		return errors.New("client add: give --jwks-file or --jwks-url, not both")
	}
	if spec.Organization != "" {
		if err := reference("organization", "Organization", spec.Organization); err != nil {
			return fmt.Errorf("client add: %w", err)
		}
	}
	if *jwksFile != "" {
		b, err := os.ReadFile(*jwksFile)
		if err != nil {
			return fmt.Errorf("client add: --jwks-file: %w", err)
		}
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if json.Unmarshal(b, &set) != nil || len(set.Keys) == 0 {
			return fmt.Errorf("client add: --jwks-file %s: not a JWKS ({\"keys\":[…]} with at least one key)", *jwksFile)
		}
		spec.JWKS = b
	}
	ctx, reg, done, err := openRegistry(*storage)
	if err != nil {
		return err
	}
	defer done()
	secret, err := reg.AddClient(ctx, spec)
	if err != nil {
		return fmt.Errorf("client add %s: %w", spec.ID, err)
	}
	fmt.Fprintf(stdout, "client %s registered (%s)\n", spec.ID, spec.Kind)
	if secret != "" {
		fmt.Fprintf(stdout, "client_secret: %s\n", secret)
		fmt.Fprintln(os.Stderr, "dccfhir client add: the secret is shown this once and stored hashed: give it to the app now")
	}
	return nil
}

func clientList(args []string, stdout io.Writer) error {
	fs := newFlagSet("client list", "[--storage S]", "lists the registered clients (no secret, no key): id, kind, name, scopes, redirect URIs or keys, flags, organization.")
	storage := storageFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("client list: unexpected argument %q", fs.Arg(0))
	}
	ctx, reg, done, err := openRegistry(*storage)
	if err != nil {
		return err
	}
	defer done()
	clients, err := reg.Clients(ctx)
	if err != nil {
		return fmt.Errorf("client list: %w", err)
	}
	printClients(stdout, clients)
	return nil
}

// printClients writes the clients as a table.
func printClients(w io.Writer, clients []*auth.Client) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNAME\tSCOPES\tREDIRECT URIS / KEYS\tFLAGS\tORGANIZATION")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, c := range clients {
		where := strings.Join(c.RedirectURIs, " ")
		switch {
		case c.JWKSURL != "":
			where = c.JWKSURL
		case len(c.JWKS) > 0:
			where = "(registered JWKS)"
		}
		var flags []string
		if c.Trusted {
			flags = append(flags, "trusted")
		}
		if c.Launch {
			flags = append(flags, "launch")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Kind, dash(c.Name), dash(c.Scopes), dash(where), dash(strings.Join(flags, ",")), dash(c.Organization))
	}
	tw.Flush()
}

func clientRemove(args []string, stdout io.Writer) error {
	fs := newFlagSet("client remove", "[--storage S] ID", "unregisters a client: its tokens stop working at once.")
	storage := storageFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("client remove: name one client ID")
	}
	id := fs.Arg(0)
	ctx, reg, done, err := openRegistry(*storage)
	if err != nil {
		return err
	}
	defer done()
	if err := reg.RemoveClient(ctx, id); err != nil {
		if errors.Is(err, auth.ErrUnknown) {
			return fmt.Errorf("client remove: %s is not registered", id)
		}
		return fmt.Errorf("client remove %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "client %s removed\n", id)
	return nil
}
