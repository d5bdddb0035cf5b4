package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Migration is one step of the schema. Versions start at 1 and have no gaps;
// once released, a migration's Version, Name and SQL never change.
type Migration struct {
	// Version orders the migrations; the database records the ones applied.
	Version int
	// Name is a short label recorded with the version, e.g. "attest: entries".
	// Open refuses a database that recorded another name for a version.
	Name string
	// SQL is run as is and may hold several statements separated by ';'. It
	// runs inside a transaction with foreign keys enforced, so a table rebuild
	// uses PRAGMA defer_foreign_keys = ON rather than foreign_keys = OFF.
	SQL string
}

// SchemaVersionError is returned by Open when the database was migrated by a
// newer stellad than this one.
type SchemaVersionError struct {
	Path    string // the database file
	Version int    // the highest migration recorded in the database
	Known   int    // the highest migration this program knows
}

// Error implements error.
func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database %s has schema version %d; this stellad knows up to %d", e.Path, e.Version, e.Known)
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
) STRICT`

// checkMigrations returns the migrations sorted by version, or an error when
// the versions are not exactly 1..N or a migration lacks a name or SQL.
func checkMigrations(in []Migration) ([]Migration, error) {
	migs := slices.Clone(in)
	slices.SortStableFunc(migs, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i, m := range migs {
		want := i + 1
		switch {
		case m.Version < 1:
			return nil, fmt.Errorf("store: migration list: version %d (%q) is not positive", m.Version, m.Name)
		case i > 0 && m.Version == migs[i-1].Version:
			return nil, fmt.Errorf("store: migration list: version %d appears twice (%q and %q)", m.Version, migs[i-1].Name, m.Name)
		case m.Version != want:
			return nil, fmt.Errorf("store: migration list: version %d is missing (next is %d, %q)", want, m.Version, m.Name)
		case m.Name == "":
			return nil, fmt.Errorf("store: migration list: version %d has no name", m.Version)
		case m.SQL == "":
			return nil, fmt.Errorf("store: migration list: version %d (%q) has no SQL", m.Version, m.Name)
		}
	}
	return migs, nil
}

// migrate applies every migration newer than the database's version, each in
// its own write transaction, after checking that the versions the database
// recorded are the ones this program knows.
func (db *DB) migrate(ctx context.Context, migs []Migration) error {
	if _, err := db.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return wrapErr("store: creating schema_migrations in "+db.path, err)
	}
	applied, err := db.appliedMigrations(ctx)
	if err != nil {
		return err
	}
	if len(applied) > len(migs) {
		return &SchemaVersionError{Path: db.path, Version: len(applied), Known: len(migs)}
	}
	for i, name := range applied {
		if name != migs[i].Name {
			return fmt.Errorf("store: database %s recorded migration %d as %q; this stellad calls it %q", db.path, i+1, name, migs[i].Name)
		}
	}
	for _, m := range migs[len(applied):] {
		if err := db.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// appliedMigrations returns the recorded names indexed by version-1, and an
// error unless the recorded versions are exactly 1..N.
func (db *DB) appliedMigrations(ctx context.Context) ([]string, error) {
	rows, err := db.w.QueryContext(ctx, "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, wrapErr("store: reading schema_migrations in "+db.path, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, wrapErr("store: reading schema_migrations in "+db.path, err)
		}
		if v != len(names)+1 {
			return nil, fmt.Errorf("store: database %s: schema_migrations records version %d after %d", db.path, v, len(names))
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("store: reading schema_migrations in "+db.path, err)
	}
	return names, nil
}

func (db *DB) apply(ctx context.Context, m Migration) error {
	start := time.Now()
	op := fmt.Sprintf("store: applying migration %d (%s) to %s", m.Version, m.Name, db.path)
	skipped := false
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		// Another process may have migrated since we looked.
		var have int
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
			return wrapErr(op, err)
		}
		if have >= m.Version {
			skipped = true
			return nil
		}
		if have != m.Version-1 {
			return fmt.Errorf("%s: database is at version %d", op, have)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return wrapErr(op, err)
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, db.now().UTC().Format(time.RFC3339Nano))
		return wrapErr(op, err)
	})
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return err
	}
	if !skipped {
		db.log.Info("applied migration", "version", m.Version, "name", m.Name, "took", time.Since(start))
	}
	return nil
}
