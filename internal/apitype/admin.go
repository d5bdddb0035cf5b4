package apitype

import "encoding/json"

// Admission and administration routes (tokens: see docs/tokens.md; the admin
// routes need the stellad.admin scope or a caller on the admin socket):
//
//	GET  /api/v1/quota                          -> QuotaUsage (the caller's tenant)
//	GET  /api/v1/audit                          -> AuditList (the caller's tenant; query: after, limit)
//	POST /api/v1/admin/licences                 a licence (DSSE envelope, verbatim) -> Licence
//	GET  /api/v1/admin/licences                 -> LicenceStatus
//	POST /api/v1/admin/licences/bypass          BypassRequest -> Bypass
//	GET  /api/v1/admin/audit                    -> AuditList (query: tenant, after, limit, decision)
//	GET  /api/v1/admin/audit/verify             -> AuditVerify
//	GET  /api/v1/admin/audit/export             -> JSON Lines of AuditRow (query: tenant)
//	POST /api/v1/admin/scanner/releases         ScannerImportRequest -> ScannerImport
//	GET  /api/v1/admin/scanner/approvals        -> ScannerApprovalList
//	POST /api/v1/admin/scanner/approvals/{id}   ApprovalDecision -> ScannerApproval
//	GET  /metrics                               Prometheus exposition

// Licence describes one imported licence.
type Licence struct {
	LicenceID string   `json:"licenceId"`
	Licensee  string   `json:"licensee,omitempty"`
	Tenants   []string `json:"tenants"`
	Plan      string   `json:"plan"`
	NotBefore string   `json:"notBefore"`
	NotAfter  string   `json:"notAfter"`
	IssuedAt  string   `json:"issuedAt,omitempty"`
	// State is valid, grace, expired or not_yet_valid at the time of the answer.
	State  string          `json:"state"`
	Quotas json.RawMessage `json:"quotas,omitempty"`
}

// LicenceStatus lists the licences and the emergency bypass in force, if any.
type LicenceStatus struct {
	Licences []Licence `json:"licences"`
	Bypass   *Bypass   `json:"bypass,omitempty"`
	Grace    string    `json:"grace"`
}

// BypassRequest opens a time-boxed emergency bypass of the entitlement check.
type BypassRequest struct {
	Reason string `json:"reason"`
	For    string `json:"for"` // a Go duration, at most 24h
}

// Bypass is an emergency bypass of the entitlement check.
type Bypass struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
	Start  string `json:"start"`
	End    string `json:"end"`
}

// QuotaUsage is the caller's tenant's quota and what it used today.
type QuotaUsage struct {
	Tenant string          `json:"tenant"`
	Plan   string          `json:"plan,omitempty"`
	Quotas json.RawMessage `json:"quotas,omitempty"`
	Day    string          `json:"day"`
	Used   int64           `json:"signaturesToday"`
}

// AuditRow is one row of the hash-chained audit trail.
type AuditRow struct {
	Seq            uint64   `json:"seq"`
	Time           string   `json:"time"`
	RequestID      string   `json:"requestId,omitempty"`
	Tenant         string   `json:"tenant"`
	Principal      string   `json:"principal,omitempty"`
	Issuer         string   `json:"issuer,omitempty"`
	Action         string   `json:"action"`
	SubjectDigests []string `json:"subjectDigests,omitempty"`
	PredicateType  string   `json:"predicateType,omitempty"`
	PoEState       string   `json:"poeState,omitempty"`
	QuotaState     string   `json:"quotaState,omitempty"`
	KeyURI         string   `json:"keyUri,omitempty"`
	Decision       string   `json:"decision"`
	Reason         string   `json:"reason,omitempty"`
	LogIndex       *uint64  `json:"logIndex,omitempty"`
	UUID           string   `json:"uuid,omitempty"`
	Prev           string   `json:"prev"`
	Hash           string   `json:"hash"`
}

// AuditList is a page of audit rows; Next is the after value of the next page.
type AuditList struct {
	Rows []AuditRow `json:"rows"`
	Next *uint64    `json:"next,omitempty"`
}

// AuditVerify is the outcome of recomputing the audit chain.
type AuditVerify struct {
	OK       bool    `json:"ok"`
	Rows     uint64  `json:"rows"`
	HeadSeq  uint64  `json:"headSeq"`
	HeadHash string  `json:"headHash"`
	Anchors  int     `json:"anchors"`
	FirstBad *uint64 `json:"firstBad,omitempty"`
	Problem  string  `json:"problem,omitempty"`
}

// ScannerImportRequest names an OCI image layout directory on the appliance
// holding signed scanner releases.
type ScannerImportRequest struct {
	Dir string `json:"dir"`
}

// ScannerImport lists the scanner image digests an import trusted.
type ScannerImport struct {
	Digests []string `json:"digests"`
}

// ScannerApproval is a request to sign for an untrusted scanner digest, queued
// for an admin's decision.
type ScannerApproval struct {
	ID          int64  `json:"id"`
	Tenant      string `json:"tenant"`
	Digest      string `json:"digest"`
	RequestedAt string `json:"requestedAt"`
	State       string `json:"state"`
	DecidedBy   string `json:"decidedBy,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// ScannerApprovalList lists queued approvals.
type ScannerApprovalList struct {
	Approvals []ScannerApproval `json:"approvals"`
}

// ApprovalDecision approves or denies a queued approval.
type ApprovalDecision struct {
	Approve bool   `json:"approve"`
	Reason  string `json:"reason"`
}
