package audit

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/stellaops/stellad/internal/store"
)

// TestListTenantIsolation: a tenant's query never returns another tenant's
// rows, on any page or filter.
func TestListTenantIsolation(t *testing.T) {
	db, tr, c := openTrail(t)
	ctx := context.Background()
	for i := range 30 { // interleaved tenants
		appendOne(t, db, tr, rec("a", i))
		appendOne(t, db, tr, rec("b", i))
		if i%5 == 0 {
			r := rec("", i)
			r.Decision, r.Reason = DecisionDeny, "auth_missing"
			appendOne(t, db, tr, r)
		}
	}
	mid := c.Now()
	appendN(t, db, tr, "a", 3)

	if _, _, err := tr.List(ctx, Query{}); !errors.Is(err, ErrTenantRequired) {
		t.Fatalf("List without tenant: %v", err)
	}
	tests := []struct {
		name string
		q    Query
		want int
	}{
		{"tenant a", Query{Tenant: "a"}, 33},
		{"tenant b", Query{Tenant: "b"}, 30},
		{"tenant a denials", Query{Tenant: "a", Decision: DecisionDeny}, 11},
		{"tenant a allowed", Query{Tenant: "a", Decision: DecisionAllow}, 22},
		{"tenant a since mid", Query{Tenant: "a", Since: mid}, 3},
		{"tenant a until mid", Query{Tenant: "a", Until: mid}, 30},
		{"tenant b since mid", Query{Tenant: "b", Since: mid}, 0},
		{"unknown tenant", Query{Tenant: "c"}, 0},
		{"all tenants", Query{AllTenants: true}, 69},
		{"all tenants denials", Query{AllTenants: true, Decision: DecisionDeny}, 27},
	}
	for _, tt := range tests {
		for _, limit := range []int{0, 1, 7, MaxLimit + 1} {
			q := tt.q
			q.Limit = limit
			var got []Row
			for {
				rows, next, err := tr.List(ctx, q)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				got = append(got, rows...)
				if next == 0 {
					break
				}
				q.After = next
			}
			if len(got) != tt.want {
				t.Errorf("%s, limit %d: %d rows, want %d", tt.name, limit, len(got), tt.want)
			}
			for i, r := range got {
				if !tt.q.AllTenants && r.Tenant != tt.q.Tenant {
					t.Fatalf("%s: row %d of tenant %q", tt.name, r.Seq, r.Tenant)
				}
				if tt.q.Decision != "" && r.Decision != tt.q.Decision {
					t.Fatalf("%s: row %d decision %q", tt.name, r.Seq, r.Decision)
				}
				if i > 0 && r.Seq <= got[i-1].Seq {
					t.Fatalf("%s: seq %d after %d", tt.name, r.Seq, got[i-1].Seq)
				}
			}
		}
	}
	if _, _, err := tr.List(ctx, Query{Tenant: "a", Decision: "maybe"}); err == nil {
		t.Fatal("unknown decision accepted")
	}
}

func appendOne(t *testing.T, db *store.DB, tr *Trail, r Record) {
	t.Helper()
	if err := db.Commit(context.Background(), func(tx *sql.Tx) error { return tr.Append(tx, r) }); err != nil {
		t.Fatal(err)
	}
}
