package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/internal/smtptest"
	"github.com/dccfhir/dccfhir/service"
)

func newResetHarness(t *testing.T, tlsOn bool) (*webHarness, *smtptest.Server) {
	t.Helper()
	mailer, err := smtptest.New(smtptest.Options{TLS: tlsOn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mailer.Close)
	h := newWebHarness(t, func(c *Config) { c.SMTPURL, c.SMTPFrom = mailer.URL(), "dcc-noreply@reseau.example" })
	h.s.web.mailTLS = &tls.Config{RootCAs: mailer.RootCAs()}
	return h, mailer
}

// askReset fills the reset form for username and returns the answer.
func (b *browser) askReset(username string) *page {
	b.h.t.Helper()
	form := b.get(b.h.srv.URL + "/auth/password-reset")
	if !strings.Contains(form.body, `name="username"`) || !strings.Contains(form.body, `action="password-reset"`) {
		b.h.t.Fatalf("not the reset form: %s", form.body)
	}
	return b.submit(form, "/auth/password-reset", map[string]string{"username": username})
}

// resetMail waits for the next mail and returns it with its link.
func resetMail(t *testing.T, mailer *smtptest.Server) (smtptest.Message, *mail.Message, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := mailer.Next(ctx)
	if err != nil {
		t.Fatal("no reset mail:", err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	link := linkRe.FindString(string(body))
	if link == "" {
		t.Fatalf("no link in the mail: %s", body)
	}
	return m, msg, link
}

var linkRe = regexp.MustCompile(`http://\S+/auth/password-reset/confirm\?token=[A-Za-z0-9_-]+`)

// noMoreMail checks that nothing else was sent.
func noMoreMail(t *testing.T, h *webHarness, mailer *smtptest.Server) {
	t.Helper()
	h.s.web.mailing.Wait()
	if p := mailer.Pending(); len(p) != 0 {
		t.Errorf("%d unexpected mails, to %v", len(p), p[0].To)
	}
}

func TestPasswordReset(t *testing.T) {
	for _, tlsOn := range []bool{true, false} {
		t.Run(map[bool]string{true: "starttls", false: "plain"}[tlsOn], func(t *testing.T) {
			h, mailer := newResetHarness(t, tlsOn)
			b := h.browser()
			// Lock the account first: the reset clears the lockout.
			for range MaxLoginFailures {
				failedLogin(t, b.login(b.get(h.authorizeURL(nil)), "alice", "wrong password!"))
			}
			sent := b.askReset("alice")
			m, msg, link := resetMail(t, mailer)
			if m.TLS != tlsOn {
				t.Errorf("mail over TLS: %v, want %v", m.TLS, tlsOn)
			}
			if m.From != "dcc-noreply@reseau.example" || len(m.To) != 1 || m.To[0] != "alice@hopital.example" || msg.Header.Get("To") != "alice@hopital.example" {
				t.Errorf("envelope %s → %v, To %q", m.From, m.To, msg.Header.Get("To"))
			}
			if subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subj != "Réinitialisation de votre mot de passe" {
				t.Errorf("subject %q", subj)
			}
			if !strings.HasPrefix(link, h.srv.URL+"/auth/password-reset/confirm?token=") {
				t.Errorf("link %s", link)
			}
			if !strings.Contains(sent.body, "Si cet identifiant correspond") {
				t.Errorf("reset answer: %s", sent.body)
			}
			confirm := b.get(link)
			if confirm.header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(confirm.body, `name="password"`) || !strings.Contains(confirm.body, `action="confirm"`) {
				t.Fatalf("confirm page (%d): %s", confirm.status, confirm.body)
			}
			// The policy applies.
			for _, weak := range []string{"short", "azertyuiop123", "alice"} {
				r := b.submit(confirm, "/auth/password-reset/confirm", map[string]string{"password": weak})
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, `name="password"`) {
					t.Errorf("weak password %q: %d", weak, r.status)
				}
			}
			// CSRF applies.
			forged := url.Values{"token": {hidden(confirm, "token")}, "csrf_token": {"x"}, "password": {"a brand new passphrase"}}
			if r := b.post("/auth/password-reset/confirm", forged); r.status != http.StatusForbidden {
				t.Errorf("confirm without the CSRF token: %d", r.status)
			}
			done := b.submit(confirm, "/auth/password-reset/confirm", map[string]string{"password": "a brand new passphrase"})
			if done.status != http.StatusOK || !strings.Contains(done.body, "Mot de passe changé") {
				t.Fatalf("confirm (%d): %s", done.status, done.body)
			}
			// Once only: the link's record is gone.
			lu, _ := url.Parse(link)
			if _, err := h.st.GetRecord(context.Background(), KindReset, Digest(lu.Query().Get("token"))); err == nil {
				t.Error("the used link's record is still there")
			}
			if r := b.get(link); r.status != http.StatusBadRequest || strings.Contains(r.body, `name="password"`) {
				t.Errorf("a used link shows the form again: %d", r.status)
			}
			if r := b.submit(confirm, "/auth/password-reset/confirm", map[string]string{"password": "another new passphrase"}); r.status != http.StatusBadRequest {
				t.Errorf("a used link set a password: %d", r.status)
			}
			// Unlocked, with the new password only.
			failedLogin(t, b.login(b.get(h.authorizeURL(nil)), "alice", testPassword))
			h.codeOf(b.approve(b.login(b.get(h.authorizeURL(nil)), "alice", "a brand new passphrase")))
			noMoreMail(t, h, mailer)
		})
	}
}

func TestPasswordResetExpires(t *testing.T) {
	h, mailer := newResetHarness(t, true)
	b := h.browser()
	b.askReset("alice")
	_, _, link := resetMail(t, mailer)
	confirm := b.get(link)
	h.clock.Advance(ResetLinkTTL + time.Second)
	if r := b.get(link); r.status != http.StatusBadRequest || strings.Contains(r.body, `name="password"`) {
		t.Errorf("a link older than 30 minutes shows the form: %d", r.status)
	}
	if r := b.submit(confirm, "/auth/password-reset/confirm", map[string]string{"password": "a brand new passphrase"}); r.status != http.StatusBadRequest {
		t.Errorf("a link older than 30 minutes set the password: %d", r.status)
	}
	h.codeOf(b.approve(b.login(b.get(h.authorizeURL(nil)), "alice", testPassword)))
}

// The answer is the same whether or not a mail goes out, and only
// accounts that may reset get one.
func TestPasswordResetSameAnswer(t *testing.T) {
	h, mailer := newResetHarness(t, true)
	ctx := context.Background()
	h.user(UserSpec{Username: "nomail", Practitioner: "Practitioner/none", Password: testPassword})
	h.user(UserSpec{Username: "disabled", Practitioner: "Practitioner/d", Password: testPassword, Email: "d@hopital.example"})
	if err := h.s.reg.DisableUser(ctx, "disabled"); err != nil {
		t.Fatal(err)
	}
	h.user(UserSpec{Username: "psconly", Practitioner: "Practitioner/p", Email: "p@hopital.example"})
	b := h.browser()
	want := b.askReset("alice").body
	resetMail(t, mailer)
	for _, who := range []string{"nobody", "nomail", "disabled", "psconly", "Bad Name!", ""} {
		if got := b.askReset(who).body; got != want {
			t.Errorf("%q: a different answer:\n%s\n---\n%s", who, got, want)
		}
	}
	// Asked again within 5 minutes: the same answer, no second mail.
	if got := b.askReset("alice").body; got != want {
		t.Errorf("a second request answered differently")
	}
	noMoreMail(t, h, mailer)
	// Later, a second mail.
	h.clock.Advance(resetThrottle)
	b.askReset("alice")
	resetMail(t, mailer)
}

// Without its own address, the mail goes to the Practitioner's e-mail telecom.
func TestPasswordResetPractitionerEmail(t *testing.T) {
	h, mailer := newResetHarness(t, false)
	if _, err := h.svc.Update(context.Background(), "Practitioner", "dr", []byte(`{"resourceType":"Practitioner","id":"dr","telecom":[{"system":"phone","value":"0102030405"},{"system":"email","value":"home@example.org","use":"home"},{"system":"email","value":"dr@chu.example","use":"work"}]}`), service.Preconditions{}); err != nil {
		t.Fatal(err)
	}
	h.user(UserSpec{Username: "dr", Practitioner: "Practitioner/dr", Password: testPassword})
	h.browser().askReset("dr")
	if m, _, _ := resetMail(t, mailer); len(m.To) != 1 || m.To[0] != "dr@chu.example" {
		t.Errorf("mail to %v, want the work address", m.To)
	}
}

// Without SMTP the reset page says so.
func TestPasswordResetNoMail(t *testing.T) {
	h := newWebHarness(t, nil)
	if p := h.browser().get(h.srv.URL + "/auth/password-reset"); !strings.Contains(p.body, "pas configuré") || strings.Contains(p.body, `name="username"`) {
		t.Errorf("reset page without SMTP: %s", p.body)
	}
}

// The mail refuses what could split its headers, and an SMTP URL it cannot use.
func TestSendMailRefusals(t *testing.T) {
	mailer, err := smtptest.New(smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mailer.Close()
	h := newWebHarness(t, nil)
	w := &h.s.web
	cases := []struct{ url, from, to string }{
		{mailer.URL(), "dcc@example.org", "a@example.org\r\nBcc: x@evil.example"},
		{mailer.URL(), "dcc@example.org\r\nBcc: x@evil.example", "a@example.org"},
		{mailer.URL(), "", "a@example.org"},
		{"smtps://" + mailer.Addr(), "dcc@example.org", "a@example.org"},
		{"smtp://user:pw@" + mailer.Addr(), "dcc@example.org", "a@example.org"},
		{"http://" + mailer.Addr(), "dcc@example.org", "a@example.org"},
	}
	for _, tc := range cases {
		w.s.cfg.SMTPURL, w.s.cfg.SMTPFrom = tc.url, tc.from
		if err := w.sendMail(context.Background(), mailMessage{To: tc.to, Subject: "s", Body: "b"}); err == nil {
			t.Errorf("%q from %q to %q: sent", tc.url, tc.from, tc.to)
		}
	}
	if p := mailer.Pending(); len(p) != 0 {
		t.Errorf("%d mails went out", len(p))
	}
	// A relay offering STARTTLS with a certificate the server does not trust: nothing is sent.
	tlsMailer, err := smtptest.New(smtptest.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tlsMailer.Close()
	w.s.cfg.SMTPURL, w.s.cfg.SMTPFrom = tlsMailer.URL(), "dcc@example.org"
	if err := w.sendMail(context.Background(), mailMessage{To: "a@example.org", Subject: "s", Body: "b"}); err == nil || len(tlsMailer.Pending()) != 0 {
		t.Errorf("sent through an untrusted STARTTLS: %v", err)
	}
}
