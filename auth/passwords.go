package auth

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The password policy (issue 9): at least 12 characters, not one of the
// common passwords, not the username. Nothing about character classes:
// length and the list do the work (NIST SP 800-63B section 5.1.1.2).
const (
	MinPasswordLength = 12   // characters
	maxPasswordBytes  = 1024 // argon2 hashes anything, but a form field has a bound
)

// Policy refusals; the pages say them in French (policyMessage).
var (
	ErrPasswordShort    = errors.New("the password must have at least 12 characters")
	ErrPasswordLong     = errors.New("the password is longer than 1024 bytes")
	ErrPasswordCommon   = errors.New("the password is one of the most common passwords")
	ErrPasswordUsername = errors.New("the password must not be the username")
)

// commonPasswords is common-passwords.txt: see gencommon.go for where it
// comes from (zxcvbn-ts's dictionary of frequent passwords: its top 10,000
// and every entry of 8 characters or more), lower-case, one a line.
//
//go:generate go run gencommon.go
//go:embed common-passwords.txt
var commonPasswords string

var commonSet = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, 25000)
	for _, p := range strings.Split(commonPasswords, "\n") {
		if p != "" {
			m[p] = true
		}
	}
	return m
})

// CheckPassword applies the policy to a new password for username.
// A common password padded with digits or punctuation at either end
// (azerty123456, Motdepasse2024!) counts as that common password.
func CheckPassword(password, username string) error {
	switch {
	case len(password) > maxPasswordBytes:
		return ErrPasswordLong
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return ErrPasswordShort
	}
	lower := strings.ToLower(password)
	if username != "" && lower == strings.ToLower(username) {
		return ErrPasswordUsername
	}
	common := commonSet()
	core := strings.TrimFunc(lower, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	if common[lower] || (len(core) >= 4 && common[core]) {
		return ErrPasswordCommon
	}
	if username != "" && core == strings.ToLower(username) {
		return ErrPasswordUsername
	}
	return nil
}

// policyMessage is a policy refusal as the pages say it.
func policyMessage(err error) string {
	switch {
	case errors.Is(err, ErrPasswordShort):
		return "Le mot de passe doit compter au moins 12 caractères."
	case errors.Is(err, ErrPasswordLong):
		return "Le mot de passe est trop long."
	case errors.Is(err, ErrPasswordCommon):
		return "Ce mot de passe fait partie des plus courants : choisissez-en un autre (une phrase de plusieurs mots, par exemple)."
	case errors.Is(err, ErrPasswordUsername):
		return "Le mot de passe ne doit pas être l'identifiant."
	}
	return "Ce mot de passe n'est pas accepté."
}
