package entitlement_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
)

func TestPrepareWriteApply(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	doc := f.vendor.Sign(t, entitlementtest.Licence("lic-1", t0, "acme"))
	p, err := f.m.Prepare(ctx, doc, "alice")
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if p.Licence().LicenceID != "lic-1" || len(p.Digest()) != 64 {
		t.Fatalf("prepared %+v %q", p.Licence(), p.Digest())
	}
	if _, err := f.m.Check("acme"); err == nil {
		t.Fatal("Check passed before Write")
	}
	// A transaction that fails after Write leaves nothing behind.
	boom := errors.New("boom")
	err = f.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := p.Write(ctx, tx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx: %v", err)
	}
	if m := f.open(t); func() bool { _, err := m.Check("acme"); return err == nil }() {
		t.Fatal("licence stored by a rolled-back transaction")
	}
	if err := f.db.Tx(ctx, func(tx *sql.Tx) error { return p.Write(ctx, tx) }); err != nil {
		t.Fatalf("Write: %v", err)
	}
	p.Apply()
	if d, err := f.m.Check("acme"); err != nil || d.LicenceID != "lic-1" {
		t.Fatalf("Check after Apply: %+v, %v", d, err)
	}
	if d, err := f.open(t).Check("acme"); err != nil || d.LicenceID != "lic-1" {
		t.Fatalf("Check after restart: %+v, %v", d, err)
	}
}

func TestPrepareRefuses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.importLicence(t, entitlementtest.Licence("lic-1", t0, "acme"))
	other := entitlementtest.NewVendor(t)
	expired := entitlementtest.Licence("lic-2", t0.Add(-60*24*time.Hour), "acme")
	tests := []struct {
		name    string
		doc     []byte
		actor   string
		wantErr error
	}{
		{"unknown vendor", other.Sign(t, entitlementtest.Licence("lic-3", t0, "acme")), "alice", entitlement.ErrLicenceSignature},
		{"expired", f.vendor.Sign(t, expired), "alice", entitlement.ErrLicenceExpired},
		{"older version", f.vendor.Sign(t, entitlementtest.Licence("lic-1", t0.Add(-time.Hour), "acme")), "alice", entitlement.ErrLicenceStale},
		{"no actor", f.vendor.Sign(t, entitlementtest.Licence("lic-4", t0, "acme")), " ", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.m.Prepare(ctx, tc.doc, tc.actor)
			if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Prepare: %v, want %v", err, tc.wantErr)
			}
		})
	}
}
