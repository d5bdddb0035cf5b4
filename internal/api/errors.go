package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

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

// classify is the one place that maps an error to an HTTP status and a stable code.
func classify(err error) (int, string) {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, apitype.CodePayloadTooLarge
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
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
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
