package policy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Approval states.
const (
	StatePending  = "pending"  // queued by Check, waiting for an admin
	StateApproved = "approved" // Check lets the digest through for the tenant
	StateDenied   = "denied"   // Check refuses it with scanner_untrusted
)

// Approval is one row of the manual approval queue.
type Approval struct {
	ID          int64
	Tenant      string
	Digest      string
	State       string // a State constant
	RequestedAt time.Time
	DecidedAt   time.Time // zero while pending
	DecidedBy   string
	Reason      string
	// Previous is the state before the Approve or Deny call that returned
	// this value ("" when that call created the row); empty elsewhere.
	Previous string
}

// ApprovalRef names an approval: by ID, or by Tenant and Digest when ID is 0.
type ApprovalRef struct {
	ID     int64
	Tenant string
	Digest string
}

// Approve marks the approval ref names as approved by actor for reason:
// from then on Check lets the digest through for that tenant. With Tenant
// and Digest and no existing row it creates an approved row (pre-approval).
// The audit hooks run in the same transaction after the row is written;
// an error from one rolls the decision back. It returns the updated row
// (with Previous), ErrApprovalNotFound for an unknown ID, and
// ErrApprovalState when the approval is already approved.
func (c *Checker) Approve(ctx context.Context, ref ApprovalRef, actor, reason string, audit ...func(tx *sql.Tx, a Approval) error) (Approval, error) {
	return c.decide(ctx, ref, StateApproved, actor, reason, audit)
}

// Deny marks the approval ref names as denied by actor for reason: Check
// then refuses the digest for that tenant with scanner_untrusted and queues
// it no more. An approved digest can be denied later (revocation). A denial
// does not override an imported release or the allowlist. Errors and audit
// hooks as for Approve.
func (c *Checker) Deny(ctx context.Context, ref ApprovalRef, actor, reason string, audit ...func(tx *sql.Tx, a Approval) error) (Approval, error) {
	return c.decide(ctx, ref, StateDenied, actor, reason, audit)
}

func (c *Checker) decide(ctx context.Context, ref ApprovalRef, state, actor, reason string, audit []func(*sql.Tx, Approval) error) (Approval, error) {
	op := "policy: " + map[string]string{StateApproved: "approving", StateDenied: "denying"}[state]
	if actor == "" || reason == "" {
		return Approval{}, fmt.Errorf("%s: actor and reason are required", op)
	}
	if ref.ID == 0 {
		if ref.Tenant == "" || !ValidDigest(ref.Digest) {
			return Approval{}, fmt.Errorf("%s: want an approval id, or a tenant and a sha256 digest", op)
		}
	}
	c.decideMu.Lock()
	defer c.decideMu.Unlock()
	now := c.now()
	var a Approval
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = lookupApproval(ctx, tx, ref)
		switch {
		case errors.Is(err, ErrApprovalNotFound) && ref.ID == 0:
			a = Approval{Tenant: ref.Tenant, Digest: ref.Digest, RequestedAt: now.UTC()}
			err = tx.QueryRowContext(ctx, `INSERT INTO scanner_approvals (tenant, digest, state, requested_at)
VALUES (?, ?, 'pending', ?) RETURNING id`, a.Tenant, a.Digest, formatTime(now)).Scan(&a.ID)
			if err != nil {
				return fmt.Errorf("creating approval: %w", err)
			}
		case err != nil:
			return err
		default:
			if a.State == state {
				return fmt.Errorf("%w: approval %d is %s", ErrApprovalState, a.ID, a.State)
			}
			a.Previous = a.State
		}
		a.State, a.DecidedAt, a.DecidedBy, a.Reason = state, now.UTC(), actor, reason
		if _, err := tx.ExecContext(ctx, `UPDATE scanner_approvals SET state = ?, decided_at = ?, decided_by = ?, reason = ? WHERE id = ?`,
			a.State, formatTime(now), actor, reason, a.ID); err != nil {
			return fmt.Errorf("recording decision on approval %d: %w", a.ID, err)
		}
		for _, fn := range audit {
			if err := fn(tx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Approval{}, fmt.Errorf("%s %s: %w", op, describeRef(ref), err)
	}
	c.mu.Lock()
	c.decisions[approvalKey{a.Tenant, a.Digest}] = approvalEntry{id: a.ID, state: a.State}
	c.mu.Unlock()
	c.log.InfoContext(ctx, "scanner approval decided", "tenant", a.Tenant, "digest", a.Digest, "approval_id", a.ID, "state", a.State, "actor", actor)
	return a, nil
}

func describeRef(ref ApprovalRef) string {
	if ref.ID != 0 {
		return fmt.Sprintf("approval %d", ref.ID)
	}
	return fmt.Sprintf("scanner image %s for tenant %s", ref.Digest, ref.Tenant)
}

const approvalColumns = `id, tenant, digest, state, requested_at, decided_at, decided_by, reason`

type rowScanner interface{ Scan(dest ...any) error }

func scanApproval(r rowScanner) (Approval, error) {
	var a Approval
	var requested, decided string
	if err := r.Scan(&a.ID, &a.Tenant, &a.Digest, &a.State, &requested, &decided, &a.DecidedBy, &a.Reason); err != nil {
		return Approval{}, err
	}
	a.RequestedAt, a.DecidedAt = parseTime(requested), parseTime(decided)
	return a, nil
}

func lookupApproval(ctx context.Context, tx *sql.Tx, ref ApprovalRef) (Approval, error) {
	var row *sql.Row
	if ref.ID != 0 {
		row = tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM scanner_approvals WHERE id = ?`, ref.ID)
	} else {
		row = tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM scanner_approvals WHERE tenant = ? AND digest = ?`, ref.Tenant, ref.Digest)
	}
	a, err := scanApproval(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, ErrApprovalNotFound
	}
	if err != nil {
		return Approval{}, fmt.Errorf("reading approval: %w", err)
	}
	if ref.ID != 0 && ((ref.Tenant != "" && ref.Tenant != a.Tenant) || (ref.Digest != "" && ref.Digest != a.Digest)) {
		// An id of another tenant is reported as absent, not revealed.
		return Approval{}, ErrApprovalNotFound
	}
	return a, nil
}

// Pending lists the pending approvals of tenant, oldest first; tenant ""
// lists every tenant's (for the admin socket only: the caller enforces
// tenancy).
func (c *Checker) Pending(ctx context.Context, tenant string) ([]Approval, error) {
	q := `SELECT ` + approvalColumns + ` FROM scanner_approvals WHERE state = 'pending'`
	args := []any{}
	if tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, tenant)
	}
	rows, err := c.db.Read().QueryContext(ctx, q+` ORDER BY requested_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("policy: listing pending approvals: %w", err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("policy: listing pending approvals: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policy: listing pending approvals: %w", err)
	}
	return out, nil
}
