package entitlement

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Import verifies a licence envelope and stores it. The signature is checked
// first (ErrLicenceSignature), then the envelope's payloadType and the
// document (ErrLicenceInvalid), then its window: a licence whose notAfter has
// passed is refused (ErrLicenceExpired); one whose notBefore is ahead is
// stored and becomes active then. A version of the same licence id issued
// earlier than one already imported, or at the same issuedAt with other
// content, is refused (ErrLicenceStale). Importing the same licence again
// changes nothing and returns it. The rows (and Config.Audit's) are written in
// one transaction; Check sees the licence once Import returns. actor names who
// imported it and is required. Each audit hook runs after Config.Audit in the
// same transaction (the caller's audit row for this request).
func (m *Manager) Import(ctx context.Context, doc []byte, actor string, audit ...func(*sql.Tx, Event) error) (*Licence, error) {
	ver, now, err := m.verify(doc, actor, "importing")
	if err != nil {
		return nil, err
	}

	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	stored := false
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		stored, err = storeLicence(ctx, tx, ver, doc)
		if err != nil {
			return err
		}
		l := ver.Licence
		return m.runAudit(tx, Event{Kind: EventLicenceImport, Actor: actor, Time: now, Licence: &l, Digest: ver.digest, Stored: stored}, audit)
	})
	if err != nil {
		return nil, fmt.Errorf("entitlement: importing licence %s: %w", ver.LicenceID, err)
	}
	if stored {
		m.mu.Lock()
		m.insert(ver)
		m.mu.Unlock()
		m.log.Info("licence imported", "licence_id", ver.LicenceID, "issued_at", ver.IssuedAt, "plan", ver.Plan,
			"tenants", len(ver.Tenants), "not_after", ver.NotAfter, "actor", actor)
	}
	l := ver.Licence
	return &l, nil
}

// storeLicence writes a licence version unless it is already there. It
// reports whether it wrote, and refuses a rollback with ErrLicenceStale.
func storeLicence(ctx context.Context, tx *sql.Tx, v *version, doc []byte) (bool, error) {
	already, err := checkStale(ctx, tx, v)
	if err != nil || already {
		return false, err
	}
	issued := v.IssuedAt.UnixNano()
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	if _, err := tx.ExecContext(ctx, `INSERT INTO licences
		(licence_id, issued_at_ns, issued_at, not_before, not_after, plan, digest, envelope, imported_at, imported_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.LicenceID, issued, ts(v.IssuedAt), ts(v.NotBefore), ts(v.NotAfter), v.Plan, v.digest, doc, ts(v.importedAt), v.importedBy); err != nil {
		return false, fmt.Errorf("storing licence: %w", err)
	}
	for _, t := range v.Tenants {
		if _, err := tx.ExecContext(ctx, `INSERT INTO licence_tenants (licence_id, issued_at_ns, tenant) VALUES (?, ?, ?)`,
			v.LicenceID, issued, t); err != nil {
			return false, fmt.Errorf("storing licence tenants: %w", err)
		}
	}
	return true, nil
}

// verify checks a licence envelope for Import and Prepare: the actor, the
// vendor's signature, the document and its expiry. op names the operation in
// errors.
func (m *Manager) verify(doc []byte, actor, op string) (*version, time.Time, error) {
	if strings.TrimSpace(actor) == "" {
		return nil, time.Time{}, fmt.Errorf("entitlement: %s licence: actor is required", op)
	}
	v, err := parseLicence(doc, m.keys)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("entitlement: %s licence: %w", op, err)
	}
	now := m.now()
	if !now.Before(v.NotAfter) {
		return nil, time.Time{}, fmt.Errorf("entitlement: %s licence %s: %w: notAfter %s", op, v.LicenceID, ErrLicenceExpired, v.NotAfter.UTC().Format(time.RFC3339))
	}
	return m.newVersion(v, now.UTC(), actor), now, nil
}
