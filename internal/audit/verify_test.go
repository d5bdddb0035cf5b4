package audit

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stellaops/stellad/internal/store"
)

// TestVerifyDetectsTampering edits the table directly with SQL, as someone
// holding the database file would, and checks that Verify names the first
// broken seq and why.
func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name    string
		anchor  uint64 // anchor the head at this seq first (0: none)
		tamper  func(t *testing.T, h *harness)
		want    Problem
		wantSeq uint64
	}{
		{"reason edited", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `UPDATE audit_log SET reason = 'ok' WHERE seq = 3`)
		}, ProblemHashMismatch, 3},
		{"decision flipped", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `UPDATE audit_log SET decision = 'allow' WHERE seq = 6`)
		}, ProblemHashMismatch, 6},
		{"log index cleared", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `UPDATE audit_log SET log_index = NULL WHERE seq = 4`)
		}, ProblemHashMismatch, 4},
		{"tenant moved", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `UPDATE audit_log SET tenant = 'b' WHERE seq = 1`)
		}, ProblemHashMismatch, 1},
		{"row deleted", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `DELETE FROM audit_log WHERE seq = 5`)
		}, ProblemSeqGap, 5},
		{"first row deleted", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `DELETE FROM audit_log WHERE seq = 1`)
		}, ProblemSeqGap, 1},
		{"row inserted, later rows renumbered", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4`)
			exec(t, h.db, `UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000`)
			exec(t, h.db, `INSERT INTO audit_log SELECT 4, time, request_id, tenant, principal, issuer, action, subject_digests,
				predicate_type, poe_state, quota_state, key_uri, decision, 'forged', log_index, uuid, prev, hash FROM audit_log WHERE seq = 3`)
		}, ProblemPrevMismatch, 4},
		{"row inserted with its hash recomputed", 0, func(t *testing.T, h *harness) {
			// A forged row between 3 and 4 with a valid hash: row 4 (now 5)
			// no longer links to its predecessor.
			exec(t, h.db, `UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4`)
			exec(t, h.db, `UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000`)
			r := h.row(t, 3)
			r.Seq, r.Prev, r.Reason = 4, r.Hash, "forged"
			r.Hash = r.ComputeHash()
			h.insert(t, r)
		}, ProblemPrevMismatch, 5},
		{"row edited and rehashed", 0, func(t *testing.T, h *harness) {
			r := h.row(t, 2)
			r.Reason = "forged"
			r.Hash = r.ComputeHash()
			exec(t, h.db, `UPDATE audit_log SET reason = ?, hash = ? WHERE seq = 2`, r.Reason, r.Hash[:])
		}, ProblemPrevMismatch, 3},
		{"row appended with a bad hash", 0, func(t *testing.T, h *harness) {
			r := h.row(t, 9)
			r.Seq, r.Prev = 10, r.Hash
			h.insert(t, r)
		}, ProblemHashMismatch, 10},
		{"time made unreadable", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `UPDATE audit_log SET time = 'yesterday' WHERE seq = 7`)
		}, ProblemUnreadable, 7},
		{"digests made unreadable", 0, func(t *testing.T, h *harness) {
			exec(t, h.db, `UPDATE audit_log SET subject_digests = 'x' WHERE seq = 8`)
		}, ProblemUnreadable, 8},
		{"whole chain rewritten from seq 2, anchored at 5", 5, func(t *testing.T, h *harness) {
			prev := h.row(t, 1).Hash
			for seq := uint64(2); seq <= 9; seq++ {
				r := h.row(t, seq)
				if seq == 2 {
					r.Reason = "forged"
				}
				r.Prev = prev
				r.Hash = r.ComputeHash()
				exec(t, h.db, `UPDATE audit_log SET reason = ?, prev = ?, hash = ? WHERE seq = ?`, r.Reason, r.Prev[:], r.Hash[:], int64(seq))
				prev = r.Hash
			}
		}, ProblemAnchorMismatch, 5},
		{"rows cut off the end after the anchor", 8, func(t *testing.T, h *harness) {
			exec(t, h.db, `DELETE FROM audit_log WHERE seq >= 7`)
		}, ProblemAnchorBeyondHead, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.anchor > 0 {
				h.anchor(t, tt.anchor)
			}
			mustVerify(t, h.tr)
			tt.tamper(t, h)
			res, err := h.tr.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() {
				t.Fatalf("Verify passed after tampering: %+v", res)
			}
			if f := res.Failure; f.Problem != tt.want || f.Seq != tt.wantSeq {
				t.Fatalf("Verify: %v; want %s at seq %d", f, tt.want, tt.wantSeq)
			}
		})
	}
}

type harness struct {
	db *store.DB
	tr *Trail
}

// newHarness makes a trail of 9 rows.
func newHarness(t *testing.T) *harness {
	db, tr, _ := openTrail(t)
	appendN(t, db, tr, "a", 9)
	return &harness{db: db, tr: tr}
}

func (h *harness) row(t *testing.T, seq uint64) Row {
	t.Helper()
	r, err := scanRow(h.db.Read().QueryRow(selectRows+` WHERE seq = ?`, int64(seq)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h *harness) insert(t *testing.T, r Row) {
	t.Helper()
	var li any
	if r.LogIndex != nil {
		li = int64(*r.LogIndex)
	}
	if err := h.db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(insertRowSQL, int64(r.Seq), formatTime(r.Time), r.RequestID, r.Tenant, r.Principal, r.Issuer,
			r.Action, digestsJSON(r.SubjectDigests), r.PredicateType, r.PoEState, r.QuotaState, r.KeyURI, r.Decision,
			r.Reason, li, r.UUID, r.Prev[:], r.Hash[:])
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) anchor(t *testing.T, seq uint64) {
	t.Helper()
	r := h.row(t, seq)
	if err := h.db.Tx(context.Background(), func(tx *sql.Tx) error {
		return h.tr.RecordAnchor(tx, seq, r.Hash, 100+seq, "anchor-uuid")
	}); err != nil {
		t.Fatal(err)
	}
}
