package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/url"
	"time"
)

// Mail goes over SMTP with net/smtp (the standard library: the one thing
// needed is to hand a message to the deployment's relay): cfg.SMTPURL is
// smtp://host:port (port 25 when absent), STARTTLS is used whenever the
// relay offers it (and then its certificate must verify), From is
// cfg.SMTPFrom. No SMTP authentication: the relay accepts the server by
// its address, as hospital relays do. A message's body is never logged.

const mailTimeout = 30 * time.Second

type mailMessage struct {
	To, Subject, Body string
}

// sendMail hands m to the relay.
func (w *browserSide) sendMail(ctx context.Context, m mailMessage) error {
	cfg := w.s.cfg
	u, err := url.Parse(cfg.SMTPURL)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return errors.New("mail: the SMTP URL must be smtp://host:port")
	}
	if u.User != nil {
		return errors.New("mail: SMTP authentication is not supported (no user in the SMTP URL)")
	}
	from, err := mailAddress(cfg.SMTPFrom)
	if err != nil || from == "" {
		return errors.New("mail: the sender address (--smtp-from) is missing or invalid")
	}
	to, err := mailAddress(m.To)
	if err != nil || to == "" {
		return fmt.Errorf("mail: invalid recipient")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "25"
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: %w", err)
	}
	defer c.Close()
	if err := c.Hello(w.helloName()); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if w.mailTLS != nil {
			tc = w.mailTLS.Clone()
		}
		tc.ServerName = host
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail: MAIL: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("mail: RCPT: %w", err)
	}
	wc, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := wc.Write(composeMail(from, to, m, w.now(), w.helloName())); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	return c.Quit()
}

// helloName is the server's host name, from its issuer URL.
func (w *browserSide) helloName() string {
	if u, err := url.Parse(w.s.cfg.Issuer); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

// composeMail is a plain-text UTF-8 message (RFC 5322, quoted-printable
// body, RFC 2047 subject). The addresses were checked by mailAddress.
func composeMail(from, to string, m mailMessage, now time.Time, host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", RandomToken()[:24], host)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write(bytes.ReplaceAll([]byte(m.Body), []byte("\n"), []byte("\r\n")))
	qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
