package entitlement_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/kit/dsse"
)

// validDoc is a well-formed licence document as the vendor writes it.
const validDoc = `{"licenceId":"lic-1","licensee":"Example Org","tenants":["a","b"],"plan":"standard",` +
	`"quotas":{"requestsPerSecond":50,"burst":100,"concurrent":16,"maxPayloadBytes":1048576,"signaturesPerDay":100000},` +
	`"notBefore":"2026-11-01T00:00:00Z","notAfter":"2027-11-01T00:00:00Z","issuedAt":"2026-10-30T12:00:00Z"}`

func TestImport(t *testing.T) {
	other := entitlementtest.NewVendor(t)
	tests := []struct {
		name    string
		doc     func(f *fixture) []byte
		wantErr error
		wantMsg string // substring of the error
	}{
		{name: "valid", doc: func(f *fixture) []byte {
			return signPayload(t, f.vendor.Key, entitlement.PayloadType, []byte(validDoc))
		}},
		{name: "valid from SignLicence", doc: func(f *fixture) []byte {
			return f.vendor.Sign(t, entitlementtest.Licence("lic-2", t0, "a"))
		}},
		{name: "bad signature", doc: func(f *fixture) []byte {
			doc := f.vendor.Sign(t, entitlementtest.Licence("lic-1", t0, "a"))
			env, _ := dsse.Parse(doc)
			env.Signatures[0].Sig[10] ^= 1
			out, _ := env.Marshal()
			return out
		}, wantErr: entitlement.ErrLicenceSignature},
		{name: "tampered payload", doc: func(f *fixture) []byte {
			doc := f.vendor.Sign(t, entitlementtest.Licence("lic-1", t0, "a"))
			env, _ := dsse.Parse(doc)
			env.Payload = bytes.Replace(env.Payload, []byte(`"a"`), []byte(`"z"`), 1)
			out, _ := env.Marshal()
			return out
		}, wantErr: entitlement.ErrLicenceSignature},
		{name: "unknown key", doc: func(f *fixture) []byte {
			return other.Sign(t, entitlementtest.Licence("lic-1", t0, "a"))
		}, wantErr: entitlement.ErrLicenceSignature},
		{name: "unknown field is refused only after the signature", doc: func(f *fixture) []byte {
			return signPayload(t, other.Key, entitlement.PayloadType, []byte(strings.Replace(validDoc, `"plan"`, `"extra":1,"plan"`, 1)))
		}, wantErr: entitlement.ErrLicenceSignature},
		{name: "not an envelope", doc: func(f *fixture) []byte { return []byte(validDoc) }, wantErr: entitlement.ErrLicenceInvalid},
		{name: "wrong payload type", doc: func(f *fixture) []byte {
			return signPayload(t, f.vendor.Key, dsse.PayloadTypeInToto, []byte(validDoc))
		}, wantErr: entitlement.ErrLicenceInvalid, wantMsg: "payloadType"},
		{name: "expired", doc: func(f *fixture) []byte {
			l := entitlementtest.Licence("lic-1", t0, "a")
			l.NotBefore, l.NotAfter, l.IssuedAt = t0.Add(-60*24*time.Hour), t0.Add(-time.Second), t0.Add(-61*24*time.Hour)
			return f.vendor.Sign(t, l)
		}, wantErr: entitlement.ErrLicenceExpired},
		{name: "expiring at this instant", doc: func(f *fixture) []byte {
			l := entitlementtest.Licence("lic-1", t0, "a")
			l.NotAfter = t0
			return f.vendor.Sign(t, l)
		}, wantErr: entitlement.ErrLicenceExpired},
		{name: "too large", doc: func(f *fixture) []byte { return make([]byte, entitlement.MaxLicenceSize+1) }, wantErr: entitlement.ErrLicenceInvalid},
	}
	docErrs := []struct{ name, payload, msg string }{
		{"unknown field", strings.Replace(validDoc, `"plan"`, `"extra":1,"plan"`, 1), `unknown field "extra"`},
		{"unknown quota field", strings.Replace(validDoc, `"burst"`, `"bursts":1,"burst"`, 1), `unknown field "bursts"`},
		{"duplicate key", strings.Replace(validDoc, `"plan":"standard"`, `"plan":"standard","plan":"unlimited"`, 1), `duplicate field "plan"`},
		{"duplicate quota key", strings.Replace(validDoc, `"burst":100`, `"burst":100,"burst":100000`, 1), `duplicate field "burst"`},
		{"case-folded name", strings.Replace(validDoc, `"plan"`, `"Plan"`, 1), `unknown field "Plan"`},
		{"missing tenants", strings.Replace(validDoc, `"tenants":["a","b"],`, ``, 1), "tenants: missing"},
		{"empty tenants", strings.Replace(validDoc, `["a","b"]`, `[]`, 1), "tenants: empty"},
		{"tenant twice", strings.Replace(validDoc, `["a","b"]`, `["a","a"]`, 1), "named twice"},
		{"null plan", strings.Replace(validDoc, `"standard"`, `null`, 1), "null"},
		{"negative quota", strings.Replace(validDoc, `"concurrent":16`, `"concurrent":-1`, 1), "negative"},
		{"fractional quota", strings.Replace(validDoc, `"concurrent":16`, `"concurrent":1.5`, 1), "concurrent"},
		{"bad time", strings.Replace(validDoc, `"2027-11-01T00:00:00Z"`, `"next year"`, 1), "notAfter"},
		{"empty window", strings.Replace(validDoc, `"2027-11-01T00:00:00Z"`, `"2026-11-01T00:00:00Z"`, 1), "not after notBefore"},
		{"trailing data", validDoc + `{}`, "trailing"},
		{"array", `[` + validDoc + `]`, "not a JSON object"},
		{"invalid UTF-8", strings.Replace(validDoc, `Example`, "Ex\xffample", 1), "UTF-8"},
	}
	for _, d := range docErrs {
		tests = append(tests, struct {
			name    string
			doc     func(f *fixture) []byte
			wantErr error
			wantMsg string
		}{name: "document: " + d.name, doc: func(f *fixture) []byte {
			return signPayload(t, f.vendor.Key, entitlement.PayloadType, []byte(d.payload))
		}, wantErr: entitlement.ErrLicenceInvalid, wantMsg: d.msg})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			l, err := f.m.Import(context.Background(), tt.doc(f), "alice")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("err = %v, want it to mention %q", err, tt.wantMsg)
				}
				st, _ := f.m.Status(context.Background())
				if len(st.Licences) != 0 {
					t.Errorf("refused licence was stored: %+v", st.Licences)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.m.Check(l.Tenants[0]); err != nil {
				t.Errorf("Check after import: %v", err)
			}
		})
	}
}

func TestImportDecodesEveryField(t *testing.T) {
	f := newFixture(t)
	l, err := f.m.Import(context.Background(), signPayload(t, f.vendor.Key, entitlement.PayloadType, []byte(validDoc)), "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := entitlement.Licence{
		LicenceID: "lic-1", Licensee: "Example Org", Tenants: []string{"a", "b"}, Plan: "standard",
		Quotas:    entitlement.Quotas{RequestsPerSecond: 50, Burst: 100, Concurrent: 16, MaxPayloadBytes: 1048576, SignaturesPerDay: 100000},
		NotBefore: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:  time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC),
		IssuedAt:  time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC),
	}
	got, _ := json.Marshal(l)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("licence\n got %s\nwant %s", got, wantJSON)
	}
}

func TestImportVersions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v1 := entitlementtest.Licence("lic-1", t0, "a", "b")
	doc1 := f.vendor.Sign(t, v1)
	if _, err := f.m.Import(ctx, doc1, "alice"); err != nil {
		t.Fatal(err)
	}

	// The same licence again, even with a fresh (ECDSA: different)
	// signature, is a no-op.
	for _, doc := range [][]byte{doc1, f.vendor.Sign(t, v1)} {
		if _, err := f.m.Import(ctx, doc, "bob"); err != nil {
			t.Fatalf("re-import: %v", err)
		}
	}
	if st, _ := f.m.Status(ctx); len(st.Licences) != 1 || st.Licences[0].ImportedBy != "alice" {
		t.Fatalf("after re-import: %+v", st.Licences)
	}

	// Same issuedAt, other content: refused.
	conflict := v1
	conflict.Tenants = []string{"a", "b", "c"}
	if _, err := f.m.Import(ctx, f.vendor.Sign(t, conflict), "alice"); !errors.Is(err, entitlement.ErrLicenceStale) {
		t.Fatalf("conflicting version: err = %v, want ErrLicenceStale", err)
	}

	// A renewal issued later, dropping tenant b, taking effect tomorrow.
	v2 := v1
	v2.Tenants = []string{"a"}
	v2.IssuedAt = t0.Add(time.Hour)
	v2.NotBefore = t0.Add(24 * time.Hour)
	v2.NotAfter = t0.Add(400 * 24 * time.Hour)
	f.clock.Add(2 * time.Hour)
	if _, err := f.m.Import(ctx, f.vendor.Sign(t, v2), "alice"); err != nil {
		t.Fatal(err)
	}
	// Until v2 takes effect, v1 still entitles b.
	if d, err := f.m.Check("b"); err != nil || d.LicenceID != "lic-1" {
		t.Fatalf("Check(b) before the renewal takes effect = %+v, %v", d, err)
	}

	// Rollback: a version issued before v2 (even after v1) is refused.
	old := v1
	old.IssuedAt = t0.Add(30 * time.Minute)
	if _, err := f.m.Import(ctx, f.vendor.Sign(t, old), "mallory"); !errors.Is(err, entitlement.ErrLicenceStale) {
		t.Fatalf("rollback: err = %v, want ErrLicenceStale", err)
	}

	f.clock.Add(24 * time.Hour)
	wantCode(t, func() error { _, err := f.m.Check("b"); return err }(), entitlement.CodeTenant)
	d, err := f.m.Check("a")
	if err != nil || d.State != entitlement.StateValid || !d.Until.Equal(v2.NotAfter) {
		t.Fatalf("Check(a) under the renewal = %+v, %v", d, err)
	}
	st, _ := f.m.Status(ctx)
	if len(st.Licences) != 2 || st.Licences[0].State != entitlement.StateValid || st.Licences[1].State != entitlement.StateSuperseded {
		t.Fatalf("status: %+v", st.Licences)
	}
}

func TestImportNotYetValid(t *testing.T) {
	f := newFixture(t)
	l := entitlementtest.Licence("lic-1", t0, "a")
	l.NotBefore = t0.Add(48 * time.Hour)
	f.importLicence(t, l)
	wantCode(t, func() error { _, err := f.m.Check("a"); return err }(), entitlement.CodeMissing)
	if st, _ := f.m.Status(context.Background()); st.Licences[0].State != entitlement.StatePending {
		t.Fatalf("state %s, want pending", st.Licences[0].State)
	}
	f.clock.Add(48 * time.Hour)
	if d, err := f.m.Check("a"); err != nil || d.State != entitlement.StateValid {
		t.Fatalf("Check after notBefore = %+v, %v", d, err)
	}
}

func TestImportAudit(t *testing.T) {
	ctx := context.Background()
	var events []entitlement.Event
	fail := false
	f := newFixture(t, func(c *entitlement.Config) {
		c.Audit = func(tx *sql.Tx, e entitlement.Event) error {
			if fail {
				return errors.New("audit refused")
			}
			events = append(events, e)
			return nil
		}
	})
	l := entitlementtest.Licence("lic-1", t0, "a")
	doc := f.vendor.Sign(t, l)
	if _, err := f.m.Import(ctx, doc, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Import(ctx, doc, "alice"); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Kind != entitlement.EventLicenceImport || !events[0].Stored || events[1].Stored ||
		events[0].Actor != "alice" || events[0].Licence.LicenceID != "lic-1" || len(events[0].Digest) != 64 {
		t.Fatalf("events: %+v", events)
	}
	// An audit failure rolls the import back.
	fail = true
	if _, err := f.m.Import(ctx, f.vendor.Sign(t, entitlementtest.Licence("lic-2", t0, "b")), "alice"); err == nil {
		t.Fatal("import succeeded although the audit hook failed")
	}
	wantCode(t, func() error { _, err := f.m.Check("b"); return err }(), entitlement.CodeTenant)
	if restarted := f.open(t); restarted != nil {
		wantCode(t, func() error { _, err := restarted.Check("b"); return err }(), entitlement.CodeTenant)
	}
	if _, err := f.m.Import(ctx, doc, ""); err == nil {
		t.Error("import without an actor succeeded")
	}
}
