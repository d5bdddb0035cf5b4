package entitlement

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PreparedLicence is a licence verified by Prepare and not yet stored: a
// caller that changes other state in the same transaction (an Offline Kit
// import) writes it with Write inside its own transaction and, once that
// transaction has committed, makes it visible to Check with Apply. A
// PreparedLicence is used once, by one goroutine.
type PreparedLicence struct {
	m      *Manager
	ver    *version
	doc    []byte
	actor  string
	now    time.Time
	stored bool
}

// Prepare verifies a licence envelope as Import does (signature, document,
// expiry) and checks it against the licences already committed
// (ErrLicenceStale for a rollback), without writing anything. actor names who
// imports it and is required. Write re-checks staleness inside the caller's
// transaction, since another import may commit in between.
func (m *Manager) Prepare(ctx context.Context, doc []byte, actor string) (*PreparedLicence, error) {
	ver, now, err := m.verify(doc, actor, "preparing")
	if err != nil {
		return nil, err
	}
	p := &PreparedLicence{m: m, ver: ver, doc: doc, actor: actor, now: now}
	// Check against the committed state now, so that a stale licence is
	// refused before the caller starts writing.
	tx, err := m.db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("entitlement: preparing licence %s: %w", ver.LicenceID, err)
	}
	defer tx.Rollback()
	if _, err := checkStale(ctx, tx, p.ver); err != nil {
		return nil, fmt.Errorf("entitlement: preparing licence %s: %w", ver.LicenceID, err)
	}
	return p, nil
}

// Licence returns the prepared licence document.
func (p *PreparedLicence) Licence() Licence { return p.ver.Licence }

// Digest returns the hex SHA-256 of the licence's signed payload.
func (p *PreparedLicence) Digest() string { return p.ver.digest }

// Write stores the licence inside tx unless the same version is stored
// already, and runs Config.Audit in tx. It refuses a rollback with
// ErrLicenceStale; the caller must then roll tx back.
func (p *PreparedLicence) Write(ctx context.Context, tx *sql.Tx) error {
	stored, err := storeLicence(ctx, tx, p.ver, p.doc)
	if err != nil {
		return fmt.Errorf("entitlement: storing licence %s: %w", p.ver.LicenceID, err)
	}
	p.stored = stored
	l := p.ver.Licence
	return p.m.runAudit(tx, Event{Kind: EventLicenceImport, Actor: p.actor, Time: p.now, Licence: &l, Digest: p.ver.digest, Stored: stored}, nil)
}

// Apply makes a licence written by Write visible to Check. Call it only
// after the transaction Write ran in has committed; it does nothing if Write
// found the version already stored (or was not called).
func (p *PreparedLicence) Apply() {
	if !p.stored {
		return
	}
	p.m.writeMu.Lock()
	defer p.m.writeMu.Unlock()
	p.m.mu.Lock()
	p.m.insert(p.ver)
	p.m.mu.Unlock()
	p.stored = false
	p.m.log.Info("licence imported", "licence_id", p.ver.LicenceID, "issued_at", p.ver.IssuedAt, "plan", p.ver.Plan,
		"tenants", len(p.ver.Tenants), "not_after", p.ver.NotAfter, "actor", p.actor)
}

// checkStale reports whether v is already stored (same digest) and refuses a
// rollback or a same-time version with other content with ErrLicenceStale.
func checkStale(ctx context.Context, tx *sql.Tx, v *version) (bool, error) {
	issued := v.IssuedAt.UnixNano()
	var digest string
	err := tx.QueryRowContext(ctx, `SELECT digest FROM licences WHERE licence_id = ? AND issued_at_ns = ?`, v.LicenceID, issued).Scan(&digest)
	switch {
	case err == nil && digest == v.digest:
		return true, nil
	case err == nil:
		return false, fmt.Errorf("%w: a version issued at the same time (%s) has other content", ErrLicenceStale, v.IssuedAt.UTC().Format(time.RFC3339Nano))
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("looking up licence: %w", err)
	}
	var newest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(issued_at_ns) FROM licences WHERE licence_id = ?`, v.LicenceID).Scan(&newest); err != nil {
		return false, fmt.Errorf("looking up licence: %w", err)
	}
	if newest.Valid && newest.Int64 > issued {
		return false, fmt.Errorf("%w: issuedAt %s is older than the imported version's %s", ErrLicenceStale,
			v.IssuedAt.UTC().Format(time.RFC3339Nano), time.Unix(0, newest.Int64).UTC().Format(time.RFC3339Nano))
	}
	return false, nil
}
