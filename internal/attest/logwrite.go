package attest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/bundle"
)

// ActionLogWrite is the audit action of a Rekor v2 log write.
const ActionLogWrite = "log.write"

// Written is the answer to a log write: the entry as a Sigstore
// TransparencyLogEntry, and whether this request created it (false: the same
// entry was logged before and is answered again).
type Written struct {
	UUID    string
	Index   uint64
	Entry   bundle.Entry
	Created bool
}

// WriteEntry logs a Rekor v2 hashedrekord v0.0.2 create-entry request (the
// body of POST /api/v2/log/entries, as cosign v3 sends it) for the caller's
// tenant: the request is parsed strictly, the signature is verified over the
// digest with the key or certificate it names, and the canonical entry is
// appended to the log. The answer carries the inclusion proof against a
// checkpoint that covers the entry. An identical request (the same leaf) is
// answered with the entry logged before; two identical requests in flight at
// once give one leaf (the second waits for the first or is told to retry).
// The decision is audited; refusals are audited too.
//
// The caller may be anonymous (who may write is the API's choice per
// listener); then call.Caller names the source and the default tenant.
// Errors wrap ErrInvalidRequest (a malformed request or a signature that does
// not verify) or ErrUnavailable.
func (s *Service) WriteEntry(ctx context.Context, call Call, body []byte) (*Written, error) {
	w, err := s.writeEntry(ctx, call, body)
	outcome := "logged"
	switch {
	case err != nil:
		outcome = reasonCode(err)
	case !w.Created:
		outcome = "duplicate"
	}
	s.cfg.Metrics.Submission(outcome)
	return w, err
}

func (s *Service) writeEntry(ctx context.Context, call Call, body []byte) (*Written, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, ActionLogWrite)
	tenant := s.cfg.DefaultTenant
	if call.Caller != nil && call.Caller.Tenant != "" {
		tenant = call.Caller.Tenant
	}
	if tenant == SystemTenant {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: tenant %q is reserved", ErrInvalidRequest, SystemTenant))
	}
	rec.Tenant = tenant
	hr, err := bundle.ParseHashedRekordRequest(body)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: %v", ErrInvalidRequest, err))
	}
	t0 := time.Now()
	err = hr.VerifySignature()
	s.cfg.Metrics.Verified(time.Since(t0))
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: hashedrekord request: %v", ErrInvalidRequest, err))
	}
	leaf, err := hr.CanonicalBody()
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: %v", ErrInvalidRequest, err))
	}
	keyID, err := verifierKeyID(hr)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: %v", ErrInvalidRequest, err))
	}
	sum := bundle.LeafHash(leaf)
	uuid := hex.EncodeToString(sum[:])
	rec.UUID = uuid
	rec.KeyURI = "verifier:" + keyID
	rec.SubjectDigests = []string{digestName(hr) + ":" + hex.EncodeToString(hr.Digest)}

	release, err := s.writes.acquire(ctx, uuid)
	if err != nil {
		return nil, fmt.Errorf("%w: waiting for an identical write of %s: %w", ErrUnavailable, uuid, err)
	}
	defer release()

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AppendTimeout)
	defer cancel()
	principal := rec.Principal
	row := func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRow(`INSERT INTO log_writes (uuid, state, min_index, body, key_id, tenant, principal, created_at)
			VALUES (?, 'pending', ?, ?, ?, ?, ?, ?)
			ON CONFLICT (uuid) DO UPDATE SET state = 'pending', min_index = excluded.min_index, tenant = excluded.tenant,
				principal = excluded.principal, created_at = excluded.created_at
			WHERE log_writes.state = 'abandoned'
			RETURNING state`, uuid, int64(s.cfg.Log.CoveredSize()), leaf, keyID, tenant, principal,
			s.cfg.Now().UTC().Format(time.RFC3339)).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return errDuplicate
		}
		return err
	}
	if err := s.cfg.DB.Commit(ctx, row); err != nil {
		if errors.Is(err, errDuplicate) {
			w, err := s.loggedWrite(ctx, uuid)
			if err != nil {
				return nil, err
			}
			rec.LogIndex, rec.Reason = &w.Index, "duplicate"
			if err := s.allowed(ctx, call.Caller, rec); err != nil {
				return nil, err
			}
			return w, nil
		}
		return nil, unavailableIf(fmt.Errorf("recording pending write %s: %w", uuid, err))
	}
	p, err := s.append(wctx, uuid, leaf)
	if err != nil {
		if errors.Is(err, translog.ErrNotQueued) {
			if aerr := s.cfg.DB.Commit(wctx, func(tx *sql.Tx) error {
				_, err := tx.Exec(`UPDATE log_writes SET state = 'abandoned' WHERE uuid = ? AND state = 'pending'`, uuid)
				return err
			}); aerr != nil {
				s.cfg.Logger.Warn("marking a refused write abandoned", "uuid", uuid, "err", aerr)
			}
		}
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	allow := s.allowHook(call.Caller, &admitted{tenant: tenant, rec: rec})
	err = s.cfg.DB.Commit(wctx, func(tx *sql.Tx) error {
		if err := markWriteLogged(tx, uuid, p); err != nil {
			return err
		}
		if allow != nil {
			return allow(tx, uuid, p.Index)
		}
		return nil
	})
	if err != nil {
		return nil, unavailableIf(fmt.Errorf("recording logged write %s at index %d: %w", uuid, p.Index, err))
	}
	s.cfg.Metrics.Decision(ActionLogWrite, audit.DecisionAllow, "")
	return &Written{UUID: uuid, Index: p.Index, Created: true, Entry: s.logEntry(leaf, p)}, nil
}

// markWriteLogged records a write's index, its issued proof and the
// checkpoint that proof is against.
func markWriteLogged(tx *sql.Tx, uuid string, p translog.Proof) error {
	if _, err := tx.Exec(`INSERT OR IGNORE INTO checkpoints (tree_size, note) VALUES (?, ?)`, int64(p.TreeSize), string(p.Checkpoint)); err != nil {
		return err
	}
	res, err := tx.Exec(`UPDATE log_writes SET state = 'logged', log_index = ?, tree_size = ?, proof = ? WHERE uuid = ?`,
		int64(p.Index), int64(p.TreeSize), joinHashes(p.Hashes), uuid)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("write %s vanished before it was logged", uuid)
	}
	return nil
}

// loggedWrite answers a write logged before from its row: the stored proof
// against the stored checkpoint.
func (s *Service) loggedWrite(ctx context.Context, uuid string) (*Written, error) {
	var (
		state           string
		index, treeSize sql.NullInt64
		proof, body     []byte
		checkpoint      sql.NullString
	)
	err := s.cfg.DB.Read().QueryRowContext(ctx, `SELECT w.state, w.log_index, w.tree_size, COALESCE(w.proof, x''), w.body, c.note
		FROM log_writes w LEFT JOIN checkpoints c ON c.tree_size = w.tree_size WHERE w.uuid = ?`, uuid).
		Scan(&state, &index, &treeSize, &proof, &body, &checkpoint)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, uuid)
	}
	if err != nil {
		return nil, unavailableIf(fmt.Errorf("reading write %s: %w", uuid, err))
	}
	if state != "logged" {
		return nil, fmt.Errorf("%w: entry %s is being logged by another request; retry", ErrUnavailable, uuid)
	}
	if !checkpoint.Valid {
		return nil, fmt.Errorf("write %s: checkpoint for tree size %d is missing", uuid, treeSize.Int64)
	}
	hashes, err := splitHashes(proof)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", uuid, err)
	}
	root, err := checkpointRoot(checkpoint.String)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", uuid, err)
	}
	p := translog.Proof{Index: uint64(index.Int64), TreeSize: uint64(treeSize.Int64), RootHash: root, Hashes: hashes,
		Checkpoint: []byte(checkpoint.String)}
	return &Written{UUID: uuid, Index: p.Index, Entry: s.logEntry(body, p)}, nil
}

func (s *Service) logEntry(body []byte, p translog.Proof) bundle.Entry {
	return bundle.Entry{
		LogIndex: p.Index,
		LogID:    s.cfg.LogID,
		Body:     body,
		Kind:     bundle.KindHashedRekord,
		Version:  bundle.VersionHashedRekord,
		Proof: bundle.InclusionProof{
			LogIndex:   p.Index,
			TreeSize:   p.TreeSize,
			RootHash:   p.RootHash,
			Hashes:     p.Hashes,
			Checkpoint: string(p.Checkpoint),
		},
	}
}

// verifierKeyID is the hex SHA-256 of the PKIX key that verifies the entry
// (a certificate's subject public key for keyless entries).
func verifierKeyID(hr *bundle.HashedRekord) (string, error) {
	der := hr.PublicKeyDER
	if len(hr.CertificateDER) > 0 {
		c, err := x509.ParseCertificate(hr.CertificateDER)
		if err != nil {
			return "", err
		}
		der = c.RawSubjectPublicKeyInfo
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// digestName names the hash of a hashedrekord digest as audit rows do.
func digestName(hr *bundle.HashedRekord) string {
	switch len(hr.Digest) {
	case 48:
		return "sha384"
	case 64:
		return "sha512"
	}
	return "sha256"
}

// inflight serialises identical writes: the first holder of a uuid logs it,
// later ones wait and then find the row. Different uuids never wait on each
// other.
type inflight struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func newInflight() *inflight { return &inflight{m: map[string]chan struct{}{}} }

// acquire waits until no other request holds uuid, then holds it until the
// returned function is called.
func (f *inflight) acquire(ctx context.Context, uuid string) (func(), error) {
	for {
		f.mu.Lock()
		ch, busy := f.m[uuid]
		if !busy {
			done := make(chan struct{})
			f.m[uuid] = done
			f.mu.Unlock()
			return func() {
				f.mu.Lock()
				delete(f.m, uuid)
				f.mu.Unlock()
				close(done)
			}, nil
		}
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
