package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/stellaops/stellad/internal/authn"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/attest"
)

// Attestor is the use case the API drives (internal/attest.Service).
type Attestor interface {
	Sign(ctx context.Context, call attest.Call, req attest.SignRequest) (*attest.Issued, error)
	SignKeyless(ctx context.Context, call attest.Call, req attest.SignRequest) (*attest.Issued, error)
	Submit(ctx context.Context, call attest.Call, envelopeJSON []byte) ([]*attest.Issued, error)
	Get(ctx context.Context, call attest.Call, uuid string) (*attest.Entry, error)
	EntryFor(ctx context.Context, call attest.Call, uuid string) (*attest.Entry, error)
	List(ctx context.Context, call attest.Call, q attest.ListQuery) ([]attest.Summary, bool, error)
	// WriteEntry logs a Rekor v2 hashedrekord request (POST /api/v2/log/entries).
	WriteEntry(ctx context.Context, call attest.Call, body []byte) (*attest.Written, error)
	// Allow writes the allow row of a request served outside the use cases
	// above (a certificate issued by the CA).
	Allow(ctx context.Context, call attest.Call, action, note string, digests []string) error
	// Refuse writes the audit row of a request refused before the use case.
	Refuse(ctx context.Context, call attest.Call, action string, err error) error
}

// Counters are the metrics the API records itself (internal/metrics.Metrics).
type Counters interface {
	Timestamp(outcome string)
}

// LogInfo answers the log's read endpoints (implemented by internal/translog.Log).
type LogInfo interface {
	Checkpoint(ctx context.Context) ([]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
	Handler() http.Handler
}

// Config wires a Server. Attest and Log are required.
type Config struct {
	Attest Attestor
	Log    LogInfo
	// LogKeyID is the SHA-256 of the log key's PKIX public key; BaseURL the
	// log's public base URL (its host is the checkpoint origin).
	LogKeyID []byte
	BaseURL  string
	Keys     []apitype.Key
	// TrustedRoot is the Sigstore trusted_root.json naming this log, served verbatim.
	TrustedRoot []byte
	// SigningConfig is the Sigstore signing config (v0.2) pointing clients
	// such as cosign at this appliance's log, CA and TSA, served verbatim at
	// GET /api/v1/trust/signing-config; nil leaves the route out.
	SigningConfig []byte
	// Ready reports whether the service takes signing requests (false while
	// starting or shutting down).
	Ready        func() bool
	System       func() apitype.SystemStatus
	MaxBodyBytes int64 // default 1 MiB
	// Metrics serves GET /metrics (Prometheus); nil leaves the route out.
	Metrics http.Handler
	// Counters records what the API answers itself (timestamps); nil records nothing.
	Counters Counters
	// Auth authenticates callers; nil admits everyone as nobody (the bare
	// path, for tests). Peer identifies callers on the admin socket.
	Auth Authenticator
	Peer func(net.Conn) (*authn.Principal, error)
	// Admin serves the administration routes; nil leaves them out.
	Admin Admin
	// MaxKitBytes bounds an imported Offline Kit (default 1 GiB).
	MaxKitBytes int64
	// Mirror serves the mirrored logs of peer appliances under
	// /api/v2/mirror/{origin}/; nil leaves the route out.
	Mirror func(origin string) http.Handler
	// CA issues short-lived signing certificates (Fulcio API v2) to callers
	// whose identity tokens Identity verifies; nil leaves it out.
	CA       CertIssuer
	Identity IdentityVerifier
	// CTLog serves the read side (static-ct-api) of the CA's certificate
	// transparency log under /ct/; nil leaves it out.
	CTLog http.Handler
	// TSA serves the RFC 3161 timestamp authority; nil leaves it out.
	TSA Timestamper
	// LogWrite says who may write through the Rekor v2 write API.
	LogWrite LogWrite
	Logger   *slog.Logger
}

// Server is an http.Handler for the whole API.
type Server struct {
	cfg         Config
	mux         *http.ServeMux
	writeLimits *sourceLimits
}

// New validates cfg and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Attest == nil || cfg.Log == nil {
		return nil, errors.New("api: Config.Attest and Config.Log are required")
	}
	if (cfg.CA == nil) != (cfg.Identity == nil) {
		return nil, errors.New("api: Config.CA and Config.Identity go together")
	}
	if cfg.MaxKitBytes <= 0 {
		cfg.MaxKitBytes = 1 << 30
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	if err := cfg.LogWrite.fill(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), writeLimits: newSourceLimits(cfg.LogWrite.Rate, cfg.LogWrite.Burst)}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("POST /api/v1/signer/sign/dsse", s.handleSign)
	m.HandleFunc("POST /api/v1/rekor/entries", s.handleSubmit)
	m.HandleFunc("GET /api/v1/rekor/entries", s.handleList)
	m.HandleFunc("GET /api/v1/rekor/entries/{uuid}", s.handleGet)
	m.HandleFunc("GET /api/v1/log/status", s.handleLogStatus)
	m.HandleFunc("GET /api/v1/log/proof/consistency", s.handleConsistency)
	m.HandleFunc("GET /api/v1/keys", s.handleKeys)
	m.HandleFunc("GET /api/v1/trust/root", s.handleTrustRoot)
	if s.cfg.SigningConfig != nil {
		m.HandleFunc("GET /api/v1/trust/signing-config", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(s.cfg.SigningConfig)
		})
	}
	m.HandleFunc("GET /api/v1/system", s.handleSystem)
	m.Handle("GET /api/v2/", http.StripPrefix("/api/v2", s.cfg.Log.Handler()))
	if s.cfg.TSA != nil {
		s.timestampRoutes()
	}
	if s.cfg.CA != nil {
		m.HandleFunc("POST /api/v2/signingCert", s.handleSigningCert)
	}
	if s.cfg.CTLog != nil {
		m.Handle("GET /ct/", http.StripPrefix("/ct", s.cfg.CTLog))
	}
	if s.cfg.LogWrite.Mode != LogWriteOff {
		m.HandleFunc("POST /api/v2/log/entries", s.handleLogWrite)
	}
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeText(w, http.StatusOK, "ok\n") })
	m.HandleFunc("GET /readyz", s.handleReady)
	if s.cfg.Admin != nil {
		s.adminRoutes()
		s.kitRoutes()
	}
	if s.cfg.Mirror != nil {
		m.HandleFunc("GET /api/v2/mirror/{origin}/", func(w http.ResponseWriter, r *http.Request) {
			origin := r.PathValue("origin")
			http.StripPrefix("/api/v2/mirror/"+origin, s.cfg.Mirror(origin)).ServeHTTP(w, r)
		})
	}
	if s.cfg.Metrics != nil {
		m.Handle("GET /metrics", s.cfg.Metrics)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &apiError{status: http.StatusNotFound, code: apitype.CodeNotFound,
			msg: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
	})
}

type ctxKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ServeHTTP assigns the request id and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	if s.cfg.Logger.Enabled(r.Context(), slog.LevelDebug) {
		s.cfg.Logger.Debug("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration", time.Since(start))
	}
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
