package entitlement

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// concurrencyRetry is the RetryAfter of a quota_concurrency refusal.
const concurrencyRetry = time.Second

// quotaTable holds every tenant's counters.
type quotaTable struct {
	mu sync.RWMutex
	m  map[string]*tenantQuota
}

// tenantQuota is one tenant's counters, guarded by mu.
type tenantQuota struct {
	mu       sync.Mutex
	tokens   float64   // token bucket level
	last     time.Time // last refill; zero: the bucket is full
	inflight int64     // admitted, not released
	day      int64     // UTC day of used, days since 1970-01-01
	dayStr   string    // day as YYYY-MM-DD
	used     int64     // signatures committed or reserved on day
}

// get returns the tenant's counters, creating them.
func (t *quotaTable) get(tenant string) *tenantQuota {
	t.mu.RLock()
	q := t.m[tenant]
	t.mu.RUnlock()
	if q != nil {
		return q
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if q = t.m[tenant]; q == nil {
		q = &tenantQuota{day: math.MinInt64}
		t.m[tenant] = q
	}
	return q
}

// utcDay returns the number of the UTC day holding t.
func utcDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

func dayString(d int64) string { return time.Unix(d*86400, 0).UTC().Format(time.DateOnly) }

// loadQuotas reads today's committed signature counts.
func (m *Manager) loadQuotas(ctx context.Context) error {
	m.quotas.m = map[string]*tenantQuota{}
	today := utcDay(m.now())
	rows, err := m.db.Read().QueryContext(ctx, `SELECT tenant, count FROM quota_daily WHERE day = ?`, dayString(today))
	if err != nil {
		return fmt.Errorf("entitlement: loading quota counters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant string
		var n int64
		if err := rows.Scan(&tenant, &n); err != nil {
			return fmt.Errorf("entitlement: loading quota counters: %w", err)
		}
		m.quotas.m[tenant] = &tenantQuota{day: today, dayStr: dayString(today), used: n}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("entitlement: loading quota counters: %w", err)
	}
	return nil
}

// Ticket is an admitted request's hold on its tenant's quotas: a concurrency
// slot until Release, and a reservation of its signatures in the day's count
// until Cancel (or for good, once Record's transaction commits). Its methods
// are safe for concurrent use.
type Ticket struct {
	// Tenant is the tenant admitted.
	Tenant string
	// Decision is the entitlement decision the ticket was admitted under.
	Decision Decision
	// Signatures is the number of signatures reserved.
	Signatures int
	// Day is the UTC day (YYYY-MM-DD) the signatures count against.
	Day string
	// DailyUsed is the tenant's signature count for Day including this
	// reservation, at admission.
	DailyUsed int64

	m         *Manager
	q         *tenantQuota
	day       int64
	released  atomic.Bool
	cancelled atomic.Bool
}

// Admit checks the tenant's entitlement (as Check does) and then its quotas,
// from memory, and on success reserves a concurrency slot, one token of the
// request rate and signatures in today's count. Refusals are *Error values:
// the entitlement codes, then, in this order, CodeQuotaPayload (payloadBytes
// over the plan's maximum), CodeQuotaDaily (RetryAfter to the next UTC
// midnight), CodeQuotaConcurrency (RetryAfter one second), CodeQuotaRate
// (RetryAfter until a token is available). A refused request consumes
// nothing. Negative arguments are a plain error.
//
// The caller must Release the ticket when the request ends, call Record in the
// transaction that stores the signatures, and Cancel if that transaction does
// not commit or the request fails before signing.
func (m *Manager) Admit(tenant string, payloadBytes int64, signatures int) (*Ticket, error) {
	if payloadBytes < 0 || signatures < 0 {
		return nil, fmt.Errorf("entitlement: admit: negative payload size %d or signature count %d", payloadBytes, signatures)
	}
	now := m.now()
	d, err := m.check(tenant, now)
	if err != nil {
		return nil, err
	}
	lim := d.Quotas
	if lim.MaxPayloadBytes > 0 && payloadBytes > lim.MaxPayloadBytes {
		return nil, refuse(CodeQuotaPayload, "payload of %d bytes exceeds the plan's %d", payloadBytes, lim.MaxPayloadBytes)
	}
	q := m.quotas.get(tenant)
	day := utcDay(now)
	sigs := int64(signatures)

	q.mu.Lock()
	defer q.mu.Unlock()
	if q.day != day {
		q.day, q.dayStr, q.used = day, dayString(day), 0
	}
	if lim.SignaturesPerDay > 0 && q.used+sigs > lim.SignaturesPerDay {
		e := refuse(CodeQuotaDaily, "%d signatures today plus %d exceed the plan's %d per day", q.used, sigs, lim.SignaturesPerDay)
		e.RetryAfter = time.Unix((day+1)*86400, 0).Sub(now)
		return nil, e
	}
	if lim.Concurrent > 0 && q.inflight >= lim.Concurrent {
		e := refuse(CodeQuotaConcurrency, "%d requests in flight, the plan allows %d", q.inflight, lim.Concurrent)
		e.RetryAfter = concurrencyRetry
		return nil, e
	}
	if lim.RequestsPerSecond > 0 {
		rate, burst := float64(lim.RequestsPerSecond), float64(lim.Burst)
		switch {
		case q.last.IsZero():
			q.tokens = burst
			q.last = now
		case now.After(q.last):
			q.tokens = min(burst, q.tokens+now.Sub(q.last).Seconds()*rate)
			q.last = now
		}
		q.tokens = min(q.tokens, burst) // the plan may have shrunk
		if q.tokens < 1 {
			e := refuse(CodeQuotaRate, "more than %d requests per second (burst %d)", lim.RequestsPerSecond, lim.Burst)
			e.RetryAfter = max(time.Duration(math.Ceil((1-q.tokens)/rate*float64(time.Second))), time.Nanosecond)
			return nil, e
		}
		q.tokens--
	}
	q.inflight++
	q.used += sigs
	return &Ticket{
		Tenant:     tenant,
		Decision:   d,
		Signatures: signatures,
		Day:        q.dayStr,
		DailyUsed:  q.used,
		m:          m,
		q:          q,
		day:        day,
	}, nil
}

// Release ends the ticket's concurrency slot. Calls after the first do
// nothing.
func (t *Ticket) Release() {
	if !t.released.CompareAndSwap(false, true) {
		return
	}
	t.q.mu.Lock()
	t.q.inflight--
	t.q.mu.Unlock()
}

// Cancel gives the ticket's signatures back to the day's count, for a request
// that failed before signing or whose Record transaction did not commit. It
// does not Release. Calls after the first do nothing, and so does a Cancel
// after the day has turned.
func (t *Ticket) Cancel() {
	if !t.cancelled.CompareAndSwap(false, true) {
		return
	}
	t.q.mu.Lock()
	if t.q.day == t.day {
		t.q.used = max(0, t.q.used-int64(t.Signatures))
	}
	t.q.mu.Unlock()
}

// ErrTicketCancelled is returned by Record for a cancelled ticket.
var ErrTicketCancelled = errors.New("entitlement: ticket was cancelled")

// Record adds the ticket's signatures to quota_daily (tenant, Day) inside tx,
// a transaction of the Manager's database run by the caller (a store.DB.Tx or
// Commit function). It touches no memory, so it may run again when a group
// commit is retried. It does nothing for a ticket of zero signatures and
// returns ErrTicketCancelled for a cancelled one.
func (t *Ticket) Record(tx *sql.Tx) error {
	if t.cancelled.Load() {
		return ErrTicketCancelled
	}
	if t.Signatures == 0 {
		return nil
	}
	if _, err := t.m.record.Exec(tx, t.Tenant, t.Day, int64(t.Signatures)); err != nil {
		return fmt.Errorf("entitlement: recording %d signatures for tenant %s: %w", t.Signatures, t.Tenant, err)
	}
	return nil
}

// Usage is one tenant's view of its own entitlement and quotas.
type Usage struct {
	// Tenant is the tenant asked about.
	Tenant string
	// Entitlement is the Decision's State, or the refusal code when the
	// tenant is not entitled.
	Entitlement string
	// LicenceID, Plan and Quotas are the Decision's (empty when refused).
	LicenceID string
	Plan      string
	Quotas    Quotas
	// Until is the Decision's Until.
	Until time.Time
	// Day is the current UTC day, YYYY-MM-DD.
	Day string
	// SignaturesToday is the count committed to the database for Day.
	SignaturesToday int64
	// Reserved is the count admitted for Day but not yet committed or
	// cancelled.
	Reserved int64
	// InFlight is the number of admitted requests not yet released.
	InFlight int64
}

// Usage reports tenant's entitlement and quota use. It reads only that
// tenant's counters: the caller passes the authenticated tenant, so no tenant
// can see another's.
func (m *Manager) Usage(ctx context.Context, tenant string) (Usage, error) {
	now := m.now()
	day := utcDay(now)
	u := Usage{Tenant: tenant, Day: dayString(day)}
	if d, err := m.check(tenant, now); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return Usage{}, err
		}
		u.Entitlement = e.Code
	} else {
		u.Entitlement, u.LicenceID, u.Plan, u.Quotas, u.Until = d.State, d.LicenceID, d.Plan, d.Quotas, d.Until
	}
	err := m.db.Read().QueryRowContext(ctx, `SELECT count FROM quota_daily WHERE tenant = ? AND day = ?`, tenant, u.Day).Scan(&u.SignaturesToday)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Usage{}, fmt.Errorf("entitlement: reading usage of tenant %s: %w", tenant, err)
	}
	m.quotas.mu.RLock()
	q := m.quotas.m[tenant]
	m.quotas.mu.RUnlock()
	if q != nil {
		q.mu.Lock()
		if q.day == day {
			u.Reserved = max(0, q.used-u.SignaturesToday)
		}
		u.InFlight = q.inflight
		q.mu.Unlock()
	}
	return u, nil
}
