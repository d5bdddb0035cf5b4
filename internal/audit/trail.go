package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stellaops/stellad/internal/store"
)

// Config configures New.
type Config struct {
	// DB is the open database, migrated with Migrations. Required.
	DB *store.DB
	// Now stamps records that carry no time and anchors. Nil means time.Now.
	Now func() time.Time
	// Logger receives verification failures. Nil discards.
	Logger *slog.Logger
}

// Trail appends to, reads and verifies the audit trail in one database. Its
// methods are safe for concurrent use. Besides prepared statements, which live
// as long as the DB, it remembers the head of the last row it appended: a hint
// that Append checks in the same statement that uses it, never a truth (see
// Append).
type Trail struct {
	db  *store.DB
	now func() time.Time
	log *slog.Logger

	head, insertRow, insertNext, insertAnchor *store.Stmt

	mu   sync.Mutex
	hint chainHint // guarded by mu
}

// chainHint is the (seq, hash) of the row the Trail appended last, when ok.
// It may be ahead of the table (the row's savepoint or transaction rolled
// back, or a group commit is re-running) or behind it (another writer): the
// guarded INSERT of Append then inserts nothing and Append reads the head.
type chainHint struct {
	ok   bool
	seq  uint64
	hash [32]byte
}

const insertRowSQL = `INSERT INTO audit_log (seq, time, request_id, tenant, principal, issuer, action, subject_digests,
	predicate_type, poe_state, quota_state, key_uri, decision, reason, log_index, uuid, prev, hash)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertAnchorSQL = `INSERT INTO audit_anchors (log_index, seq, hash, uuid, anchored_at) VALUES (?, ?, ?, ?, ?)`

// insertNextSQL inserts the row that follows the hinted head (seq, hash) only
// when that is still the table's last row: no row after seq, and row seq
// (none for seq 0: the genesis) has that hash. Both checks are b-tree seeks
// on the primary key. A hint that went stale inserts nothing.
const insertNextSQL = `INSERT INTO audit_log (seq, time, request_id, tenant, principal, issuer, action, subject_digests,
	predicate_type, poe_state, quota_state, key_uri, decision, reason, log_index, uuid, prev, hash)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
	WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE seq > ?1 - 1)
	AND (SELECT hash FROM audit_log WHERE seq = ?1 - 1) IS ?19`

// headSQL reads the last row: seq is the rowid, so this is one b-tree seek.
const headSQL = `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`

// New returns a Trail on cfg.DB, preparing its write statements on the
// writer connection; call it at start-up, not inside a transaction of the DB.
// It fails when the audit tables are missing (Migrations not applied).
func New(ctx context.Context, cfg Config) (*Trail, error) {
	if cfg.DB == nil {
		return nil, errors.New("audit: new trail: Config.DB is nil")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Trail{db: cfg.DB, now: cfg.Now, log: cfg.Logger}
	var err error
	if t.head, err = cfg.DB.Prepare(ctx, headSQL); err != nil {
		return nil, fmt.Errorf("audit: new trail: %w", err)
	}
	if t.insertRow, err = cfg.DB.Prepare(ctx, insertRowSQL); err != nil {
		return nil, fmt.Errorf("audit: new trail: %w", err)
	}
	if t.insertNext, err = cfg.DB.Prepare(ctx, insertNextSQL); err != nil {
		return nil, fmt.Errorf("audit: new trail: %w", err)
	}
	if t.insertAnchor, err = cfg.DB.Prepare(ctx, insertAnchorSQL); err != nil {
		return nil, fmt.Errorf("audit: new trail: %w", err)
	}
	return t, nil
}

// Append adds r as the next row of the chain inside tx, a write transaction
// of the Trail's DB (a store.DB.Commit or store.DB.Tx function), so rows
// appended earlier in the same shared transaction are chained, and a
// rolled-back or re-run function leaves no trace. Usually that is one
// statement: an INSERT of the row that follows the head the Trail appended
// last, guarded in SQL by that head still being the table's last row. When
// the guard fails (the remembered row was rolled back with its savepoint or
// its group commit, another writer appended, or after New) Append reads the
// head through tx and inserts after it. The chain therefore follows the table,
// never memory, and Append may be re-run on retry.
//
// Before storing, Append fills a zero Time from the clock, converts it to
// UTC, replaces invalid UTF-8 with U+FFFD and cuts over-long fields (see
// MaxFieldLen, MaxSubjectDigests, MaxDigestLen). It fails for a Decision
// other than DecisionAllow or DecisionDeny, an empty Action, a LogIndex above
// MaxSeq, or a database error; the caller must then fail its transaction,
// since a request without its audit row must not take effect.
func (t *Trail) Append(tx *sql.Tx, r Record) error {
	_, err := t.appendRow(tx, r)
	return err
}

func (t *Trail) appendRow(tx *sql.Tx, r Record) (Row, error) {
	rec, err := normalize(r, t.now)
	if err != nil {
		return Row{}, fmt.Errorf("audit: appending %s %s: %w", r.Action, r.RequestID, err)
	}
	row := Row{Record: rec}
	var logIndex any
	if rec.LogIndex != nil {
		logIndex = int64(*rec.LogIndex)
	}
	digests := digestsJSON(rec.SubjectDigests)
	t.mu.Lock()
	h := t.hint
	t.hint.ok = false // set again only once a row is in
	t.mu.Unlock()

	if h.ok && h.seq < MaxSeq {
		row.Seq, row.Prev = h.seq+1, h.hash
		row.Hash = row.ComputeHash()
		var prevHash any // NULL: there is no row 0
		if h.seq > 0 {
			prevHash = h.hash[:]
		}
		res, err := t.insertNext.Exec(tx, int64(row.Seq), formatTime(rec.Time), rec.RequestID, rec.Tenant, rec.Principal,
			rec.Issuer, rec.Action, digests, rec.PredicateType, rec.PoEState, rec.QuotaState,
			rec.KeyURI, rec.Decision, rec.Reason, logIndex, rec.UUID, row.Prev[:], row.Hash[:], prevHash)
		if err != nil {
			return Row{}, fmt.Errorf("audit: appending %s %s: inserting row %d: %w", r.Action, r.RequestID, row.Seq, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return Row{}, fmt.Errorf("audit: appending %s %s: inserting row %d: %w", r.Action, r.RequestID, row.Seq, err)
		}
		if n == 1 {
			t.remember(row)
			return row, nil
		}
		// The hint was stale: read the head.
	}

	var last int64
	var prev []byte
	row.Prev = [32]byte{}
	switch err := t.head.QueryRow(tx).Scan(&last, &prev); {
	case errors.Is(err, sql.ErrNoRows): // genesis: seq 1, prev zero
	case err != nil:
		return Row{}, fmt.Errorf("audit: appending %s %s: reading the chain head: %w", r.Action, r.RequestID, err)
	case len(prev) != 32:
		return Row{}, fmt.Errorf("audit: appending %s %s: chain head %d has a %d-byte hash", r.Action, r.RequestID, last, len(prev))
	default:
		copy(row.Prev[:], prev)
	}
	if last < 0 || last >= MaxSeq {
		return Row{}, fmt.Errorf("audit: appending %s %s: chain head seq %d out of range", r.Action, r.RequestID, last)
	}
	row.Seq = uint64(last) + 1
	row.Hash = row.ComputeHash()
	_, err = t.insertRow.Exec(tx, int64(row.Seq), formatTime(rec.Time), rec.RequestID, rec.Tenant, rec.Principal,
		rec.Issuer, rec.Action, digests, rec.PredicateType, rec.PoEState, rec.QuotaState,
		rec.KeyURI, rec.Decision, rec.Reason, logIndex, rec.UUID, row.Prev[:], row.Hash[:])
	if err != nil {
		return Row{}, fmt.Errorf("audit: appending %s %s: inserting row %d: %w", r.Action, r.RequestID, row.Seq, err)
	}
	t.remember(row)
	return row, nil
}

// remember makes row the hint for the next Append.
func (t *Trail) remember(row Row) {
	t.mu.Lock()
	t.hint = chainHint{ok: true, seq: row.Seq, hash: row.Hash}
	t.mu.Unlock()
}

// Anchor is a chain head recorded as logged in the transparency log.
type Anchor struct {
	// Seq and Hash are the head that was logged.
	Seq  uint64
	Hash [32]byte
	// LogIndex and UUID name the anchor statement's entry in the log.
	LogIndex uint64
	UUID     string
	// AnchoredAt is when RecordAnchor ran.
	AnchoredAt time.Time
}

// ErrAnchorMismatch is returned by RecordAnchor when the hash to record is
// not the stored hash of row seq (or there is no such row): the caller logged
// something other than this database's chain head.
var ErrAnchorMismatch = errors.New("audit: anchored hash is not the chain's hash at that seq")

// RecordAnchor records, inside tx, that the chain head (seq, hash) was logged
// as the transparency log entry (logIndex, uuid), typically the statement of
// AnchorStatement. It checks that hash is row seq's stored hash
// (ErrAnchorMismatch otherwise) and fails when logIndex was recorded before.
// Like Append it keeps no state and may be re-run.
func (t *Trail) RecordAnchor(tx *sql.Tx, seq uint64, hash [32]byte, logIndex uint64, uuid string) error {
	if seq == 0 || seq > MaxSeq || logIndex > MaxSeq {
		return fmt.Errorf("audit: recording anchor of seq %d at log index %d: out of range", seq, logIndex)
	}
	var stored []byte
	err := tx.QueryRow(`SELECT hash FROM audit_log WHERE seq = ?`, int64(seq)).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("audit: recording anchor of seq %d: no such row: %w", seq, ErrAnchorMismatch)
	case err != nil:
		return fmt.Errorf("audit: recording anchor of seq %d: %w", seq, err)
	case !bytes.Equal(stored, hash[:]):
		return fmt.Errorf("audit: recording anchor of seq %d: %w", seq, ErrAnchorMismatch)
	}
	if _, err := t.insertAnchor.Exec(tx, int64(logIndex), int64(seq), hash[:], clean(uuid, MaxFieldLen), formatTime(t.now())); err != nil {
		return fmt.Errorf("audit: recording anchor of seq %d at log index %d: %w", seq, logIndex, err)
	}
	return nil
}

// Head returns the last row's seq and hash: (0, zero hash) for an empty
// trail. It reads the committed state through the read-only pool.
func (t *Trail) Head(ctx context.Context) (uint64, [32]byte, error) {
	var seq int64
	var h []byte
	var hash [32]byte
	switch err := t.db.Read().QueryRowContext(ctx, headSQL).Scan(&seq, &h); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, hash, nil
	case err != nil:
		return 0, hash, fmt.Errorf("audit: reading the chain head: %w", err)
	case len(h) != 32 || seq < 1:
		return 0, hash, fmt.Errorf("audit: reading the chain head: row %d is malformed", seq)
	}
	copy(hash[:], h)
	return uint64(seq), hash, nil
}

// LastAnchor returns the anchor with the highest seq (ok false when none was
// recorded), so that the anchoring job can skip a head already logged.
func (t *Trail) LastAnchor(ctx context.Context) (a Anchor, ok bool, err error) {
	var seq, idx int64
	var h []byte
	var at string
	err = t.db.Read().QueryRowContext(ctx, `SELECT seq, hash, log_index, uuid, anchored_at FROM audit_anchors
		ORDER BY seq DESC, log_index DESC LIMIT 1`).Scan(&seq, &h, &idx, &a.UUID, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Anchor{}, false, nil
	case err != nil:
		return Anchor{}, false, fmt.Errorf("audit: reading the last anchor: %w", err)
	}
	if a.AnchoredAt, err = parseTime(at); err != nil || len(h) != 32 || seq < 1 || idx < 0 {
		return Anchor{}, false, fmt.Errorf("audit: reading the last anchor: log index %d is malformed", idx)
	}
	a.Seq, a.LogIndex = uint64(seq), uint64(idx)
	copy(a.Hash[:], h)
	return a, true, nil
}
