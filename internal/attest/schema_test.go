package attest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

// TestMigrationV7KeepsEntries builds a version-1 database holding entries
// signed by a real service, migrates it and checks that every entry answers
// GET with the very bundle it was issued with, and that listings still find
// them by tenant and by subject digest.
func TestMigrationV7KeepsEntries(t *testing.T) {
	ctx := context.Background()
	key, logKey := mustKey(t), mustKey(t)
	src, dst := t.TempDir(), t.TempDir()

	f := newFixture(t, src, key, logKey)
	var uuids []string
	want := map[string][]byte{}
	for i := range 3 {
		is, err := f.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject(fmt.Sprint("m", i)), PredicateType: predicateType})
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, is.UUID)
		want[is.UUID] = is.Bundle
	}
	v1 := copyAsV1(t, f.db, filepath.Join(dst, "stellad.db"))
	f.close()
	if err := os.CopyFS(filepath.Join(dst, "log"), os.DirFS(filepath.Join(src, "log"))); err != nil {
		t.Fatal(err)
	}
	if v1 != 3 {
		t.Fatalf("copied %d entries into the version-1 database, want 3", v1)
	}

	f2 := newFixture(t, dst, key, logKey) // migrates to the newest version, reconciles
	for _, u := range uuids {
		e, err := f2.svc.Get(ctx, Call{}, u)
		if err != nil {
			t.Fatalf("Get(%s) after migration: %v", u, err)
		}
		if !bytes.Equal(e.Bundle, want[u]) {
			t.Errorf("bundle of %s changed across the migration", u)
		}
	}
	all, more, err := f2.svc.List(ctx, Call{}, ListQuery{Tenant: "default"})
	if err != nil || more || len(all) != 3 {
		t.Fatalf("List after migration: %d entries, more %v, %v; want 3", len(all), more, err)
	}
	d := all[1].Subjects[0]
	got, _, err := f2.svc.List(ctx, Call{}, ListQuery{SubjectDigest: d.Algorithm + ":" + d.Digest})
	if err != nil || len(got) != 1 || got[0].UUID != all[1].UUID {
		t.Errorf("List by subject after migration: %+v, %v; want %s", got, err, all[1].UUID)
	}
	if _, err := f2.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject("after"), PredicateType: predicateType}); err != nil {
		t.Fatalf("Sign after migration: %v", err)
	}
}

// copyAsV1 writes the rows of db (at the newest schema) into a new database
// at path that has only migration 1, in version 1's tables, and returns the
// number of entries copied.
func copyAsV1(t *testing.T, db *store.DB, path string) int {
	t.Helper()
	ctx := context.Background()
	old, err := store.Open(ctx, store.Config{Path: path, Migrations: storetest.Padded(Migrations()[0])})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	r := db.Read()
	n := 0
	err = old.Tx(ctx, func(tx *sql.Tx) error {
		copyRows := func(query, insert string, cols int) error {
			rows, err := r.QueryContext(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				vals := make([]any, cols)
				ptrs := make([]any, cols)
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
				for i, v := range vals {
					if b, ok := v.([]byte); ok && len(b) == 0 {
						vals[i] = []byte{} // an empty proof (tree of one) is a blob, not NULL
					}
				}
				if _, err := tx.ExecContext(ctx, insert, vals...); err != nil {
					return fmt.Errorf("%s: %w", insert, err)
				}
			}
			return rows.Err()
		}
		steps := []struct {
			q, ins string
			cols   int
		}{
			{`SELECT key_id, public_key, key_details, uri, first_seen FROM signing_keys`,
				`INSERT INTO signing_keys VALUES (?, ?, ?, ?, ?)`, 5},
			{`SELECT tree_size, note FROM checkpoints`, `INSERT INTO checkpoints VALUES (?, ?)`, 2},
			{`SELECT e.envelope_sha256, b.envelope FROM entries e JOIN entry_blobs b ON b.entry_id = e.id`,
				`INSERT OR IGNORE INTO envelopes (sha256, data) VALUES (?, ?)`, 2},
			{`SELECT e.uuid, e.state, e.log_index, e.min_index, e.tree_size, b.proof, e.envelope_sha256, e.sig_index, e.key_id,
				e.predicate_type, e.tenant, e.created_at FROM entries e JOIN entry_blobs b ON b.entry_id = e.id ORDER BY e.id`,
				`INSERT INTO entries (uuid, state, log_index, min_index, tree_size, proof, envelope_sha256, sig_index, key_id,
				predicate_type, tenant, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, 12},
			{`SELECT e.uuid, s.name, s.algorithm, s.digest FROM entry_subjects s JOIN entries e ON e.id = s.entry_id`,
				`INSERT INTO entry_subjects (uuid, name, algorithm, digest) VALUES (?, ?, ?, ?)`, 4},
		}
		for _, s := range steps {
			if err := copyRows(s.q, s.ins, s.cols); err != nil {
				return err
			}
		}
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM entries`).Scan(&n)
	})
	if err != nil {
		t.Fatalf("building the version-1 database: %v", err)
	}
	return n
}
