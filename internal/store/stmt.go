package store

import (
	"context"
	"database/sql"
)

// Stmt is a write statement prepared once on the writer connection. Inside a
// transaction on that connection (a Tx or Commit function) Exec reuses it
// without parsing the SQL again; with modernc.org/sqlite the parser is a
// measurable share of a small statement's cost (see BenchmarkCommit).
type Stmt struct {
	s *sql.Stmt
}

// Prepare prepares query on the writer connection. Call it at start-up, never
// from inside a Tx or Commit function: the writer connection is then busy and
// Prepare would wait for it forever. Statements live until the DB is closed.
func (db *DB) Prepare(ctx context.Context, query string) (*Stmt, error) {
	s, err := db.w.PrepareContext(ctx, query)
	if err != nil {
		return nil, wrapErr("store: preparing statement", err)
	}
	return &Stmt{s: s}, nil
}

// Exec runs the statement with args inside tx, a transaction of this DB.
func (s *Stmt) Exec(tx *sql.Tx, args ...any) (sql.Result, error) {
	return tx.Stmt(s.s).Exec(args...)
}

// QueryRow runs the statement (typically one with a RETURNING clause) with
// args inside tx, a transaction of this DB, and returns its first row.
func (s *Stmt) QueryRow(tx *sql.Tx, args ...any) *sql.Row {
	return tx.Stmt(s.s).QueryRow(args...)
}
