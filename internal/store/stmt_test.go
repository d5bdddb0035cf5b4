package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// TestStmtQueryRowReturning runs a prepared RETURNING statement inside group
// commits: the row comes back when the statement writes, and sql.ErrNoRows
// when an upsert's WHERE leaves the row alone.
func TestStmtQueryRowReturning(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "s.db"), testMigrations)
	ins, err := db.Prepare(ctx, `INSERT INTO items (id, v) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET v = excluded.v WHERE items.v = 'old' RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		id      int64
		v       string
		wantErr error
	}{
		{name: "insert", id: 7, v: "old"},
		{name: "update allowed", id: 7, v: "new"},
		{name: "update refused", id: 7, v: "newer", wantErr: sql.ErrNoRows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got int64
			err := db.Commit(ctx, func(tx *sql.Tx) error { return ins.QueryRow(tx, tt.id, tt.v).Scan(&got) })
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("QueryRow: %v, want %v", err, tt.wantErr)
			}
			if err == nil && got != tt.id {
				t.Errorf("returned id %d, want %d", got, tt.id)
			}
		})
	}
	if n := count(t, db, `SELECT count(*) FROM items WHERE v = 'new'`); n != 1 {
		t.Errorf("%d rows hold the allowed update, want 1", n)
	}
}
