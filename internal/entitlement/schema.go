package entitlement

import "github.com/stellaops/stellad/internal/store"

// Migration versions owned by this package (see internal/store).
const (
	migrationLicences = 3
	migrationQuotas   = 4
)

// Migrations returns this package's schema migrations, versions 3 (licences
// and bypasses) and 4 (quota counters). The daemon passes them to store.Open
// with the other domains'; never edit a released migration, add a new one.
func Migrations() []store.Migration {
	return []store.Migration{
		{
			Version: migrationLicences,
			Name:    "entitlement: licences and bypasses",
			SQL: `
-- Every imported licence version, verbatim: the DSSE envelope as imported is
-- the record (it is verified again when the daemon starts). A version is
-- identified by its licence id and issuedAt; digest is the SHA-256 of the
-- signed payload, so re-importing the same content is recognised.
CREATE TABLE licences (
	licence_id   TEXT NOT NULL,
	issued_at_ns INTEGER NOT NULL,         -- issuedAt, Unix nanoseconds
	issued_at    TEXT NOT NULL,            -- issuedAt, RFC 3339, UTC (for people)
	not_before   TEXT NOT NULL,            -- RFC 3339, UTC
	not_after    TEXT NOT NULL,            -- RFC 3339, UTC
	plan         TEXT NOT NULL,
	digest       TEXT NOT NULL,            -- lower-case hex SHA-256 of the payload
	envelope     BLOB NOT NULL,            -- the DSSE envelope as imported
	imported_at  TEXT NOT NULL,            -- RFC 3339, UTC
	imported_by  TEXT NOT NULL,
	PRIMARY KEY (licence_id, issued_at_ns)
) STRICT;

-- The tenants each licence version names, so that tenant-scoped queries need
-- no JSON.
CREATE TABLE licence_tenants (
	licence_id   TEXT NOT NULL,
	issued_at_ns INTEGER NOT NULL,
	tenant       TEXT NOT NULL,
	PRIMARY KEY (licence_id, issued_at_ns, tenant),
	FOREIGN KEY (licence_id, issued_at_ns) REFERENCES licences (licence_id, issued_at_ns)
) STRICT;
CREATE INDEX licence_tenants_tenant ON licence_tenants (tenant);

-- Emergency bypasses: time-boxed, for every tenant, never deleted.
CREATE TABLE bypasses (
	id         INTEGER PRIMARY KEY,
	reason     TEXT NOT NULL CHECK (reason <> ''),
	actor      TEXT NOT NULL CHECK (actor <> ''),
	created_at TEXT NOT NULL,              -- RFC 3339, UTC
	not_after  TEXT NOT NULL               -- RFC 3339, UTC
) STRICT;
`,
		},
		{
			Version: migrationQuotas,
			Name:    "entitlement: quota counters",
			SQL: `
-- Signatures committed per tenant and UTC day.
CREATE TABLE quota_daily (
	tenant TEXT NOT NULL,
	day    TEXT NOT NULL,                  -- YYYY-MM-DD, UTC
	count  INTEGER NOT NULL CHECK (count >= 0),
	PRIMARY KEY (tenant, day)
) STRICT, WITHOUT ROWID;
`,
		},
	}
}
