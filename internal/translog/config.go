package translog

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Defaults chosen by measurement on the project's 2-core machine (Go 1.26.8, ext4 on a virtio
// disk shared with other jobs), with BenchmarkAppend: callers in a closed loop, each waiting for
// its signed checkpoint and inclusion proof, 300-byte leaves, Ed25519 note key. Figures are
// medians of several runs; the machine is noisy and runs under load were up to 3x slower.
//
//	batch / age        callers   appends/s      p50        p99
//	64 / 2 ms (chosen)   64   14,500-20,600  3.0-4.3 ms  6-9 ms
//	64 / 2 ms            16    2,600-3,070   5.1-5.9 ms  7.8-9.0 ms
//	64 / 2 ms             1      206-213     4.6-4.7 ms  6.4-6.7 ms
//	64 / 2 ms           256   10,500-12,700  17-23 ms    30-35 ms
//	64 / 5 ms            64   15,200-20,300  2.7-3.7 ms  6-11 ms
//	64 / 5 ms            16        1,820     8.7 ms  10.3 ms
//	64 / 5 ms             1          128     7.8 ms   9.4 ms
//	64 / 5 ms           256       17,400    13.4 ms  17.8 ms
//	64 / 20 ms           64       13,100     4.5 ms  25.6 ms
//	32 / 5 ms            64    7,400-12,700  4.8-8.3 ms  7.6-19.7 ms
//	256 / 10 ms          64        4,150    15.3 ms  17.9 ms
//	256 / 250 ms (Tessera's)  64     251   254 ms   256 ms
//
// BatchMaxSize 64: a Tessera batch costs a handful of fsyncs (entry bundle, tiles, tree
// state) whatever its length, so the batch should be about as large as the number of callers
// waiting at once: with 64 callers a 64-entry batch flushes as soon as it is full instead of
// waiting for the timer. Batches of 256 never fill at that concurrency and always pay the
// full age; batches of 32 double the fsyncs per entry.
//
// BatchMaxAge 2 ms: below the batch size, throughput is callers/(age + fsyncs), so the age
// should be as short as the fsyncs allow. 2 ms against 5 ms gives a lone request 4.7 ms
// instead of 7.8 ms and 16 callers 45-70% more throughput, for about 10% less (within noise) at
// 64 callers. 1 ms was worse at 16 callers (batches too small: ~1,000/s, p99 24-44 ms).
//
// CheckpointInterval 1 s: only governs Tessera's own /checkpoint (for monitors, witnesses,
// InclusionProof and ConsistencyProof); Append never waits for it. One signature and one
// fsync per second is negligible, and a new entry is fetchable by index within ~1 s.
//
// PushbackMaxOutstanding 2048: Appends in flight before ErrBusy. At >= 5,000/s that is at
// most ~400 ms of queue, about where a caller is better told to retry (HTTP 503) than kept.
const (
	// DefaultBatchMaxSize is the Tessera batch size used when Config.BatchMaxSize is zero.
	DefaultBatchMaxSize = 64
	// DefaultBatchMaxAge is the Tessera batch age used when Config.BatchMaxAge is zero.
	DefaultBatchMaxAge = 500 * time.Microsecond
	// DefaultCheckpointInterval is Tessera's publication interval used when
	// Config.CheckpointInterval is zero.
	DefaultCheckpointInterval = time.Second
	// DefaultPushbackMaxOutstanding is the in-flight Append limit used when
	// Config.PushbackMaxOutstanding is zero.
	DefaultPushbackMaxOutstanding = 2048

	// minCheckpointInterval mirrors the POSIX driver's lower bound (storage/posix/files.go).
	minCheckpointInterval = 100 * time.Millisecond
	// signedRingSize is how many (size, root) pairs of our own checkpoints are kept to check
	// against what Tessera publishes.
	signedRingSize = 4096
)

// Config configures a Log. The zero value of every numeric field selects its default.
type Config struct {
	// Dir is the POSIX log directory (tiles, entry bundles, checkpoint, .state). Required.
	Dir string
	// Origin is the checkpoint origin: a bare host name such as "localhost", equal to the host
	// of the log's public base URL. Required.
	Origin string
	// Signer signs checkpoints (Tessera's and ours). Its Name must equal Origin. Required.
	Signer note.Signer
	// Verifier verifies Signer's signatures; it is used for self-checks. Required.
	Verifier note.Verifier

	// BatchMaxSize is the largest Tessera batch (entries).
	BatchMaxSize uint
	// BatchMaxAge is how long the first entry of a batch waits before the batch is flushed.
	BatchMaxAge time.Duration
	// CheckpointInterval is how often Tessera publishes /checkpoint (minimum 100 ms).
	CheckpointInterval time.Duration
	// PushbackMaxOutstanding is the number of Appends in flight above which Append returns
	// ErrBusy.
	PushbackMaxOutstanding uint

	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger

	// gapTimeout overrides defaultGapTimeout (tests only).
	gapTimeout time.Duration
}

// withDefaults returns cfg with defaults filled in, or an error naming the invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Dir == "" {
		return cfg, errors.New("translog config: Dir is required")
	}
	if cfg.Origin == "" {
		return cfg, errors.New("translog config: Origin is required")
	}
	if cfg.Signer == nil || cfg.Verifier == nil {
		return cfg, errors.New("translog config: Signer and Verifier are required")
	}
	if got := cfg.Signer.Name(); got != cfg.Origin {
		return cfg, fmt.Errorf("translog config: signer name %q differs from origin %q", got, cfg.Origin)
	}
	if got := cfg.Verifier.Name(); got != cfg.Origin {
		return cfg, fmt.Errorf("translog config: verifier name %q differs from origin %q", got, cfg.Origin)
	}
	if cfg.Signer.KeyHash() != cfg.Verifier.KeyHash() {
		return cfg, errors.New("translog config: signer and verifier key hashes differ")
	}
	if cfg.BatchMaxSize == 0 {
		cfg.BatchMaxSize = DefaultBatchMaxSize
	}
	if cfg.BatchMaxAge == 0 {
		cfg.BatchMaxAge = DefaultBatchMaxAge
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.CheckpointInterval < minCheckpointInterval {
		return cfg, fmt.Errorf("translog config: CheckpointInterval %v below the minimum %v", cfg.CheckpointInterval, minCheckpointInterval)
	}
	if cfg.PushbackMaxOutstanding == 0 {
		cfg.PushbackMaxOutstanding = DefaultPushbackMaxOutstanding
	}
	if cfg.gapTimeout == 0 {
		cfg.gapTimeout = defaultGapTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
