package entitlement

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxReason bounds a bypass reason.
const maxReason = 1024

// Bypass grants an emergency bypass for d (0 < d <= MaxBypass) starting now:
// until it ends, Check entitles every tenant that has no valid or grace
// licence (State "bypass"). reason and actor are required and recorded. The
// bypass row (and Config.Audit's) is written in one transaction; the returned
// Bypass carries what an audit row needs. Bypasses cannot be shortened or
// revoked; a later one with a later end extends the cover.
// Audit hooks run after Config.Audit in the same transaction.
func (m *Manager) Bypass(ctx context.Context, reason, actor string, d time.Duration, audit ...func(*sql.Tx, Event) error) (Bypass, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return Bypass{}, errors.New("entitlement: bypass: a reason is required")
	case len(reason) > maxReason:
		return Bypass{}, fmt.Errorf("entitlement: bypass: reason of %d bytes exceeds %d", len(reason), maxReason)
	case strings.TrimSpace(actor) == "":
		return Bypass{}, errors.New("entitlement: bypass: actor is required")
	case d <= 0 || d > MaxBypass:
		return Bypass{}, fmt.Errorf("entitlement: bypass: duration %s is not in (0, %s]", d, MaxBypass)
	}
	now := m.now()
	b := Bypass{Reason: reason, Actor: actor, Start: now, Until: now.Add(d)}

	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	err := m.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO bypasses (reason, actor, created_at, not_after) VALUES (?, ?, ?, ?)`,
			b.Reason, b.Actor, b.Start.UTC().Format(time.RFC3339Nano), b.Until.UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("storing bypass: %w", err)
		}
		if b.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("storing bypass: %w", err)
		}
		c := b
		return m.runAudit(tx, Event{Kind: EventBypass, Actor: actor, Time: now, Bypass: &c}, audit)
	})
	if err != nil {
		return Bypass{}, fmt.Errorf("entitlement: bypass: %w", err)
	}
	m.mu.Lock()
	// Drop bypasses that have ended; the table keeps them.
	kept := m.bypasses[:0]
	for _, old := range m.bypasses {
		if now.Before(old.Until) {
			kept = append(kept, old)
		}
	}
	m.bypasses = append(kept, b)
	m.mu.Unlock()
	m.log.Warn("entitlement bypass granted", "bypass_id", b.ID, "until", b.Until, "actor", actor)
	return b, nil
}
