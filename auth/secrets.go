package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's second recommended set (19 MiB, 2 passes,
// one lane), a balance for a server that hashes on every password login
// and confidential-client authentication on 2 cores.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashSecret returns the argon2id hash of a password or client secret in
// the PHC string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func HashSecret(secret string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argonKey([]byte(secret), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// argonSlots bounds the argon2id hashes running at once: each holds
// argonMemory (19 MiB), and anyone may make the server hash (a wrong
// client secret, a login attempt), so without a bound a burst of such
// requests would hold memory in proportion to their number. The others
// wait their turn; their time is bounded by the request's.
var argonSlots = make(chan struct{}, 4)

func argonKey(secret, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey(secret, salt, t, m, p, n)
}

var errBadHash = errors.New("auth: malformed argon2id hash")

// CheckSecret reports whether secret matches hash (HashSecret's format),
// comparing in constant time. A malformed hash matches nothing.
func CheckSecret(hash, secret string) bool {
	ok, err := checkSecret(hash, secret)
	return err == nil && ok
}

func checkSecret(hash, secret string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 {
		return false, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, errBadHash
	}
	got := argonKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// RandomToken is a new unguessable value (32 random bytes, base64url):
// codes, refresh tokens, launch ids, reset links, CSRF tokens, secrets.
func RandomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Digest is the record key of a bearer value (a code, a refresh token, a
// launch id): its SHA-256, so the store never holds the value itself.
func Digest(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// EqualConstant compares two secrets in constant time.
func EqualConstant(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
