package translog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"

	"github.com/stellaops/stellad/internal/tilefs"
)

var (
	// ErrBusy is returned by Append when too many Appends are in flight (more than
	// Config.PushbackMaxOutstanding) or when Tessera pushes back. Callers answer 503 and retry.
	ErrBusy = errors.New("translog: busy, retry later")
	// ErrClosed is returned by Append once Close has been called.
	ErrClosed = errors.New("translog: log closed")
	// ErrDiverged is returned by every Append after the log found that a checkpoint Tessera
	// published disagrees with a root this process signed. It is logged at error level; the
	// appliance must stop and an operator must investigate.
	ErrDiverged = errors.New("translog: published tree diverges from a signed checkpoint")
	// ErrNotFound is returned when an index or tree size is beyond what the log has integrated
	// (ReadLeaf) or published (InclusionProof, ConsistencyProof); it may appear later.
	ErrNotFound = errors.New("translog: not (yet) in the log")
	// ErrNotQueued is wrapped by Append errors that mean the leaf was never handed to the log
	// (busy, closed, diverged, or a context already done): it will not appear in the log.
	ErrNotQueued = errors.New("translog: leaf not queued")
)

// lockFileName is the per-directory lock that makes a Log the directory's only writer.
const lockFileName = ".translog.lock"

// hasher is the RFC 6962 tree hasher used by Tessera and every verifier.
var hasher = rfc6962.DefaultHasher

// rangeFactory builds compact ranges with RFC 6962 interior hashing.
var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// Proof is an inclusion proof of one leaf in a tree committed to by a signed checkpoint.
// Its slices are owned by the caller.
type Proof struct {
	// Index is the leaf's position in the log.
	Index uint64
	// TreeSize is the size of the tree the proof and checkpoint refer to.
	TreeSize uint64
	// RootHash is the RFC 6962 root of that tree.
	RootHash []byte
	// Hashes is the RFC 6962 inclusion proof, bottom-up.
	Hashes [][]byte
	// Checkpoint is the C2SP signed note (tlog-checkpoint) for (origin, TreeSize, RootHash).
	Checkpoint []byte
}

// Log is the appliance's transparency log. Create it with New and release it with Close.
// All methods are safe for concurrent use.
type Log struct {
	cfg      Config
	add      tessera.AddFn
	shutdown func(context.Context) error
	reader   tessera.LogReader
	cancel   context.CancelFunc // stops Tessera's background work
	lockFile *os.File

	mu       sync.RWMutex // guards closed against concurrent Append/Close
	closed   bool
	inflight atomic.Int64
	wg       sync.WaitGroup // counts Appends whose waiter has not finished

	failure atomic.Pointer[error] // set once when the published tree diverges

	reports   chan []*waiter  // groups of resolved waiters, feeder -> checkpointer
	bg        context.Context // Tessera's context, outliving callers
	feedMu    sync.Mutex
	feedQ     []feedItem
	feedWake  chan struct{} // capacity 1
	feedDone  chan struct{}
	stop      chan struct{}
	cpDone    chan struct{}
	watchDone chan struct{}

	// Owned by the checkpointer goroutine after New returns.
	rng     *compact.Range
	pending map[uint64]*waiter

	covered atomic.Uint64 // size of the tree mirrored in rng

	signedMu sync.Mutex
	signed   []sizeRoot // recent roots we signed (and the start-up root), ascending by size

	refreshMu sync.Mutex // serialises refreshPublished
	pubMu     sync.Mutex // guards pub and its proof builder
	pub       published
}

// sizeRoot is one tree size and its root hash.
type sizeRoot struct {
	size uint64
	root []byte
}

// New opens the log in cfg.Dir, creating it if empty, and starts its background work
// (Tessera's sequencer and publisher, the checkpointer, and the checkpoint watcher).
// It rebuilds the in-memory compact range from the tiles on disk and refuses to start
// if that tree disagrees with the checkpoint Tessera last published. ctx bounds start-up
// only; background work lasts until Close.
func New(ctx context.Context, cfg Config) (*Log, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory %s: %w", cfg.Dir, err)
	}
	lf, err := tilefs.LockDir(cfg.Dir, lockFileName, "log")
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &Log{
		cfg:       cfg,
		cancel:    cancel,
		lockFile:  lf,
		reports:   make(chan []*waiter, 64),
		bg:        bg,
		feedWake:  make(chan struct{}, 1),
		feedDone:  make(chan struct{}),
		stop:      make(chan struct{}),
		cpDone:    make(chan struct{}),
		watchDone: make(chan struct{}),
		pending:   make(map[uint64]*waiter),
	}
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
		WithCheckpointSigner(cfg.Signer).
		WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithPushback(cfg.PushbackMaxOutstanding)
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		return fail(fmt.Errorf("starting Tessera appender on %s: %w", cfg.Dir, err))
	}
	l.add, l.shutdown, l.reader = appender.Add, shutdown, reader
	if err := l.initRange(ctx); err != nil {
		return fail(err)
	}
	go l.runFeeder()
	go l.runCheckpointer()
	go l.watch()
	return l, nil
}

// Close stops accepting Appends, waits (bounded by ctx) for in-flight Appends to get their
// proofs and for Tessera to publish a checkpoint covering every entry, then stops all
// background work and releases the directory. Appends still waiting when ctx expires fail
// with ErrClosed. Calling Close again returns nil.
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
		errs = append(errs, fmt.Errorf("waiting for in-flight appends: %w", ctx.Err()))
	}
	if err := l.shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shutting down Tessera appender: %w", err))
	}
	close(l.stop)
	<-l.feedDone
	<-l.cpDone
	<-l.watchDone
	l.cancel()
	if err := l.lockFile.Close(); err != nil {
		errs = append(errs, fmt.Errorf("releasing log lock: %w", err))
	}
	return errors.Join(errs...)
}

// CoveredSize is the size of the tree that this process's checkpoints cover. Every leaf
// appended after the call gets an index at or above it, so it bounds from below where a
// leaf queued later can land. It does no I/O.
func (l *Log) CoveredSize() uint64 { return l.covered.Load() }

// IntegratedSize returns the size of the tree Tessera has integrated on disk. It may be ahead
// of the latest published checkpoint; use it for internal reconciliation only.
func (l *Log) IntegratedSize(ctx context.Context) (uint64, error) {
	s, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading integrated size: %w", err)
	}
	return s, nil
}

// Checkpoint returns the latest checkpoint Tessera published (the bytes served at
// /checkpoint), a signed note.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading published checkpoint: %w", err)
	}
	return cp, nil
}

// diverged returns the sticky divergence error, if any.
func (l *Log) diverged() error {
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// setDiverged records a divergence once and logs it at error level.
func (l *Log) setDiverged(err error) {
	err = fmt.Errorf("%w: %w", ErrDiverged, err)
	if l.failure.CompareAndSwap(nil, &err) {
		l.cfg.Logger.Error("translog diverged from a signed checkpoint, appends stopped", "err", err)
	}
}

// pollInterval is how often the watcher reads Tessera's published checkpoint.
func (l *Log) pollInterval() time.Duration {
	return min(max(l.cfg.CheckpointInterval/4, 25*time.Millisecond), time.Second)
}
