package attest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/stellaops/stellad/internal/store"
)

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
