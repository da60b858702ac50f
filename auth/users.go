package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/store"
)

// UserSpec is an account to create (dccfhir user add).
type UserSpec struct {
	Username string
	// Practitioner is the professional (Practitioner/ID); required unless
	// the account has the admin role (the administrator need not be a
	// professional).
	Practitioner string
	Password     string // "" : no password login (Pro Santé Connect only)
	// Email is where password-reset mail goes; "" : the Practitioner's
	// e-mail telecom, read when a reset is asked (so it follows the
	// directory).
	Email string
	Roles []string // admin, auditor, observatory
}

// Roles an account may have.
var userRoles = []string{"admin", "auditor", "observatory"}

// usernamePattern: lower case (logins are lower-cased), a letter or digit
// first, at most 64 characters.
var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidUsername reports whether name may be an account's username.
func ValidUsername(name string) bool { return usernamePattern.MatchString(name) }

// AddUser creates an account; the password must pass the policy
// (CheckPassword). An existing username is store.ErrConflict.
func (r *Registry) AddUser(ctx context.Context, spec UserSpec) error {
	if !ValidUsername(spec.Username) {
		return fmt.Errorf("auth: username %q: lower-case letters, digits and . _ @ - only, at most 64, starting with a letter or digit", spec.Username)
	}
	roles := slices.Clone(spec.Roles)
	slices.Sort(roles)
	roles = slices.Compact(roles)
	for _, role := range roles {
		if !slices.Contains(userRoles, role) {
			return fmt.Errorf("auth: unknown role %q (admin, auditor, observatory)", role)
		}
	}
	if spec.Practitioner == "" && !slices.Contains(roles, "admin") {
		return errors.New("auth: an account other than an administrator's needs its Practitioner (Practitioner/ID)")
	}
	if spec.Practitioner != "" {
		id, ok := strings.CutPrefix(spec.Practitioner, "Practitioner/")
		if !ok || !fhir.ValidID(id) {
			return fmt.Errorf("auth: practitioner %q is not a Practitioner/ID reference", spec.Practitioner)
		}
	}
	email, err := mailAddress(spec.Email)
	if err != nil {
		return err
	}
	u := &User{Username: spec.Username, Practitioner: spec.Practitioner, Roles: roles, Email: email, Created: r.now()}
	if spec.Password != "" {
		if err := CheckPassword(spec.Password, spec.Username); err != nil {
			return err
		}
		if u.PasswordHash, err = HashSecret(spec.Password); err != nil {
			return err
		}
	}
	if err := r.put(ctx, KindUser, u.Username, u, time.Time{}, true); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("auth: account %q exists: %w", u.Username, err)
		}
		return err
	}
	return nil
}

// mailAddress checks an e-mail address ("" stays ""): a bare address, no
// display name, nothing a mail header could be split on.
func mailAddress(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || strings.ContainsAny(s, "\r\n<>") {
		return "", fmt.Errorf("auth: %q is not an e-mail address", s)
	}
	return s, nil
}

// DisableUser disables an account: its tokens stop working at once
// (every token check looks the user up) and it can no longer log in.
func (r *Registry) DisableUser(ctx context.Context, username string) error {
	u, err := r.User(ctx, username)
	if err != nil {
		return err
	}
	u.Disabled = true
	return r.PutUser(ctx, u)
}

// SetPassword replaces an account's password (the policy applies); the
// password-reset confirmation uses it. It revokes nothing.
func (r *Registry) SetPassword(ctx context.Context, username, password string) error {
	u, err := r.User(ctx, username)
	if err != nil {
		return err
	}
	if err := CheckPassword(password, username); err != nil {
		return err
	}
	if u.PasswordHash, err = HashSecret(password); err != nil {
		return err
	}
	return r.PutUser(ctx, u)
}
