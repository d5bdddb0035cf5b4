package entitlement_test

import (
	"context"
	"crypto"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

func checkErr(m *entitlement.Manager, tenant string) error {
	_, err := m.Check(tenant)
	return err
}

func TestCheckWithoutLicences(t *testing.T) {
	f := newFixture(t)
	wantCode(t, checkErr(f.m, "a"), entitlement.CodeMissing)
	f.importLicence(t, entitlementtest.Licence("lic-1", t0, "a"))
	wantCode(t, checkErr(f.m, "b"), entitlement.CodeTenant)
	wantCode(t, checkErr(f.m, ""), entitlement.CodeTenant)
}

func TestGraceExpiry(t *testing.T) {
	const grace = 48 * time.Hour
	f := newFixture(t, func(c *entitlement.Config) { c.Grace = grace })
	l := entitlementtest.Licence("lic-1", t0, "a", "b")
	f.importLicence(t, l)

	steps := []struct {
		name      string
		at        time.Time
		wantState string
		wantUntil time.Time
		wantCode  string
	}{
		{name: "valid", at: t0, wantState: entitlement.StateValid, wantUntil: l.NotAfter},
		{name: "last instant", at: l.NotAfter.Add(-time.Nanosecond), wantState: entitlement.StateValid, wantUntil: l.NotAfter},
		{name: "at notAfter", at: l.NotAfter, wantState: entitlement.StateGrace, wantUntil: l.NotAfter.Add(grace)},
		{name: "in grace", at: l.NotAfter.Add(grace - time.Second), wantState: entitlement.StateGrace, wantUntil: l.NotAfter.Add(grace)},
		{name: "grace over", at: l.NotAfter.Add(grace), wantCode: entitlement.CodeExpired},
		{name: "long after", at: l.NotAfter.Add(1000 * time.Hour), wantCode: entitlement.CodeExpired},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f.clock.Set(s.at)
			d, err := f.m.Check("b")
			if s.wantCode != "" {
				wantCode(t, err, s.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.State != s.wantState || !d.Until.Equal(s.wantUntil) || d.LicenceID != "lic-1" || d.Plan != "standard" || d.Quotas != l.Quotas {
				t.Fatalf("decision %+v, want state %s until %s", d, s.wantState, s.wantUntil)
			}
			st, _ := f.m.Status(context.Background())
			if st.Licences[0].State != s.wantState {
				t.Errorf("status state %s, want %s", st.Licences[0].State, s.wantState)
			}
		})
	}
	// A licence imported afterwards (a renewal under another id) restores it.
	f.clock.Set(l.NotAfter.Add(1000 * time.Hour))
	f.importLicence(t, entitlementtest.Licence("lic-2", f.clock.Now(), "b"))
	if d, err := f.m.Check("b"); err != nil || d.State != entitlement.StateValid || d.LicenceID != "lic-2" {
		t.Fatalf("after renewal: %+v, %v", d, err)
	}
	wantCode(t, checkErr(f.m, "a"), entitlement.CodeExpired)
}

func TestDefaultGrace(t *testing.T) {
	f := newFixture(t)
	l := entitlementtest.Licence("lic-1", t0, "a")
	f.importLicence(t, l)
	f.clock.Set(l.NotAfter.Add(entitlement.DefaultGrace - time.Nanosecond))
	if d, err := f.m.Check("a"); err != nil || d.State != entitlement.StateGrace {
		t.Fatalf("%+v, %v", d, err)
	}
	f.clock.Set(l.NotAfter.Add(entitlement.DefaultGrace))
	wantCode(t, checkErr(f.m, "a"), entitlement.CodeExpired)
}

func TestValidBeatsGrace(t *testing.T) {
	f := newFixture(t)
	short := entitlementtest.Licence("short", t0, "a")
	short.NotAfter = t0.Add(time.Hour)
	long := entitlementtest.Licence("long", t0, "a")
	long.Plan = "premium"
	f.importLicence(t, short)
	f.importLicence(t, long)
	f.clock.Add(2 * time.Hour)
	if d, err := f.m.Check("a"); err != nil || d.State != entitlement.StateValid || d.LicenceID != "long" {
		t.Fatalf("%+v, %v", d, err)
	}
}

func TestPlans(t *testing.T) {
	f := newFixture(t, func(c *entitlement.Config) {
		c.Plans = map[string]entitlement.Quotas{
			"standard": {RequestsPerSecond: 10, Concurrent: 100, SignaturesPerDay: 5},
		}
	})
	l := entitlementtest.Licence("lic-1", t0, "a")
	l.Quotas = entitlement.Quotas{Concurrent: 8, MaxPayloadBytes: 1000}
	f.importLicence(t, l)
	d, err := f.m.Check("a")
	if err != nil {
		t.Fatal(err)
	}
	want := entitlement.Quotas{RequestsPerSecond: 10, Burst: 10, Concurrent: 8, MaxPayloadBytes: 1000, SignaturesPerDay: 5}
	if d.Quotas != want {
		t.Fatalf("quotas %+v, want %+v (plan fills gaps, the lower value wins)", d.Quotas, want)
	}
}

func TestBypass(t *testing.T) {
	ctx := context.Background()
	var events []entitlement.Event
	bq := entitlement.Quotas{Concurrent: 1}
	f := newFixture(t, func(c *entitlement.Config) {
		c.BypassQuotas = bq
		c.Audit = func(tx *sql.Tx, e entitlement.Event) error { events = append(events, e); return nil }
	})
	for _, bad := range []struct {
		reason, actor string
		d             time.Duration
	}{
		{"", "alice", time.Hour},
		{"  ", "alice", time.Hour},
		{"HSM swap", "", time.Hour},
		{"HSM swap", "alice", 0},
		{"HSM swap", "alice", -time.Hour},
		{"HSM swap", "alice", 24*time.Hour + time.Nanosecond},
		{strings.Repeat("x", 2000), "alice", time.Hour},
	} {
		if _, err := f.m.Bypass(ctx, bad.reason, bad.actor, bad.d); err == nil {
			t.Errorf("Bypass(%.20q, %q, %s) succeeded", bad.reason, bad.actor, bad.d)
		}
	}
	if len(events) != 0 {
		t.Fatalf("refused bypasses reached the audit hook: %+v", events)
	}

	l := entitlementtest.Licence("lic-1", t0, "valid", "expired")
	l.NotAfter = t0.Add(time.Hour)
	f.importLicence(t, l)
	other := entitlementtest.Licence("lic-2", t0, "valid")
	f.importLicence(t, other)
	f.clock.Add(time.Hour + entitlement.DefaultGrace) // "expired" is past grace
	wantCode(t, checkErr(f.m, "expired"), entitlement.CodeExpired)

	b, err := f.m.Bypass(ctx, "licence server migration", "alice", 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	start := f.clock.Now()
	if b.ID == 0 || b.Reason != "licence server migration" || b.Actor != "alice" || !b.Start.Equal(start) || !b.Until.Equal(start.Add(4*time.Hour)) {
		t.Fatalf("bypass %+v", b)
	}
	if last := events[len(events)-1]; len(events) != 3 || last.Kind != entitlement.EventBypass || last.Bypass.ID != b.ID || last.Actor != "alice" {
		t.Fatalf("audit events %+v", events)
	}

	tests := []struct {
		tenant     string
		wantState  string
		wantLic    string
		wantQuotas entitlement.Quotas
	}{
		{"valid", entitlement.StateValid, "lic-2", other.Quotas},
		{"expired", entitlement.StateBypass, "lic-1", l.Quotas},
		{"stranger", entitlement.StateBypass, "", bq},
	}
	for _, tt := range tests {
		d, err := f.m.Check(tt.tenant)
		if err != nil || d.State != tt.wantState || d.LicenceID != tt.wantLic || d.Quotas != tt.wantQuotas {
			t.Errorf("Check(%s) = %+v, %v; want %s %q %+v", tt.tenant, d, err, tt.wantState, tt.wantLic, tt.wantQuotas)
		}
		if tt.wantState == entitlement.StateBypass && !d.Until.Equal(b.Until) {
			t.Errorf("Check(%s).Until = %s, want %s", tt.tenant, d.Until, b.Until)
		}
	}
	if st, _ := f.m.Status(ctx); st.Bypass == nil || st.Bypass.ID != b.ID {
		t.Fatalf("status bypass %+v", st.Bypass)
	}

	f.clock.Add(4*time.Hour - time.Nanosecond)
	if d, err := f.m.Check("stranger"); err != nil || d.State != entitlement.StateBypass {
		t.Fatalf("last instant of the bypass: %+v, %v", d, err)
	}
	f.clock.Add(time.Nanosecond)
	wantCode(t, checkErr(f.m, "expired"), entitlement.CodeExpired)
	wantCode(t, checkErr(f.m, "stranger"), entitlement.CodeTenant)
	if st, _ := f.m.Status(ctx); st.Bypass != nil {
		t.Fatalf("bypass still active in status: %+v", st.Bypass)
	}
}

func TestBypassWithoutLicences(t *testing.T) {
	f := newFixture(t)
	if _, err := f.m.Bypass(context.Background(), "first install", "root", time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, err := f.m.Check("anyone"); err != nil || d.State != entitlement.StateBypass || d.Quotas != (entitlement.Quotas{}) {
		t.Fatalf("%+v, %v", d, err)
	}
	f.clock.Add(time.Hour)
	wantCode(t, checkErr(f.m, "anyone"), entitlement.CodeMissing)
}

// TestRestart checks that licences, bypasses and daily counters survive a
// restart on the same database file.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	vendor := entitlementtest.NewVendor(t)
	clk := newClock(t0)
	var db *store.DB
	open := func() (*entitlement.Manager, func()) {
		db = openFile(t, path)
		m, err := entitlement.New(ctx, entitlement.Config{DB: db, VendorKeys: []crypto.PublicKey{vendor.Public()}, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return m, func() {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}

	m, closeDB := open()
	l := entitlementtest.Licence("lic-1", t0, "a")
	l.Quotas.SignaturesPerDay = 10
	l.NotAfter = t0.Add(2 * time.Hour)
	if _, err := m.Import(ctx, vendor.Sign(t, l), "alice"); err != nil {
		t.Fatal(err)
	}
	b, err := m.Bypass(ctx, "maintenance", "alice", 12*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := m.Admit("a", 100, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, tk.Record); err != nil {
		t.Fatal(err)
	}
	tk.Release()
	// A reservation that is never committed does not survive.
	if _, err := m.Admit("a", 100, 2); err != nil {
		t.Fatal(err)
	}
	closeDB()

	m, closeDB = open()
	defer closeDB()
	d, err := m.Check("a")
	if err != nil || d.State != entitlement.StateValid || d.LicenceID != "lic-1" {
		t.Fatalf("licence after restart: %+v, %v", d, err)
	}
	st, err := m.Status(ctx)
	if err != nil || len(st.Licences) != 1 || st.Licences[0].ImportedBy != "alice" || st.Bypass == nil ||
		st.Bypass.ID != b.ID || !st.Bypass.Until.Equal(b.Until) || st.Bypass.Reason != "maintenance" {
		t.Fatalf("status after restart: %+v, %v", st, err)
	}
	u, err := m.Usage(ctx, "a")
	if err != nil || u.SignaturesToday != 7 || u.Reserved != 0 {
		t.Fatalf("usage after restart: %+v, %v", u, err)
	}
	if _, err := m.Admit("a", 100, 4); err == nil {
		t.Fatal("daily quota forgotten by the restart")
	} else {
		wantCode(t, err, entitlement.CodeQuotaDaily)
	}
	if _, err := m.Admit("a", 100, 3); err != nil {
		t.Fatalf("admit within the remaining quota: %v", err)
	}
	// Past notAfter + grace (the first bypass has ended), a new bypass
	// entitles the tenant, also after a restart.
	clk.Add(2*time.Hour + entitlement.DefaultGrace)
	if _, err := m.Bypass(ctx, "late renewal", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	closeDB()
	m, closeDB = open()
	if d, err := m.Check("a"); err != nil || d.State != entitlement.StateBypass {
		t.Fatalf("bypass after restart: %+v, %v", d, err)
	}
}

func TestLoadSkipsTamperedLicence(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.importLicence(t, entitlementtest.Licence("lic-1", t0, "a"))
	f.importLicence(t, entitlementtest.Licence("lic-2", t0, "b"))
	err := f.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE licences SET envelope = CAST(replace(CAST(envelope AS TEXT), 'eyJ', 'eyK') AS BLOB) WHERE licence_id = 'lic-2'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m := f.open(t)
	if _, err := m.Check("a"); err != nil {
		t.Errorf("untouched licence: %v", err)
	}
	wantCode(t, checkErr(m, "b"), entitlement.CodeTenant)
	// A vendor key dropped from the configuration drops its licences.
	m = f.open(t, func(c *entitlement.Config) { c.VendorKeys = []crypto.PublicKey{entitlementtest.NewVendor(t).Public()} })
	wantCode(t, checkErr(m, "a"), entitlement.CodeMissing)
}

func TestNewRefusesBadConfig(t *testing.T) {
	db := storetest.Open(t, entitlement.Migrations()...)
	key := entitlementtest.NewVendor(t).Public()
	tests := []struct {
		name string
		cfg  entitlement.Config
	}{
		{"no DB", entitlement.Config{VendorKeys: []crypto.PublicKey{key}}},
		{"no keys", entitlement.Config{DB: db}},
		{"bad key", entitlement.Config{DB: db, VendorKeys: []crypto.PublicKey{"not a key"}}},
		{"negative grace", entitlement.Config{DB: db, VendorKeys: []crypto.PublicKey{key}, Grace: -time.Second}},
		{"negative plan", entitlement.Config{DB: db, VendorKeys: []crypto.PublicKey{key}, Plans: map[string]entitlement.Quotas{"x": {Burst: -1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := entitlement.New(context.Background(), tt.cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestSignLicenceRefusesInvalid(t *testing.T) {
	v := entitlementtest.NewVendor(t)
	l := entitlementtest.Licence("lic-1", t0, "a")
	l.Tenants = nil
	if _, err := entitlement.SignLicence(v.Key, l); err == nil {
		t.Error("signed a licence without tenants")
	}
	if _, err := entitlement.SignLicence(nil, entitlementtest.Licence("lic-1", t0, "a")); err == nil {
		t.Error("signed with a nil signer")
	}
	if !errors.Is(&entitlement.Error{Code: entitlement.CodeTenant}, &entitlement.Error{Code: entitlement.CodeTenant}) {
		t.Error("Error.Is")
	}
}
