package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stellaops/stellad/internal/client"
	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/kit/verify"
)

// Exit codes; scripts branch on them (docs/cli.md).
const (
	exitOK           = 0
	exitVerifyFailed = 1
	exitBadInput     = 2
	exitUnreachable  = 3
	exitInternal     = 4
	exitRefused      = 5
)

// inputError marks an error caused by the command line or the files it names.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// usageErrorf returns a bad-input error with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &inputError{err: fmt.Errorf(format, args...)}
}

// badInput marks err (already naming the file or flag) as bad input.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return &inputError{err: err}
}

// errVerifyFailed is wrapped by local verification failures outside kit/verify
// (for example a log proof that does not verify).
var errVerifyFailed = errors.New("verification failed")

// exitCode maps an error to stellactl's exit code. It is the one place that
// decides: verification failures 1 (and the daemon's 422 untrusted_signature),
// bad input or usage 2 (a missing or existing key, and the daemon's other 4xx
// answers, which say the request was wrong), the daemon unreachable 3, all else
// (5xx answers included) 4, and 5 when the daemon refused the caller: 401, 403
// (authentication, scope, tenant, entitlement, scanner release) or 429 (quota;
// worth retrying later).
func exitCode(err error) int {
	var in *inputError
	var api *client.APIError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, verify.ErrVerification), errors.Is(err, errVerifyFailed):
		return exitVerifyFailed
	case errors.As(err, &in), errors.Is(err, verify.ErrInvalidInput),
		errors.Is(err, keys.ErrNotFound), errors.Is(err, keys.ErrExists):
		return exitBadInput
	case errors.Is(err, client.ErrUnreachable):
		return exitUnreachable
	case errors.As(err, &api):
		if api.Status >= 400 && api.Status < 500 {
			switch api.Status {
			case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
				return exitRefused
			}
			if api.Status == http.StatusUnprocessableEntity {
				return exitVerifyFailed
			}
			return exitBadInput
		}
		return exitInternal
	default:
		return exitInternal
	}
}

// report prints err (if any) on stderr and returns its exit code.
func report(err error, stderr io.Writer) int {
	code := exitCode(err)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, verify.ErrKeyRequired) {
			msg = "bundle names no certificate; pass --key"
		}
		fmt.Fprintf(stderr, "stellactl: %s\n", msg)
	}
	return code
}
