package audit

import "github.com/stellaops/stellad/internal/store"

// Migrations are the audit trail's schema versions (version 5 of the shared
// schema). The daemon passes them to store.Open with the other domains'; never
// edit a released migration, add a new one.
func Migrations() []store.Migration {
	return []store.Migration{{
		Version: 5,
		Name:    "audit: hash-chained trail and anchors",
		SQL: `
-- One row per request, allowed or refused. Rows are only ever appended; seq
-- is gapless from 1 and hash chains each row to the one before (see doc.go).
CREATE TABLE audit_log (
	seq             INTEGER PRIMARY KEY CHECK (seq >= 1),
	time            TEXT NOT NULL,         -- RFC 3339 UTC, nine fractional digits (sorts as text)
	request_id      TEXT NOT NULL,
	tenant          TEXT NOT NULL,         -- '' when the request named no tenant (refused before it was known)
	principal       TEXT NOT NULL,
	issuer          TEXT NOT NULL,
	action          TEXT NOT NULL,
	subject_digests TEXT NOT NULL,         -- canonical JSON array of strings ("sha256:<hex>")
	predicate_type  TEXT NOT NULL,
	poe_state       TEXT NOT NULL,
	quota_state     TEXT NOT NULL,
	key_uri         TEXT NOT NULL,
	decision        TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
	reason          TEXT NOT NULL,
	log_index       INTEGER,               -- the transparency log index of the entry, when one was made
	uuid            TEXT NOT NULL,         -- the entry's uuid, '' when none
	prev            BLOB NOT NULL CHECK (length(prev) = 32),
	hash            BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE INDEX audit_log_tenant ON audit_log(tenant, seq);

-- Chain heads logged in the transparency log. Not tenant data.
CREATE TABLE audit_anchors (
	log_index   INTEGER PRIMARY KEY,       -- the anchor statement's entry in the transparency log
	seq         INTEGER NOT NULL,
	hash        BLOB NOT NULL CHECK (length(hash) = 32),
	uuid        TEXT NOT NULL,
	anchored_at TEXT NOT NULL              -- RFC 3339 UTC, nine fractional digits
) STRICT;
CREATE INDEX audit_anchors_seq ON audit_anchors(seq);
`,
	}}
}
