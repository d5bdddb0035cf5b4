package policy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewRejectsBadConfig(t *testing.T) {
	db := openDB(t)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no db", Config{}, "Config.DB"},
		{"P-521 key", Config{DB: db, ReleaseKeys: []crypto.PublicKey{p521.Public()}}, "not P-256 or P-384"},
		{"small RSA key", Config{DB: db, ReleaseKeys: []crypto.PublicKey{small.Public()}}, "below 2048"},
		{"unknown key type", Config{DB: db, ReleaseKeys: []crypto.PublicKey{"key"}}, "unsupported key type"},
		{"malformed allowlist digest", Config{DB: db, Allowlist: []string{"sha256:ABC"}}, "Allowlist[0]"},
		{"uppercase allowlist digest", Config{DB: db, Allowlist: []string{"sha256:" + strings.Repeat("AB", 32)}}, "Allowlist[0]"},
		{"unknown mode", Config{DB: db, OnUntrusted: "ask"}, "OnUntrusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	allowed := "sha256:" + strings.Repeat("11", 32)
	for _, mode := range []string{OnUntrustedRefuse, OnUntrustedQueue} {
		c := newChecker(t, openDB(t), Config{Allowlist: []string{allowed}, OnUntrusted: mode})
		untrusted := CodeUntrusted
		if mode == OnUntrustedQueue {
			untrusted = CodeApprovalPending
		}
		tests := []struct {
			name     string
			tenant   string
			digest   string
			wantCode string // "" for allowed
		}{
			{"empty digest", "t", "", CodeDigestMissing},
			{"no algorithm", "t", strings.Repeat("11", 32), CodeDigestMissing},
			{"short", "t", "sha256:1234", CodeDigestMissing},
			{"uppercase", "t", "sha256:" + strings.Repeat("AB", 32), CodeDigestMissing},
			{"sha512", "t", "sha512:" + strings.Repeat("11", 64), CodeDigestMissing},
			{"trailing space", "t", allowed + " ", CodeDigestMissing},
			{"allowlisted", "t", allowed, ""},
			{"untrusted", "t", untrustedDigest, untrusted},
		}
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				err := c.Check(ctx, tt.tenant, tt.digest)
				if tt.wantCode == "" {
					if err != nil {
						t.Fatalf("Check = %v, want nil", err)
					}
					return
				}
				var pe *Error
				if !errors.As(err, &pe) || pe.Code != tt.wantCode {
					t.Fatalf("Check = %v, want code %s", err, tt.wantCode)
				}
			})
		}
		if err := c.Check(ctx, "", allowed); err == nil || errors.As(err, new(*Error)) {
			t.Errorf("%s: empty tenant: %v, want an operational error", mode, err)
		}
	}
}

func TestQueueApproveDeny(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: testStart}
	db := openDB(t)
	c := newChecker(t, db, Config{OnUntrusted: OnUntrustedQueue, Now: clk.now})
	pending := &Error{Code: CodeApprovalPending}

	// Two requests for the same digest and tenant queue one approval.
	for range 2 {
		if err := c.Check(ctx, "tenant-a", untrustedDigest); !errors.Is(err, pending) {
			t.Fatalf("Check = %v, want %s", err, CodeApprovalPending)
		}
		clk.t = clk.t.Add(time.Minute)
	}
	if err := c.Check(ctx, "tenant-b", untrustedDigest); !errors.Is(err, pending) {
		t.Fatalf("tenant-b: Check = %v", err)
	}
	if n := countRows(t, db, "scanner_approvals"); n != 2 {
		t.Fatalf("%d approval rows, want 2 (one per tenant)", n)
	}
	list, err := c.Pending(ctx, "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Tenant != "tenant-a" || list[0].Digest != untrustedDigest || list[0].State != StatePending || !list[0].RequestedAt.Equal(testStart) {
		t.Fatalf("Pending(tenant-a) = %+v", list)
	}
	if all, _ := c.Pending(ctx, ""); len(all) != 2 {
		t.Errorf("Pending(all) = %d rows, want 2", len(all))
	}

	// A failing audit hook leaves the approval pending.
	boom := errors.New("audit down")
	if _, err := c.Approve(ctx, ApprovalRef{ID: list[0].ID}, "root", "ok", func(*sql.Tx, Approval) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Approve with failing hook = %v", err)
	}
	if err := c.Check(ctx, "tenant-a", untrustedDigest); !errors.Is(err, pending) {
		t.Fatalf("after rolled-back approval: %v", err)
	}

	// Approve by id; the hook sees the row in the same transaction.
	var seen Approval
	a, err := c.Approve(ctx, ApprovalRef{ID: list[0].ID}, "root", "vendor hotfix 4.2.1", func(tx *sql.Tx, a Approval) error {
		seen = a
		var state string
		return tx.QueryRow(`SELECT state FROM scanner_approvals WHERE id = ?`, a.ID).Scan(&state)
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.State != StateApproved || a.Previous != StatePending || a.DecidedBy != "root" || a.Reason != "vendor hotfix 4.2.1" || !a.DecidedAt.Equal(clk.t) || seen.ID != a.ID {
		t.Errorf("Approve = %+v (hook saw %+v)", a, seen)
	}
	if v, err := c.Decide(ctx, "tenant-a", untrustedDigest); err != nil || v.Basis != BasisApproval || v.ApprovalID != a.ID {
		t.Errorf("after approval: %+v, %v", v, err)
	}
	// Tenancy: tenant-b's request stays pending.
	if err := c.Check(ctx, "tenant-b", untrustedDigest); !errors.Is(err, pending) {
		t.Errorf("tenant-b after tenant-a's approval: %v", err)
	}
	if _, err := c.Approve(ctx, ApprovalRef{ID: a.ID}, "root", "again"); !errors.Is(err, ErrApprovalState) {
		t.Errorf("second Approve = %v, want ErrApprovalState", err)
	}
	if _, err := c.Approve(ctx, ApprovalRef{ID: a.ID, Tenant: "tenant-b"}, "root", "x"); !errors.Is(err, ErrApprovalNotFound) {
		t.Errorf("Approve of tenant-a's id scoped to tenant-b = %v, want ErrApprovalNotFound", err)
	}
	if _, err := c.Approve(ctx, ApprovalRef{ID: 9999}, "root", "x"); !errors.Is(err, ErrApprovalNotFound) {
		t.Errorf("Approve unknown id = %v", err)
	}
	if _, err := c.Approve(ctx, ApprovalRef{ID: a.ID}, "", "x"); err == nil {
		t.Error("Approve without actor succeeded")
	}

	// Deny by tenant and digest: refused as untrusted and not queued again.
	d, err := c.Deny(ctx, ApprovalRef{Tenant: "tenant-b", Digest: untrustedDigest}, "root", "unknown build")
	if err != nil || d.State != StateDenied || d.Previous != StatePending {
		t.Fatalf("Deny = %+v, %v", d, err)
	}
	if err := c.Check(ctx, "tenant-b", untrustedDigest); !errors.Is(err, &Error{Code: CodeUntrusted}) {
		t.Errorf("after deny: %v, want %s", err, CodeUntrusted)
	}
	// Revocation of an approval.
	if _, err := c.Deny(ctx, ApprovalRef{ID: a.ID}, "root", "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, "tenant-a", untrustedDigest); !errors.Is(err, &Error{Code: CodeUntrusted}) {
		t.Errorf("after revocation: %v", err)
	}
	if list, _ := c.Pending(ctx, ""); len(list) != 0 {
		t.Errorf("pending after decisions: %+v", list)
	}

	// Pre-approval of a digest nobody asked for yet.
	pre := "sha256:" + strings.Repeat("ef", 32)
	p, err := c.Approve(ctx, ApprovalRef{Tenant: "tenant-c", Digest: pre}, "root", "pre-approved")
	if err != nil || p.Previous != "" || p.State != StateApproved {
		t.Fatalf("pre-approval = %+v, %v", p, err)
	}
	if err := c.Check(ctx, "tenant-c", pre); err != nil {
		t.Errorf("pre-approved: %v", err)
	}
}

// TestQueueConcurrent: many concurrent requests for the same digest queue
// exactly one approval and all see scanner_approval_pending.
func TestQueueConcurrent(t *testing.T) {
	db := openDB(t)
	c := newChecker(t, db, Config{OnUntrusted: OnUntrustedQueue})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			errs <- c.Check(context.Background(), fmt.Sprintf("t%d", i%2), untrustedDigest)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, &Error{Code: CodeApprovalPending}) {
			t.Errorf("Check = %v", err)
		}
	}
	if n := countRows(t, db, "scanner_approvals"); n != 2 {
		t.Errorf("%d approval rows, want 2", n)
	}
}

// TestRefuseModeKeepsQueueRows: pending rows from an earlier queue mode are
// refused as untrusted once the mode is refuse, and nothing new is queued.
func TestRefuseModeKeepsQueueRows(t *testing.T) {
	db := openDB(t)
	q := newChecker(t, db, Config{OnUntrusted: OnUntrustedQueue})
	q.Check(context.Background(), "t", untrustedDigest)
	r := newChecker(t, db, Config{})
	if err := r.Check(context.Background(), "t", untrustedDigest); !errors.Is(err, &Error{Code: CodeUntrusted}) {
		t.Errorf("Check = %v", err)
	}
	if err := r.Check(context.Background(), "t", "sha256:"+strings.Repeat("99", 32)); !errors.Is(err, &Error{Code: CodeUntrusted}) {
		t.Errorf("Check = %v", err)
	}
	if n := countRows(t, db, "scanner_approvals"); n != 1 {
		t.Errorf("%d approval rows, want 1", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	k := newTestKeys(b)
	l := newTestLayout(b)
	img := l.image("img")
	l.classic(k.p256, img, img.Digest)
	dir := l.write()
	allowed := "sha256:" + strings.Repeat("11", 32)
	c := newChecker(b, openDB(b), Config{ReleaseKeys: k.trusted(), Allowlist: []string{allowed}, OnUntrusted: OnUntrustedQueue})
	if _, err := c.ImportLayout(ctx, dir, "admin"); err != nil {
		b.Fatal(err)
	}
	// A thousand imported releases, as after years of scanner updates.
	c.mu.Lock()
	for i := range 1000 {
		c.releases[fmt.Sprintf("sha256:%064x", i)] = struct{}{}
	}
	c.mu.Unlock()
	c.Check(ctx, "t", untrustedDigest) // queue it once
	for _, bc := range []struct{ name, digest string }{
		{"release", img.Digest},
		{"allowlist", allowed},
		{"pending", untrustedDigest},
		{"malformed", "sha256:xyz"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.Check(ctx, "t", bc.digest)
				}
			})
		})
	}
}
