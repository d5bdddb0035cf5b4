package attest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

func TestTrustEpochs(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, Migrations()...)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	a, b := []byte("key A"), []byte("key B")

	es, err := TrustEpochs(ctx, db, EpochCA, a, t0, t0)
	if err != nil || len(es) != 1 || string(es[0].Material) != "key A" || !es[0].Start.Equal(t0) || es[0].End != nil {
		t.Fatalf("first epoch: %+v, %v", es, err)
	}
	// The same material again (a restart) changes nothing, whatever start it names.
	if es, err = TrustEpochs(ctx, db, EpochCA, a, t0.Add(time.Hour), t0.Add(time.Hour)); err != nil || len(es) != 1 || !es[0].Start.Equal(t0) {
		t.Fatalf("restart: %+v, %v", es, err)
	}
	// A rotation closes A's window at now and opens B's.
	t1 := t0.Add(48 * time.Hour)
	es, err = TrustEpochs(ctx, db, EpochCA, b, t1.Add(-time.Minute), t1)
	if err != nil || len(es) != 2 {
		t.Fatalf("rotation: %+v, %v", es, err)
	}
	if string(es[0].Material) != "key A" || es[0].End == nil || !es[0].End.Equal(t1) || string(es[1].Material) != "key B" || es[1].End != nil {
		t.Fatalf("after rotation: A %+v, B %+v", es[0], es[1])
	}
	// A retired key cannot come back: that would rewrite its window.
	if _, err := TrustEpochs(ctx, db, EpochCA, a, t0, t1.Add(time.Hour)); !errors.Is(err, ErrRetired) {
		t.Fatalf("retired key back: %v, want ErrRetired", err)
	}
	// Kinds are independent.
	if es, err := TrustEpochs(ctx, db, EpochTSA, a, t0, t1); err != nil || len(es) != 1 {
		t.Fatalf("another kind: %+v, %v", es, err)
	}
}

// TestTrustEpochsMigratesLogKeys: the log keys recorded before version 12
// become the log's windows, each ending where the next one starts.
func TestTrustEpochsMigratesLogKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	var old []store.Migration
	for _, m := range storetest.Padded(Migrations()...) {
		if m.Version < 12 {
			old = append(old, m)
		}
	}
	db, err := store.Open(ctx, store.Config{Path: path, Migrations: old})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ der, start string }{{"der one", "2026-01-01T00:00:00Z"}, {"der two", "2026-06-01T00:00:00Z"}} {
		id := sha256.Sum256([]byte(k.der)) // log_keys.key_id is the hex SHA-256 of the key, as the epochs' id
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO log_keys (key_id, public_key, start) VALUES (?, ?, ?)`, hex.EncodeToString(id[:]), []byte(k.der), k.start)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = store.Open(ctx, store.Config{Path: path, Migrations: storetest.Padded(Migrations()...)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	es, err := TrustEpochs(ctx, db, EpochLog, []byte("der two"), time.Now(), time.Now())
	if err != nil || len(es) != 2 {
		t.Fatalf("migrated log epochs: %+v, %v", es, err)
	}
	if es[0].End == nil || es[0].End.Format(time.RFC3339) != "2026-06-01T00:00:00Z" || es[1].End != nil ||
		es[1].Start.Format(time.RFC3339) != "2026-06-01T00:00:00Z" {
		t.Fatalf("migrated windows: %+v", es)
	}
}
