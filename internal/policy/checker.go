package policy

import (
	"context"
	"crypto"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/stellaops/stellad/internal/store"
)

// What Check does with an untrusted digest (Config.OnUntrusted).
const (
	// OnUntrustedRefuse refuses it with scanner_untrusted (the default).
	OnUntrustedRefuse = "refuse"
	// OnUntrustedQueue records a pending approval for the tenant and refuses
	// with scanner_approval_pending until an admin approves or denies it.
	OnUntrustedQueue = "queue"
)

// Config configures New.
type Config struct {
	// DB is the stellad database, migrated with Migrations. Required.
	DB *store.DB
	// ReleaseKeys are the trusted scanner release keys: *ecdsa.PublicKey
	// (P-256, P-384), ed25519.PublicKey or *rsa.PublicKey (2048 bits or
	// more). Keys are trusted for imports only; digests already imported
	// stay trusted when the list changes.
	ReleaseKeys []crypto.PublicKey
	// Allowlist holds scanner image digests ("sha256:<64 lowercase hex>")
	// trusted without a signature, for every tenant.
	Allowlist []string
	// OnUntrusted is OnUntrustedRefuse (when empty) or OnUntrustedQueue.
	OnUntrusted string
	// Limits bounds the layouts ImportLayout reads. Zero fields take the
	// defaults.
	Limits Limits
	// Now stamps imports and approvals. Nil means time.Now.
	Now func() time.Time
	// Logger receives imports and decisions. Nil discards.
	Logger *slog.Logger
}

// Checker decides whether a scanner image digest may be signed for: a
// release signed by a trusted key (imported from OCI layouts), an
// allowlisted digest, or one an admin approved for the tenant. Check answers
// from memory; the database is read once by New and written by ImportLayout,
// the approval queue, Approve and Deny, which update memory after their
// transaction commits. A Checker is safe for concurrent use. It must be the
// only writer of its tables (one daemon per database).
type Checker struct {
	db     *store.DB
	keys   []releaseKey // guarded by mu; replaced whole by SetReleaseKeys
	allow  map[string]struct{}
	queue  bool
	limits Limits
	now    func() time.Time
	log    *slog.Logger

	decideMu sync.Mutex // serializes Approve and Deny (database and memory)

	mu        sync.RWMutex
	releases  map[string]struct{}
	decisions map[approvalKey]approvalEntry
}

type approvalKey struct{ tenant, digest string }

type approvalEntry struct {
	id    int64
	state string
}

// New checks cfg, loads the imported releases and the approval states from
// cfg.DB and returns a ready Checker. It fails on a missing DB, an
// unsupported release key, a malformed allowlist digest or an unknown
// OnUntrusted value.
func New(ctx context.Context, cfg Config) (*Checker, error) {
	if cfg.DB == nil {
		return nil, errors.New("policy: Config.DB is nil")
	}
	c := &Checker{
		db:        cfg.DB,
		allow:     make(map[string]struct{}, len(cfg.Allowlist)),
		limits:    cfg.Limits.withDefaults(),
		now:       cfg.Now,
		log:       cfg.Logger,
		releases:  map[string]struct{}{},
		decisions: map[approvalKey]approvalEntry{},
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.OnUntrusted {
	case "", OnUntrustedRefuse:
	case OnUntrustedQueue:
		c.queue = true
	default:
		return nil, fmt.Errorf("policy: Config.OnUntrusted %q is not %q or %q", cfg.OnUntrusted, OnUntrustedRefuse, OnUntrustedQueue)
	}
	for i, pub := range cfg.ReleaseKeys {
		k, err := newReleaseKey(pub)
		if err != nil {
			return nil, fmt.Errorf("policy: Config.ReleaseKeys[%d]: %w", i, err)
		}
		c.keys = append(c.keys, k)
	}
	for i, d := range cfg.Allowlist {
		if !ValidDigest(d) {
			return nil, fmt.Errorf("policy: Config.Allowlist[%d]: %q is not sha256:<64 lowercase hex>", i, trunc(d))
		}
		c.allow[d] = struct{}{}
	}
	if err := c.load(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Checker) load(ctx context.Context) error {
	rows, err := c.db.Read().QueryContext(ctx, `SELECT digest FROM scanner_releases`)
	if err != nil {
		return fmt.Errorf("policy: loading scanner releases: %w", err)
	}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return fmt.Errorf("policy: loading scanner releases: %w", err)
		}
		c.releases[d] = struct{}{}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("policy: loading scanner releases: %w", err)
	}
	rows, err = c.db.Read().QueryContext(ctx, `SELECT id, tenant, digest, state FROM scanner_approvals`)
	if err != nil {
		return fmt.Errorf("policy: loading scanner approvals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k approvalKey
		var e approvalEntry
		if err := rows.Scan(&e.id, &k.tenant, &k.digest, &e.state); err != nil {
			return fmt.Errorf("policy: loading scanner approvals: %w", err)
		}
		c.decisions[k] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("policy: loading scanner approvals: %w", err)
	}
	return nil
}

// Why a digest was trusted (Verdict.Basis).
const (
	BasisRelease   = "release"   // imported release signed by a trusted key
	BasisAllowlist = "allowlist" // on Config.Allowlist
	BasisApproval  = "approval"  // approved by an admin for the tenant
)

// Verdict says why Decide let a digest through, for the audit row.
type Verdict struct {
	// Basis is one of the Basis constants.
	Basis string
	// ApprovalID is the approval's id when Basis is BasisApproval.
	ApprovalID int64
}

// Check is Decide without the verdict: nil when the digest may be signed
// for tenant, otherwise a refusal *Error or an operational error.
func (c *Checker) Check(ctx context.Context, tenant, digest string) error {
	_, err := c.Decide(ctx, tenant, digest)
	return err
}

// Decide answers whether tenant may have output of the scanner image digest
// signed. It returns a Verdict when the digest is an imported release,
// allowlisted, or approved for tenant. Otherwise it returns an *Error:
// CodeDigestMissing for "" or a malformed digest; CodeUntrusted in refuse
// mode or when an admin denied the digest for tenant; in queue mode
// CodeApprovalPending, after recording a pending approval for (tenant,
// digest) through a group commit when none exists (idempotent: later calls
// answer from memory). Other errors (an empty tenant, a database failure)
// are operational. Trusted digests are answered from memory without I/O.
func (c *Checker) Decide(ctx context.Context, tenant, digest string) (Verdict, error) {
	if digest == "" {
		return Verdict{}, refuse(CodeDigestMissing, "no scanner image digest given")
	}
	if !ValidDigest(digest) {
		return Verdict{}, refuse(CodeDigestMissing, "scanner image digest %q is not sha256:<64 lowercase hex>", trunc(digest))
	}
	if tenant == "" {
		return Verdict{}, errors.New("policy: check: empty tenant")
	}
	if _, ok := c.allow[digest]; ok {
		return Verdict{Basis: BasisAllowlist}, nil
	}
	c.mu.RLock()
	_, released := c.releases[digest]
	e, decided := c.decisions[approvalKey{tenant, digest}]
	c.mu.RUnlock()
	if released {
		return Verdict{Basis: BasisRelease}, nil
	}
	if decided {
		return c.verdictFor(e, digest)
	}
	if !c.queue {
		return Verdict{}, refuse(CodeUntrusted, "scanner image %s is not a trusted release", digest)
	}
	e, err := c.enqueue(ctx, tenant, digest)
	if err != nil {
		return Verdict{}, err
	}
	return c.verdictFor(e, digest)
}

func (c *Checker) verdictFor(e approvalEntry, digest string) (Verdict, error) {
	switch {
	case e.state == StateApproved:
		return Verdict{Basis: BasisApproval, ApprovalID: e.id}, nil
	case e.state == StateDenied:
		return Verdict{}, refuse(CodeUntrusted, "scanner image %s is not a trusted release and an admin denied it (approval %d)", digest, e.id)
	case c.queue:
		return Verdict{}, refuse(CodeApprovalPending, "scanner image %s is not a trusted release; approval %d waits for an admin", digest, e.id)
	default: // pending rows left from queue mode
		return Verdict{}, refuse(CodeUntrusted, "scanner image %s is not a trusted release (approval %d is pending)", digest, e.id)
	}
}

// enqueue records a pending approval for (tenant, digest) unless a row
// exists, and returns the row's id and state.
func (c *Checker) enqueue(ctx context.Context, tenant, digest string) (approvalEntry, error) {
	now := formatTime(c.now())
	var e approvalEntry
	err := c.db.Commit(ctx, func(tx *sql.Tx) error {
		// DO UPDATE with a no-op assignment makes RETURNING give the
		// existing row too.
		return tx.QueryRow(`INSERT INTO scanner_approvals (tenant, digest, state, requested_at)
VALUES (?, ?, 'pending', ?)
ON CONFLICT (tenant, digest) DO UPDATE SET tenant = excluded.tenant
RETURNING id, state`, tenant, digest, now).Scan(&e.id, &e.state)
	})
	if err != nil {
		return approvalEntry{}, fmt.Errorf("policy: queueing scanner image %s for tenant %s: %w", digest, tenant, err)
	}
	c.mu.Lock()
	cur, known := c.decisions[approvalKey{tenant, digest}]
	if known {
		e = cur // Approve or Deny (or another request) got there first
	} else {
		c.decisions[approvalKey{tenant, digest}] = e
	}
	c.mu.Unlock()
	if !known {
		c.log.InfoContext(ctx, "scanner image queued for approval", "tenant", tenant, "digest", digest, "approval_id", e.id)
	}
	return e, nil
}

// ImportResult describes a successful ImportLayout, for the audit row.
type ImportResult struct {
	// Dir is the layout directory.
	Dir string
	// Actor is who imported it.
	Actor string
	// At is when the rows were stamped.
	At time.Time
	// Releases lists every verified release signature in the layout, in
	// walk order.
	Releases []Release
	// Digests lists the distinct released digests, sorted.
	Digests []string
	// Recorded counts the (digest, key) rows that were new.
	Recorded int
}

// ImportLayout reads the OCI image layout in dir, verifies every release
// signature in it (both forms, every blob re-hashed) and then records each
// verified released digest in scanner_releases in one transaction, together
// with the audit hooks, which run inside that transaction after the rows
// are written (an error from a hook rolls everything back). A layout with a
// malformed part (ErrInvalidLayout), a signature that does not verify or
// does not match its image (ErrSignature), or no signature at all
// (ErrNoRelease) records nothing; the error names the file. Importing the
// same signatures again is harmless (Recorded is then 0). Digests become
// trusted in memory once the transaction has committed.
func (c *Checker) ImportLayout(ctx context.Context, dir, actor string, audit ...func(tx *sql.Tx, r ImportResult) error) (ImportResult, error) {
	if actor == "" {
		return ImportResult{}, errors.New("policy: import: empty actor")
	}
	keys := c.releaseKeys()
	if len(keys) == 0 {
		return ImportResult{}, fmt.Errorf("policy: importing %s: no release keys configured", dir)
	}
	l, err := OpenLayout(dir, c.limits)
	if err != nil {
		return ImportResult{}, fmt.Errorf("policy: importing: %w", err)
	}
	rels, err := verifyLayout(ctx, l, keys)
	l.Close()
	if err != nil {
		return ImportResult{}, fmt.Errorf("policy: importing: %w", err)
	}
	at := c.now().UTC()
	res := ImportResult{Dir: dir, Actor: actor, At: at, Releases: rels}
	for _, r := range rels {
		res.Digests = append(res.Digests, r.Digest)
	}
	slices.Sort(res.Digests)
	res.Digests = slices.Compact(res.Digests)
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		res.Recorded = 0
		for _, r := range rels {
			out, err := tx.ExecContext(ctx, `INSERT INTO scanner_releases
(digest, key_id, form, signature_manifest, source, predicate_type, layout, imported_at, imported_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest, key_id) DO NOTHING`,
				r.Digest, r.KeyID, r.Form, r.SignatureManifest, r.Source, r.PredicateType, dir, formatTime(at), actor)
			if err != nil {
				return fmt.Errorf("recording release %s: %w", r.Digest, err)
			}
			if n, err := out.RowsAffected(); err == nil {
				res.Recorded += int(n)
			}
		}
		for _, fn := range audit {
			if err := fn(tx, res); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("policy: importing %s: %w", dir, err)
	}
	c.mu.Lock()
	for _, d := range res.Digests {
		c.releases[d] = struct{}{}
	}
	c.mu.Unlock()
	c.log.InfoContext(ctx, "scanner releases imported", "layout", dir, "actor", actor, "digests", len(res.Digests), "recorded", res.Recorded)
	return res, nil
}

// timeFormat is how times are stored: UTC, RFC 3339 with nanoseconds, as
// internal/store stamps its own rows.
const timeFormat = time.RFC3339Nano

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(timeFormat, s)
	return t
}
