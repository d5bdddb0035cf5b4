package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stellaops/stellad/kit/dsse"
)

func TestAnchorStatement(t *testing.T) {
	var h [32]byte
	for i := range h {
		h[i] = byte(i)
	}
	st, err := AnchorStatement(42, h, "log.example")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","predicate":{"origin":"log.example","seq":42},` +
		`"predicateType":"https://stellaops.dev/attestations/audit-head/v1",` +
		`"subject":[{"digest":{"sha256":"` + hex.EncodeToString(h[:]) + `"},"name":"stellad-audit-chain"}]}`
	if string(st) != want {
		t.Fatalf("AnchorStatement =\n%s\nwant\n%s", st, want)
	}
	parsed, err := dsse.ParseStatement(st)
	if err != nil || !parsed.HasSubjectDigest("sha256", hex.EncodeToString(h[:])) {
		t.Fatalf("dsse.ParseStatement: %v", err)
	}
	seq, gotH, origin, err := ParseAnchorStatement(st)
	if err != nil || seq != 42 || gotH != h || origin != "log.example" {
		t.Fatalf("ParseAnchorStatement = %d %x %q %v", seq, gotH, origin, err)
	}
	for _, bad := range []struct {
		seq    uint64
		origin string
	}{{0, "o"}, {MaxSeq + 1, "o"}, {1, ""}} {
		if _, err := AnchorStatement(bad.seq, h, bad.origin); err == nil {
			t.Errorf("AnchorStatement(%d, %q) succeeded", bad.seq, bad.origin)
		}
	}
	for _, bad := range []string{
		strings.Replace(want, "audit-head/v1", "audit-head/v2", 1),
		strings.Replace(want, `"seq":42`, `"seq":0`, 1),
		strings.Replace(want, `"seq":42`, `"seq":42,"extra":1`, 1),
		strings.Replace(want, `"origin":"log.example",`, ``, 1),
		strings.Replace(want, `stellad-audit-chain`, `other`, 1),
		strings.Replace(want, `"sha256"`, `"sha512"`, 1),
	} {
		if _, _, _, err := ParseAnchorStatement([]byte(bad)); err == nil {
			t.Errorf("ParseAnchorStatement accepted %s", bad)
		}
	}
}

// TestAnchorFlow: the head's statement, once "logged", is recorded and an
// export verifies against the anchors read back from the statements.
func TestAnchorFlow(t *testing.T) {
	db, tr, _ := openTrail(t)
	ctx := context.Background()
	var anchors []Anchor
	for round := range 3 {
		appendN(t, db, tr, "a", 4)
		seq, h, err := tr.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := AnchorStatement(seq, h, "log.example")
		if err != nil {
			t.Fatal(err)
		}
		logIndex := uint64(1000 + round) // where the lead's log put it
		if err := db.Commit(ctx, func(tx *sql.Tx) error { return tr.RecordAnchor(tx, seq, h, logIndex, "u") }); err != nil {
			t.Fatal(err)
		}
		pseq, ph, _, err := ParseAnchorStatement(st)
		if err != nil {
			t.Fatal(err)
		}
		anchors = append(anchors, Anchor{Seq: pseq, Hash: ph, LogIndex: logIndex})
	}
	if res := mustVerify(t, tr); res.Anchors != 3 {
		t.Fatalf("Verify checked %d anchors", res.Anchors)
	}
	var buf bytes.Buffer
	if err := tr.Export(ctx, &buf, Query{AllTenants: true}); err != nil {
		t.Fatal(err)
	}
	res, err := VerifyExport(&buf, anchors...)
	if err != nil || !res.OK() || res.Anchors != 3 {
		t.Fatalf("VerifyExport = %+v, %v", res, err)
	}
}
