package auth

// TokenError is an OAuth 2 error (RFC 6749 section 5.2, RFC 6750 section
// 3.1): Code is the error code (invalid_token, invalid_client,
// invalid_grant, invalid_request, invalid_scope, unauthorized_client,
// unsupported_grant_type, access_denied...), Description says what was
// wrong for the client. Never a secret in either.
type TokenError struct {
	Code        string
	Description string
	// Status is the HTTP status (0: 400, or 401 for invalid_client and invalid_token).
	Status int
}

func (e *TokenError) Error() string { return e.Code + ": " + e.Description }

// HTTPStatus is the status the error is answered with.
func (e *TokenError) HTTPStatus() int {
	switch {
	case e.Status != 0:
		return e.Status
	case e.Code == "invalid_client" || e.Code == "invalid_token":
		return 401
	}
	return 400
}
