package attest

import "github.com/stellaops/stellad/internal/store"

// Migrations are the schema versions of the entries index, in order. The daemon
// passes them to store.Open; never edit a released migration, add a new one.
func Migrations() []store.Migration {
	return []store.Migration{{
		Version: 1,
		Name:    "entries index",
		SQL: `
CREATE TABLE signing_keys (
	key_id      TEXT PRIMARY KEY,          -- hex SHA-256 of the PKIX public key
	public_key  BLOB NOT NULL,             -- PKIX DER
	key_details TEXT NOT NULL,             -- Rekor v2 key details, e.g. PKIX_ECDSA_P256_SHA_256
	uri         TEXT NOT NULL,
	first_seen  TEXT NOT NULL
) STRICT;

-- The content-addressed store of envelopes: each envelope, verbatim, under the
-- SHA-256 of its bytes (checked again on every read). Envelopes are small
-- (about 1 KiB), so they live here rather than one file each under cas/: on
-- this class of machine creating a file costs 60-130 us of kernel time and an
-- fsync of its own, while a row rides the group commit's single fsync.
CREATE TABLE envelopes (
	sha256 TEXT PRIMARY KEY,               -- lower-case hex SHA-256 of data
	data   BLOB NOT NULL
) STRICT;

CREATE TABLE entries (
	uuid            TEXT PRIMARY KEY,      -- hex RFC 6962 leaf hash of the hashedrekord body
	state           TEXT NOT NULL CHECK (state IN ('pending', 'logged', 'abandoned')),
	log_index       INTEGER UNIQUE,
	min_index       INTEGER NOT NULL,      -- the log's size when the request was recorded: its leaf, if any, is at or above
	tree_size       INTEGER,               -- size of the checkpoint the issued proof is against
	proof           BLOB,                  -- the issued inclusion proof: concatenated 32-byte hashes
	envelope_sha256 TEXT NOT NULL REFERENCES envelopes(sha256), -- the envelope, verbatim
	sig_index       INTEGER NOT NULL,      -- which signature of that envelope this entry logs
	key_id          TEXT NOT NULL REFERENCES signing_keys(key_id),
	predicate_type  TEXT NOT NULL,
	tenant          TEXT NOT NULL,
	created_at      TEXT NOT NULL,         -- RFC 3339, UTC
	CHECK (state <> 'logged' OR (log_index IS NOT NULL AND tree_size IS NOT NULL AND proof IS NOT NULL))
) STRICT;
CREATE INDEX entries_state ON entries(state) WHERE state = 'pending';
CREATE INDEX entries_tenant_index ON entries(tenant, log_index);
CREATE INDEX entries_predicate ON entries(predicate_type, log_index);

CREATE TABLE entry_subjects (
	uuid      TEXT NOT NULL REFERENCES entries(uuid) ON DELETE CASCADE,
	name      TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	digest    TEXT NOT NULL,               -- lower-case hex
	PRIMARY KEY (uuid, algorithm, digest, name)
) STRICT;
CREATE INDEX entry_subjects_digest ON entry_subjects(algorithm, digest);

-- Checkpoints that issued proofs are against, one row per signed tree size.
CREATE TABLE checkpoints (
	tree_size INTEGER PRIMARY KEY,
	note      TEXT NOT NULL
) STRICT;

-- The log's checkpoint keys and the start of each key's validity window, as the
-- trusted root publishes them; a rotation adds a row and never rewrites one.
CREATE TABLE log_keys (
	key_id     TEXT PRIMARY KEY,           -- hex SHA-256 of the PKIX public key (the log id)
	public_key BLOB NOT NULL,
	start      TEXT NOT NULL               -- RFC 3339, UTC
) STRICT;
`,
	}}
}
