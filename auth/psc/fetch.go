package psc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Bounds of every exchange with the provider: an answer over MaxBody is
// refused (a userinfo with many exercices is a few kilobytes), and a
// request that takes longer than RequestTimeout is abandoned even when
// the configured client has no timeout.
const (
	MaxBody        = 1 << 20
	RequestTimeout = 10 * time.Second
)

// checkProviderURL accepts an https URL, or an http one on a loopback IP
// address (the tests' in-process provider). A host name is never taken
// for loopback: "localhost" could resolve anywhere.
func checkProviderURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%s carries user information", u.Redacted())
	}
	if u.Fragment != "" {
		return fmt.Errorf("%q has a fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%q is not https (plain http is accepted on loopback addresses only)", raw)
}

// noRedirects is a copy of c (nil: a client with a 5 s timeout) that never
// follows a redirect: a provider endpoint redirecting elsewhere would take
// the client secret or a code to a URL nobody checked.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// answer is a bounded response from the provider.
type answer struct {
	status      int
	contentType string // media type, parameters dropped
	body        []byte
}

var errTooLarge = fmt.Errorf("answer larger than %d bytes", MaxBody)

// do sends req (built by the caller without a context) within
// RequestTimeout and reads at most MaxBody of the answer.
func (p *Provider) do(ctx context.Context, req *http.Request) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := p.client.Do(req.WithContext(ctx))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a code or a state
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, endpointName(req.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, endpointName(req.URL), err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%s %s: %w", req.Method, endpointName(req.URL), errTooLarge)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return &answer{status: resp.StatusCode, contentType: mt, body: body}, nil
}

// endpointName is a URL fit for an error message: scheme, host and path.
func endpointName(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
