package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

var testMigrations = []Migration{
	{Version: 1, Name: "items", SQL: `CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`},
	{Version: 2, Name: "tags", SQL: `
		CREATE TABLE tags (item INTEGER NOT NULL REFERENCES items(id), tag TEXT NOT NULL) STRICT;
		CREATE INDEX tags_by_tag ON tags(tag);`},
}

func openTest(t testing.TB, path string, migs []Migration) *DB {
	t.Helper()
	db, err := Open(context.Background(), Config{Path: path, Migrations: migs, Now: fixedNow})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t testing.TB, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "stellad.db")
	db := openTest(t, path, testMigrations)
	if err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO items (v) VALUES ('x')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{dir, os.ModeDir | 0o700},
		{filepath.Dir(dir), os.ModeDir | 0o700},
		{path, 0o600},
		{path + "-wal", 0o600},
		{path + "-shm", 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.want {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.want)
		}
	}
}

func TestOpenSettings(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	ctx := context.Background()
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		for _, c := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"synchronous", "2"}, // FULL
			{"foreign_keys", "1"},
			{"wal_autocheckpoint", "0"}, // checkpoints run in the background
		} {
			var got string
			if err := tx.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
				return err
			}
			if got != c.want {
				t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
			}
		}
		// Foreign keys are enforced.
		_, err := tx.Exec(`INSERT INTO tags (item, tag) VALUES (42, 'orphan')`)
		if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("orphan tag: err = %v, want a FOREIGN KEY error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Read().Exec(`INSERT INTO items (v) VALUES ('x')`); err == nil {
		t.Error("write through Read() succeeded, want it refused")
	}
}

func TestCheckMigrations(t *testing.T) {
	m := func(v int, name string) Migration { return Migration{Version: v, Name: name, SQL: "SELECT 1"} }
	tests := []struct {
		name    string
		in      []Migration
		want    []int
		wantErr string
	}{
		{name: "empty", in: nil, want: nil},
		{name: "sorted", in: []Migration{m(1, "a"), m(2, "b")}, want: []int{1, 2}},
		{name: "unsorted", in: []Migration{m(3, "c"), m(1, "a"), m(2, "b")}, want: []int{1, 2, 3}},
		{name: "gap", in: []Migration{m(1, "a"), m(3, "c")}, wantErr: "version 2 is missing"},
		{name: "not from one", in: []Migration{m(2, "b")}, wantErr: "version 1 is missing"},
		{name: "duplicate", in: []Migration{m(1, "a"), m(2, "b"), m(2, "b2")}, wantErr: `version 2 appears twice ("b" and "b2")`},
		{name: "zero", in: []Migration{m(0, "z"), m(1, "a")}, wantErr: "version 0"},
		{name: "no name", in: []Migration{m(1, "")}, wantErr: "has no name"},
		{name: "no SQL", in: []Migration{{Version: 1, Name: "a"}}, wantErr: "has no SQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkMigrations(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var versions []int
			for _, m := range got {
				versions = append(versions, m.Version)
			}
			if len(versions) != len(tt.want) {
				t.Fatalf("versions %v, want %v", versions, tt.want)
			}
			for i := range versions {
				if versions[i] != tt.want[i] {
					t.Fatalf("versions %v, want %v", versions, tt.want)
				}
			}
		})
	}
	// Open refuses a bad list before touching the disk.
	path := filepath.Join(t.TempDir(), "db")
	if _, err := Open(context.Background(), Config{Path: path, Migrations: []Migration{m(2, "b")}}); err == nil {
		t.Fatal("Open with a gap succeeded")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open with a bad list created %s (stat err %v)", path, err)
	}
}

func TestMigrationsAppliedOnceAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	ctx := context.Background()
	third := Migration{Version: 3, Name: "items.note", SQL: `ALTER TABLE items ADD COLUMN note TEXT`}
	steps := []struct {
		migs      []Migration
		wantRows  int
		wantItems int
	}{
		{testMigrations[:1], 1, 0},
		{testMigrations, 2, 1},
		{testMigrations, 2, 2}, // nothing new: the non-idempotent SQL is not rerun
		{append(testMigrations[:2:2], third), 3, 3},
		{append(testMigrations[:2:2], third), 3, 4},
	}
	for i, s := range steps {
		db, err := Open(ctx, Config{Path: path, Migrations: s.migs, Now: fixedNow})
		if err != nil {
			t.Fatalf("step %d: Open: %v", i, err)
		}
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO items (v) VALUES ('x')`)
			return err
		}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); got != s.wantRows {
			t.Errorf("step %d: %d migrations recorded, want %d", i, got, s.wantRows)
		}
		if got := count(t, db, `SELECT COUNT(*) FROM items`); got != s.wantItems+1 {
			t.Errorf("step %d: %d items, want %d (data lost?)", i, got, s.wantItems+1)
		}
		var at string
		if err := db.Read().QueryRow(`SELECT applied_at FROM schema_migrations WHERE version = 1`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		if at != "2026-01-02T03:04:05Z" {
			t.Errorf("applied_at = %q, want the injected clock", at)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	ctx := context.Background()
	db := openTest(t, path, testMigrations)
	db.Close()

	_, err := Open(ctx, Config{Path: path, Migrations: testMigrations[:1]})
	var sve *SchemaVersionError
	if !errors.As(err, &sve) {
		t.Fatalf("err = %v, want a *SchemaVersionError", err)
	}
	abs, _ := filepath.Abs(path)
	want := "database " + abs + " has schema version 2; this stellad knows up to 1"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	if _, err := Open(ctx, Config{Path: path}); !errors.As(err, &sve) || sve.Known != 0 {
		t.Errorf("no migrations: err = %v, want a *SchemaVersionError knowing 0", err)
	}
}

func TestOpenRefusesRenamedMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	openTest(t, path, testMigrations).Close()
	migs := []Migration{testMigrations[0], {Version: 2, Name: "labels", SQL: testMigrations[1].SQL}}
	_, err := Open(context.Background(), Config{Path: path, Migrations: migs})
	if err == nil || !strings.Contains(err.Error(), `recorded migration 2 as "tags"; this stellad calls it "labels"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	bad := []Migration{testMigrations[0], {Version: 2, Name: "bad", SQL: `
		CREATE TABLE half (x INTEGER) STRICT;
		INSERT INTO no_such_table VALUES (1);`}}
	_, err := Open(context.Background(), Config{Path: path, Migrations: bad})
	if err == nil || !strings.Contains(err.Error(), `applying migration 2 (bad)`) {
		t.Fatalf("err = %v, want it to name migration 2", err)
	}
	db := openTest(t, path, testMigrations[:1])
	if got := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); got != 1 {
		t.Errorf("%d migrations recorded, want 1", got)
	}
	if got := count(t, db, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half'`); got != 0 {
		t.Error("table from the failed migration's first statement exists")
	}
}

func TestTx(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	ctx := context.Background()
	errBoom := errors.New("boom")
	insert := func(v string, ret error) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO items (v) VALUES (?)`, v); err != nil {
				return err
			}
			return ret
		}
	}
	tests := []struct {
		name      string
		fn        func(*sql.Tx) error
		wantErr   error
		wantPanic bool
		wantRow   bool
	}{
		{name: "commit", fn: insert("ok", nil), wantRow: true},
		{name: "error rolls back", fn: insert("err", errBoom), wantErr: errBoom},
		{name: "panic rolls back", fn: func(tx *sql.Tx) error { insert("panic", nil)(tx); panic("p") }, wantPanic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				err = db.Tx(ctx, tt.fn)
				return false
			}()
			if panicked != tt.wantPanic {
				t.Fatalf("panicked = %v, want %v", panicked, tt.wantPanic)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items`); got != 1 {
		t.Errorf("%d rows, want only the committed one", got)
	}
	// The writer is usable after a panic.
	if err := db.Tx(ctx, insert("after", nil)); err != nil {
		t.Fatal(err)
	}
}

func TestBusyIsTranslated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(context.Background(), Config{Path: path, Migrations: testMigrations, BusyTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Another "process" holds the write lock.
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	err = db.Tx(context.Background(), func(*sql.Tx) error { return nil })
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "beginning write transaction") {
		t.Errorf("Tx: err = %v, want ErrBusy naming the step", err)
	}
	err = db.Commit(context.Background(), func(*sql.Tx) error { return nil })
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "group commit") {
		t.Errorf("Commit: err = %v, want ErrBusy naming the step", err)
	}
}

// TestBackgroundCheckpoint writes well past SQLite's automatic checkpoint
// threshold (1000 pages) and checks that the writer did not checkpoint (the
// WAL grew past it) and that the background checkpointer did, within a
// bounded wait.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := openTest(t, path, testMigrations)
	ctx := context.Background()
	big := strings.Repeat("x", 3000)
	for i := 0; i < 2000; i++ {
		if err := db.Commit(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO items (v) VALUES (?)`, big)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() < 1000*4096 {
		t.Fatalf("WAL file: %v, %v: the writer still checkpoints by itself", fi, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for db.ck.copied.Load() < 1000 {
		if time.Now().After(deadline) {
			t.Fatalf("the background checkpointer copied %d frames in 20 s", db.ck.copied.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
