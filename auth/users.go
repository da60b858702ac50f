package auth

import (
	"context"
	"errors"
)

// Placeholders for the account API (dccfhir user); the browser side of
// issue 9 fills them in.

// UserSpec is an account to create (dccfhir user add).
type UserSpec struct {
	Username     string
	Practitioner string // Practitioner/ID
	Password     string // "" : no password login (Pro Santé Connect only)
	Email        string // "" : the Practitioner's e-mail telecom
	Roles        []string
}

// AddUser creates an account; the password must pass the policy.
func (r *Registry) AddUser(ctx context.Context, spec UserSpec) error { return errors.New("not yet") }

// DisableUser disables an account: its tokens stop working at once.
func (r *Registry) DisableUser(ctx context.Context, username string) error {
	return errors.New("not yet")
}
