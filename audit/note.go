package audit

import "context"

// Note is what the layers under the audit middleware tell it about one
// request, as they learn it: the patients it concerned (the access gate
// knows them, the middleware often cannot without decoding bodies), a
// break-the-glass reason, and the outcome of a login (a refused password
// is a 200 page, not an error status). The middleware puts one in the
// request's context; a request without one (audit off) notes nothing.
// A request is served by one goroutine at a time: no lock.
type Note struct {
	Patients   []string // Patient/ID
	BreakGlass string   // the X-Break-Glass reason, "" when none
	// Login is set by the authorization server when a request tried to
	// authenticate a user: who, and whether it succeeded.
	Login *Attempt
	// Client is the client_id an authorization server request named in
	// its form (which the middleware does not read).
	Client string
}

// Attempt is one authentication attempt.
type Attempt struct {
	Username string
	OK       bool
}

type noteKey struct{}

// WithNote returns ctx carrying n.
func WithNote(ctx context.Context, n *Note) context.Context {
	return context.WithValue(ctx, noteKey{}, n)
}

// NoteFrom returns the request's Note, nil when the request is not audited
// (the methods of a nil *Note do nothing).
func NoteFrom(ctx context.Context) *Note {
	n, _ := ctx.Value(noteKey{}).(*Note)
	return n
}

// Patient notes that the request concerned patient (Patient/ID or ID).
func (n *Note) Patient(patient string) {
	if n == nil || patient == "" {
		return
	}
	if len(patient) < 8 || patient[:8] != "Patient/" {
		patient = "Patient/" + patient
	}
	for _, p := range n.Patients {
		if p == patient {
			return
		}
	}
	n.Patients = append(n.Patients, patient)
}

// NoteLogin records an authentication attempt of username on the request
// of ctx (the authorization server's login and Pro Santé Connect paths).
func NoteLogin(ctx context.Context, username string, ok bool) {
	if n := NoteFrom(ctx); n != nil {
		n.Login = &Attempt{Username: username, OK: ok}
	}
}

// NoteClient records the client_id a request to the authorization server
// named (the token endpoint reads its form itself).
func NoteClient(ctx context.Context, clientID string) {
	if n := NoteFrom(ctx); n != nil && clientID != "" {
		n.Client = clientID
	}
}
