// Package smtptest is an SMTP server for tests: it listens on 127.0.0.1 on
// a free port, speaks enough ESMTP to receive what net/smtp sends (EHLO or
// HELO, optionally STARTTLS with a self-signed certificate, MAIL, RCPT,
// DATA, RSET, NOOP, QUIT) and hands each message to the test. Every loop
// is bounded: connections, commands per connection, line length,
// recipients, message size, and each read has a deadline.
package smtptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"
)

// Bounds of one connection.
const (
	MaxConnections = 16
	MaxCommands    = 100
	MaxLine        = 1000 // octets, CRLF included (RFC 5321 section 4.5.3.1.6)
	MaxRecipients  = 100
	MaxMessage     = 1 << 20
	readTimeout    = 10 * time.Second
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	// Data is the message as sent (headers and body, CRLF line ends,
	// dot-stuffing removed).
	Data []byte
	// TLS reports whether it came over a connection upgraded by STARTTLS.
	TLS bool
}

// Options configures a Server.
type Options struct {
	// TLS advertises STARTTLS, with a certificate for 127.0.0.1 and
	// localhost signed by itself (RootCAs trusts it).
	TLS bool
}

// Server is a running SMTP server.
type Server struct {
	ln    net.Listener
	tls   *tls.Config
	roots *x509.CertPool
	msgs  chan Message
	slots chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// New starts a server on 127.0.0.1 and a free port.
func New(opts Options) (*Server, error) {
	s := &Server{msgs: make(chan Message, 64), slots: make(chan struct{}, MaxConnections), conns: map[net.Conn]bool{}}
	if opts.TLS {
		var err error
		if s.tls, s.roots, err = selfSigned(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is smtp://host:port.
func (s *Server) URL() string { return "smtp://" + s.Addr() }

// RootCAs trusts the server's certificate (nil without TLS).
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Next waits for the next message accepted, or for ctx to end.
func (s *Server) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-s.msgs:
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Pending returns the messages accepted and not yet taken by Next, without waiting.
func (s *Server) Pending() []Message {
	var out []Message
	for {
		select {
		case m := <-s.msgs:
			out = append(out, m)
		default:
			return out
		}
	}
}

// Close stops listening, ends the open connections and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		select {
		case s.slots <- struct{}{}:
		default:
			fmt.Fprintf(c, "421 too many connections\r\n")
			c.Close()
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// session is the state of one connection.
type session struct {
	s     *Server
	conn  net.Conn
	r     *bufio.Reader
	tls   bool
	hello bool
	from  string
	to    []string
	mail  bool // MAIL given
}

var errLineTooLong = errors.New("line too long")

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	ss := &session{s: s, conn: c, r: bufio.NewReaderSize(c, MaxLine+2)}
	if !ss.reply(220, "127.0.0.1 smtptest ESMTP") {
		return
	}
	for range MaxCommands {
		line, err := ss.readLine()
		if errors.Is(err, errLineTooLong) {
			ss.reply(500, "line too long")
			return
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !ss.command(strings.ToUpper(verb), arg) {
			return
		}
	}
	ss.reply(421, "too many commands")
}

// command runs one command; false ends the connection.
func (ss *session) command(verb, arg string) bool {
	switch verb {
	case "EHLO", "HELO":
		ss.hello = true
		ss.reset()
		if verb == "HELO" {
			return ss.reply(250, "127.0.0.1")
		}
		lines := []string{"127.0.0.1 greets " + arg, "8BITMIME", fmt.Sprintf("SIZE %d", MaxMessage)}
		if ss.s.tls != nil && !ss.tls {
			lines = append(lines, "STARTTLS")
		}
		return ss.multi(250, lines)
	case "STARTTLS":
		if ss.s.tls == nil || ss.tls {
			return ss.reply(502, "STARTTLS not offered")
		}
		if !ss.reply(220, "ready to start TLS") {
			return false
		}
		tc := tls.Server(ss.conn, ss.s.tls)
		ss.conn.SetDeadline(time.Now().Add(readTimeout))
		if err := tc.Handshake(); err != nil {
			return false
		}
		ss.conn, ss.r, ss.tls, ss.hello = tc, bufio.NewReaderSize(tc, MaxLine+2), true, false
		ss.reset()
		return true
	case "MAIL":
		if !ss.hello {
			return ss.reply(503, "EHLO first")
		}
		addr, ok := path(arg, "FROM:")
		if !ok {
			return ss.reply(501, "syntax: MAIL FROM:<address>")
		}
		ss.reset()
		ss.from, ss.mail = addr, true
		return ss.reply(250, "ok")
	case "RCPT":
		if !ss.mail {
			return ss.reply(503, "MAIL first")
		}
		addr, ok := path(arg, "TO:")
		if !ok || addr == "" {
			return ss.reply(501, "syntax: RCPT TO:<address>")
		}
		if len(ss.to) >= MaxRecipients {
			return ss.reply(452, "too many recipients")
		}
		ss.to = append(ss.to, addr)
		return ss.reply(250, "ok")
	case "DATA":
		if len(ss.to) == 0 {
			return ss.reply(503, "RCPT first")
		}
		if !ss.reply(354, "end with <CRLF>.<CRLF>") {
			return false
		}
		data, err := ss.readData()
		if errors.Is(err, errTooBig) {
			ss.reset()
			return ss.reply(552, "message too big")
		}
		if err != nil {
			return false
		}
		m := Message{From: ss.from, To: ss.to, Data: data, TLS: ss.tls}
		ss.reset()
		select {
		case ss.s.msgs <- m:
			return ss.reply(250, "queued")
		default:
			return ss.reply(452, "mailbox full: the test takes no messages")
		}
	case "RSET":
		ss.reset()
		return ss.reply(250, "ok")
	case "NOOP":
		return ss.reply(250, "ok")
	case "QUIT":
		ss.reply(221, "bye")
		return false
	}
	return ss.reply(502, "command not implemented")
}

func (ss *session) reset() { ss.from, ss.to, ss.mail = "", nil, false }

// path reads "FROM:<a@b> PARAMS" after the verb.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

func (ss *session) readLine() (string, error) {
	ss.conn.SetReadDeadline(time.Now().Add(readTimeout))
	b, err := ss.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(b) > MaxLine {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

var errTooBig = errors.New("message too big")

// readData reads the message up to the lone dot, removing dot-stuffing;
// past MaxMessage it reads on to the end and returns errTooBig.
func (ss *session) readData() ([]byte, error) {
	var buf bytes.Buffer
	tooBig := false
	for range MaxMessage/2 + 2 { // a line is at least CRLF
		line, err := ss.readLine()
		if err != nil && !errors.Is(err, errLineTooLong) {
			return nil, err
		}
		if line == "." {
			if tooBig {
				return nil, errTooBig
			}
			return buf.Bytes(), nil
		}
		if errors.Is(err, errLineTooLong) {
			tooBig = true
			continue
		}
		line = strings.TrimPrefix(line, ".")
		if buf.Len()+len(line)+2 > MaxMessage {
			tooBig = true
			continue
		}
		buf.WriteString(line)
		buf.WriteString("\r\n")
	}
	return nil, errTooBig
}

func (ss *session) reply(code int, text string) bool {
	return ss.multi(code, []string{text})
}

func (ss *session) multi(code int, lines []string) bool {
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(&b, "%d%s%s\r\n", code, sep, l)
	}
	ss.conn.SetWriteDeadline(time.Now().Add(readTimeout))
	_, err := ss.conn.Write([]byte(b.String()))
	return err == nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid a day.
func selfSigned() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	return cfg, pool, nil
}
