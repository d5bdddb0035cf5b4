package entitlement_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
	"github.com/stellaops/stellad/kit/dsse"
)

// t0 is the tests' starting time: a Wednesday, mid-morning UTC.
var t0 = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// fixture is a Manager on a fresh database with a vendor and a fake clock.
type fixture struct {
	db     *store.DB
	vendor *entitlementtest.Vendor
	clock  *clock
	m      *entitlement.Manager
}

func newFixture(t *testing.T, mod ...func(*entitlement.Config)) *fixture {
	t.Helper()
	f := &fixture{
		db:     storetest.Open(t, entitlement.Migrations()...),
		vendor: entitlementtest.NewVendor(t),
		clock:  newClock(t0),
	}
	f.m = f.open(t, mod...)
	return f
}

// open makes a new Manager on the fixture's database (a restart).
func (f *fixture) open(t *testing.T, mod ...func(*entitlement.Config)) *entitlement.Manager {
	t.Helper()
	cfg := entitlement.Config{
		DB:         f.db,
		VendorKeys: []crypto.PublicKey{f.vendor.Public()},
		Now:        f.clock.Now,
	}
	for _, fn := range mod {
		fn(&cfg)
	}
	m, err := entitlement.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func (f *fixture) importLicence(t *testing.T, l entitlement.Licence) {
	t.Helper()
	if _, err := f.m.Import(context.Background(), f.vendor.Sign(t, l), "alice"); err != nil {
		t.Fatalf("Import(%s): %v", l.LicenceID, err)
	}
}

// openFile opens a database file with this package's migrations.
func openFile(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Path: path, Migrations: storetest.Padded(entitlement.Migrations()...)})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "stellad.db") }

// signPayload signs arbitrary bytes as a DSSE envelope, for documents
// SignLicence would refuse to produce.
func signPayload(t *testing.T, s crypto.Signer, payloadType string, payload []byte) []byte {
	t.Helper()
	env, err := dsse.Sign(rand.Reader, payloadType, payload, dsse.KeySigner{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	out, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantCode checks that err is an *entitlement.Error with code.
func wantCode(t *testing.T, err error, code string) *entitlement.Error {
	t.Helper()
	var e *entitlement.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *entitlement.Error %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, e, code)
	}
	if !errors.Is(err, &entitlement.Error{Code: code}) {
		t.Fatalf("errors.Is does not match code %s", code)
	}
	return e
}
