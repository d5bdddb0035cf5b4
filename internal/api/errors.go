package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/stellaops/stellad/internal/refusal"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/offline"
	"github.com/stellaops/stellad/internal/policy"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/attest"
)

// apiError is an error the handlers raise themselves, with its status and code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error {
	return &apiError{status: http.StatusBadRequest, code: apitype.CodeBadRequest, msg: msg}
}

// refusalStatus is the HTTP status of each admission refusal code.
var refusalStatus = map[string]int{
	authn.CodeInsufficientScope:      http.StatusForbidden,
	authn.CodeTenantForbidden:        http.StatusForbidden,
	entitlement.CodeMissing:          http.StatusForbidden,
	entitlement.CodeExpired:          http.StatusForbidden,
	entitlement.CodeTenant:           http.StatusForbidden,
	entitlement.CodeQuotaRate:        http.StatusTooManyRequests,
	entitlement.CodeQuotaConcurrency: http.StatusTooManyRequests,
	entitlement.CodeQuotaDaily:       http.StatusTooManyRequests,
	entitlement.CodeQuotaPayload:     http.StatusRequestEntityTooLarge,
	policy.CodeDigestMissing:         http.StatusBadRequest,
	policy.CodeUntrusted:             http.StatusForbidden,
	policy.CodeApprovalPending:       http.StatusForbidden,
	CodeRateLimited:                  http.StatusTooManyRequests,
	ca.CodeBadRequest:                http.StatusBadRequest,
	ca.CodeBadKey:                    http.StatusBadRequest,
	ca.CodeProofFailed:               http.StatusBadRequest,
}

// refusalOf returns the code and retry delay of an admission refusal.
func refusalOf(err error) (code string, retry time.Duration, ok bool) {
	var re *refusal.Error
	if errors.As(err, &re) {
		return re.Code, re.RetryAfter, true
	}
	return "", 0, false
}

// classify is the one place that maps an error to an HTTP status and a stable code.
func classify(err error) (int, string) {
	var ae *apiError
	var mbe *http.MaxBytesError
	if code, _, ok := refusalOf(err); ok {
		if st, ok := refusalStatus[code]; ok {
			return st, code
		}
		return http.StatusUnauthorized, code // the authentication failures
	}
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, apitype.CodePayloadTooLarge
	case errors.Is(err, offline.ErrRefused):
		return http.StatusUnprocessableEntity, apitype.CodeKitRefused
	case errors.Is(err, attest.ErrNoOffline), errors.Is(err, attest.ErrNoAdmission), errors.Is(err, attest.ErrKeylessUnavailable):
		return http.StatusConflict, apitype.CodeNotConfigured
	case errors.Is(err, attest.ErrInvalidRequest):
		return http.StatusBadRequest, apitype.CodeBadRequest
	case errors.Is(err, attest.ErrInvalidStatement):
		return http.StatusBadRequest, apitype.CodeInvalidStatement
	case errors.Is(err, attest.ErrInvalidEnvelope):
		return http.StatusBadRequest, apitype.CodeInvalidEnvelope
	case errors.Is(err, attest.ErrUntrusted):
		return http.StatusUnprocessableEntity, apitype.CodeUntrustedSignature
	case errors.Is(err, attest.ErrNotFound):
		return http.StatusNotFound, apitype.CodeNotFound
	case errors.Is(err, attest.ErrUnavailable):
		return http.StatusServiceUnavailable, apitype.CodeUnavailable
	default:
		return http.StatusInternalServerError, apitype.CodeInternal
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := classify(err)
	id := requestID(r)
	msg := err.Error()
	if status >= 500 {
		s.cfg.Logger.Error("request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		if status == http.StatusInternalServerError {
			// Internal details stay in the log; the caller gets the request id to quote.
			msg = "internal error; quote request id " + id + " to the operator"
		}
	} else {
		s.cfg.Logger.Debug("request refused", "request_id", id, "status", status, "code", code, "err", err)
	}
	if _, retry, ok := refusalOf(err); ok && retry > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retry.Seconds())), 10))
	} else if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `DPoP algs="ES256 EdDSA RS256", Bearer`)
	}
	writeJSON(w, status, apitype.Error{Code: code, Message: msg, RequestID: id})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Default().Error("encoding response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"encoding response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(s))
}
