package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/tsa"
)

// Timestamper is the RFC 3161 timestamp authority (internal/tsa.TSA).
type Timestamper interface {
	// Respond answers a DER TimeStampReq with a DER TimeStampResp; it returns
	// an answer to send even with an error (a rejection or a system failure).
	Respond(ctx context.Context, query []byte) ([]byte, error)
	// ChainPEM is the TSA's certificate chain, leaf first.
	ChainPEM() []byte
}

// maxTimestampQuery bounds a TimeStampReq (internal/tsa refuses larger ones
// with badDataFormat when handed one byte more).
const maxTimestampQuery = 4096

// timestampRoutes serves the TSA the way sigstore's timestamp-authority does:
// POST /api/v1/timestamp (application/timestamp-query in,
// application/timestamp-reply out) and GET /api/v1/timestamp/certchain (PEM).
// Clients send no credentials (cosign's TSA client has none to send), so
// each source address is rate-limited like log writers.
func (s *Server) timestampRoutes() {
	s.mux.HandleFunc("POST /api/v1/timestamp", s.handleTimestamp)
	s.mux.HandleFunc("GET /api/v1/timestamp/certchain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		_, _ = w.Write(s.cfg.TSA.ChainPEM())
	})
}

func (s *Server) handleTimestamp(w http.ResponseWriter, r *http.Request) {
	source := sourceOf(r)
	if allowed, wait := s.writeLimits.allow("tsa:"+source, time.Now()); !allowed {
		s.fail(w, r, &authn.Error{Code: CodeRateLimited, Msg: fmt.Sprintf("too many timestamp requests from %s; retry later", source), RetryAfter: wait})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/timestamp-query" {
			s.fail(w, r, &apiError{status: http.StatusUnsupportedMediaType, code: apitype.CodeUnsupportedMedia,
				msg: fmt.Sprintf("Content-Type %q: want application/timestamp-query", ct)})
			return
		}
	}
	// One byte more than the limit, so that the TSA answers an oversized
	// query with its own rejection.
	query, err := io.ReadAll(io.LimitReader(r.Body, maxTimestampQuery+1))
	if err != nil {
		s.fail(w, r, badRequest("reading the timestamp query: "+err.Error()))
		return
	}
	resp, err := s.cfg.TSA.Respond(r.Context(), query)
	status := http.StatusOK
	var reject *tsa.RejectError
	outcome := "granted"
	switch {
	case err == nil:
		s.cfg.Logger.Debug("timestamp granted", "request_id", requestID(r))
	case errors.As(err, &reject):
		outcome = reject.Info.String()
		s.cfg.Logger.Debug("timestamp query rejected", "request_id", requestID(r), "failure", outcome, "err", err)
	default:
		status, outcome = http.StatusInternalServerError, "system_failure"
		s.cfg.Logger.Error("timestamp authority failed", "request_id", requestID(r), "err", err)
	}
	if s.cfg.Counters != nil {
		s.cfg.Counters.Timestamp(outcome)
	}
	if resp == nil {
		s.fail(w, r, fmt.Errorf("timestamp authority: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.WriteHeader(status)
	_, _ = w.Write(resp)
}
