package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/store"
)

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		password, username string
		want               error
	}{
		{"short", "u", ErrPasswordShort},
		{"elevenchars", "u", ErrPasswordShort},
		{"ééééééééééé", "u", ErrPasswordShort}, // 11 characters, 22 bytes
		{strings.Repeat("x", maxPasswordBytes+1), "u", ErrPasswordLong},
		{"123456789012", "u", ErrPasswordCommon},
		{"justinbieber", "u", ErrPasswordCommon}, // in the list past its top 10,000 (12 characters)
		{"1qaz2wsx3edc", "u", ErrPasswordCommon},
		{"Azerty123456", "u", ErrPasswordCommon},     // azerty, padded
		{"motdepasse2024!", "u", ErrPasswordCommon},  // motdepasse (past the top 10,000, 10 characters), padded
		{"!!Password!!1234", "u", ErrPasswordCommon}, // password, padded
		{"jean.dupont@chu", "jean.dupont@chu", ErrPasswordUsername},
		{"Jean.Dupont@CHU", "jean.dupont@chu", ErrPasswordUsername},
		{"jeandupont2024", "jeandupont", ErrPasswordUsername},
		{"correct horse battery staple", "u", nil},
		{"ééééééééééééé", "u", nil},
		{"trois petits chats", "u", nil},
	}
	for _, tc := range cases {
		if err := CheckPassword(tc.password, tc.username); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tc.password, tc.username, err, tc.want)
		}
	}
	if n := len(commonSet()); n < 20000 {
		t.Errorf("the common list has %d passwords", n)
	}
}

func TestAddUser(t *testing.T) {
	h := newWebHarness(t, nil)
	ctx := context.Background()
	reg := h.s.reg
	bad := []UserSpec{
		{Username: "Upper", Practitioner: "Practitioner/x"},
		{Username: "", Practitioner: "Practitioner/x"},
		{Username: "a b", Practitioner: "Practitioner/x"},
		{Username: strings.Repeat("a", 65), Practitioner: "Practitioner/x"},
		{Username: "nopract"},
		{Username: "badpract", Practitioner: "Patient/x"},
		{Username: "badpract2", Practitioner: "Practitioner/a b"},
		{Username: "badrole", Practitioner: "Practitioner/x", Roles: []string{"root"}},
		{Username: "bademail", Practitioner: "Practitioner/x", Email: "Alice <a@b.example>"},
		{Username: "bademail2", Practitioner: "Practitioner/x", Email: "a@b.example\r\nBcc: c@d.example"},
		{Username: "weak", Practitioner: "Practitioner/x", Password: "password1234"},
		{Username: "samename1234", Practitioner: "Practitioner/x", Password: "samename1234"},
		{Username: "alice", Practitioner: "Practitioner/x", Password: testPassword}, // exists
	}
	for _, spec := range bad {
		if err := reg.AddUser(ctx, spec); err == nil {
			t.Errorf("AddUser(%+v) accepted", spec)
		}
	}
	if err := reg.AddUser(ctx, UserSpec{Username: "alice", Practitioner: "Practitioner/x"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("an existing username: %v", err)
	}
	if err := reg.AddUser(ctx, UserSpec{Username: "root", Roles: []string{"admin", "admin"}, Password: testPassword}); err != nil {
		t.Errorf("an administrator without Practitioner: %v", err)
	}
	u, err := reg.User(ctx, "root")
	if err != nil || len(u.Roles) != 1 || !CheckSecret(u.PasswordHash, testPassword) || u.Created.IsZero() {
		t.Errorf("stored %+v %v", u, err)
	}
	if err := reg.SetPassword(ctx, "root", "short"); !errors.Is(err, ErrPasswordShort) {
		t.Errorf("SetPassword with a short password: %v", err)
	}
	if err := reg.SetPassword(ctx, "root", "another good passphrase"); err != nil {
		t.Fatal(err)
	}
	if u, _ := reg.User(ctx, "root"); !CheckSecret(u.PasswordHash, "another good passphrase") {
		t.Error("SetPassword did not set it")
	}
	if err := reg.DisableUser(ctx, "nobody"); !errors.Is(err, ErrUnknown) {
		t.Errorf("DisableUser of nobody: %v", err)
	}
	if err := reg.DisableUser(ctx, "root"); err != nil {
		t.Fatal(err)
	}
	if u, _ := reg.User(ctx, "root"); !u.Disabled {
		t.Error("not disabled")
	}
}
