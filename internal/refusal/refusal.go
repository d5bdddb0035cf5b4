// Package refusal is the one error type the admission checks refuse a request
// with (internal/authn, internal/entitlement, internal/policy): a stable
// machine code that internal/api maps to an HTTP status in one place, a
// message for the caller, and for quotas how long to wait.
package refusal

import (
	"fmt"
	"time"
)

// Error is a refusal: Code is one of the refusing package's Code constants,
// Msg a human explanation without secrets, RetryAfter (when non-zero) how long
// until a retry may pass. Compare with errors.Is against an *Error with the
// same Code, or errors.As to read it.
type Error struct {
	Code       string
	Msg        string
	RetryAfter time.Duration
}

// Error returns "code: message".
func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Code
	}
	return e.Code + ": " + e.Msg
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, &refusal.Error{Code: c}) works whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// New returns a refusal with code and a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}
