package attest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"

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

// Reconcile settles the rows that a crash left pending. The log is the source
// of truth: the leaves from the lowest index a pending request could have
// reached (the log's size when its row was recorded) to the end of the log are
// read back and matched with the pending rows by leaf hash; only requests that
// were in flight at the crash are pending, so the scan is short. It must run
// before the service takes requests (no request may be in flight).
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	pending, from, err := s.pendingUUIDs(ctx)
	if err != nil {
		return rep, err
	}
	rep.Pending = len(pending)
	size, err := s.cfg.Log.IntegratedSize(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: reading log size: %w", err)
	}
	rep.TreeSize = size
	if len(pending) > 0 && from > size {
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
		table, ok := pending[uuid]
		if !ok {
			continue
		}
		p, err := s.cfg.Log.InclusionProof(ctx, i)
		if err != nil {
			return rep, fmt.Errorf("reconcile: proving entry %d (%s): %w", i, uuid, err)
		}
		mark := s.stmts.markLogged(uuid, p)
		if table == "log_writes" {
			mark = func(tx *sql.Tx) error { return markWriteLogged(tx, uuid, p) }
		}
		if err := s.cfg.DB.Tx(ctx, mark); err != nil {
			return rep, fmt.Errorf("reconcile: recording entry %d (%s): %w", i, uuid, err)
		}
		delete(pending, uuid)
		rep.Logged++
		s.cfg.Logger.Info("reconciled pending entry", "uuid", uuid, "log_index", i)
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		for uuid, table := range pending {
			// table is one of two constants, never input.
			if _, err := tx.Exec(`UPDATE `+table+` SET state = 'abandoned' WHERE uuid = ? AND state = 'pending'`, uuid); err != nil {
				return err
			}
			rep.Abandoned++
			s.cfg.Logger.Warn("abandoned pending entry not found in the log", "uuid", uuid)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("reconcile: settling pending rows: %w", err)
	}
	return rep, nil
}

// pendingUUIDs returns the pending rows (uuid -> the table holding it:
// entries, or log_writes for Rekor v2 writes) and the lowest index their
// leaves can have.
func (s *Service) pendingUUIDs(ctx context.Context) (map[string]string, uint64, error) {
	rows, err := s.cfg.DB.Read().QueryContext(ctx, `SELECT uuid, min_index, 'entries' FROM entries WHERE state = 'pending'
		UNION ALL SELECT uuid, min_index, 'log_writes' FROM log_writes WHERE state = 'pending'`)
	if err != nil {
		return nil, 0, fmt.Errorf("reconcile: listing pending entries: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	var from int64 = -1
	for rows.Next() {
		var u, table string
		var m int64
		if err := rows.Scan(&u, &m, &table); err != nil {
			return nil, 0, fmt.Errorf("reconcile: listing pending entries: %w", err)
		}
		out[u] = table
		if from < 0 || m < from {
			from = m
		}
	}
	if from < 0 {
		from = 0
	}
	return out, uint64(from), rows.Err()
}
