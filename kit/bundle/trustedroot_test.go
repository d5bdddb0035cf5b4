package bundle

import (
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

func TestNewTrustedRoot(t *testing.T) {
	f := fixture(t)
	end := time.Date(2026, 6, 1, 0, 0, 0, 500_000_000, time.UTC)
	rotated := TransparencyLog{BaseURL: "https://log.example/", PublicKey: testEd25519("old log").Public(), Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), End: &end}
	out, err := NewTrustedRoot(f.tlogRaw, rotated)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "trusted_root.golden", out)
	if !strings.Contains(string(out), `"start":"2024-12-31T23:00:00Z","end":"2026-06-01T00:00:00.500Z"`) {
		t.Fatalf("timestamps not in protobuf JSON form: %s", out)
	}
	tr, err := root.NewTrustedRootFromJSON(out)
	if err != nil {
		t.Fatalf("sigstore-go refuses the trusted root: %v", err)
	}
	logs := tr.RekorLogs()
	if len(logs) != 2 {
		t.Fatalf("sigstore-go sees %d logs", len(logs))
	}
	for _, l := range logs {
		if l.BaseURL == "https://log.example/" && !l.ValidityPeriodEnd.Equal(end) {
			t.Fatalf("end = %v", l.ValidityPeriodEnd)
		}
	}
	bad := []TransparencyLog{
		{BaseURL: "localhost:8080", PublicKey: f.logKey.Public(), Start: f.tlogRaw.Start},
		{BaseURL: "http://localhost", PublicKey: f.logKey.Public()},
		{BaseURL: "http://localhost", PublicKey: testP256(t, "x").Public(), Start: end, End: &f.tlogRaw.Start},
		{BaseURL: "http://localhost", PublicKey: "not a key", Start: end},
	}
	for i, l := range bad {
		if _, err := NewTrustedRoot(l); err == nil {
			t.Errorf("bad log %d accepted", i)
		}
	}
	if _, err := NewTrustedRoot(); err == nil {
		t.Error("empty trusted root accepted")
	}
}
