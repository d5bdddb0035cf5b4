package attest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/stellaops/stellad/kit/bundle"
)

// ReconcileReport says what Reconcile settled.
type ReconcileReport struct {
	Pending   int    // rows found pending
	Logged    int    // of which the log holds the leaf: now logged
	Abandoned int    // of which the log does not: marked abandoned (never acknowledged)
	Scanned   uint64 // log entries read
	TreeSize  uint64 // the log's integrated size
}

const metaReconciledSize = "reconciled_size"

// Reconcile settles the rows that a crash left pending. The log is the source
// of truth: every leaf appended since the previous reconciliation is read back
// and matched with the pending rows by leaf hash. It must run before the
// service takes requests (no request may be in flight).
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	pending, err := s.pendingUUIDs(ctx)
	if err != nil {
		return rep, err
	}
	rep.Pending = len(pending)
	size, err := s.cfg.Log.IntegratedSize(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: reading log size: %w", err)
	}
	rep.TreeSize = size
	from, err := s.reconciledSize(ctx)
	if err != nil {
		return rep, err
	}
	if from > size {
		return rep, fmt.Errorf("reconcile: the index says the log had %d entries, the log has %d: wrong --data-dir or a truncated log", from, size)
	}
	for i := from; i < size && len(pending) > 0; i++ {
		leaf, err := s.cfg.Log.ReadLeaf(ctx, i)
		if err != nil {
			return rep, fmt.Errorf("reconcile: reading log entry %d: %w", i, err)
		}
		rep.Scanned++
		h := bundle.LeafHash(leaf)
		uuid := hex.EncodeToString(h[:])
		if !pending[uuid] {
			continue
		}
		p, err := s.cfg.Log.InclusionProof(ctx, i)
		if err != nil {
			return rep, fmt.Errorf("reconcile: proving entry %d (%s): %w", i, uuid, err)
		}
		if err := s.cfg.DB.Tx(ctx, s.stmts.markLogged(uuid, p)); err != nil {
			return rep, fmt.Errorf("reconcile: recording entry %d (%s): %w", i, uuid, err)
		}
		delete(pending, uuid)
		rep.Logged++
		s.cfg.Logger.Info("reconciled pending entry", "uuid", uuid, "log_index", i)
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		for uuid := range pending {
			if _, err := tx.Exec(`UPDATE entries SET state = 'abandoned' WHERE uuid = ? AND state = 'pending'`, uuid); err != nil {
				return err
			}
			rep.Abandoned++
			s.cfg.Logger.Warn("abandoned pending entry not found in the log", "uuid", uuid)
		}
		_, err := tx.Exec(`INSERT INTO attest_meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaReconciledSize, strconv.FormatUint(size, 10))
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("reconcile: settling pending rows: %w", err)
	}
	return rep, nil
}

func (s *Service) pendingUUIDs(ctx context.Context) (map[string]bool, error) {
	rows, err := s.cfg.DB.Read().QueryContext(ctx, `SELECT uuid FROM entries WHERE state = 'pending'`)
	if err != nil {
		return nil, fmt.Errorf("reconcile: listing pending entries: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("reconcile: listing pending entries: %w", err)
		}
		out[u] = true
	}
	return out, rows.Err()
}

func (s *Service) reconciledSize(ctx context.Context) (uint64, error) {
	var v string
	err := s.cfg.DB.Read().QueryRowContext(ctx, `SELECT value FROM attest_meta WHERE key = ?`, metaReconciledSize).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reconcile: reading %s: %w", metaReconciledSize, err)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %s is %q: %w", metaReconciledSize, v, err)
	}
	return n, nil
}
