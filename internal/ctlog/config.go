package ctlog

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
)

// Defaults, measured on the project's 2-core machine (Go 1.26.8, ext4 on a virtio disk); see
// docs/ctlog.md and BenchmarkAddPreChain.
//
// AddPreChain waits for Tessera to sequence and integrate its entry (the SCT carries the leaf
// index), so every call pays about BatchMaxAge plus one batch write (entry bundle, tiles and
// tree state, each fsynced). With Tessera's default of 250 ms a certificate request would
// wait a quarter of a second for nothing: the CA issues one certificate per cosign signing,
// never hundreds at once. 5 ms keeps a lone call in the single-digit milliseconds while
// concurrent calls arriving within that window still share one batch write.
const (
	// DefaultBatchMaxAge is the Tessera batch age used when Config.BatchMaxAge is zero.
	DefaultBatchMaxAge = 5 * time.Millisecond
	// batchMaxSize bounds one Tessera batch; Tessera's default.
	batchMaxSize = 256
	// checkpointInterval is how often Tessera publishes /checkpoint. SCT issuance never waits
	// for it; monitors see a new entry within about this long.
	checkpointInterval = time.Second
	// pushbackMaxOutstanding is the number of sequenced but not yet integrated entries beyond
	// which Tessera pushes back (ErrBusy).
	pushbackMaxOutstanding = 4096
)

// Config configures a Log. Dir, Origin and Signer are required.
type Config struct {
	// Dir is the directory holding the log (Tessera POSIX layout plus issuer/); created if
	// missing. Only one Log may use a directory at a time.
	Dir string
	// Origin is the checkpoint origin and note key name: the log's submission prefix as a
	// schema-less URL without trailing slash (c2sp.org/static-ct-api), e.g.
	// "ct.example.internal/ct" for a log mounted at https://ct.example.internal/ct/.
	Origin string
	// Signer is the log's ECDSA P-256 key: it signs SCTs and checkpoints.
	Signer crypto.Signer
	// Now is the clock for SCT and checkpoint timestamps; nil means time.Now.
	Now func() time.Time
	// BatchMaxAge is how long Tessera waits to fill a batch; zero means DefaultBatchMaxAge.
	BatchMaxAge time.Duration
	// Logger receives operational records; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with defaults filled in, or an error naming the invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Dir == "" {
		return cfg, errors.New("ctlog config: Dir is required")
	}
	if err := checkOrigin(cfg.Origin); err != nil {
		return cfg, fmt.Errorf("ctlog config: Origin: %w", err)
	}
	if cfg.Signer == nil {
		return cfg, errors.New("ctlog config: Signer is required")
	}
	pub, ok := cfg.Signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return cfg, fmt.Errorf("ctlog config: Signer must be an ECDSA P-256 key, got %T", cfg.Signer.Public())
	}
	if cfg.BatchMaxAge < 0 {
		return cfg, fmt.Errorf("ctlog config: negative BatchMaxAge %v", cfg.BatchMaxAge)
	}
	if cfg.BatchMaxAge == 0 {
		cfg.BatchMaxAge = DefaultBatchMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// checkOrigin accepts a schema-less URL prefix usable as a note key name: non-empty, no
// scheme, no trailing slash, no whitespace or '+' (c2sp.org/signed-note key names).
func checkOrigin(o string) error {
	switch {
	case o == "":
		return errors.New("required")
	case strings.Contains(o, "://"):
		return fmt.Errorf("%q carries a URL scheme; want host[/path]", o)
	case strings.HasSuffix(o, "/"):
		return fmt.Errorf("%q ends with a slash", o)
	case strings.ContainsRune(o, '+'):
		return fmt.Errorf("%q contains '+'", o)
	}
	for _, r := range o {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%q contains whitespace or a control character", o)
		}
	}
	return nil
}
