package policy

import "github.com/stellaops/stellad/internal/store"

// migrationVersion is the schema version the policy domain owns.
const migrationVersion = 6

// Migrations returns the policy domain's schema migrations (version 6):
//
//   - scanner_releases: one row per released scanner image digest and the
//     release key that signed it, with the signature's form, the manifest and
//     file that carried it, the layout it was imported from, when and by
//     whom. Releases belong to no tenant: they are trusted for every tenant.
//   - scanner_approvals: the manual approval queue, one row per (tenant,
//     digest) with its state (pending, approved, denied), when it was
//     requested, and who decided when and why.
func Migrations() []store.Migration {
	return []store.Migration{{
		Version: migrationVersion,
		Name:    "policy: scanner releases and approvals",
		SQL: `CREATE TABLE scanner_releases (
	digest             TEXT NOT NULL,
	key_id             TEXT NOT NULL,
	form               TEXT NOT NULL,
	signature_manifest TEXT NOT NULL,
	source             TEXT NOT NULL,
	predicate_type     TEXT NOT NULL,
	layout             TEXT NOT NULL,
	imported_at        TEXT NOT NULL,
	imported_by        TEXT NOT NULL,
	PRIMARY KEY (digest, key_id)
) STRICT;
CREATE TABLE scanner_approvals (
	id           INTEGER PRIMARY KEY,
	tenant       TEXT NOT NULL,
	digest       TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
	requested_at TEXT NOT NULL,
	decided_at   TEXT NOT NULL DEFAULT '',
	decided_by   TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	UNIQUE (tenant, digest)
) STRICT;
CREATE INDEX scanner_approvals_state ON scanner_approvals (tenant, state);`,
	}}
}
