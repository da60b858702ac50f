package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/auth"
	"github.com/dccfhir/dccfhir/service"
)

func TestAuthBearerParse(t *testing.T) {
	long := strings.Repeat("a", maxToken)
	for _, tc := range []struct {
		values []string
		token  string
		ok     bool
	}{
		{nil, "", true},
		{[]string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, "", true},
		{[]string{"Bearerabc"}, "", true},
		{[]string{""}, "", true},
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"bEaReR abc"}, "abc", true},
		{[]string{"Bearer a-b.c_d~e+f/g=="}, "a-b.c_d~e+f/g==", true},
		{[]string{"Bearer " + long}, long, true},
		{[]string{"Bearer " + long + "a"}, "", false},
		{[]string{"Bearer"}, "", false},
		{[]string{"Bearer "}, "", false},
		{[]string{"Bearer  abc"}, "", false},
		{[]string{"Bearer abc "}, "", false},
		{[]string{"Bearer a=b"}, "", false},
		{[]string{"Bearer =abc"}, "", false},
		{[]string{"Bearer a,b"}, "", false},
		{[]string{"Bearer a b"}, "", false},
		{[]string{"Bearer abc", "Bearer abc"}, "", false},
	} {
		tok, ok := bearer(http.Header{"Authorization": tc.values})
		if tok != tc.token || ok != tc.ok {
			t.Errorf("%q: (%q, %v), want (%q, %v)", tc.values, tok, ok, tc.token, tc.ok)
		}
	}
}

type fixedAuth struct{ p *auth.Principal }

func (a fixedAuth) Verify(context.Context, string) (*auth.Principal, error) { return a.p, nil }
func (fixedAuth) Register(*echo.Echo, string)                               {}
func (fixedAuth) SMARTConfiguration() map[string]any                        { return nil }
func (fixedAuth) AllowedOrigin(context.Context, string) bool                { return false }

type allowAll struct{}

func (allowAll) Grant(byte, string) (service.Grant, error) { return service.Grant{}, nil }

// TestAuthAllocs: the check runs on every request; parsing allocates
// nothing and the whole middleware, around the verifier, little (the
// request's new context).
func TestAuthAllocs(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJ4In0.c2ln"}}
	if n := testing.AllocsPerRun(100, func() { bearer(h) }); n != 0 {
		t.Errorf("parsing allocates %v times", n)
	}
	s := &Server{cfg: Config{Auth: fixedAuth{&auth.Principal{ClientID: "c", Access: allowAll{}}}}, metrics: newMetrics(true), base: "/fhir", public: map[string]bool{}}
	mw := s.authenticate(func(echo.Context) error { return nil })
	e := echo.New()
	req := httptest.NewRequest("GET", "/fhir/Patient/1", nil)
	req.Header = h
	c := e.NewContext(req, httptest.NewRecorder())
	n := testing.AllocsPerRun(100, func() {
		c.SetRequest(req)
		if err := mw(c); err != nil {
			t.Fatal(err)
		}
	})
	if n > 3 {
		t.Errorf("the middleware allocates %v times per request", n)
	}
	t.Logf("%v allocations per request", n)
}
