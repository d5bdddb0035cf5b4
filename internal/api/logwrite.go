package api

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/kit/bundle"
)

// Who may write to the log through the Rekor v2 write API
// (POST /api/v2/log/entries). cosign sends no credentials to a log, so the
// operator chooses per listener.
const (
	// LogWriteToken requires an access token with audience attestor and
	// scope attestor.write, bound by DPoP or mTLS, like every other route.
	LogWriteToken = "token"
	// LogWriteMTLS admits any caller whose TLS client certificate the
	// listener verified against its client CA bundle.
	LogWriteMTLS = "mtls"
	// LogWriteOpen admits every caller that reaches the listener (the sealed
	// network), rate-limited per source address and audited.
	LogWriteOpen = "open"
	// LogWriteOff leaves the write API out.
	LogWriteOff = "off"
)

// CodeRateLimited refuses a source that wrote to the log too often (429).
const CodeRateLimited = "rate_limited"

// LogWrite configures the Rekor v2 write API.
type LogWrite struct {
	// Mode is LogWriteToken (the default), LogWriteMTLS, LogWriteOpen or LogWriteOff.
	Mode string
	// Tenant is recorded for writers that carry no tenant (mTLS and open
	// modes); default "default".
	Tenant string
	// Rate and Burst bound each source address (requests per second and
	// bucket size) in every mode; defaults 50 and 100.
	Rate  float64
	Burst int
}

func (c *LogWrite) fill() error {
	switch c.Mode {
	case "":
		c.Mode = LogWriteToken
	case LogWriteToken, LogWriteMTLS, LogWriteOpen, LogWriteOff:
	default:
		return fmt.Errorf("api: log write mode %q: want %s, %s, %s or %s", c.Mode, LogWriteToken, LogWriteMTLS, LogWriteOpen, LogWriteOff)
	}
	if c.Tenant == "" {
		c.Tenant = "default"
	}
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.Burst <= 0 {
		c.Burst = 100
	}
	return nil
}

// sourceLimits holds one token bucket per source address. Buckets idle for a
// minute are forgotten (a full bucket is the same as a new one).
type sourceLimits struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*sourceBucket
	swept time.Time
}

type sourceBucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newSourceLimits(r float64, burst int) *sourceLimits {
	return &sourceLimits{rate: rate.Limit(r), burst: burst, m: map[string]*sourceBucket{}}
}

// allow takes a token for source; when none is left it returns how long to wait.
func (l *sourceLimits) allow(source string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.m {
			if now.Sub(b.seen) > time.Minute {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	b, ok := l.m[source]
	if !ok {
		b = &sourceBucket{l: rate.NewLimiter(l.rate, l.burst)}
		l.m[source] = b
	}
	b.seen = now
	r := b.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sourceOf is the caller's address without its port.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// logWriter identifies the writer of a log entry under the configured mode;
// a refusal is answered (and audited) here and ok is false.
func (s *Server) logWriter(w http.ResponseWriter, r *http.Request) (call attest.Call, ok bool) {
	cfg := s.cfg.LogWrite
	source := sourceOf(r)
	call.RequestID = requestID(r)
	if allowed, wait := s.writeLimits.allow(source, time.Now()); !allowed {
		err := &authn.Error{Code: CodeRateLimited, Msg: fmt.Sprintf("too many log writes from %s; retry later", source), RetryAfter: wait}
		if s.cfg.Auth != nil {
			call.Caller = &authn.Principal{Subject: "source:" + source, Tenant: cfg.Tenant}
		}
		s.fail(w, r, s.cfg.Attest.Refuse(r.Context(), call, attest.ActionLogWrite, err))
		return call, false
	}
	switch cfg.Mode {
	case LogWriteToken:
		return s.authenticate(w, r, needWrite, attest.ActionLogWrite)
	case LogWriteMTLS:
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			err := &authn.Error{Code: authn.CodeMissing, Msg: "log writes need a TLS client certificate issued by the listener's client CA"}
			s.fail(w, r, s.cfg.Attest.Refuse(r.Context(), call, attest.ActionLogWrite, err))
			return call, false
		}
		call.Caller = &authn.Principal{Subject: "x509:" + certName(r.TLS.VerifiedChains[0][0]), Tenant: cfg.Tenant,
			Binding: authn.BindingMTLS, Scopes: []string{authn.ScopeWrite}}
	default: // LogWriteOpen
		call.Caller = &authn.Principal{Subject: "source:" + source, Tenant: cfg.Tenant, Scopes: []string{authn.ScopeWrite}}
	}
	if s.cfg.Auth == nil {
		call.Caller = nil // the bare path: the use case admits nobody in particular
	}
	return call, true
}

// certName names a client certificate in audit rows: its subject, or its
// first SAN when the subject is empty.
func certName(c *x509.Certificate) string {
	if n := c.Subject.String(); n != "" {
		return n
	}
	switch {
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	}
	return "serial " + c.SerialNumber.String()
}

// handleLogWrite is Rekor v2's POST /api/v2/log/entries: a hashedrekord
// v0.0.2 request in, the TransparencyLogEntry (with inclusion proof and
// checkpoint) out, 201 Created. An identical request is answered with the
// entry logged before, also 201 (the Rekor v2 client accepts nothing else),
// marked by the header Stellad-Existing-Entry: true.
func (s *Server) handleLogWrite(w http.ResponseWriter, r *http.Request) {
	call, ok := s.logWriter(w, r)
	if !ok {
		return
	}
	body, err := s.writeRequestBody(w, r)
	if err != nil {
		s.fail(w, r, s.cfg.Attest.Refuse(r.Context(), call, attest.ActionLogWrite, err))
		return
	}
	wr, err := s.cfg.Attest.WriteEntry(r.Context(), call, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := bundle.MarshalEntry(wr.Entry)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !wr.Created {
		w.Header().Set("Stellad-Existing-Entry", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/api/v1/rekor/entries/"+wr.UUID)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(out)
}
