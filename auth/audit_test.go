package auth

import (
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/audit"
)

// TestAuditNotes: the login page tells the audit trail who tried and
// whether the password was right (both answers are 200 pages).
func TestAuditNotes(t *testing.T) {
	h := newWebHarness(t, nil)
	var mu sync.Mutex
	var logins []audit.Attempt
	h.e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			n := &audit.Note{}
			c.SetRequest(c.Request().WithContext(audit.WithNote(c.Request().Context(), n)))
			err := next(c)
			if n.Login != nil {
				mu.Lock()
				logins = append(logins, *n.Login)
				mu.Unlock()
			}
			return err
		}
	})
	b := h.browser()
	failedLogin(t, b.login(b.get(h.authorizeURL(nil)), "alice", "wrong password"))
	h.codeOf(b.approve(b.login(b.get(h.authorizeURL(nil)), "alice", testPassword)))
	mu.Lock()
	defer mu.Unlock()
	want := []audit.Attempt{{Username: "alice", OK: false}, {Username: "alice", OK: true}}
	if len(logins) < 2 || logins[0] != want[0] || logins[len(logins)-1] != want[1] {
		t.Fatalf("login notes %+v, want %+v", logins, want)
	}
}
