package attest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/dsse"
)

// errDuplicate reports that a pending row's uuid exists already: the same
// signature by the same key over the same payload was submitted before.
var errDuplicate = errors.New("entry exists")

func registerKey(ctx context.Context, tx *sql.Tx, id string, der []byte, kd, uri, now string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (key_id, public_key, key_details, uri, first_seen)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET uri = excluded.uri`, id, der, kd, uri, now)
	if err != nil {
		return fmt.Errorf("registering key %s: %w", id, err)
	}
	return nil
}

type pendingRow struct {
	uuid, envelopeSHA, keyID, predicateType, tenant, createdAt string
	sigIndex                                                   int
	minIndex                                                   uint64
	subjects                                                   []dsse.ResourceDescriptor
	envelope                                                   []byte // stored under envelopeSHA
}

// statements are the hot path's writes, prepared once (store.DB.Prepare).
type statements struct {
	qInsertPending, qInsertLogged, qInsertBlob, qAbandon, qInsertSubject, qInsertCheckpoint, qMarkLogged, qSetProof *store.Stmt
}

func prepareStatements(ctx context.Context, db *store.DB) (*statements, error) {
	var st statements
	for _, p := range []struct {
		s **store.Stmt
		q string
	}{
		// A request whose leaf never reached the log was abandoned; the same
		// signature submitted again takes its row back.
		{&st.qInsertPending, `INSERT INTO entries (uuid, state, min_index, envelope_sha256, sig_index, key_id, predicate_type, tenant, created_at)
			VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (uuid) DO UPDATE SET state = 'pending', min_index = excluded.min_index, envelope_sha256 = excluded.envelope_sha256,
				sig_index = excluded.sig_index, tenant = excluded.tenant, created_at = excluded.created_at
			WHERE entries.state = 'abandoned'
			RETURNING id`},
		{&st.qInsertLogged, `INSERT INTO entries (uuid, state, log_index, min_index, tree_size, envelope_sha256, sig_index, key_id, predicate_type, tenant, created_at)
			VALUES (?, 'logged', ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.qInsertBlob, `INSERT OR REPLACE INTO entry_blobs (entry_id, envelope, proof) VALUES (?, ?, ?)`},
		{&st.qAbandon, `UPDATE entries SET state = 'abandoned' WHERE uuid = ? AND state = 'pending'`},
		{&st.qInsertSubject, `INSERT OR IGNORE INTO entry_subjects (entry_id, algorithm, digest, name) VALUES (?, ?, ?, ?)`},
		{&st.qInsertCheckpoint, `INSERT OR IGNORE INTO checkpoints (tree_size, note) VALUES (?, ?)`},
		{&st.qMarkLogged, `UPDATE entries SET state = 'logged', log_index = ?, tree_size = ? WHERE uuid = ? RETURNING id`},
		{&st.qSetProof, `UPDATE entry_blobs SET proof = ? WHERE entry_id = ?`},
	} {
		stmt, err := db.Prepare(ctx, p.q)
		if err != nil {
			return nil, err
		}
		*p.s = stmt
	}
	return &st, nil
}

// insertPending records r as pending with its envelope; it fails with
// errDuplicate when the uuid exists already (and was not abandoned).
func (st *statements) insertPending(r pendingRow) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		var id int64
		err := st.qInsertPending.QueryRow(tx, r.uuid, int64(r.minIndex), r.envelopeSHA, r.sigIndex, r.keyID, r.predicateType, r.tenant, r.createdAt).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return errDuplicate
		}
		if err != nil {
			return err
		}
		if _, err := st.qInsertBlob.Exec(tx, id, r.envelope, nil); err != nil {
			return err
		}
		return st.insertSubjects(tx, id, r)
	}
}

// insertLogged records a fresh signature's complete row at once: its
// envelope, subjects, index, issued proof and, when withCheckpoint is set, the
// checkpoint that proof is against (the caller clears it once a committed
// transaction holds that checkpoint). Every write appends (the row, its blobs
// and subjects are keyed by the new row's integer id) except the uuid and
// subject digest indexes.
func (st *statements) insertLogged(r pendingRow, p translog.Proof, withCheckpoint bool) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		if withCheckpoint {
			if _, err := st.qInsertCheckpoint.Exec(tx, int64(p.TreeSize), string(p.Checkpoint)); err != nil {
				return err
			}
		}
		res, err := st.qInsertLogged.Exec(tx, r.uuid, int64(p.Index), int64(r.minIndex), int64(p.TreeSize),
			r.envelopeSHA, r.sigIndex, r.keyID, r.predicateType, r.tenant, r.createdAt)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if _, err := st.qInsertBlob.Exec(tx, id, r.envelope, joinHashes(p.Hashes)); err != nil {
			return err
		}
		return st.insertSubjects(tx, id, r)
	}
}

func (st *statements) insertSubjects(tx *sql.Tx, id int64, r pendingRow) error {
	for _, sub := range r.subjects {
		for alg, d := range sub.Digest {
			if _, err := st.qInsertSubject.Exec(tx, id, alg, strings.ToLower(d), sub.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// abandon marks a pending entry whose leaf never reached the log.
func (st *statements) abandon(uuid string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := st.qAbandon.Exec(tx, uuid)
		return err
	}
}

// markLogged records the entry's index, its issued proof and the checkpoint
// that proof is against.
func (st *statements) markLogged(uuid string, p translog.Proof) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		if _, err := st.qInsertCheckpoint.Exec(tx, int64(p.TreeSize), string(p.Checkpoint)); err != nil {
			return err
		}
		var id int64
		err := st.qMarkLogged.QueryRow(tx, int64(p.Index), int64(p.TreeSize), uuid).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("entry %s vanished before it was logged", uuid)
		}
		if err != nil {
			return err
		}
		_, err = st.qSetProof.Exec(tx, joinHashes(p.Hashes), id)
		return err
	}
}

func joinHashes(hs [][]byte) []byte {
	out := make([]byte, 0, 32*len(hs))
	for _, h := range hs {
		out = append(out, h...)
	}
	return out
}

func splitHashes(b []byte) ([][]byte, error) {
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("stored proof has %d bytes, not a multiple of 32", len(b))
	}
	hs := make([][]byte, 0, len(b)/32)
	for i := 0; i < len(b); i += 32 {
		hs = append(hs, b[i:i+32:i+32])
	}
	return hs, nil
}

// storedEntry is an entry row joined with its key and checkpoint.
type storedEntry struct {
	uuid, state, envelopeSHA, predicateType, tenant, keyID, createdAt string
	sigIndex                                                          int
	index, treeSize                                                   int64
	proof                                                             []byte
	checkpoint                                                        string
	keyDER                                                            []byte
	envelope                                                          []byte
}

const entryColumns = `e.uuid, e.state, e.envelope_sha256, e.predicate_type, e.tenant, e.key_id, e.created_at, e.sig_index,
	COALESCE(e.log_index, -1), COALESCE(e.tree_size, -1), COALESCE(b.proof, x''), COALESCE(c.note, ''), k.public_key, b.envelope`

func scanEntry(sc interface{ Scan(...any) error }) (*storedEntry, error) {
	var e storedEntry
	err := sc.Scan(&e.uuid, &e.state, &e.envelopeSHA, &e.predicateType, &e.tenant, &e.keyID, &e.createdAt, &e.sigIndex,
		&e.index, &e.treeSize, &e.proof, &e.checkpoint, &e.keyDER, &e.envelope)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func (s *Service) loadEntry(ctx context.Context, uuid string) (*storedEntry, error) {
	row := s.cfg.DB.Read().QueryRowContext(ctx, `SELECT `+entryColumns+` FROM entries e
		JOIN signing_keys k ON k.key_id = e.key_id
		JOIN entry_blobs b ON b.entry_id = e.id
		LEFT JOIN checkpoints c ON c.tree_size = e.tree_size
		WHERE e.uuid = ?`, uuid)
	e, err := scanEntry(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, uuid)
	}
	if err != nil {
		return nil, fmt.Errorf("reading entry %s: %w", uuid, err)
	}
	return e, nil
}

// validUUID reports whether u looks like an entry uuid (64 lower-case hex).
func validUUID(u string) bool {
	if len(u) != 64 {
		return false
	}
	_, err := hex.DecodeString(u)
	return err == nil && strings.ToLower(u) == u
}
