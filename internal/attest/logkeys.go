package attest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/stellad/internal/store"
)

// Kinds of trust epochs: what a trusted root lists with validity windows.
const (
	EpochLog   = "tlog"  // the transparency log's checkpoint key (PKIX DER)
	EpochCA    = "ca"    // the certificate authority's certificates (DER, leaf first)
	EpochCTLog = "ctlog" // the CT log's key (PKIX DER)
	EpochTSA   = "tsa"   // the timestamp authority's chain (DER, leaf first)
)

// Epoch is one validity window of a key or certificate chain: from Start,
// until End (nil while current).
type Epoch struct {
	Material []byte
	Start    time.Time
	End      *time.Time
}

// ErrRetired is returned (wrapped) by TrustEpochs when the material in use
// was retired before: a trusted root never reopens a closed window.
var ErrRetired = errors.New("retired key or certificate")

// TrustEpochs records material (a key or a certificate chain) as the current
// one of its kind and returns every window of that kind, oldest first. The
// first time material is seen its window opens at start (a certificate's
// NotBefore, or now for a key) and the window open until then closes at now:
// a rotation. Windows are never rewritten, so the trusted root keeps
// publishing retired keys with their end, and bundles made under them keep
// verifying. Material whose window was closed before is refused (ErrRetired):
// going back to an old key needs a new key instead.
func TrustEpochs(ctx context.Context, db *store.DB, kind string, material []byte, start, now time.Time) ([]Epoch, error) {
	sum := sha256.Sum256(material)
	id := hex.EncodeToString(sum[:])
	stamp := func(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }
	var out []Epoch
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		var end sql.NullString
		err := tx.QueryRow(`SELECT retired FROM trust_epochs WHERE kind = ? AND id = ?`, kind, id).Scan(&end)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.Exec(`UPDATE trust_epochs SET retired = ? WHERE kind = ? AND retired IS NULL`, stamp(now), kind); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO trust_epochs (kind, id, material, start) VALUES (?, ?, ?, ?)`,
				kind, id, material, stamp(start)); err != nil {
				return err
			}
		case err != nil:
			return err
		case end.Valid:
			return fmt.Errorf("%w: %s %s was retired at %s", ErrRetired, kind, id, end.String)
		}
		rows, err := tx.Query(`SELECT material, start, retired FROM trust_epochs WHERE kind = ? ORDER BY start, id`, kind)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e Epoch
			var s string
			var end sql.NullString
			if err := rows.Scan(&e.Material, &s, &end); err != nil {
				return err
			}
			if e.Start, err = time.Parse(time.RFC3339, s); err != nil {
				return fmt.Errorf("%s window starts at %q: %w", kind, s, err)
			}
			if end.Valid {
				t, err := time.Parse(time.RFC3339, end.String)
				if err != nil {
					return fmt.Errorf("%s window ends at %q: %w", kind, end.String, err)
				}
				e.End = &t
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("recording the %s trust epoch %s: %w", kind, id, err)
	}
	return out, nil
}

// LogKeyStart returns the start of the validity window of the log key whose
// PKIX DER is der, recording now as its start the first time the key is seen.
// The trusted root publishes this time, so it must not move between restarts.
func LogKeyStart(ctx context.Context, db *store.DB, der []byte, now time.Time) (time.Time, error) {
	sum := sha256.Sum256(der)
	id := hex.EncodeToString(sum[:])
	var start string
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO log_keys (key_id, public_key, start) VALUES (?, ?, ?) ON CONFLICT (key_id) DO NOTHING`,
			id, der, now.UTC().Truncate(time.Second).Format(time.RFC3339)); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT start FROM log_keys WHERE key_id = ?`, id).Scan(&start)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("recording log key %s: %w", id, err)
	}
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		return time.Time{}, fmt.Errorf("log key %s has start %q: %w", id, start, err)
	}
	return t, nil
}
