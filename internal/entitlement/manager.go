package entitlement

import (
	"context"
	"crypto"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/kit/dsse"
)

// DefaultGrace is how long a licence stays usable after its notAfter when
// Config.Grace is zero.
const DefaultGrace = 72 * time.Hour

// MaxBypass is the longest emergency bypass Bypass grants.
const MaxBypass = 24 * time.Hour

// Decision states.
const (
	// StateValid: a licence naming the tenant is in its validity window.
	StateValid = "valid"
	// StateGrace: the tenant's licence expired less than Config.Grace ago.
	StateGrace = "grace"
	// StateBypass: no licence entitles the tenant, but an emergency bypass is
	// active.
	StateBypass = "bypass"
)

// Licence version states reported by Status, besides StateValid and
// StateGrace.
const (
	// StatePending: the version's notBefore is still ahead.
	StatePending = "pending"
	// StateSuperseded: a later-issued version of the same licence id is in
	// effect.
	StateSuperseded = "superseded"
	// StateExpired: notAfter and the grace period after it are over.
	StateExpired = "expired"
)

// Event kinds passed to Config.Audit.
const (
	// EventLicenceImport: Import accepted a licence.
	EventLicenceImport = "licence_import"
	// EventBypass: Bypass granted an emergency bypass.
	EventBypass = "licence_bypass"
)

// Config configures New.
type Config struct {
	// DB is the open database, migrated with Migrations(). Required.
	DB *store.DB
	// VendorKeys are the vendor's licensing public keys; a licence must be
	// signed by at least one of them. Required. Key types: those kit/dsse
	// verifies (ECDSA P-256/384/521, RSA, Ed25519).
	VendorKeys []crypto.PublicKey
	// Grace is how long a licence stays usable after its notAfter. Zero
	// means DefaultGrace; negative is refused.
	Grace time.Duration
	// Plans holds per-plan quotas, keyed by the licence's plan name. A field a
	// licence leaves at zero takes the plan's value; where both set a field
	// the lower value applies (an operator may tighten a signed licence, never
	// loosen it). Optional.
	Plans map[string]Quotas
	// BypassQuotas limits, during an emergency bypass, the tenants that no
	// licence names (tenants a licence names keep their licence's quotas).
	// Zero fields mean no limit.
	BypassQuotas Quotas
	// Audit, when set, runs inside the transaction that stores an imported
	// licence or a bypass, so the audit row commits with it; an error rolls
	// the change back and is returned by Import or Bypass. It follows the
	// rules of store.DB.Tx functions.
	Audit func(tx *sql.Tx, e Event) error
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives imports, bypasses and licences that fail verification
	// at start-up. Nil discards.
	Logger *slog.Logger
}

// Event describes a change for Config.Audit.
type Event struct {
	// Kind is EventLicenceImport or EventBypass.
	Kind string
	// Actor is who asked for the change.
	Actor string
	// Time is the Manager's clock at the change.
	Time time.Time
	// Licence is the imported licence (EventLicenceImport), nil otherwise.
	Licence *Licence
	// Digest is the hex SHA-256 of the imported licence's payload.
	Digest string
	// Stored is false when the licence was already imported (nothing
	// changed).
	Stored bool
	// Bypass is the bypass granted (EventBypass), nil otherwise.
	Bypass *Bypass
}

// Decision is the outcome of a successful entitlement check.
type Decision struct {
	// State is StateValid, StateGrace or StateBypass.
	State string
	// LicenceID and Plan name the licence that entitles the tenant; during a
	// bypass, the tenant's latest licence if one names it, else empty.
	LicenceID string
	Plan      string
	// Quotas are the effective limits for the tenant (zero field: no limit).
	Quotas Quotas
	// Until is when this state ends unless something changes: the licence's
	// notAfter (valid), the end of its grace period (grace) or of the bypass.
	Until time.Time
}

// Bypass is an emergency bypass: from Start to Until every tenant is entitled
// (State "bypass") even without a valid licence.
type Bypass struct {
	ID     int64
	Reason string
	Actor  string
	Start  time.Time
	Until  time.Time
}

// LicenceStatus is one imported licence version as Status reports it.
type LicenceStatus struct {
	Licence
	// State is StateValid, StateGrace, StatePending, StateSuperseded or
	// StateExpired.
	State string
	// Digest is the hex SHA-256 of the signed payload.
	Digest string
	// Effective are the quotas that apply (after Config.Plans).
	Effective Quotas
	// GraceUntil is NotAfter plus the grace period.
	GraceUntil time.Time
	ImportedAt time.Time
	ImportedBy string
}

// Status is the state of entitlement, for `stellactl license status`.
type Status struct {
	// Now is the Manager's clock when the status was taken.
	Now time.Time
	// Grace is the configured grace period.
	Grace time.Duration
	// Licences are all imported versions, by licence id, newest issue first.
	Licences []LicenceStatus
	// Bypass is the active emergency bypass, nil if none.
	Bypass *Bypass
}

// version is one imported licence version held in memory.
type version struct {
	Licence
	digest     string
	quotas     Quotas
	importedAt time.Time
	importedBy string
}

// Manager holds the imported licences, bypasses and quota counters of one
// database. Check and Admit work from memory; Import and Bypass write through
// to SQLite and then to memory; New loads everything back. Its methods are
// safe for concurrent use. One Manager (one process) per database: the
// in-memory counters are not shared between processes.
type Manager struct {
	db     *store.DB
	keys   []crypto.PublicKey
	grace  time.Duration
	plans  map[string]Quotas
	bypQ   Quotas
	audit  func(*sql.Tx, Event) error
	now    func() time.Time
	log    *slog.Logger
	record *store.Stmt // adds a ticket's signatures to quota_daily

	writeMu sync.Mutex // serialises Import and Bypass

	mu       sync.RWMutex
	byID     map[string][]*version // newest IssuedAt first
	byTenant map[string][]string   // tenant -> licence ids with a version naming it
	bypasses []Bypass              // not ended when loaded or granted

	quotas quotaTable
}

// New checks cfg, fills its defaults and loads the imported licences, the
// bypasses and today's quota counters from cfg.DB. A stored licence whose
// signature no longer verifies with cfg.VendorKeys (a key was removed, or the
// row was altered) is skipped and logged at error level.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.DB == nil {
		return nil, errors.New("entitlement: Config.DB is nil")
	}
	if len(cfg.VendorKeys) == 0 {
		return nil, errors.New("entitlement: Config.VendorKeys is empty")
	}
	for i, k := range cfg.VendorKeys {
		if _, err := dsse.HashFor(k); err != nil {
			return nil, fmt.Errorf("entitlement: Config.VendorKeys[%d]: %w", i, err)
		}
	}
	if cfg.Grace < 0 {
		return nil, fmt.Errorf("entitlement: Config.Grace %s is negative", cfg.Grace)
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	for name, q := range cfg.Plans {
		if err := q.validate(); err != nil {
			return nil, fmt.Errorf("entitlement: Config.Plans[%q]: %w", name, err)
		}
	}
	if err := cfg.BypassQuotas.validate(); err != nil {
		return nil, fmt.Errorf("entitlement: Config.BypassQuotas: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rec, err := cfg.DB.Prepare(ctx, `INSERT INTO quota_daily (tenant, day, count) VALUES (?, ?, ?)
		ON CONFLICT (tenant, day) DO UPDATE SET count = count + excluded.count`)
	if err != nil {
		return nil, fmt.Errorf("entitlement: %w", err)
	}
	m := &Manager{
		db:       cfg.DB,
		keys:     slices.Clone(cfg.VendorKeys),
		grace:    cfg.Grace,
		plans:    cfg.Plans,
		bypQ:     cfg.BypassQuotas,
		audit:    cfg.Audit,
		now:      cfg.Now,
		log:      cfg.Logger,
		record:   rec,
		byID:     map[string][]*version{},
		byTenant: map[string][]string{},
	}
	if err := m.loadLicences(ctx); err != nil {
		return nil, err
	}
	if err := m.loadBypasses(ctx); err != nil {
		return nil, err
	}
	if err := m.loadQuotas(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Manager) loadLicences(ctx context.Context) error {
	rows, err := m.db.Read().QueryContext(ctx,
		`SELECT licence_id, issued_at_ns, envelope, imported_at, imported_by FROM licences ORDER BY licence_id, issued_at_ns`)
	if err != nil {
		return fmt.Errorf("entitlement: loading licences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, importedAt, importedBy string
			issuedNS                   int64
			env                        []byte
		)
		if err := rows.Scan(&id, &issuedNS, &env, &importedAt, &importedBy); err != nil {
			return fmt.Errorf("entitlement: loading licences: %w", err)
		}
		v, err := parseLicence(env, m.keys)
		if err == nil && (v.LicenceID != id || v.IssuedAt.UnixNano() != issuedNS) {
			err = errors.New("row does not match its envelope")
		}
		if err != nil {
			m.log.Error("stored licence skipped", "licence_id", id, "err", err)
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, importedAt)
		if err != nil {
			return fmt.Errorf("entitlement: loading licence %s: imported_at: %w", id, err)
		}
		m.insert(m.newVersion(v, at, importedBy))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("entitlement: loading licences: %w", err)
	}
	return nil
}

func (m *Manager) loadBypasses(ctx context.Context) error {
	rows, err := m.db.Read().QueryContext(ctx, `SELECT id, reason, actor, created_at, not_after FROM bypasses ORDER BY id`)
	if err != nil {
		return fmt.Errorf("entitlement: loading bypasses: %w", err)
	}
	defer rows.Close()
	now := m.now()
	for rows.Next() {
		var b Bypass
		var start, until string
		if err := rows.Scan(&b.ID, &b.Reason, &b.Actor, &start, &until); err != nil {
			return fmt.Errorf("entitlement: loading bypasses: %w", err)
		}
		if b.Start, err = time.Parse(time.RFC3339Nano, start); err == nil {
			b.Until, err = time.Parse(time.RFC3339Nano, until)
		}
		if err != nil {
			return fmt.Errorf("entitlement: loading bypass %d: %w", b.ID, err)
		}
		if now.Before(b.Until) {
			m.bypasses = append(m.bypasses, b)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("entitlement: loading bypasses: %w", err)
	}
	return nil
}

// newVersion applies the plan's quotas to a verified licence.
func (m *Manager) newVersion(v *verified, importedAt time.Time, importedBy string) *version {
	return &version{
		Licence:    v.Licence,
		digest:     hex.EncodeToString(v.digest[:]),
		quotas:     effectiveQuotas(v.Quotas, m.plans[v.Plan]),
		importedAt: importedAt,
		importedBy: importedBy,
	}
}

// effectiveQuotas combines a licence's quotas with its plan's: a field only
// one of them sets takes that value, a field both set takes the lower one.
// A rate without a burst gets a burst equal to the rate.
func effectiveQuotas(lic, plan Quotas) Quotas {
	pick := func(a, b int64) int64 {
		switch {
		case a > 0 && b > 0:
			return min(a, b)
		case a > 0:
			return a
		}
		return b
	}
	q := Quotas{
		RequestsPerSecond: pick(lic.RequestsPerSecond, plan.RequestsPerSecond),
		Burst:             pick(lic.Burst, plan.Burst),
		Concurrent:        pick(lic.Concurrent, plan.Concurrent),
		MaxPayloadBytes:   pick(lic.MaxPayloadBytes, plan.MaxPayloadBytes),
		SignaturesPerDay:  pick(lic.SignaturesPerDay, plan.SignaturesPerDay),
	}
	if q.RequestsPerSecond > 0 && q.Burst == 0 {
		q.Burst = q.RequestsPerSecond
	}
	return q
}

// insert adds v to the in-memory index. The caller holds m.mu for writing,
// or is New.
func (m *Manager) insert(v *version) {
	vs := m.byID[v.LicenceID]
	i, found := slices.BinarySearchFunc(vs, v, func(a, b *version) int { return b.IssuedAt.Compare(a.IssuedAt) })
	if found {
		return
	}
	m.byID[v.LicenceID] = slices.Insert(vs, i, v)
	for _, t := range v.Tenants {
		if !slices.Contains(m.byTenant[t], v.LicenceID) {
			m.byTenant[t] = append(m.byTenant[t], v.LicenceID)
		}
	}
}

// effective returns the version of a licence id in effect at now: the latest
// issued one whose notBefore has passed, or nil.
func effective(vs []*version, now time.Time) *version {
	for _, v := range vs {
		if !now.Before(v.NotBefore) {
			return v
		}
	}
	return nil
}

// Check decides from memory whether tenant is entitled now. It returns a
// Decision, or an *Error with CodeMissing, CodeExpired or CodeTenant.
//
// Rules: for each licence id, the latest-issued version whose notBefore has
// passed is in effect (earlier versions are superseded). Among the versions
// in effect that name the tenant, one within its validity window gives
// StateValid (the latest issued wins); otherwise one within notAfter+Grace
// gives StateGrace (the latest notAfter wins); otherwise an active bypass
// gives StateBypass. Failing all that: CodeExpired when a version in effect
// names the tenant, CodeTenant when licences exist but none in effect names
// it, CodeMissing when no licence is imported or the tenant's are all still
// pending.
func (m *Manager) Check(tenant string) (Decision, error) {
	return m.check(tenant, m.now())
}

func (m *Manager) check(tenant string, now time.Time) (Decision, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var valid, grace *version
	expired, pending := false, false
	for _, id := range m.byTenant[tenant] {
		vs := m.byID[id]
		v := effective(vs, now)
		if v == nil || !v.names(tenant) {
			// Named only by versions not in effect yet, or superseded ones.
			for _, p := range vs {
				if now.Before(p.NotBefore) && p.names(tenant) {
					pending = true
				}
			}
			continue
		}
		switch {
		case now.Before(v.NotAfter):
			if valid == nil || v.IssuedAt.After(valid.IssuedAt) {
				valid = v
			}
		case now.Before(v.NotAfter.Add(m.grace)):
			if grace == nil || v.NotAfter.After(grace.NotAfter) {
				grace = v
			}
		default:
			expired = true
		}
	}
	switch {
	case valid != nil:
		return Decision{State: StateValid, LicenceID: valid.LicenceID, Plan: valid.Plan, Quotas: valid.quotas, Until: valid.NotAfter}, nil
	case grace != nil:
		return Decision{State: StateGrace, LicenceID: grace.LicenceID, Plan: grace.Plan, Quotas: grace.quotas, Until: grace.NotAfter.Add(m.grace)}, nil
	}
	if b := m.activeBypass(now); b != nil {
		d := Decision{State: StateBypass, Quotas: m.bypQ, Until: b.Until}
		if v := m.latestNaming(tenant); v != nil {
			d.LicenceID, d.Plan, d.Quotas = v.LicenceID, v.Plan, v.quotas
		}
		return d, nil
	}
	switch {
	case expired:
		return Decision{}, refuse(CodeExpired, "the licence for tenant %q expired and its grace period of %s is over", tenant, m.grace)
	case pending:
		return Decision{}, refuse(CodeMissing, "the licence for tenant %q is not valid yet", tenant)
	case len(m.byID) == 0:
		return Decision{}, refuse(CodeMissing, "no licence is imported")
	}
	return Decision{}, refuse(CodeTenant, "no licence in effect names tenant %q", tenant)
}

// latestNaming returns the latest-issued version naming tenant, or nil. The
// caller holds m.mu.
func (m *Manager) latestNaming(tenant string) *version {
	var best *version
	for _, id := range m.byTenant[tenant] {
		for _, v := range m.byID[id] {
			if v.names(tenant) && (best == nil || v.IssuedAt.After(best.IssuedAt)) {
				best = v
			}
		}
	}
	return best
}

// activeBypass returns the bypass active at now that lasts longest, or nil.
// The caller holds m.mu.
func (m *Manager) activeBypass(now time.Time) *Bypass {
	var best *Bypass
	for i := range m.bypasses {
		b := &m.bypasses[i]
		if !now.Before(b.Start) && now.Before(b.Until) && (best == nil || b.Until.After(best.Until)) {
			best = b
		}
	}
	return best
}

// Status reports every imported licence version with its state, and the
// active bypass. It reads the Manager's memory, which mirrors the database.
func (m *Manager) Status(ctx context.Context) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := Status{Now: now, Grace: m.grace}
	ids := make([]string, 0, len(m.byID))
	for id := range m.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		vs := m.byID[id]
		eff := effective(vs, now)
		for _, v := range vs {
			ls := LicenceStatus{
				Licence:    v.Licence,
				Digest:     v.digest,
				Effective:  v.quotas,
				GraceUntil: v.NotAfter.Add(m.grace),
				ImportedAt: v.importedAt,
				ImportedBy: v.importedBy,
			}
			ls.Tenants = slices.Clone(v.Tenants)
			switch {
			case now.Before(v.NotBefore):
				ls.State = StatePending
			case v != eff:
				ls.State = StateSuperseded
			case now.Before(v.NotAfter):
				ls.State = StateValid
			case now.Before(ls.GraceUntil):
				ls.State = StateGrace
			default:
				ls.State = StateExpired
			}
			st.Licences = append(st.Licences, ls)
		}
	}
	if b := m.activeBypass(now); b != nil {
		c := *b
		st.Bypass = &c
	}
	return st, nil
}

// runAudit runs Config.Audit and then the call's own audit hooks inside tx;
// the first error rolls the change back.
func (m *Manager) runAudit(tx *sql.Tx, e Event, hooks []func(*sql.Tx, Event) error) error {
	if m.audit != nil {
		if err := m.audit(tx, e); err != nil {
			return err
		}
	}
	for _, h := range hooks {
		if err := h(tx, e); err != nil {
			return err
		}
	}
	return nil
}
