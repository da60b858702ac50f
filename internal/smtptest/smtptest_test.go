package smtptest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func next(t *testing.T, s *Server) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatal("no message:", err)
	}
	return m
}

// send is what a mailer does with net/smtp: EHLO, STARTTLS when offered
// (trusting roots), MAIL, RCPT, DATA, QUIT.
func send(t *testing.T, s *Server, roots bool, body string) {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{ServerName: "127.0.0.1"}
		if roots {
			cfg.RootCAs = s.RootCAs()
		}
		if err := c.StartTLS(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Mail("from@example.org"); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"a@example.org", "b@example.org"} {
		if err := c.Rcpt(to); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, body)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

func TestReceive(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", tlsOn), func(t *testing.T) {
			s := start(t, Options{TLS: tlsOn})
			body := "Subject: hi\r\n\r\n.leading dot\r\nline two\r\n"
			send(t, s, true, body)
			m := next(t, s)
			if m.From != "from@example.org" || strings.Join(m.To, ",") != "a@example.org,b@example.org" {
				t.Errorf("envelope %q %q", m.From, m.To)
			}
			if string(m.Data) != body {
				t.Errorf("data %q, want %q", m.Data, body)
			}
			if m.TLS != tlsOn {
				t.Errorf("TLS %v, want %v", m.TLS, tlsOn)
			}
		})
	}
}

func TestSendMail(t *testing.T) {
	s := start(t, Options{})
	if err := smtp.SendMail(s.Addr(), nil, "x@example.org", []string{"y@example.org"}, []byte("Subject: t\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, s); !strings.Contains(string(m.Data), "body") {
		t.Errorf("data %q", m.Data)
	}
}

func TestUntrustedCertificateRefused(t *testing.T) {
	s := start(t, Options{TLS: true})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Fatal("a client without the root accepted the self-signed certificate")
	}
}

// dialRaw speaks the protocol by hand; lines are sent as given.
func dialRaw(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	readReply(t, r)
	return c, r
}

// readReply returns the code of the next (possibly multi-line) reply.
func readReply(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return "EOF"
		}
		if len(l) < 4 || l[3] != '-' {
			return l[:3]
		}
	}
}

func TestBounds(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  []string // reply codes, one per line sent
	}{
		{"order", []string{"MAIL FROM:<a@b>", "EHLO x", "RCPT TO:<c@d>", "DATA", "MAIL FROM:<a@b>", "DATA"}, []string{"503", "250", "503", "503", "250", "503"}},
		{"line too long", []string{"EHLO x", "NOOP " + strings.Repeat("x", MaxLine)}, []string{"250", "500"}},
		{"syntax", []string{"EHLO x", "MAIL FROM:a@b", "MAIL FROM:<a@b>", "RCPT TO:<>"}, []string{"250", "501", "250", "501"}},
		{"unknown", []string{"VRFY root", "STARTTLS"}, []string{"502", "502"}},
		{"quit", []string{"QUIT", "NOOP"}, []string{"221", "EOF"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{})
			c, r := dialRaw(t, s)
			for i, l := range tc.lines {
				fmt.Fprintf(c, "%s\r\n", l)
				if got := readReply(t, r); got != tc.want[i] {
					t.Errorf("%q: reply %s, want %s", l, got, tc.want[i])
				}
			}
		})
	}
}

func TestTooManyCommands(t *testing.T) {
	s := start(t, Options{})
	c, r := dialRaw(t, s)
	for range MaxCommands {
		fmt.Fprintf(c, "NOOP\r\n")
		if got := readReply(t, r); got != "250" {
			t.Fatalf("NOOP: %s", got)
		}
	}
	fmt.Fprintf(c, "NOOP\r\n")
	if got := readReply(t, r); got != "421" {
		t.Errorf("command past the bound: %s, want 421", got)
	}
}

func TestMessageTooBig(t *testing.T) {
	s := start(t, Options{})
	c, r := dialRaw(t, s)
	for _, l := range []string{"EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA"} {
		fmt.Fprintf(c, "%s\r\n", l)
		readReply(t, r)
	}
	line := strings.Repeat("y", 998) + "\r\n"
	w := bufio.NewWriter(c)
	for range MaxMessage/len(line) + 2 {
		w.WriteString(line)
	}
	w.WriteString(".\r\n")
	w.Flush()
	if got := readReply(t, r); got != "552" {
		t.Errorf("oversized message: %s, want 552", got)
	}
	if p := s.Pending(); len(p) != 0 {
		t.Errorf("oversized message delivered")
	}
}
