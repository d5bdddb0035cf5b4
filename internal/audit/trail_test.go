package audit

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

func TestAppendChainsRows(t *testing.T) {
	db, tr, _ := openTrail(t)
	ctx := context.Background()
	if seq, h, err := tr.Head(ctx); err != nil || seq != 0 || h != ([32]byte{}) {
		t.Fatalf("Head of an empty trail = %d, %x, %v", seq, h, err)
	}
	if res := mustVerify(t, tr); res.Rows != 0 {
		t.Fatalf("empty trail: %+v", res)
	}
	appendN(t, db, tr, "a", 10)
	rows, next, err := tr.List(ctx, Query{AllTenants: true})
	if err != nil || next != 0 || len(rows) != 10 {
		t.Fatalf("List = %d rows, next %d, %v", len(rows), next, err)
	}
	var prev [32]byte
	for i, r := range rows {
		if r.Seq != uint64(i+1) || r.Prev != prev || r.ComputeHash() != r.Hash {
			t.Fatalf("row %d: seq %d, prev %x (want %x)", i, r.Seq, r.Prev, prev)
		}
		want := rec("a", i)
		want.Time = r.Time
		if !equalRecord(r.Record, want) {
			t.Fatalf("row %d = %+v, want %+v", i, r.Record, want)
		}
		prev = r.Hash
	}
	seq, h, err := tr.Head(ctx)
	if err != nil || seq != 10 || h != prev {
		t.Fatalf("Head = %d %x %v", seq, h, err)
	}
	res := mustVerify(t, tr)
	if res.Rows != 10 || res.HeadSeq != 10 || res.HeadHash != prev {
		t.Fatalf("Verify = %+v", res)
	}
}

func equalRecord(a, b Record) bool {
	if (a.LogIndex == nil) != (b.LogIndex == nil) || a.LogIndex != nil && *a.LogIndex != *b.LogIndex {
		return false
	}
	a.LogIndex, b.LogIndex = nil, nil
	if !slices.Equal(a.SubjectDigests, b.SubjectDigests) || !a.Time.Equal(b.Time) {
		return false
	}
	a.SubjectDigests, b.SubjectDigests = nil, nil
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// TestGroupCommitConcurrent: many goroutines append through store.DB.Commit,
// some of whose functions fail after appending (their savepoint is rolled
// back); seq stays gapless and the chain valid.
func TestGroupCommitConcurrent(t *testing.T) {
	db, tr, _ := openTrail(t)
	ctx := context.Background()
	const goroutines, each = 32, 25
	errRefused := errors.New("refused after audit")
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				fail := (g+i)%7 == 0
				err := db.Commit(ctx, func(tx *sql.Tx) error {
					if err := tr.Append(tx, rec("t", g*each+i)); err != nil {
						return err
					}
					if fail {
						return errRefused
					}
					return nil
				})
				switch {
				case fail && errors.Is(err, errRefused):
				case !fail && err == nil:
					mu.Lock()
					committed++
					mu.Unlock()
				default:
					t.Errorf("Commit: %v (fail %v)", err, fail)
				}
			}
		})
	}
	wg.Wait()
	res := mustVerify(t, tr)
	if res.Rows != uint64(committed) || res.HeadSeq != uint64(committed) {
		t.Fatalf("Verify = %+v, want %d rows", res, committed)
	}
	var n, max int64
	if err := db.Read().QueryRow(`SELECT count(*), max(seq) FROM audit_log`).Scan(&n, &max); err != nil || n != max || n != int64(committed) {
		t.Fatalf("count %d, max seq %d, committed %d, %v", n, max, committed, err)
	}
}

func TestAppendRejects(t *testing.T) {
	db, tr, _ := openTrail(t)
	big := uint64(MaxSeq + 1)
	tests := []struct {
		name string
		edit func(*Record)
	}{
		{"bad decision", func(r *Record) { r.Decision = "maybe" }},
		{"empty decision", func(r *Record) { r.Decision = "" }},
		{"empty action", func(r *Record) { r.Action = "" }},
		{"log index too big", func(r *Record) { r.LogIndex = &big }},
		{"time before 1970", func(r *Record) { r.Time = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rec("a", 0)
			tt.edit(&r)
			err := db.Tx(context.Background(), func(tx *sql.Tx) error { return tr.Append(tx, r) })
			if err == nil {
				t.Fatal("Append succeeded")
			}
		})
	}
	if seq, _, _ := tr.Head(context.Background()); seq != 0 {
		t.Fatalf("rows were written: head %d", seq)
	}
}

func TestAppendNormalizes(t *testing.T) {
	db, tr, c := openTrail(t)
	ctx := context.Background()
	r := rec("a", 1)
	r.Time = time.Time{} // taken from the clock
	r.Principal = "bad\xffutf8 \u2028 \"quoted\" \x01"
	r.Reason = strings.Repeat("é", MaxFieldLen) // 2 bytes each: cut at a rune boundary
	r.SubjectDigests = make([]string, MaxSubjectDigests+5)
	for i := range r.SubjectDigests {
		r.SubjectDigests[i] = strings.Repeat("d", MaxDigestLen+1)
	}
	before := c.Now()
	if err := db.Tx(ctx, func(tx *sql.Tx) error { return tr.Append(tx, r) }); err != nil {
		t.Fatal(err)
	}
	rows, _, err := tr.List(ctx, Query{Tenant: "a"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("List: %d rows, %v", len(rows), err)
	}
	got := rows[0]
	if got.Principal != "bad\uFFFDutf8 \u2028 \"quoted\" \x01" {
		t.Errorf("principal = %q", got.Principal)
	}
	if len(got.Reason) != MaxFieldLen || !strings.HasSuffix(got.Reason, "é") {
		t.Errorf("reason cut to %d bytes", len(got.Reason))
	}
	if len(got.SubjectDigests) != MaxSubjectDigests || len(got.SubjectDigests[0]) != MaxDigestLen {
		t.Errorf("digests: %d of %d bytes", len(got.SubjectDigests), len(got.SubjectDigests[0]))
	}
	if !got.Time.After(before) || got.Time.Location() != time.UTC {
		t.Errorf("time = %v, want after %v in UTC", got.Time, before)
	}
	mustVerify(t, tr)
}

// TestRestartContinuesChain: a new Trail on a reopened database continues the
// chain where the old one left it.
func TestRestartContinuesChain(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stellad.db")
	open := func() *store.DB {
		db, err := store.Open(ctx, store.Config{Path: path, Migrations: storetest.Padded(Migrations()...)})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	c := newClock()
	db := open()
	appendN(t, db, newTrail(t, db, c), "a", 5)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	defer db.Close()
	tr := newTrail(t, db, c)
	appendN(t, db, tr, "a", 5)
	if res := mustVerify(t, tr); res.Rows != 10 {
		t.Fatalf("Verify = %+v", res)
	}
}

func TestRecordAnchor(t *testing.T) {
	db, tr, _ := openTrail(t)
	ctx := context.Background()
	if _, ok, err := tr.LastAnchor(ctx); ok || err != nil {
		t.Fatalf("LastAnchor of none = %v, %v", ok, err)
	}
	appendN(t, db, tr, "a", 4)
	seq, h, _ := tr.Head(ctx)
	anchor := func(seq uint64, h [32]byte, idx uint64) error {
		return db.Tx(ctx, func(tx *sql.Tx) error { return tr.RecordAnchor(tx, seq, h, idx, "uuid") })
	}
	if err := anchor(seq, [32]byte{1}, 7); !errors.Is(err, ErrAnchorMismatch) {
		t.Fatalf("wrong hash: %v", err)
	}
	if err := anchor(seq+1, h, 7); !errors.Is(err, ErrAnchorMismatch) {
		t.Fatalf("missing row: %v", err)
	}
	if err := anchor(seq, h, 7); err != nil {
		t.Fatal(err)
	}
	if err := anchor(seq, h, 7); err == nil {
		t.Fatal("the same log index recorded twice")
	}
	if err := anchor(seq, h, 9); err != nil { // logged again: allowed
		t.Fatal(err)
	}
	a, ok, err := tr.LastAnchor(ctx)
	if err != nil || !ok || a.Seq != seq || a.Hash != h || a.LogIndex != 9 || a.UUID != "uuid" {
		t.Fatalf("LastAnchor = %+v, %v, %v", a, ok, err)
	}
	if res := mustVerify(t, tr); res.Anchors != 2 {
		t.Fatalf("Verify checked %d anchors, want 2", res.Anchors)
	}
}

func TestNewWithoutMigrations(t *testing.T) {
	db := storetest.Open(t)
	if _, err := New(context.Background(), Config{DB: db}); err == nil {
		t.Fatal("New succeeded without the audit tables")
	}
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Fatal("New succeeded without a DB")
	}
}

// TestAppendStaleHint: the head the Trail remembers from its last Append goes
// stale whenever that row does not survive or another writer appends; the
// next Append must still chain to the table's real last row.
func TestAppendStaleHint(t *testing.T) {
	errAbort := errors.New("abort after audit")
	tests := []struct {
		name string
		// between runs after two committed rows; it returns how many rows it
		// committed.
		between func(t *testing.T, db *store.DB, tr, other *Trail) int
	}{
		{"savepoint rolled back", func(t *testing.T, db *store.DB, tr, _ *Trail) int {
			err := db.Commit(context.Background(), func(tx *sql.Tx) error {
				if err := tr.Append(tx, rec("a", 100)); err != nil {
					return err
				}
				return errAbort
			})
			if !errors.Is(err, errAbort) {
				t.Fatalf("Commit = %v", err)
			}
			return 0
		}},
		{"transaction rolled back", func(t *testing.T, db *store.DB, tr, _ *Trail) int {
			err := db.Tx(context.Background(), func(tx *sql.Tx) error {
				for i := range 3 {
					if err := tr.Append(tx, rec("a", 100+i)); err != nil {
						return err
					}
				}
				return errAbort
			})
			if !errors.Is(err, errAbort) {
				t.Fatalf("Tx = %v", err)
			}
			return 0
		}},
		{"another writer appended", func(t *testing.T, db *store.DB, _, other *Trail) int {
			appendN(t, db, other, "b", 2)
			return 2
		}},
		{"rolled back, then the same seq written by another writer", func(t *testing.T, db *store.DB, tr, other *Trail) int {
			_ = db.Tx(context.Background(), func(tx *sql.Tx) error {
				if err := tr.Append(tx, rec("a", 100)); err != nil {
					t.Fatal(err)
				}
				return errAbort
			})
			appendN(t, db, other, "b", 1)
			return 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, tr, c := openTrail(t)
			other := newTrail(t, db, c)
			appendN(t, db, tr, "a", 2)
			n := 2 + tt.between(t, db, tr, other)
			appendN(t, db, tr, "a", 2)
			n += 2
			res := mustVerify(t, tr)
			if res.Rows != uint64(n) || res.HeadSeq != uint64(n) {
				t.Fatalf("Verify = %+v, want %d rows", res, n)
			}
			var count, max int64
			if err := db.Read().QueryRow(`SELECT count(*), max(seq) FROM audit_log`).Scan(&count, &max); err != nil || count != int64(n) || max != int64(n) {
				t.Fatalf("count %d, max seq %d, want %d (%v)", count, max, n, err)
			}
		})
	}
}
