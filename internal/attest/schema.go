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
	}, {
		// Version 7 (2-6 belong to other domains) makes a logged signature one
		// narrow insert: entries get an integer key, so that the envelope and
		// the proof (a separate table keyed by it) and the subjects (keyed by
		// it first) are appended in order instead of landing on random pages
		// of indexes keyed by hashes. Only two indexes stay keyed by a hash:
		// the uuid (GET by uuid) and the subject digest (list by subject).
		// The content-addressed envelopes table goes: envelopes are unique
		// per signature made here, and their SHA-256 stays in the entry row
		// (checked on every read).
		Version: 7,
		Name:    "attest: entries keyed by integer, blobs apart",
		SQL: `
PRAGMA defer_foreign_keys = ON;
CREATE TABLE entries_v7 (
	id              INTEGER PRIMARY KEY,   -- in insertion order; the key of entry_blobs and entry_subjects
	uuid            TEXT NOT NULL UNIQUE,  -- hex RFC 6962 leaf hash of the hashedrekord body
	state           TEXT NOT NULL CHECK (state IN ('pending', 'logged', 'abandoned')),
	log_index       INTEGER UNIQUE,
	min_index       INTEGER NOT NULL,      -- the log's size when the request was recorded: its leaf, if any, is at or above
	tree_size       INTEGER,               -- size of the checkpoint the issued proof is against
	envelope_sha256 TEXT NOT NULL,         -- lower-case hex SHA-256 of entry_blobs.envelope
	sig_index       INTEGER NOT NULL,      -- which signature of that envelope this entry logs
	key_id          TEXT NOT NULL REFERENCES signing_keys(key_id),
	predicate_type  TEXT NOT NULL,
	tenant          TEXT NOT NULL,
	created_at      TEXT NOT NULL,         -- RFC 3339, UTC
	CHECK (state <> 'logged' OR (log_index IS NOT NULL AND tree_size IS NOT NULL))
) STRICT;
INSERT INTO entries_v7 (uuid, state, log_index, min_index, tree_size, envelope_sha256, sig_index, key_id, predicate_type, tenant, created_at)
	SELECT uuid, state, log_index, min_index, tree_size, envelope_sha256, sig_index, key_id, predicate_type, tenant, created_at
	FROM entries ORDER BY rowid;

-- The envelope, verbatim, and the issued inclusion proof of each entry.
CREATE TABLE entry_blobs (
	entry_id INTEGER PRIMARY KEY REFERENCES entries_v7(id) ON DELETE CASCADE,
	envelope BLOB NOT NULL,
	proof    BLOB                          -- concatenated 32-byte hashes; NULL while pending
) STRICT;
INSERT INTO entry_blobs (entry_id, envelope, proof)
	SELECT n.id, v.data, e.proof FROM entries e JOIN entries_v7 n ON n.uuid = e.uuid JOIN envelopes v ON v.sha256 = e.envelope_sha256;

CREATE TABLE entry_subjects_v7 (
	entry_id  INTEGER NOT NULL REFERENCES entries_v7(id) ON DELETE CASCADE,
	algorithm TEXT NOT NULL,
	digest    TEXT NOT NULL,               -- lower-case hex
	name      TEXT NOT NULL,
	PRIMARY KEY (entry_id, algorithm, digest, name)
) STRICT, WITHOUT ROWID;
INSERT INTO entry_subjects_v7 (entry_id, algorithm, digest, name)
	SELECT n.id, s.algorithm, s.digest, s.name FROM entry_subjects s JOIN entries_v7 n ON n.uuid = s.uuid;

DROP TABLE entry_subjects;
DROP TABLE entries;
DROP TABLE envelopes;
ALTER TABLE entries_v7 RENAME TO entries;
ALTER TABLE entry_subjects_v7 RENAME TO entry_subjects;
CREATE INDEX entries_state ON entries(state) WHERE state = 'pending';
CREATE INDEX entries_tenant_index ON entries(tenant, log_index);
CREATE INDEX entries_predicate ON entries(predicate_type, log_index);
CREATE INDEX entry_subjects_digest ON entry_subjects(algorithm, digest);
`,
	}, {
		// Version 9: entries written through the Rekor v2 write API
		// (POST /api/v2/log/entries) by clients such as cosign. They are not
		// DSSE envelopes signed or verified here, so they live apart from
		// entries; like a submission, a write is recorded as pending before
		// its leaf is appended (Reconcile settles it after a crash) and its
		// uuid (the leaf hash) is unique, so an identical request is answered
		// with the entry already logged instead of a second leaf.
		Version: 9,
		Name:    "attest: Rekor v2 log writes",
		SQL: `
CREATE TABLE log_writes (
	id         INTEGER PRIMARY KEY,
	uuid       TEXT NOT NULL UNIQUE,       -- hex RFC 6962 leaf hash of body
	state      TEXT NOT NULL CHECK (state IN ('pending', 'logged', 'abandoned')),
	min_index  INTEGER NOT NULL,           -- the log's size when the request was recorded
	log_index  INTEGER UNIQUE,
	tree_size  INTEGER,                    -- size of the checkpoint the issued proof is against
	proof      BLOB,                       -- concatenated 32-byte hashes; NULL while pending
	body       BLOB NOT NULL,              -- the canonical hashedrekord v0.0.2 entry (the leaf)
	key_id     TEXT NOT NULL,              -- hex SHA-256 of the verifier's PKIX public key
	tenant     TEXT NOT NULL,
	principal  TEXT NOT NULL,              -- who wrote it (token subject, certificate subject, source address)
	created_at TEXT NOT NULL,              -- RFC 3339, UTC
	CHECK (state <> 'logged' OR (log_index IS NOT NULL AND tree_size IS NOT NULL AND proof IS NOT NULL))
) STRICT;
CREATE INDEX log_writes_pending ON log_writes(state) WHERE state = 'pending';
CREATE INDEX log_writes_tenant_index ON log_writes(tenant, log_index);
`,
	}, {
		// Version 10: keyless signatures made by the appliance itself
		// (SignKeyless). The entry row names the ephemeral key (registered in
		// signing_keys as keyless:SERIAL); this row holds what its bundle
		// carries besides: the certificate that binds the key to the caller's
		// identity and the RFC 3161 timestamp over the signature. It is
		// written in the transaction that records the logged entry.
		Version: 10,
		Name:    "attest: keyless signatures",
		SQL: `
CREATE TABLE entry_keyless (
	entry_id    INTEGER PRIMARY KEY REFERENCES entries(id),
	certificate BLOB NOT NULL,             -- the signing certificate, DER (the hashedrekord verifier)
	timestamp   BLOB NOT NULL              -- the TSA's DER TimeStampResp over SHA-256 of the signature
) STRICT;
`,
	}, {
		// Version 12 (11 is offline's): the validity windows the trusted
		// root publishes, for every key and certificate a verifier needs:
		// the log's checkpoint key, the CA's certificate, the CT log's key
		// and the TSA's chain. A rotation closes the open window and opens
		// one for the new material; windows are never rewritten, so bundles
		// made under a retired key keep verifying. The log keys recorded
		// before (log_keys, version 1) become the first log windows.
		Version: 12,
		Name:    "attest: trust epochs",
		SQL: `
CREATE TABLE trust_epochs (
	kind     TEXT NOT NULL CHECK (kind IN ('tlog', 'ca', 'ctlog', 'tsa')),
	id       TEXT NOT NULL,                -- hex SHA-256 of material
	material BLOB NOT NULL,                -- PKIX DER public key (tlog, ctlog) or DER certificates, leaf first (ca, tsa)
	start    TEXT NOT NULL,                -- RFC 3339, UTC
	retired  TEXT,                         -- RFC 3339, UTC: the window's end; NULL while current
	PRIMARY KEY (kind, id)
) STRICT;
CREATE UNIQUE INDEX trust_epochs_current ON trust_epochs(kind) WHERE retired IS NULL;
INSERT INTO trust_epochs (kind, id, material, start, retired)
	SELECT 'tlog', key_id, public_key, start, LEAD(start) OVER (ORDER BY start, key_id) FROM log_keys;
`,
	}}
}
