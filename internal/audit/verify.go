package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Problem names why a chain failed to verify.
type Problem string

// The problems Verify and VerifyExport report.
const (
	// ProblemHashMismatch: the row's content does not give its stored hash;
	// the row was edited.
	ProblemHashMismatch Problem = "hash_mismatch"
	// ProblemPrevMismatch: the row's prev is not the previous row's hash; a
	// row was deleted or inserted before it (with the seqs renumbered), or
	// its prev was edited.
	ProblemPrevMismatch Problem = "prev_mismatch"
	// ProblemSeqGap: seqs are missing before this row; rows were deleted.
	ProblemSeqGap Problem = "seq_gap"
	// ProblemUnreadable: the row cannot be read back (a malformed time, digest
	// list, hash or seq, or in an export a line that is not a canonical row);
	// the row was edited or inserted by hand.
	ProblemUnreadable Problem = "unreadable"
	// ProblemAnchorMismatch: a hash logged in the transparency log differs from
	// the recomputed hash at that seq; the chain was rewritten at or before it.
	ProblemAnchorMismatch Problem = "anchor_mismatch"
	// ProblemAnchorBeyondHead: a head was anchored at a seq the chain no
	// longer reaches; rows were cut off its end.
	ProblemAnchorBeyondHead Problem = "anchor_beyond_head"
)

// ChainError describes the first place a chain failed to verify.
type ChainError struct {
	// Seq is the first broken seq: the edited row, the first missing seq, or
	// the anchored seq that does not match.
	Seq     uint64
	Problem Problem
	Detail  string
}

// Error implements error.
func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s: %s", e.Seq, e.Problem, e.Detail)
}

// VerifyResult is the outcome of Verify or VerifyExport.
type VerifyResult struct {
	// Rows is how many rows were checked.
	Rows uint64
	// FirstSeq and FirstPrev are where the chain checked starts: 1 and zero
	// for the database, the first row's for an export.
	FirstSeq  uint64
	FirstPrev [32]byte
	// HeadSeq and HeadHash are the last row checked (0 and zero when none).
	HeadSeq  uint64
	HeadHash [32]byte
	// Anchors is how many anchors were compared with the chain.
	Anchors int
	// Failure is the first problem found, nil when the chain verified.
	Failure *ChainError
}

// OK reports whether the chain verified.
func (v *VerifyResult) OK() bool { return v.Failure == nil }

// Err returns Failure as an error (nil when the chain verified).
func (v *VerifyResult) Err() error {
	if v.Failure == nil {
		return nil
	}
	return v.Failure
}

// chainChecker checks rows in seq order; it holds one row's worth of state.
type chainChecker struct {
	res      VerifyResult
	next     uint64 // the seq the next row must have; 0: take the first row's
	prev     [32]byte
	lastSeq  uint64
	lastHash [32]byte // recomputed
}

func (c *chainChecker) fail(seq uint64, p Problem, format string, args ...any) bool {
	c.res.Failure = &ChainError{Seq: seq, Problem: p, Detail: fmt.Sprintf(format, args...)}
	return false
}

// row checks r; it returns false once a failure is recorded.
func (c *chainChecker) row(r *Row) bool {
	if c.next == 0 { // an export: the chain starts where the file does
		c.next, c.prev = r.Seq, r.Prev
		c.res.FirstSeq, c.res.FirstPrev = r.Seq, r.Prev
	}
	switch {
	case r.Seq > c.next:
		return c.fail(c.next, ProblemSeqGap, "rows %d to %d are missing: deleted", c.next, r.Seq-1)
	case r.Seq < c.next:
		return c.fail(r.Seq, ProblemUnreadable, "row %d follows row %d: out of order", r.Seq, c.next-1)
	case r.Prev != c.prev:
		return c.fail(r.Seq, ProblemPrevMismatch, "prev is not the hash of row %d: a row was deleted or inserted before this one, or prev was edited", r.Seq-1)
	}
	h := r.ComputeHash()
	if h != r.Hash {
		return c.fail(r.Seq, ProblemHashMismatch, "the row's content does not give its hash: the row was edited")
	}
	c.res.Rows++
	c.res.HeadSeq, c.res.HeadHash = r.Seq, h
	c.lastSeq, c.lastHash = r.Seq, h
	c.next, c.prev = r.Seq+1, h
	return true
}

// anchor checks an anchor at the seq of the last row checked.
func (c *chainChecker) anchor(seq uint64, hash [32]byte, logIndex uint64) bool {
	c.res.Anchors++
	if seq != c.lastSeq || hash != c.lastHash {
		return c.fail(seq, ProblemAnchorMismatch, "the head logged at log index %d differs from the recomputed hash: the chain was rewritten at or before seq %d", logIndex, seq)
	}
	return true
}

func prefixed(cols, p string) string {
	f := strings.Split(cols, ",")
	for i := range f {
		f[i] = p + strings.TrimSpace(f[i])
	}
	return strings.Join(f, ", ")
}

const rowCols = `seq, time, request_id, tenant, principal, issuer, action, subject_digests,
	predicate_type, poe_state, quota_state, key_uri, decision, reason, log_index, uuid, prev, hash`

// verifySQL streams the rows in seq order, each joined with its anchors (a
// row appears once per anchor at its seq).
var verifySQL = `SELECT ` + prefixed(rowCols, "a.") + `, an.hash, an.log_index FROM audit_log a
	LEFT JOIN audit_anchors an ON an.seq = a.seq ORDER BY a.seq, an.log_index`

// Verify recomputes the whole chain from seq 1 (prev zero) in one read
// snapshot, streaming (memory does not grow with the trail), checks every
// recorded anchor against the recomputed hash at its seq, and reports the
// first problem in the result's Failure. Its error is for failures to read
// only. Verify proves the rows were not changed since the last anchor that
// matches the transparency log; rows appended after the last anchor are only
// as trustworthy as the database file until the next anchor.
func (t *Trail) Verify(ctx context.Context) (VerifyResult, error) {
	tx, err := t.db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return VerifyResult{}, fmt.Errorf("audit: verifying: %w", err)
	}
	defer tx.Rollback()
	c := chainChecker{next: 1, res: VerifyResult{FirstSeq: 1}}
	res, err := t.verifyRows(ctx, tx, &c)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("audit: verifying: %w", err)
	}
	if res.Failure == nil {
		// An anchor beyond the last row: rows were cut off the end.
		var seq, idx int64
		err := tx.QueryRowContext(ctx, `SELECT seq, log_index FROM audit_anchors WHERE seq > ? OR seq < 1
			ORDER BY seq LIMIT 1`, int64(res.HeadSeq)).Scan(&seq, &idx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return VerifyResult{}, fmt.Errorf("audit: verifying anchors: %w", err)
		default:
			res.Anchors++
			res.Failure = &ChainError{Seq: uint64(max(seq, 0)), Problem: ProblemAnchorBeyondHead,
				Detail: fmt.Sprintf("seq %d was logged at log index %d but the chain ends at seq %d: rows were deleted from its end", seq, idx, res.HeadSeq)}
		}
	}
	if f := res.Failure; f != nil {
		t.log.Warn("audit chain verification failed", "seq", f.Seq, "problem", string(f.Problem), "detail", f.Detail)
	}
	return res, nil
}

func (t *Trail) verifyRows(ctx context.Context, tx *sql.Tx, c *chainChecker) (VerifyResult, error) {
	rs, err := tx.QueryContext(ctx, verifySQL)
	if err != nil {
		return VerifyResult{}, err
	}
	defer rs.Close()
	var last uint64
	for rs.Next() {
		var aHash []byte
		var aIdx *int64
		r, err := scanRow(rs, &aHash, &aIdx)
		var re *rowError
		switch {
		case errors.As(err, &re):
			c.fail(uint64(max(re.seq, 0)), ProblemUnreadable, "%s: the row was edited or inserted by hand", re.msg)
			return c.res, nil
		case err != nil:
			return VerifyResult{}, err
		}
		if r.Seq != last { // not a repeat of the row for its next anchor
			if !c.row(&r) {
				return c.res, nil
			}
			last = r.Seq
		}
		if aIdx != nil {
			var h [32]byte
			copy(h[:], aHash)
			if !c.anchor(r.Seq, h, uint64(max(*aIdx, 0))) {
				return c.res, nil
			}
		}
	}
	if err := rs.Err(); err != nil {
		return VerifyResult{}, err
	}
	return c.res, nil
}
