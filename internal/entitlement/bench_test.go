package entitlement_test

import (
	"context"
	"crypto"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

// benchManager has tenants t0..t{n-1} licensed with limits the benchmark
// never reaches (the clock stands still, so the rate must be high).
func benchManager(b *testing.B, tenants int) *entitlement.Manager {
	m, _ := benchManagerDB(b, tenants)
	return m
}

// benchManagerDB is benchManager with its database.
func benchManagerDB(b *testing.B, tenants int) (*entitlement.Manager, *store.DB) {
	db := storetest.Open(b, entitlement.Migrations()...)
	v := entitlementtest.NewVendor(b)
	clk := newClock(t0)
	m, err := entitlement.New(context.Background(), entitlement.Config{DB: db, VendorKeys: []crypto.PublicKey{v.Public()}, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, tenants)
	for i := range names {
		names[i] = fmt.Sprintf("t%d", i)
	}
	l := entitlementtest.Licence("lic-1", t0, names...)
	l.Quotas = entitlement.Quotas{RequestsPerSecond: 1 << 40, Concurrent: 1 << 20, MaxPayloadBytes: 1 << 20, SignaturesPerDay: 1 << 50}
	if _, err := m.Import(context.Background(), v.Sign(b, l), "bench"); err != nil {
		b.Fatal(err)
	}
	return m, db
}

// BenchmarkCheckAdmitRelease is the per-request admission cost of this
// package on the request path: Check, Admit (which checks again) and
// Release (the clock is the tests' fake, which costs about what time.Now
// does).
func BenchmarkCheckAdmitRelease(b *testing.B) {
	m := benchManager(b, 4)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.Check("t1"); err != nil {
				b.Fatal(err)
			}
			tk, err := m.Admit("t1", 1024, 1)
			if err != nil {
				b.Fatal(err)
			}
			tk.Release()
		}
	})
	b.Run("parallel/one-tenant", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tk, err := m.Admit("t1", 1024, 1)
				if err != nil {
					b.Error(err)
					return
				}
				tk.Release()
			}
		})
	})
}

// BenchmarkRecord is what a ticket adds to the writer's work per signing
// request: its day's count written inside the entry's transaction (many
// Records in one open transaction, no fsync).
func BenchmarkRecord(b *testing.B) {
	m, db := benchManagerDB(b, 4)
	err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		for b.Loop() {
			tk, err := m.Admit("t1", 1024, 1)
			if err != nil {
				return err
			}
			if err := tk.Record(tx); err != nil {
				return err
			}
			tk.Release()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
