package attest

import (
	"context"
	"crypto"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/stellaops/stellad/internal/metrics"
	"github.com/stellaops/stellad/internal/signer"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/translog"
)

// Sentinel errors that callers branch on (internal/api maps them to statuses).
// Errors returned by the service wrap one of them and name the detail.
var (
	ErrInvalidRequest   = errors.New("invalid request")
	ErrInvalidStatement = errors.New("invalid in-toto statement")
	ErrInvalidEnvelope  = errors.New("invalid DSSE envelope")
	ErrUntrusted        = errors.New("no signature verifies against a trusted key")
	ErrNotFound         = errors.New("no such entry")
	ErrUnavailable      = errors.New("transparency log unavailable")
)

// Log is what the service needs of the transparency log (internal/translog.Log).
type Log interface {
	Append(ctx context.Context, leaf []byte) (translog.Proof, error)
	InclusionProof(ctx context.Context, index uint64) (translog.Proof, error)
	IntegratedSize(ctx context.Context) (uint64, error)
	// CoveredSize bounds from below the index of any leaf appended after the call.
	CoveredSize() uint64
	ReadLeaf(ctx context.Context, index uint64) ([]byte, error)
}

// Config wires a Service. DB, Log, Keys and LogID are required.
type Config struct {
	DB   *store.DB
	Log  Log
	Keys *signer.Set
	// LogID is the SHA-256 of the log key's PKIX public key (the bundle's logId.keyId).
	LogID []byte
	// TrustedKeys verify envelopes submitted for logging, besides the appliance's own DSSE keys.
	TrustedKeys []crypto.PublicKey
	// DefaultTenant is recorded for requests that carry no tenant when
	// Admission is nil.
	DefaultTenant string
	// Admission checks every request and audits every decision. Nil admits
	// every request (the bare signing path, for tests and benchmarks).
	Admission *Admission
	// Certifier issues the certificates of keyless signatures (SignKeyless):
	// internal/ca.CA. Nil, or Timestamper nil, refuses keyless signing with
	// ErrKeylessUnavailable.
	Certifier Certifier
	// Timestamper answers the RFC 3161 queries of keyless signatures:
	// internal/tsa.TSA. Nil, or Certifier nil, refuses keyless signing.
	Timestamper Timestamper
	// Metrics records latencies, decisions and key usage; nil records nothing.
	Metrics *metrics.Metrics
	// AppendTimeout bounds the work after a request is recorded as pending; the
	// work continues when the caller goes away, so that the row is settled.
	AppendTimeout time.Duration
	Now           func() time.Time
	Rand          io.Reader
	Logger        *slog.Logger
}

// Service is the signing and logging use case. It is safe for concurrent use.
type Service struct {
	cfg     Config
	stmts   *statements
	own     map[string]trustedKey // the appliance's DSSE keys by key id
	trusted []trustedKey          // own keys first, then Config.TrustedKeys
	// checkpointStored is the largest tree size whose checkpoint a committed
	// transaction of this process holds (checkpoints are never deleted).
	checkpointStored atomic.Uint64
	// writes serialises identical Rekor v2 log writes (WriteEntry).
	writes *inflight
}

// trustedKey is a public key with what log entries and bundles need of it.
type trustedKey struct {
	pub  crypto.PublicKey
	der  []byte // PKIX
	id   string // hex SHA-256 of der
	kd   string // Rekor v2 key details
	hint string // the bundle's public key hint
}

// New validates cfg, fills defaults and registers the signing keys in the
// index. Call Reconcile before serving.
func New(ctx context.Context, cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("attest: Config.DB is required")
	case cfg.Log == nil:
		return nil, errors.New("attest: Config.Log is required")
	case cfg.Keys == nil:
		return nil, errors.New("attest: Config.Keys is required")
	case len(cfg.LogID) != 32:
		return nil, fmt.Errorf("attest: Config.LogID must be 32 bytes, got %d", len(cfg.LogID))
	}
	if cfg.DefaultTenant == "" {
		cfg.DefaultTenant = "default"
	}
	if cfg.AppendTimeout <= 0 {
		cfg.AppendTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if a := cfg.Admission; a != nil && (a.Auth == nil || a.Entitlement == nil || a.Scanner == nil || a.Audit == nil) {
		return nil, errors.New("attest: Config.Admission needs Auth, Entitlement, Scanner and Audit")
	}
	stmts, err := prepareStatements(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	s := &Service{cfg: cfg, stmts: stmts, own: map[string]trustedKey{}, writes: newInflight()}
	for _, k := range cfg.Keys.All() {
		tk, err := describeKey(k.Public())
		if err != nil {
			return nil, fmt.Errorf("attest: signing key %s: %w", k.URI(), err)
		}
		s.own[tk.id] = tk
		s.trusted = append(s.trusted, tk)
	}
	for _, pub := range cfg.TrustedKeys {
		k, err := describeKey(pub)
		if err != nil {
			return nil, fmt.Errorf("attest: trusted key: %w", err)
		}
		s.trusted = append(s.trusted, k)
	}
	now := cfg.Now().UTC().Format(time.RFC3339)
	err = cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		for _, k := range cfg.Keys.All() {
			if err := registerKey(ctx, tx, k.KeyID(), k.PublicDER(), k.KeyDetails(), k.URI(), now); err != nil {
				return err
			}
		}
		for _, k := range s.trusted[len(cfg.Keys.All()):] {
			if err := registerKey(ctx, tx, k.id, k.der, k.kd, "trusted:"+k.id, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attest: registering signing keys: %w", err)
	}
	return s, nil
}
