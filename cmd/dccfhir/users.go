package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/dccfhir/dccfhir/auth"
)

// runUser is `dccfhir user add|disable`: the professionals' accounts.
func runUser(args []string, stdout io.Writer) error {
	return runGroup("user", "creates and disables the accounts of professionals (each linked to a Practitioner); works while the server runs.", []subcommand{
		{"add", "--username U --practitioner Practitioner/ID [--password-file F | --no-password] [--email E] [--role admin|auditor|observatory]...", userAdd},
		{"disable", "[--storage S] USERNAME", userDisable},
	}, args, stdout)
}

// roles an account may have.
var roles = map[string]bool{"admin": true, "auditor": true, "observatory": true}

func userAdd(args []string, stdout io.Writer) error {
	fs := newFlagSet("user add", "--username U --practitioner Practitioner/ID [--password-file F | --no-password] [--email E] [--role admin|auditor|observatory]...",
		"creates a professional's account. The password is never a command-line argument: it is the first line of --password-file (- for stdin); without the flag, it is asked on the terminal (twice, not echoed), or read from the first line of stdin when stdin is not a terminal. At least 12 characters, not a common password.")
	storage := storageFlag(fs)
	var spec auth.UserSpec
	fs.StringVar(&spec.Username, "username", "", "the login name (required)")
	fs.StringVar(&spec.Practitioner, "practitioner", "", "the professional: Practitioner/ID (required)")
	fs.StringVar(&spec.Email, "email", "", "where password-reset mail goes (default: the Practitioner's e-mail telecom)")
	passwordFile := fs.String("password-file", "", "a file whose first line is the password; - for stdin")
	noPassword := fs.Bool("no-password", false, "no password: the account logs in through Pro Santé Connect only")
	var roleList listFlag
	fs.Var(&roleList, "role", "admin, auditor or observatory; repeat for several")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("user add: unexpected argument %q (the password is read from --password-file, the terminal or stdin)", fs.Arg(0))
	}
	if spec.Username == "" || spec.Practitioner == "" {
		return errors.New("user add: --username and --practitioner are required")
	}
	if err := reference("practitioner", "Practitioner", spec.Practitioner); err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	for _, r := range roleList {
		if !roles[r] {
			return fmt.Errorf("user add: --role %q: want admin, auditor or observatory", r)
		}
	}
	spec.Roles = roleList
	switch {
	case *noPassword && *passwordFile != "":
		return errors.New("user add: --no-password and --password-file exclude each other")
	case !*noPassword:
		pw, err := readPassword(*passwordFile)
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		spec.Password = pw
	}
	ctx, reg, done, err := openRegistry(*storage)
	if err != nil {
		return err
	}
	defer done()
	if err := reg.AddUser(ctx, spec); err != nil {
		return fmt.Errorf("user add %s: %w", spec.Username, err)
	}
	fmt.Fprintf(stdout, "user %s added (%s)\n", spec.Username, spec.Practitioner)
	return nil
}

// readPassword reads a password: the first line of file ("-": stdin);
// without one, asked twice on the terminal without echo, or the first line
// of stdin when it is not a terminal.
func readPassword(file string) (string, error) {
	switch {
	case file == "-":
		return firstLine(os.Stdin, "stdin")
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		return firstLine(f, file)
	case !isTerminal(os.Stdin):
		return firstLine(os.Stdin, "stdin")
	}
	pw, err := prompt("password: ")
	if err != nil {
		return "", err
	}
	again, err := prompt("again: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

// firstLine is the first line of r, without its line end; an empty one is
// refused.
func firstLine(r io.Reader, name string) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from %s: %w", name, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no password in %s (--no-password for an account without one)", name)
	}
	return line, nil
}

// prompt asks for a secret on the terminal with echo off (stty), and puts
// the echo back whatever happens.
func prompt(label string) (string, error) {
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = os.Stdin
		return cmd.Run()
	}
	if err := stty("-echo"); err != nil {
		return "", errors.New("cannot turn the terminal's echo off: give the password with --password-file")
	}
	defer stty("echo")
	fmt.Fprint(os.Stderr, label)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Fprintln(os.Stderr)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password given")
	}
	return line, nil
}

func userDisable(args []string, stdout io.Writer) error {
	fs := newFlagSet("user disable", "[--storage S] USERNAME", "disables an account: it can no longer log in, and the tokens issued for it stop working at once.")
	storage := storageFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("user disable: name one USERNAME")
	}
	name := fs.Arg(0)
	ctx, reg, done, err := openRegistry(*storage)
	if err != nil {
		return err
	}
	defer done()
	if err := reg.DisableUser(ctx, name); err != nil {
		if errors.Is(err, auth.ErrUnknown) {
			return fmt.Errorf("user disable: no account %s", name)
		}
		return fmt.Errorf("user disable %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "user %s disabled\n", name)
	return nil
}

// runKeys is `dccfhir keys rotate`: a new signing key for the server.
func runKeys(args []string, stdout io.Writer) error {
	return runGroup("keys", "manages the server's token-signing keys; works while the server runs.", []subcommand{
		{"rotate", "[--storage S]", keysRotate},
	}, args, stdout)
}

func keysRotate(args []string, stdout io.Writer) error {
	fs := newFlagSet("keys rotate", "[--storage S]", "makes a new signing key, the one new tokens are signed with; the previous keys stay published at /auth/jwks until the tokens they signed have expired.")
	storage := storageFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys rotate: unexpected argument %q", fs.Arg(0))
	}
	ctx, reg, done, err := openRegistry(*storage)
	if err != nil {
		return err
	}
	defer done()
	kid, err := auth.RotateKeys(ctx, reg)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	fmt.Fprintf(stdout, "new signing key %s\n", kid)
	return nil
}
