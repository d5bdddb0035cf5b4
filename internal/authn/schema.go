package authn

import "github.com/stellaops/stellad/internal/store"

// migrationVersion is authn's fixed slot in the shared schema.
const migrationVersion = 2

// Migrations returns authn's schema migrations (version 2): the dpop_jti
// table, the DPoP replay cache that survives restarts. A row's jti is the
// hex SHA-256 of the proof key's thumbprint and the proof's jti (so one
// client cannot burn another's jti), expires_at is in Unix seconds, and
// tenant is the tenant of the token the proof came with.
func Migrations() []store.Migration {
	return []store.Migration{{
		Version: migrationVersion,
		Name:    "authn: dpop_jti",
		SQL: `CREATE TABLE dpop_jti (
	jti        TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX dpop_jti_expires_at ON dpop_jti (expires_at);`,
	}}
}
