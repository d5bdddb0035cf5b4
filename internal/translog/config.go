package translog

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Defaults chosen by measurement on the project's 2-core machine (Go 1.26.8, ext4 on a virtio
// disk), figures from the same run, the machine noisy (up to 3x between runs).
//
// Entries reach Tessera through the feeder (append.go): every entry queued while the previous
// batch was being written goes into the next one, so the batch size follows the load and
// BatchMaxSize/BatchMaxAge only bound it. Before the feeder, Tessera's own queue cut a batch
// every BatchMaxAge even while its single sequencer was still writing the previous one; in the
// full signing path (internal/attest BenchmarkSign, 64 callers that also spend time in SQLite)
// that gave batches of about one entry queued behind each other: 780 attestations/s with the
// log stage at 80-125 ms. With the feeder, the same benchmark does 2,000-3,100/s with the log
// stage at 5-15 ms and about 17-30 leaves per signed checkpoint.
//
// In this package's BenchmarkAppend alone (64 callers in a closed loop that do nothing but
// append, 300-byte leaves) the feeder gives about 9,000 appends/s, p50 7 ms, p99 10 ms; the
// direct path measured 14,500-20,600/s there, because such callers refill a 64-entry batch
// instantly. The appliance's callers never do, so the feeder is the right trade.
//
//   - BatchMaxSize 256: large enough that a group is never split; Tessera's default.
//   - BatchMaxAge 250 us: the feeder adds a whole group within microseconds, so the age only
//     has to outlast that loop; it is added once to every batch's latency.
//   - CheckpointInterval 1 s: only governs Tessera's own /checkpoint (for monitors, witnesses,
//     InclusionProof and ConsistencyProof); Append never waits for it. One signature and one
//     fsync per second is negligible, and a new entry is fetchable by index within ~1 s.
//   - PushbackMaxOutstanding 2048: Appends in flight before ErrBusy; beyond that a caller is
//     better told to retry (HTTP 503) than kept waiting.
const (
	// DefaultBatchMaxSize is the Tessera batch size used when Config.BatchMaxSize is zero.
	DefaultBatchMaxSize = 256
	// DefaultBatchMaxAge is the Tessera batch age used when Config.BatchMaxAge is zero.
	DefaultBatchMaxAge = 250 * time.Microsecond
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
	// PreviousVerifiers verify the log's retired checkpoint keys (a key
	// rotation): the checkpoint Tessera published before the rotation is
	// accepted when one of them verifies it, until Tessera publishes the next
	// one with Signer (at the next append, or after Tessera's republish
	// interval of 10 minutes). Their names must equal Origin.
	PreviousVerifiers []note.Verifier

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
	for _, v := range cfg.PreviousVerifiers {
		if got := v.Name(); got != cfg.Origin {
			return cfg, fmt.Errorf("translog config: previous verifier name %q differs from origin %q", got, cfg.Origin)
		}
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
