package fhir

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Issue is one OperationOutcome.issue: what went wrong and where (a FHIRPath
// expression), so a client can point at the offending element.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// Error is a failure a client can be told about: an HTTP status and the
// issues of the OperationOutcome that explains it. Every layer returns it so
// the handler never has to guess a status.
type Error struct {
	Status int
	Issues []Issue
}

func (e *Error) Error() string {
	if len(e.Issues) == 0 {
		return http.StatusText(e.Status)
	}
	i := e.Issues[0]
	if len(i.Expression) > 0 {
		return fmt.Sprintf("%s (at %s)", i.Diagnostics, i.Expression[0])
	}
	return i.Diagnostics
}

// Errorf builds a one-issue error; expr is the FHIRPath location ("" for none).
func Errorf(status int, code, expr, format string, args ...any) *Error {
	is := Issue{Severity: "error", Code: code, Diagnostics: fmt.Sprintf(format, args...)}
	if expr != "" {
		is.Expression = []string{expr}
	}
	return &Error{Status: status, Issues: []Issue{is}}
}

// Outcome is the JSON OperationOutcome resource for a list of issues.
func Outcome(issues []Issue) []byte {
	b, _ := json.Marshal(struct {
		ResourceType string  `json:"resourceType"`
		Issue        []Issue `json:"issue"`
	}{"OperationOutcome", issues})
	return b
}

// InfoOutcome is an OperationOutcome with one information issue, for
// Prefer: return=OperationOutcome on success.
func InfoOutcome(msg string) []byte {
	return Outcome([]Issue{{Severity: "information", Code: "informational", Diagnostics: msg}})
}
