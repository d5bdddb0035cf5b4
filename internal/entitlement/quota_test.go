package entitlement_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
)

// quotaFixture has tenant "a" licensed with q.
func quotaFixture(t *testing.T, q entitlement.Quotas) *fixture {
	t.Helper()
	f := newFixture(t)
	l := entitlementtest.Licence("lic-1", t0, "a", "b")
	l.Quotas = q
	f.importLicence(t, l)
	return f
}

func TestQuotaRefusals(t *testing.T) {
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		quotas    entitlement.Quotas
		before    func(t *testing.T, f *fixture) // admits that fill the quota
		payload   int64
		sigs      int
		wantCode  string
		wantRetry time.Duration
	}{
		{name: "payload", quotas: entitlement.Quotas{MaxPayloadBytes: 1000}, payload: 1001, sigs: 1,
			wantCode: entitlement.CodeQuotaPayload},
		{name: "daily", quotas: entitlement.Quotas{SignaturesPerDay: 5},
			before:  func(t *testing.T, f *fixture) { admit(t, f, 3) },
			payload: 10, sigs: 3, wantCode: entitlement.CodeQuotaDaily, wantRetry: midnight.Sub(t0)},
		{name: "daily, one request over the limit", quotas: entitlement.Quotas{SignaturesPerDay: 5},
			payload: 10, sigs: 6, wantCode: entitlement.CodeQuotaDaily, wantRetry: midnight.Sub(t0)},
		{name: "concurrency", quotas: entitlement.Quotas{Concurrent: 2},
			before:  func(t *testing.T, f *fixture) { admit(t, f, 1); admit(t, f, 1) },
			payload: 10, sigs: 1, wantCode: entitlement.CodeQuotaConcurrency, wantRetry: time.Second},
		{name: "rate", quotas: entitlement.Quotas{RequestsPerSecond: 4, Burst: 2},
			before:  func(t *testing.T, f *fixture) { admit(t, f, 1).Release(); admit(t, f, 1).Release() },
			payload: 10, sigs: 1, wantCode: entitlement.CodeQuotaRate, wantRetry: 250 * time.Millisecond},
		{name: "rate, partly refilled", quotas: entitlement.Quotas{RequestsPerSecond: 4, Burst: 1},
			before: func(t *testing.T, f *fixture) {
				admit(t, f, 1).Release()
				f.clock.Add(100 * time.Millisecond)
			},
			payload: 10, sigs: 1, wantCode: entitlement.CodeQuotaRate, wantRetry: 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := quotaFixture(t, tt.quotas)
			if tt.before != nil {
				tt.before(t, f)
			}
			_, err := f.m.Admit("a", tt.payload, tt.sigs)
			e := wantCode(t, err, tt.wantCode)
			if e.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %s, want %s", e.RetryAfter, tt.wantRetry)
			}
			// Another tenant of the same licence has its own counters.
			if tt.wantCode != entitlement.CodeQuotaPayload {
				if _, err := f.m.Admit("b", tt.payload, 1); err != nil {
					t.Errorf("tenant b refused: %v", err)
				}
			}
		})
	}
}

func admit(t *testing.T, f *fixture, sigs int) *entitlement.Ticket {
	t.Helper()
	tk, err := f.m.Admit("a", 10, sigs)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return tk
}

func TestQuotaRecovery(t *testing.T) {
	f := quotaFixture(t, entitlement.Quotas{RequestsPerSecond: 2, Burst: 1, Concurrent: 1, SignaturesPerDay: 4})

	// Concurrency: Release frees the slot; a second Release does not free
	// another one.
	tk := admit(t, f, 1)
	tk.Release()
	tk.Release()
	f.clock.Add(time.Second)
	tk2 := admit(t, f, 1)
	f.clock.Add(time.Second)
	_, err := f.m.Admit("a", 10, 1)
	wantCode(t, err, entitlement.CodeQuotaConcurrency)
	tk2.Release()

	// Rate: a refused request consumes no token; after RetryAfter it passes.
	tk = admit(t, f, 0)
	tk.Release()
	_, err = f.m.Admit("a", 10, 0)
	e := wantCode(t, err, entitlement.CodeQuotaRate)
	f.clock.Add(e.RetryAfter)
	admit(t, f, 0).Release()

	// Daily: 2 signatures used; Cancel gives a reservation back, twice does
	// nothing more.
	f.clock.Add(time.Second)
	tk = admit(t, f, 2)
	tk.Release()
	tk.Cancel()
	tk.Cancel()
	if err := f.db.Commit(context.Background(), tk.Record); !errors.Is(err, entitlement.ErrTicketCancelled) {
		t.Errorf("Record of a cancelled ticket: %v", err)
	}
	f.clock.Add(time.Second)
	tk = admit(t, f, 2) // 4 of 4
	tk.Release()
	if tk.DailyUsed != 4 || tk.Day != "2026-11-25" {
		t.Errorf("ticket %+v", tk)
	}
	f.clock.Add(time.Second)
	_, err = f.m.Admit("a", 10, 1)
	e = wantCode(t, err, entitlement.CodeQuotaDaily)
	f.clock.Add(e.RetryAfter) // midnight UTC: a new day
	admit(t, f, 4).Release()
	// Cancelling yesterday's ticket does not touch today's count.
	tk.Cancel()
	f.clock.Add(time.Second)
	_, err = f.m.Admit("a", 10, 1)
	wantCode(t, err, entitlement.CodeQuotaDaily)
}

func TestAdmitRefusesUnentitled(t *testing.T) {
	f := quotaFixture(t, entitlement.Quotas{})
	_, err := f.m.Admit("stranger", 10, 1)
	wantCode(t, err, entitlement.CodeTenant)
	if _, err := f.m.Admit("a", -1, 1); err == nil {
		t.Error("negative payload admitted")
	}
	var e *entitlement.Error
	if _, err := f.m.Admit("a", 1, -1); err == nil || errors.As(err, &e) {
		t.Errorf("negative signatures: %v, want a plain error", err)
	}
	// Zero quotas mean no limits.
	for range 100 {
		if _, err := f.m.Admit("a", 1<<40, 1000); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecordAndUsage(t *testing.T) {
	ctx := context.Background()
	f := quotaFixture(t, entitlement.Quotas{SignaturesPerDay: 100, Concurrent: 10})
	tk1, tk2 := admit(t, f, 3), admit(t, f, 5)
	if _, err := f.m.Admit("b", 10, 7); err != nil {
		t.Fatal(err)
	}
	// The caller's transaction: the ticket's row goes in with the entry row.
	if err := f.db.Commit(ctx, func(tx *sql.Tx) error { return tk1.Record(tx) }); err != nil {
		t.Fatal(err)
	}
	// A transaction that fails takes the count with it; the caller cancels.
	boom := errors.New("entry insert failed")
	if err := f.db.Commit(ctx, func(tx *sql.Tx) error {
		if err := tk2.Record(tx); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	tk2.Cancel()
	tk1.Release()
	u, err := f.m.Usage(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	want := entitlement.Usage{Tenant: "a", Entitlement: entitlement.StateValid, LicenceID: "lic-1", Plan: "standard",
		Quotas: entitlement.Quotas{SignaturesPerDay: 100, Concurrent: 10}, Day: "2026-11-25",
		SignaturesToday: 3, Reserved: 0, InFlight: 1}
	u.Until = time.Time{}
	if u != want {
		t.Errorf("usage\n got %+v\nwant %+v", u, want)
	}
	// b's reservation is b's alone.
	if u, _ := f.m.Usage(ctx, "b"); u.Reserved != 7 || u.SignaturesToday != 0 || u.InFlight != 1 {
		t.Errorf("usage of b: %+v", u)
	}
	if u, _ := f.m.Usage(ctx, "stranger"); u.Entitlement != entitlement.CodeTenant || u.SignaturesToday != 0 {
		t.Errorf("usage of an unlicensed tenant: %+v", u)
	}
	// Zero-signature tickets write nothing.
	tk0 := admit(t, f, 0)
	if err := f.db.Commit(ctx, tk0.Record); err != nil {
		t.Fatal(err)
	}
	var rows int
	f.db.Read().QueryRow(`SELECT COUNT(*) FROM quota_daily`).Scan(&rows)
	if rows != 1 {
		t.Errorf("quota_daily has %d rows, want 1", rows)
	}
}

// TestConcurrentAdmit runs many goroutines against small limits (run with
// -race): the concurrency limit is never exceeded and exactly the daily
// quota is admitted.
func TestConcurrentAdmit(t *testing.T) {
	const (
		daily      = 500
		concurrent = 4
		workers    = 16
		attempts   = 100
	)
	f := quotaFixture(t, entitlement.Quotas{Concurrent: concurrent, SignaturesPerDay: daily})
	var inflight, peak, admitted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range attempts {
				tk, err := f.m.Admit("a", 10, 1)
				if err != nil {
					var e *entitlement.Error
					if !errors.As(err, &e) || (e.Code != entitlement.CodeQuotaConcurrency && e.Code != entitlement.CodeQuotaDaily) {
						t.Errorf("unexpected refusal: %v", err)
					}
					continue
				}
				n := inflight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				if _, err := f.m.Check("a"); err != nil {
					t.Error(err)
				}
				inflight.Add(-1)
				admitted.Add(1)
				tk.Release()
			}
		})
	}
	wg.Wait()
	if peak.Load() > concurrent {
		t.Errorf("peak in flight %d > %d", peak.Load(), concurrent)
	}
	if admitted.Load() > daily {
		t.Errorf("admitted %d > daily %d", admitted.Load(), daily)
	}
	// Everything released: the remaining daily quota is admitted in full.
	left := daily - admitted.Load()
	if left > 0 {
		if _, err := f.m.Admit("a", 10, int(left)); err != nil {
			t.Errorf("remaining %d: %v", left, err)
		}
	}
	_, err := f.m.Admit("a", 10, 1)
	wantCode(t, err, entitlement.CodeQuotaDaily)
}
