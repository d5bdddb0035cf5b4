package offline

import "github.com/stellaops/stellad/internal/store"

// MigrationVersion is the first shared-schema version this package owns;
// TrustMigrationVersion is its second (9 and 10 belong to attest).
const (
	MigrationVersion      = 8
	TrustMigrationVersion = 11
)

// Migrations returns this package's schema migrations (versions 8 and 11).
// The daemon passes them to store.Open with the other domains'; never edit a
// released migration, add a new one.
func Migrations() []store.Migration {
	return []store.Migration{{
		Version: MigrationVersion,
		Name:    "offline: kit imports, trust state, mirrored checkpoints",
		SQL: `
-- Every accepted kit: who issued it, its sequence, the signed manifest.
CREATE TABLE kit_imports (
	id              INTEGER PRIMARY KEY,
	source          TEXT NOT NULL,
	sequence        INTEGER NOT NULL,
	kind            TEXT NOT NULL,
	manifest_sha256 TEXT NOT NULL,         -- lower-case hex SHA-256 of manifest.json
	manifest        BLOB NOT NULL,         -- manifest.json verbatim
	envelope        BLOB NOT NULL,         -- manifest.dsse.json verbatim
	actor           TEXT NOT NULL,
	imported_at     TEXT NOT NULL,         -- RFC 3339 UTC
	UNIQUE (source, sequence)
) STRICT;

-- Installed trust, versioned: the row with the highest version is in force.
CREATE TABLE kit_trusted_roots (
	version      INTEGER PRIMARY KEY,
	import_id    INTEGER NOT NULL REFERENCES kit_imports(id),
	sha256       TEXT NOT NULL,
	newest_start TEXT NOT NULL,            -- latest validity start of any key in it, RFC 3339 UTC
	data         BLOB NOT NULL             -- trusted_root.json verbatim
) STRICT;
CREATE TABLE kit_keysets (
	version   INTEGER PRIMARY KEY,
	import_id INTEGER NOT NULL REFERENCES kit_imports(id),
	threshold INTEGER NOT NULL CHECK (threshold >= 1),
	keys      BLOB NOT NULL                -- trust/kit-keys.pem verbatim
) STRICT;
CREATE TABLE kit_witness_policies (
	version   INTEGER PRIMARY KEY,
	import_id INTEGER NOT NULL REFERENCES kit_imports(id),
	policy    BLOB NOT NULL                -- C2SP tlog-policy verbatim
) STRICT;
-- Revocations only accumulate.
CREATE TABLE kit_revocations (
	key_id     TEXT PRIMARY KEY,           -- hex SHA-256 of the PKIX public key
	reason     TEXT NOT NULL,
	revoked_at TEXT NOT NULL,              -- RFC 3339 UTC, as the kit states
	import_id  INTEGER NOT NULL REFERENCES kit_imports(id)
) STRICT;

-- Accepted checkpoints of mirrored logs; the largest tree_size per origin is
-- the one in force. tiles_size is how far the mirror's verified tiles reach.
CREATE TABLE kit_checkpoints (
	origin     TEXT NOT NULL,
	tree_size  INTEGER NOT NULL,
	root_hash  BLOB NOT NULL CHECK (length(root_hash) = 32),
	note       BLOB NOT NULL,              -- the signed note with its cosignatures, verbatim
	witnesses  TEXT NOT NULL,              -- comma-separated policy names of the counted witnesses
	tiles_size INTEGER NOT NULL,
	import_id  INTEGER NOT NULL REFERENCES kit_imports(id),
	PRIMARY KEY (origin, tree_size)
) STRICT;

-- Bundles carried in, verified against an accepted checkpoint.
CREATE TABLE kit_bundles (
	origin    TEXT NOT NULL,
	uuid      TEXT NOT NULL,               -- hex RFC 6962 leaf hash
	log_index INTEGER NOT NULL,
	bundle    BLOB NOT NULL,
	import_id INTEGER NOT NULL REFERENCES kit_imports(id),
	PRIMARY KEY (origin, uuid)
) STRICT;
CREATE INDEX kit_bundles_index ON kit_bundles(origin, log_index);

-- Audit chain heads carried by exports of peer appliances.
CREATE TABLE kit_audit_heads (
	source    TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	hash      BLOB NOT NULL CHECK (length(hash) = 32),
	head      BLOB NOT NULL,               -- the audit-head file verbatim
	import_id INTEGER NOT NULL REFERENCES kit_imports(id),
	PRIMARY KEY (source, seq)
) STRICT;

-- Split views: a checkpoint inconsistent with the one accepted before. The
-- only thing a refused import writes.
CREATE TABLE kit_split_views (
	id              INTEGER PRIMARY KEY,
	origin          TEXT NOT NULL,
	accepted_size   INTEGER NOT NULL,
	accepted_root   BLOB NOT NULL,
	accepted_note   BLOB NOT NULL,
	offered_size    INTEGER NOT NULL,
	offered_root    BLOB NOT NULL,
	offered_note    BLOB NOT NULL,
	kit_source      TEXT NOT NULL,
	kit_sequence    INTEGER NOT NULL,
	manifest_sha256 TEXT NOT NULL,
	reason          TEXT NOT NULL,
	detected_at     TEXT NOT NULL
) STRICT;

-- Exports of this appliance: one sequence per (source, tree size, since).
CREATE TABLE kit_exports (
	source      TEXT NOT NULL,
	sequence    INTEGER NOT NULL,
	tree_size   INTEGER NOT NULL,
	since       INTEGER NOT NULL,
	exported_at TEXT NOT NULL,
	PRIMARY KEY (source, sequence),
	UNIQUE (source, tree_size, since)
) STRICT;
`,
	}, {
		Version: TrustMigrationVersion,
		Name:    "offline: Authority JWKS and scanner release keys installed by kits",
		SQL: `
-- Authorities carried in trust/authorities.json: for each issuer the row of
-- the newest import (highest import_id) is in force.
CREATE TABLE kit_authorities (
	import_id INTEGER NOT NULL REFERENCES kit_imports(id),
	issuer    TEXT NOT NULL,
	jwks      BLOB NOT NULL,               -- the JWKS, compacted JSON
	PRIMARY KEY (issuer, import_id)
) STRICT;

-- Scanner release keys carried in trust/scanner-keys/NAME.pem. They
-- accumulate; a key whose id is in kit_revocations is not in force.
CREATE TABLE kit_scanner_keys (
	key_id    TEXT PRIMARY KEY,            -- hex SHA-256 of der
	name      TEXT NOT NULL,
	der       BLOB NOT NULL,               -- PKIX public key
	import_id INTEGER NOT NULL REFERENCES kit_imports(id)
) STRICT;
`,
	}}
}
