package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	_ "modernc.org/sqlite"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
)

// refusal is one request the daemon must refuse with status and code.
type refusal struct {
	name   string
	req    func(t *testing.T) *http.Request
	hc     *http.Client // nil: no credentials beyond what req sets
	status int
	code   string
	retry  bool // a Retry-After header is required
}

// TestAdmissionRefusals sends, with real tokens over real HTTP, one request
// for each reason admission refuses, and checks its status and stable code,
// that the signing key signed nothing and the log did not grow meanwhile, and
// that every refusal left a deny row with its code in the audit trail.
func TestAdmissionRefusals(t *testing.T) {
	dataDir := t.TempDir()
	tr := newTrust(t, t.TempDir())
	d := startDaemon(t, dataDir, nil, append(tr.flags(), "--licence-grace", "1s", "--audit-anchor-interval", "1h")...)

	now := time.Now()
	std := func(id string, tenants ...string) entitlement.Licence {
		return entitlementtest.Licence(id, now, tenants...)
	}
	tr.importLicence(t, d, std("lic-acme", "acme"))
	daily := std("lic-daily", "daily")
	daily.Quotas.SignaturesPerDay = 1
	tr.importLicence(t, d, daily)
	rate := std("lic-rate", "rate")
	rate.Quotas.RequestsPerSecond, rate.Quotas.Burst = 1, 1
	tr.importLicence(t, d, rate)
	small := std("lic-small", "small")
	small.Quotas.MaxPayloadBytes = 64
	tr.importLicence(t, d, small)
	future := std("lic-future", "future")
	future.NotBefore, future.NotAfter = now.Add(time.Hour).UTC().Truncate(time.Second), now.Add(48*time.Hour).UTC().Truncate(time.Second)
	tr.importLicence(t, d, future)
	// A licence that ends within 5 s; with --licence-grace 1s it is
	// past its grace soon after (waited for below, bounded).
	short := std("lic-short", "short")
	short.NotAfter = time.Now().UTC().Truncate(time.Second).Add(5 * time.Second)
	tr.importLicence(t, d, short)

	const signAud, logAud = "signer", "attestor"
	acme := tr.newCaller(t, "acme", "signer.sign attestor.verify", signAud, logAud)
	// The daily quota's one signature is spent before the key is watched.
	dailyCaller := tr.newCaller(t, "daily", "signer.sign", signAud)
	signAs(t, dailyCaller.client(t), d.url)

	signURL := d.url + "/api/v1/signer/sign/dsse"
	plainSign := func(tenant string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return newRequest(t, http.MethodPost, signURL, signBody(t, tenant, testPredicateType, ""))
		}
	}
	// dpopSign sends a sign request with a token from claims bound to a
	// fresh DPoP key and, unless proof is nil, the proof it makes.
	dpopSign := func(claims authntest.Claims, proof func(t *testing.T, k *authntest.DPoPKey, token string) string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			k := authntest.NewDPoPKey(t)
			if claims.JKT == "" {
				claims.JKT = k.JKT()
			}
			if claims.Tenant == "" {
				claims.Tenant = "acme"
			}
			tok := tr.auth.Token(t, claims)
			req := newRequest(t, http.MethodPost, signURL, signBody(t, "", testPredicateType, ""))
			req.Header.Set("Authorization", "DPoP "+tok)
			if proof != nil {
				req.Header.Set("DPoP", proof(t, k, tok))
			}
			return req
		}
	}
	goodProof := func(t *testing.T, k *authntest.DPoPKey, tok string) string {
		return k.Proof(t, http.MethodPost, signURL, tok)
	}
	signClaims := authntest.Claims{Scope: "signer.sign", Audience: []string{signAud}}
	with := func(f func(*authntest.Claims)) authntest.Claims {
		c := signClaims
		f(&c)
		return c
	}
	otherAuthority := authntest.NewAuthority(t, testIssuer)
	scannerSign := func(scanner string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return newRequest(t, http.MethodPost, signURL, signBody(t, "", sbomPredicateType, scanner))
		}
	}
	untrusted := "sha256:" + strings.Repeat("ab", 32)

	tests := []refusal{
		{name: "no token", req: plainSign(""), status: 401, code: "auth_missing"},
		{name: "bad signature", status: 401, code: "auth_bad_signature", req: func(t *testing.T) *http.Request {
			// Signed by another key under the kid of the trusted one.
			k := authntest.NewDPoPKey(t)
			c := with(func(c *authntest.Claims) { c.JKT, c.Tenant, c.KID = k.JKT(), "acme", tr.auth.KID(authntest.ES256) })
			tok := otherAuthority.Token(t, c)
			req := newRequest(t, http.MethodPost, signURL, signBody(t, "", testPredicateType, ""))
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", k.Proof(t, http.MethodPost, signURL, tok))
			return req
		}},
		{name: "unknown kid", req: dpopSign(with(func(c *authntest.Claims) { c.KID = "rotated-out" }), goodProof), status: 401, code: "auth_unknown_kid"},
		{name: "wrong audience", req: dpopSign(with(func(c *authntest.Claims) { c.Audience = []string{logAud} }), goodProof), status: 401, code: "auth_wrong_audience"},
		{name: "expired", status: 401, code: "auth_expired", req: dpopSign(with(func(c *authntest.Claims) {
			c.IssuedAt, c.ExpiresAt = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
		}), goodProof)},
		{name: "missing scope", req: dpopSign(with(func(c *authntest.Claims) { c.Scope = "attestor.verify" }), goodProof), status: 403, code: "auth_insufficient_scope"},
		{name: "other tenant in the body", req: plainSign("other"), hc: acme.client(t), status: 403, code: "auth_tenant_forbidden"},
		{name: "other tenant in a list", hc: acme.client(t), status: 403, code: "auth_tenant_forbidden", req: func(t *testing.T) *http.Request {
			return newRequest(t, http.MethodGet, d.url+"/api/v1/rekor/entries?tenant=other", nil)
		}},
		{name: "no DPoP proof", req: dpopSign(signClaims, nil), status: 401, code: "dpop_missing"},
		{name: "DPoP proof for another method", status: 401, code: "dpop_invalid", req: dpopSign(signClaims, func(t *testing.T, k *authntest.DPoPKey, tok string) string {
			return k.Proof(t, http.MethodGet, signURL, tok)
		})},
		{name: "DPoP proof for another URL", status: 401, code: "dpop_invalid", req: dpopSign(signClaims, func(t *testing.T, k *authntest.DPoPKey, tok string) string {
			return k.Proof(t, http.MethodPost, d.url+"/api/v1/rekor/entries", tok)
		})},
		{name: "DPoP proof signed by another key", status: 401, code: "dpop_invalid", req: dpopSign(signClaims, func(t *testing.T, k *authntest.DPoPKey, tok string) string {
			return k.Proof(t, http.MethodPost, signURL, tok, authntest.SignedBy(authntest.NewDPoPKey(t)))
		})},
		{name: "tenant without licence", req: plainSign(""), hc: tr.newCaller(t, "unlicensed", "signer.sign", signAud).client(t), status: 403, code: "entitlement_tenant"},
		{name: "licence not valid yet", req: plainSign(""), hc: tr.newCaller(t, "future", "signer.sign", signAud).client(t), status: 403, code: "entitlement_missing"},
		{name: "daily quota", req: plainSign(""), hc: dailyCaller.client(t), status: 429, code: "quota_daily", retry: true},
		{name: "payload quota", req: plainSign(""), hc: tr.newCaller(t, "small", "signer.sign", signAud).client(t), status: 413, code: "quota_payload"},
		{name: "untrusted scanner", req: scannerSign(untrusted), hc: acme.client(t), status: 403, code: "scanner_untrusted"},
		{name: "no scanner digest", req: scannerSign(""), hc: acme.client(t), status: 400, code: "scanner_digest_missing"},
	}

	plain := &http.Client{Timeout: time.Minute}
	keyBefore, sizeBefore := keyUse(t, plain, d.url), waitLogSize(t, plain, d.url, 1)
	if keyBefore != 1 {
		t.Errorf("key signatures before the refusals: %v, want 1 (the daily quota's)", keyBefore)
	}
	seen := map[string]bool{}
	check := func(t *testing.T, r response, status int, code string, retry bool) {
		t.Helper()
		if r.status != status || r.errorCode() != code {
			t.Fatalf("got %s, want %d %s", r, status, code)
		}
		if retry {
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || ra < 1 {
				t.Errorf("Retry-After %q: want a positive number of seconds", r.header.Get("Retry-After"))
			}
		}
		if status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		seen[code] = true
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, send(t, tc.hc, tc.req(t)), tc.status, tc.code, tc.retry)
		})
	}

	t.Run("replayed DPoP proof", func(t *testing.T) {
		k := authntest.NewDPoPKey(t)
		tok := tr.auth.Token(t, with(func(c *authntest.Claims) { c.JKT, c.Tenant = k.JKT(), "acme" }))
		url := d.url + "/api/v1/quota"
		proof := k.Proof(t, http.MethodGet, url, tok)
		req := func() *http.Request {
			r := newRequest(t, http.MethodGet, url, nil)
			r.Header.Set("Authorization", "DPoP "+tok)
			r.Header.Set("DPoP", proof)
			return r
		}
		if r := send(t, nil, req()); r.status != http.StatusOK {
			t.Fatalf("first use of the proof: %s", r)
		}
		check(t, send(t, nil, req()), 401, "dpop_replayed", false)
	})

	t.Run("rate quota", func(t *testing.T) {
		// Burst 1, one request a second: of requests sent back to back one
		// passes the bucket (and is then refused for its missing scanner
		// digest, so no key signs), the next is over the rate. Bounded tries.
		hc := tr.newCaller(t, "rate", "signer.sign", signAud).client(t)
		for i := 0; i < 20; i++ {
			r := send(t, hc, scannerSign("")(t))
			switch r.errorCode() {
			case "quota_rate":
				check(t, r, 429, "quota_rate", true)
				return
			case "scanner_digest_missing":
			default:
				t.Fatalf("got %s, want quota_rate or scanner_digest_missing", r)
			}
		}
		t.Fatal("20 requests back to back never exceeded one request per second")
	})

	t.Run("licence past grace", func(t *testing.T) {
		// Until the short licence (5 s, grace 1 s) is over, the request is
		// refused later, for its missing scanner digest; then for the licence.
		hc := tr.newCaller(t, "short", "signer.sign", signAud).client(t)
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := send(t, hc, scannerSign("")(t))
			if r.errorCode() == "entitlement_expired" {
				check(t, r, 403, "entitlement_expired", false)
				return
			}
			if r.errorCode() != "scanner_digest_missing" {
				t.Fatalf("got %s, want scanner_digest_missing until the licence expires, then entitlement_expired", r)
			}
			if time.Now().After(deadline) {
				t.Fatalf("licence %s (notAfter %s, grace 1s) still in force at %s", short.LicenceID, short.NotAfter, time.Now().UTC())
			}
			time.Sleep(250 * time.Millisecond)
		}
	})

	if got := keyUse(t, plain, d.url); got != keyBefore {
		t.Errorf("stellad_key_signatures_total went from %v to %v during the refusals: a refused request reached the key", keyBefore, got)
	}
	if got := logSize(t, plain, d.url); got != sizeBefore {
		t.Errorf("log grew from %d to %d during the refusals", sizeBefore, got)
	}

	// Every refusal code is in the audit trail as a deny row.
	deny := map[string]int{}
	for _, row := range auditRows(t, d, "--all-tenants", "--decision", "deny") {
		if row.Decision != "deny" {
			t.Errorf("audit list --decision deny returned a %s row", row.Decision)
		}
		deny[row.Reason]++
	}
	for code := range seen {
		if deny[code] == 0 {
			t.Errorf("no deny row with reason %s in the audit trail (deny rows by reason: %v)", code, deny)
		}
	}
	for _, code := range []string{"auth_missing", "auth_bad_signature", "auth_unknown_kid", "auth_wrong_audience", "auth_expired",
		"auth_insufficient_scope", "auth_tenant_forbidden", "dpop_missing", "dpop_invalid", "dpop_replayed", "entitlement_tenant",
		"entitlement_missing", "entitlement_expired", "quota_daily", "quota_rate", "quota_payload", "scanner_untrusted", "scanner_digest_missing"} {
		if !seen[code] {
			t.Errorf("refusal %s was not exercised", code)
		}
	}
}

// TestAdmissionMTLS runs stellad outside development mode on TLS 1.3 with
// client certificates: a Bearer token bound (cnf.x5t#S256) to one client
// certificate is refused with cnf_mismatch on a connection presenting another
// or none, and accepted with its own; with a vendor key but no licence at all
// the accepted caller is refused with entitlement_missing. No key signs.
func TestAdmissionMTLS(t *testing.T) {
	p := newPKI(t)
	tr := newTrust(t, t.TempDir())
	d := startTLSDaemon(t, t.TempDir(), p, tr.flags()...)
	mine, minePair, _, _ := p.issue(t, "client-mine", false)
	_, otherPair, _, _ := p.issue(t, "client-other", false)

	tok := tr.auth.Token(t, authntest.Claims{Tenant: "acme", Scope: "signer.sign", Audience: []string{"signer"}, X5T: authntest.CertThumbprint(mine)})
	signURL := d.url + "/api/v1/signer/sign/dsse"
	sign := func(hc *http.Client) response {
		req := newRequest(t, http.MethodPost, signURL, signBody(t, "", testPredicateType, ""))
		req.Header.Set("Authorization", "Bearer "+tok)
		return send(t, hc, req)
	}
	anon := p.tlsClient(nil)
	keyBefore, sizeBefore := keyUse(t, anon, d.url), logSize(t, anon, d.url)

	for _, tc := range []struct {
		name   string
		hc     *http.Client
		status int
		code   string
	}{
		{"another client certificate", p.tlsClient(&otherPair), 401, "cnf_mismatch"},
		{"no client certificate", anon, 401, "cnf_mismatch"},
		{"its own certificate, no licence imported", p.tlsClient(&minePair), 403, "entitlement_missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := sign(tc.hc); r.status != tc.status || r.errorCode() != tc.code {
				t.Fatalf("got %s, want %d %s", r, tc.status, tc.code)
			}
		})
	}
	if got := keyUse(t, anon, d.url); got != keyBefore || got != 0 {
		t.Errorf("stellad_key_signatures_total %v before, %v after: want 0 and 0", keyBefore, got)
	}
	if got := logSize(t, anon, d.url); got != sizeBefore {
		t.Errorf("log grew from %d to %d", sizeBefore, got)
	}
	deny := map[string]int{}
	for _, row := range auditRows(t, d, "--all-tenants", "--decision", "deny") {
		deny[row.Reason]++
	}
	if deny["cnf_mismatch"] != 2 || deny["entitlement_missing"] != 1 {
		t.Errorf("deny rows by reason %v: want 2 cnf_mismatch and 1 entitlement_missing", deny)
	}
}

// TestTenantIsolation: tenants A and B share a licence; B signs; A sees
// nothing of B's through the API or stellactl.
func TestTenantIsolation(t *testing.T) {
	tr := newTrust(t, t.TempDir())
	d := startDaemon(t, t.TempDir(), nil, append(tr.flags(), "--audit-anchor-interval", "1h")...)
	tr.importLicence(t, d, entitlementtest.Licence("lic-ab", time.Now(), "tenant-a", "tenant-b"))
	const scope = "signer.sign attestor.verify"
	a := tr.newCaller(t, "tenant-a", scope, "signer", "attestor", "stellad")
	b := tr.newCaller(t, "tenant-b", scope, "signer", "attestor", "stellad")

	ownA := signAs(t, a.client(t), d.url)
	var ofB []string
	for range 2 {
		ofB = append(ofB, signAs(t, b.client(t), d.url).UUID)
	}
	hcA := a.client(t)

	t.Run("fetch", func(t *testing.T) {
		for _, uuid := range ofB {
			r := send(t, hcA, newRequest(t, http.MethodGet, d.url+"/api/v1/rekor/entries/"+uuid, nil))
			if r.status != http.StatusNotFound || r.errorCode() != apitype.CodeNotFound {
				t.Errorf("A fetching B's entry %s: %s, want 404 not_found", uuid, r)
			}
		}
		if r := send(t, hcA, newRequest(t, http.MethodGet, d.url+"/api/v1/rekor/entries/"+ownA.UUID, nil)); r.status != http.StatusOK {
			t.Errorf("A fetching its own entry: %s", r)
		}
	})
	t.Run("list", func(t *testing.T) {
		r := send(t, hcA, newRequest(t, http.MethodGet, d.url+"/api/v1/rekor/entries?limit=1000", nil))
		if r.status != http.StatusOK {
			t.Fatalf("A listing: %s", r)
		}
		var l apitype.EntryList
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Entries) != 1 || l.Entries[0].UUID != ownA.UUID || l.Entries[0].Tenant != "tenant-a" {
			t.Errorf("A's list: %s, want only its own entry %s", r.body, ownA.UUID)
		}
		for _, q := range []string{"?tenant=tenant-b", "?tenant=tenant-b&limit=5", "?tenant=_system"} {
			r := send(t, hcA, newRequest(t, http.MethodGet, d.url+"/api/v1/rekor/entries"+q, nil))
			if r.status != http.StatusForbidden || r.errorCode() != "auth_tenant_forbidden" {
				t.Errorf("A listing %s: %s, want 403 auth_tenant_forbidden", q, r)
			}
		}
	})
	t.Run("stellactl attest", func(t *testing.T) {
		out := mustCtl(t, d.url, a.env(), "attest", "list", "--json", "--limit", "1000")
		var l apitype.EntryList
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("attest list: %v: %s", err, out)
		}
		if len(l.Entries) != 1 || l.Entries[0].UUID != ownA.UUID {
			t.Errorf("attest list as A: %s, want only %s", out, ownA.UUID)
		}
		for _, uuid := range ofB {
			stdout, stderr, code := ctl(t, d.url, a.env(), "attest", "fetch", uuid, "-o", filepath.Join(t.TempDir(), "b.json"))
			if code == 0 || !strings.Contains(stderr, "not_found") && !strings.Contains(stderr, "404") {
				t.Errorf("attest fetch of B's %s as A: exit %d\nstdout %s\nstderr %s", uuid, code, stdout, stderr)
			}
		}
		mustCtl(t, d.url, a.env(), "attest", "fetch", ownA.UUID, "-o", filepath.Join(t.TempDir(), "a.json"))
	})
	t.Run("stellactl audit list", func(t *testing.T) {
		out := mustCtl(t, d.url, a.env(), "audit", "list", "--json", "--limit", "1000")
		var l apitype.AuditList
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("audit list: %v: %s", err, out)
		}
		if len(l.Rows) == 0 {
			t.Fatal("audit list as A: no rows, want A's own")
		}
		for _, row := range l.Rows {
			if row.Tenant != "tenant-a" || slices.Contains(ofB, row.UUID) {
				t.Errorf("audit list as A shows a row of tenant %q (uuid %s, action %s)", row.Tenant, row.UUID, row.Action)
			}
		}
		for _, args := range [][]string{{"--tenant", "tenant-b"}, {"--all-tenants"}} {
			_, stderr, code := ctl(t, d.url, a.env(), append([]string{"audit", "list", "--json"}, args...)...)
			if code != 5 {
				t.Errorf("audit list %v as A: exit %d (%s), want 5 (refused)", args, code, strings.TrimSpace(stderr))
			}
		}
		// Through the API, a tenant parameter is ignored: still A's rows only.
		r := send(t, hcA, newRequest(t, http.MethodGet, d.url+"/api/v1/audit?tenant=tenant-b&limit=1000", nil))
		if r.status == http.StatusOK && strings.Contains(string(r.body), `"tenant":"tenant-b"`) {
			t.Errorf("GET /api/v1/audit?tenant=tenant-b as A shows B's rows: %s", r.body)
		}
		r = send(t, hcA, newRequest(t, http.MethodGet, d.url+"/api/v1/admin/audit?tenant=tenant-b", nil))
		if r.status != http.StatusForbidden {
			t.Errorf("GET /api/v1/admin/audit?tenant=tenant-b as A: %s, want 403", r)
		}
	})
	t.Run("stellactl quota", func(t *testing.T) {
		for _, c := range []struct {
			who    *caller
			tenant string
			used   int64
		}{{a, "tenant-a", 1}, {b, "tenant-b", 2}} {
			out := mustCtl(t, d.url, c.who.env(), "quota", "--json")
			var u apitype.QuotaUsage
			if err := json.Unmarshal([]byte(out), &u); err != nil {
				t.Fatalf("quota: %v: %s", err, out)
			}
			if u.Tenant != c.tenant || u.Used != c.used {
				t.Errorf("quota as %s: tenant %s, %d signatures today; want %s, %d", c.tenant, u.Tenant, u.Used, c.tenant, c.used)
			}
		}
	})
}

// TestAuditTamperDetected: audit verify passes after some requests; a row
// changed directly in SQLite while the daemon is down is found, by its
// sequence number, after a restart.
func TestAuditTamperDetected(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, dataDir, nil, "--audit-anchor-interval", "1h")
	hc := d.devClient(t)
	for range 3 {
		signAs(t, hc, d.url)
	}
	send(t, nil, newRequest(t, http.MethodPost, d.url+"/api/v1/signer/sign/dsse", signBody(t, "", testPredicateType, ""))) // a deny row
	sock := []string{"--admin-socket", d.adminSocket()}
	out := mustCtl(t, "", nil, append(sock, "audit", "verify", "--json")...)
	var v apitype.AuditVerify
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Rows < 5 {
		t.Fatalf("audit verify before tampering: %s, want ok with at least 5 rows", out)
	}

	// Pick a deny row to turn into something else: what an intruder covering
	// a refused attempt would do.
	var target uint64
	for _, row := range auditRows(t, d, "--all-tenants", "--decision", "deny") {
		target = row.Seq
	}
	if target == 0 {
		t.Fatal("no deny row to tamper with")
	}
	d.stop()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "stellad.db"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.ExecContext(context.Background(), `UPDATE audit_log SET decision = 'allow', reason = '' WHERE seq = ?`, target)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n != 1 {
			err = fmt.Errorf("%d rows changed", n)
		}
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("changing audit row %d: %v", target, err)
	}
	d.start()

	stdout, stderr, code := ctl(t, "", nil, append(sock, "audit", "verify", "--json")...)
	if code != 1 {
		t.Fatalf("audit verify after tampering: exit %d, want 1\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("audit verify --json: %v: %s", err, stdout)
	}
	if v.OK || v.FirstBad == nil || *v.FirstBad != target {
		t.Errorf("audit verify after changing row %d: %s", target, stdout)
	}
	if want := fmt.Sprintf("row %d", target); !strings.Contains(stderr, want) {
		t.Errorf("audit verify's message %q does not name %q", strings.TrimSpace(stderr), want)
	}
	_, stderr, code = ctl(t, "", nil, append(sock, "audit", "verify")...)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("row %d", target)) {
		t.Errorf("audit verify (text) after tampering: exit %d, %s", code, stderr)
	}
}

// TestAuditAnchoredInLog: with a one-second anchor interval the audit chain
// head goes into the log; audit verify counts the anchor, and the anchor's
// log entry is in the published tree with the leaf hash its audit row names.
func TestAuditAnchoredInLog(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil, "--audit-anchor-interval", "1s")
	hc := d.devClient(t)
	signAs(t, hc, d.url)
	sock := []string{"--admin-socket", d.adminSocket()}

	var v apitype.AuditVerify
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := mustCtl(t, "", nil, append(sock, "audit", "verify", "--json")...)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		if !v.OK {
			t.Fatalf("audit verify: %s", out)
		}
		if v.Anchors >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no anchor after 15 s with --audit-anchor-interval 1s: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	var anchors []apitype.AuditRow
	for _, row := range auditRows(t, d, "--all-tenants") {
		if row.Action == "audit.anchor" {
			anchors = append(anchors, row)
		}
	}
	if len(anchors) == 0 {
		t.Fatal("audit verify counts an anchor but no audit.anchor row is listed")
	}
	an := anchors[0]
	if an.LogIndex == nil || len(an.UUID) != 64 || an.Tenant != "_system" || an.Decision != "allow" {
		t.Fatalf("anchor row: %+v", an)
	}
	size := waitLogSize(t, hc, d.url, *an.LogIndex+1)
	if size <= *an.LogIndex {
		t.Fatalf("published tree size %d does not cover the anchor's log index %d", size, *an.LogIndex)
	}
	// The entry at that index is the one the row names: its RFC 6962 leaf
	// hash, read from the log's public entry bundle, is the row's uuid.
	bundle := getBytes(t, d.url+"/api/v2/"+layout.EntriesPathForLogIndex(*an.LogIndex, size))
	var eb api.EntryBundle
	if err := eb.UnmarshalText(bundle); err != nil {
		t.Fatalf("entry bundle: %v", err)
	}
	i := *an.LogIndex % layout.EntryBundleWidth
	if uint64(len(eb.Entries)) <= i {
		t.Fatalf("entry bundle holds %d entries, want index %d", len(eb.Entries), i)
	}
	if got := fmt.Sprintf("%x", rfc6962.DefaultHasher.HashLeaf(eb.Entries[i])); got != an.UUID {
		t.Errorf("leaf hash of log entry %d is %s, the anchor row names %s", *an.LogIndex, got, an.UUID)
	}
	// It is the system's entry: a tenant cannot fetch it.
	r := send(t, hc, newRequest(t, http.MethodGet, d.url+"/api/v1/rekor/entries/"+an.UUID, nil))
	if r.status != http.StatusNotFound {
		t.Errorf("the development tenant fetching the anchor entry: %s, want 404", r)
	}
}
