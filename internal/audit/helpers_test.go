package audit

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

// clock is a fake clock that advances one millisecond per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 25, 4, 0, 0, 123456789, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func newTrail(t testing.TB, db *store.DB, c *clock) *Trail {
	t.Helper()
	tr, err := New(context.Background(), Config{DB: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func openTrail(t testing.TB) (*store.DB, *Trail, *clock) {
	t.Helper()
	db := storetest.Open(t, Migrations()...)
	c := newClock()
	return db, newTrail(t, db, c), c
}

// rec returns a record of tenant for request i.
func rec(tenant string, i int) Record {
	r := Record{
		RequestID:      fmt.Sprintf("req-%s-%d", tenant, i),
		Tenant:         tenant,
		Principal:      "user-" + tenant,
		Issuer:         "https://authority.example",
		Action:         ActionSign,
		SubjectDigests: []string{fmt.Sprintf("sha256:%064x", i)},
		PredicateType:  "https://slsa.dev/provenance/v1",
		PoEState:       "valid lic-1",
		QuotaState:     "ok",
		KeyURI:         "pkcs11:token=stellad;object=" + tenant,
		Decision:       DecisionAllow,
		Reason:         "ok",
		UUID:           fmt.Sprintf("%064x", i+1),
	}
	idx := uint64(i)
	r.LogIndex = &idx
	if i%3 == 2 {
		r.Decision, r.Reason, r.LogIndex, r.UUID = DecisionDeny, "quota_daily", nil, ""
	}
	return r
}

// appendN appends n records of tenant, one transaction each.
func appendN(t testing.TB, db *store.DB, tr *Trail, tenant string, n int) {
	t.Helper()
	for i := range n {
		if err := db.Tx(context.Background(), func(tx *sql.Tx) error { return tr.Append(tx, rec(tenant, i)) }); err != nil {
			t.Fatal(err)
		}
	}
}

// exec runs a statement that tampers with the database, as an attacker with
// the file would.
func exec(t testing.TB, db *store.DB, q string, args ...any) {
	t.Helper()
	if err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(q, args...)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func mustVerify(t testing.TB, tr *Trail) VerifyResult {
	t.Helper()
	res, err := tr.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("Verify: %v", res.Err())
	}
	return res
}
