// Package entitlement decides whether a tenant may have the appliance sign,
// and how much: offline Proof-of-Entitlement licences and per-tenant quotas.
//
// A licence is a DSSE envelope (payloadType [PayloadType]) signed by one of
// the vendor's licensing keys, over a JSON document naming a licence id, the
// licensee, the tenants, a plan, its [Quotas] and a validity window. [Import]
// verifies the signature before it reads the document, decodes the document
// strictly (exact member names, no unknown members, no duplicate keys, no
// trailing data) and stores the envelope verbatim in SQLite; [New] verifies
// every stored envelope again when the daemon starts. Versions of one licence
// id are ordered by issuedAt: an older one is refused (no rollback), and a
// newer one supersedes the older ones once its notBefore has passed.
//
// [Manager.Check] and [Manager.Admit] are the request path: they work from
// memory only, take no SQL and no I/O, and refuse with an [*Error] carrying a
// stable code (CodeMissing, CodeExpired, CodeTenant, CodeQuota*). After a
// licence's notAfter the tenant keeps working for the grace period (state
// "grace"); an emergency [Manager.Bypass] entitles every tenant for at most
// 24 hours.
//
// Quotas: the request rate is a token bucket (requestsPerSecond refill,
// burst capacity) held in memory only, so it starts full after a restart;
// concurrent requests are counted by [Ticket] until Release; the payload size
// is checked per request; signatures per UTC day are reserved in memory by
// Admit and made durable by [Ticket.Record] inside the caller's transaction
// (the one that writes the signed entry), so the daily count in SQLite is
// exactly the committed signatures and is reloaded by New.
//
// Transactions: Import and Bypass run their own write transaction (an
// optional Config.Audit hook writes the audit row in it); Ticket.Record runs
// in the caller's. One Manager per database: the in-memory counters are not
// shared between processes.
//
// The package owns migrations 3 (licences, licence_tenants, bypasses) and 4
// (quota_daily); see Migrations.
package entitlement
