package ctlog

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"
	"github.com/transparency-dev/tessera/storage/posix"

	"github.com/stellaops/stellad/internal/tilefs"
)

var (
	// ErrClosed is returned by AddPreChain and AddChain once Close has been called.
	ErrClosed = errors.New("ctlog: log closed")
	// ErrBusy is returned (wrapping tessera.ErrPushback) when Tessera has too many entries
	// waiting for integration; callers answer 503 and retry.
	ErrBusy = errors.New("ctlog: busy, retry later")
)

// lockFileName is the per-directory lock that makes a Log the directory's only writer.
const lockFileName = ".ctlog.lock"

// Log is the appliance's static-ct-api certificate transparency log. Create it with New and
// release it with Close. All methods are safe for concurrent use.
type Log struct {
	cfg      Config
	logID    [32]byte
	spki     []byte
	add      func(context.Context, *ctonly.Entry) tessera.IndexFuture
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	lockFile *os.File

	mu     sync.RWMutex // guards closed against concurrent adds and Close
	closed bool
	wg     sync.WaitGroup // adds in flight

	issuerMu sync.Mutex
	issuers  map[[32]byte]bool // issuers known to be on disk
}

// New opens the log in cfg.Dir, creating it if empty, and starts Tessera's background work
// (sequencing, integration, checkpoint publication every second). ctx bounds start-up only;
// background work lasts until Close.
func New(ctx context.Context, cfg Config) (*Log, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(cfg.Signer.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the log public key: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, issuerDir), 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory %s: %w", cfg.Dir, err)
	}
	lf, err := tilefs.LockDir(cfg.Dir, lockFileName, "CT log")
	if err != nil {
		return nil, err
	}
	l := &Log{cfg: cfg, logID: sha256.Sum256(spki), spki: spki, lockFile: lf, issuers: make(map[[32]byte]bool)}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	fail := func(err error) (*Log, error) {
		cancel()
		_ = lf.Close()
		return nil, err
	}
	driver, err := posix.New(bg, posix.Config{Path: cfg.Dir})
	if err != nil {
		return fail(fmt.Errorf("opening POSIX log %s: %w", cfg.Dir, err))
	}
	opts := tessera.NewAppendOptions().
		WithCTLayout().
		WithCheckpointSigner(newNoteSigner(cfg.Origin, l.logID, cfg.Signer, cfg.Now)).
		WithBatching(batchMaxSize, cfg.BatchMaxAge).
		WithCheckpointInterval(checkpointInterval).
		WithPushback(pushbackMaxOutstanding)
	appender, shutdown, _, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		return fail(fmt.Errorf("starting Tessera appender on %s: %w", cfg.Dir, err))
	}
	l.add = tessera.NewCertificateTransparencyAppender(appender)
	l.shutdown = shutdown
	return l, nil
}

// Close stops accepting submissions, waits (bounded by ctx) for those in flight, lets Tessera
// integrate and publish a checkpoint covering every entry, then stops background work and
// releases the directory. Calling Close again returns nil.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	var errs []error
	drained := make(chan struct{})
	go func() { l.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("waiting for in-flight submissions: %w", ctx.Err()))
	}
	if err := l.shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shutting down Tessera appender: %w", err))
	}
	l.cancel()
	if err := l.lockFile.Close(); err != nil {
		errs = append(errs, fmt.Errorf("releasing CT log lock: %w", err))
	}
	return errors.Join(errs...)
}

// LogID returns the RFC 6962 log ID: SHA-256 of the log key's DER SubjectPublicKeyInfo.
func (l *Log) LogID() [32]byte { return l.logID }

// PublicKey returns the log's public key (an *ecdsa.PublicKey on P-256).
func (l *Log) PublicKey() crypto.PublicKey { return l.cfg.Signer.Public() }

// Origin returns the checkpoint origin (the note key name).
func (l *Log) Origin() string { return l.cfg.Origin }

// VerifierKey returns the note verifier key of the log's checkpoints,
// "<origin>+<key id hex>+<base64(0x05 || SPKI DER)>", as transparency-dev/formats'
// note.NewRFC6962Verifier and static-ct-api monitors take it.
func (l *Log) VerifierKey() string {
	return fmt.Sprintf("%s+%08x+%s", l.cfg.Origin, rfc6962KeyHash(l.cfg.Origin, l.logID),
		base64.StdEncoding.EncodeToString(append([]byte{sigTypeRFC6962}, l.spki...)))
}
