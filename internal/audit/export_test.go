package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func export(t *testing.T, tr *Trail, q Query) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tr.Export(context.Background(), &buf, q); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExportRoundTrip: an export of the whole chain parses back into the rows
// List returns, re-encodes to the same bytes and verifies offline, anchors
// included.
func TestExportRoundTrip(t *testing.T) {
	db, tr, _ := openTrail(t)
	ctx := context.Background()
	for i := range exportPage + 50 { // more than one export page
		tenant := []string{"a", "b"}[i%2]
		appendOne(t, db, tr, rec(tenant, i))
	}
	h := &harness{db: db, tr: tr}
	h.anchor(t, 500)
	h.anchor(t, exportPage+50)
	data := export(t, tr, Query{AllTenants: true})
	rows, err := ParseExport(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var listed []Row
	q := Query{AllTenants: true, Limit: MaxLimit}
	for {
		page, next, err := tr.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, page...)
		if q.After = next; next == 0 {
			break
		}
	}
	if len(rows) != len(listed) {
		t.Fatalf("export has %d rows, List %d", len(rows), len(listed))
	}
	var again []byte
	for i := range rows {
		if rows[i].Hash != listed[i].Hash || !equalRecord(rows[i].Record, listed[i].Record) {
			t.Fatalf("row %d differs: %+v vs %+v", i, rows[i], listed[i])
		}
		again = append(append(again, rows[i].MarshalCanonical()...), '\n')
	}
	if !bytes.Equal(again, data) {
		t.Fatal("re-encoded export differs")
	}

	a1, _, _ := tr.LastAnchor(ctx)
	res, err := VerifyExport(bytes.NewReader(data), a1, Anchor{Seq: 500, Hash: rows[499].Hash, LogIndex: 600})
	if err != nil || !res.OK() || res.Rows != uint64(len(rows)) || res.Anchors != 2 || res.FirstSeq != 1 {
		t.Fatalf("VerifyExport = %+v, %v", res, err)
	}
	res, err = VerifyExport(bytes.NewReader(data), Anchor{Seq: 500, Hash: [32]byte{1}, LogIndex: 600})
	if err != nil || res.OK() || res.Failure.Problem != ProblemAnchorMismatch || res.Failure.Seq != 500 {
		t.Fatalf("VerifyExport with a wrong anchor = %+v, %v", res.Failure, err)
	}

	// A tenant's export: only its rows; they parse but have gaps.
	ta := export(t, tr, Query{Tenant: "a"})
	rowsA, err := ParseExport(bytes.NewReader(ta))
	if err != nil || len(rowsA) != (exportPage+50)/2 {
		t.Fatalf("tenant export: %d rows, %v", len(rowsA), err)
	}
	for _, r := range rowsA {
		if r.Tenant != "a" {
			t.Fatalf("tenant a's export holds row %d of %q", r.Seq, r.Tenant)
		}
	}
	if res, _ := VerifyExport(bytes.NewReader(ta)); res.OK() || res.Failure.Problem != ProblemSeqGap {
		t.Fatalf("VerifyExport of a filtered export = %+v", res)
	}
	if err := tr.Export(ctx, &bytes.Buffer{}, Query{}); err == nil {
		t.Fatal("Export without tenant succeeded")
	}
}

// TestExportFromMiddle: an export that starts after seq 1 verifies from its
// first row's prev.
func TestExportFromMiddle(t *testing.T) {
	db, tr, _ := openTrail(t)
	appendN(t, db, tr, "a", 20)
	data := export(t, tr, Query{AllTenants: true, After: 12})
	res, err := VerifyExport(bytes.NewReader(data))
	if err != nil || !res.OK() || res.FirstSeq != 13 || res.Rows != 8 || res.HeadSeq != 20 {
		t.Fatalf("VerifyExport = %+v, %v", res, err)
	}
}

// TestVerifyExportDetectsTampering edits an exported file.
func TestVerifyExportDetectsTampering(t *testing.T) {
	db, tr, _ := openTrail(t)
	appendN(t, db, tr, "a", 6)
	data := export(t, tr, Query{AllTenants: true})
	lines := strings.SplitAfter(string(data), "\n")
	lines = lines[:len(lines)-1]
	join := func(ls ...string) string { return strings.Join(ls, "") }
	edited := strings.Replace(lines[2], `"reason":"quota_daily"`, `"reason":"ok"`, 1)
	if edited == lines[2] {
		t.Fatal("test row 3 is not a denial")
	}
	tests := []struct {
		name    string
		file    string
		want    Problem
		wantSeq uint64
	}{
		{"row edited", join(lines[0], lines[1], edited, join(lines[3:]...)), ProblemHashMismatch, 3},
		{"row deleted", join(lines[0], lines[1], join(lines[3:]...)), ProblemSeqGap, 3},
		{"rows swapped", join(lines[0], lines[2], lines[1], join(lines[3:]...)), ProblemSeqGap, 2},
		{"row duplicated", join(lines[0], lines[1], lines[1], join(lines[2:]...)), ProblemUnreadable, 2},
		{"white space added", join(lines[0], strings.Replace(lines[1], `,"`, `, "`, 1), join(lines[2:]...)), ProblemUnreadable, 2},
		{"member added", join(lines[0], strings.Replace(lines[1], `{`, `{"x":1,`, 1), join(lines[2:]...)), ProblemUnreadable, 2},
		{"empty line", join(lines[0], "\n", join(lines[1:]...)), ProblemUnreadable, 2},
		{"final newline missing", strings.TrimSuffix(string(data), "\n"), ProblemUnreadable, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := VerifyExport(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() || res.Failure.Problem != tt.want || res.Failure.Seq != tt.wantSeq {
				t.Fatalf("VerifyExport: %v; want %s at %d", res.Err(), tt.want, tt.wantSeq)
			}
			if tt.want != ProblemSeqGap {
				if _, err := ParseExport(strings.NewReader(tt.file)); err == nil {
					t.Fatal("ParseExport accepted it")
				}
			}
		})
	}
}
