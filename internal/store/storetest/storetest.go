// Package storetest opens real SQLite databases for the tests of the domain
// packages, each of which owns a few migrations of the shared schema.
package storetest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stellaops/stellad/internal/store"
)

// Open opens a fresh database in t.TempDir() with the given migrations and
// closes it when the test ends. Versions missing below the highest one given
// are filled with empty placeholder migrations, so that a domain can test its
// own migrations without the other domains' (the daemon always runs them all).
func Open(t testing.TB, migs ...store.Migration) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{
		Path:       filepath.Join(t.TempDir(), "stellad.db"),
		Migrations: Padded(migs...),
	})
	if err != nil {
		t.Fatalf("storetest: opening database: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storetest: closing database: %v", err)
		}
	})
	return db
}

// Padded returns migs plus a placeholder for every version from 1 to the
// highest in migs that migs lacks.
func Padded(migs ...store.Migration) []store.Migration {
	out := slices.Clone(migs)
	top := 0
	have := map[int]bool{}
	for _, m := range migs {
		have[m.Version] = true
		top = max(top, m.Version)
	}
	for v := 1; v <= top; v++ {
		if !have[v] {
			out = append(out, store.Migration{Version: v, Name: fmt.Sprintf("storetest placeholder %d", v), SQL: "SELECT 1"})
		}
	}
	return out
}
