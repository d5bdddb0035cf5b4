package attest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/policy"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/kit/dsse"
)

// The administration use cases: licences, the audit trail, scanner releases
// and approvals. Each needs Config.Admission and a caller holding the
// stellad.admin scope (the API checks the scope; these check it again), and
// each leaves an audit row, in the same transaction as its change where it
// changes something.

// ErrNoAdmission is returned by the administration use cases when the service
// runs without admission.
var ErrNoAdmission = errors.New("admission is not configured")

// SystemTenant owns the entries the appliance logs for itself (audit anchors).
const SystemTenant = "_system"

func (s *Service) adminCall(call Call, action string) (*Admission, audit.Record, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, action)
	a := s.admission()
	if a == nil {
		return nil, rec, ErrNoAdmission
	}
	if call.Caller == nil || !call.Caller.HasScope(authn.ScopeAdmin) {
		return a, rec, &authn.Error{Code: authn.CodeInsufficientScope, Msg: "this needs the " + authn.ScopeAdmin + " scope"}
	}
	return a, rec, nil
}

func principalName(c *Caller) string {
	if c == nil {
		return ""
	}
	return c.Subject
}

// ImportLicence verifies and imports a licence; the audit row commits with it.
func (s *Service) ImportLicence(ctx context.Context, call Call, doc []byte) (*apitype.Licence, error) {
	a, rec, err := s.adminCall(call, audit.ActionLicenceImport)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	l, err := a.Entitlement.Import(ctx, doc, principalName(call.Caller), func(tx *sql.Tx, e entitlement.Event) error {
		r := rec
		r.Decision, r.PoEState = audit.DecisionAllow, "imported:"+e.Licence.LicenceID
		if !e.Stored {
			r.PoEState = "already imported:" + e.Licence.LicenceID
		}
		if err := a.Auth.RecordJTI(tx, call.Caller); err != nil {
			return err
		}
		return a.Audit.Append(tx, r)
	})
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, rejected(err))
	}
	st, err := a.Entitlement.Status(ctx)
	if err != nil {
		return nil, err
	}
	for _, ls := range st.Licences {
		if ls.LicenceID == l.LicenceID && ls.IssuedAt.Equal(l.IssuedAt) {
			return licenceView(ls), nil
		}
	}
	return licenceView(entitlement.LicenceStatus{Licence: *l, State: "unknown"}), nil
}

func licenceView(ls entitlement.LicenceStatus) *apitype.Licence {
	q, _ := json.Marshal(ls.Effective)
	return &apitype.Licence{
		LicenceID: ls.LicenceID, Licensee: ls.Licensee, Tenants: ls.Tenants, Plan: ls.Plan,
		NotBefore: ls.NotBefore.UTC().Format(time.RFC3339), NotAfter: ls.NotAfter.UTC().Format(time.RFC3339),
		IssuedAt: ls.IssuedAt.UTC().Format(time.RFC3339), State: ls.State, Quotas: q,
	}
}

// LicenceStatus lists the licences and the bypass in force.
func (s *Service) LicenceStatus(ctx context.Context, call Call) (*apitype.LicenceStatus, error) {
	a, rec, err := s.adminCall(call, "licence.status")
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	st, err := a.Entitlement.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &apitype.LicenceStatus{Licences: []apitype.Licence{}, Grace: st.Grace.String()}
	for _, ls := range st.Licences {
		out.Licences = append(out.Licences, *licenceView(ls))
	}
	if b := st.Bypass; b != nil {
		out.Bypass = bypassView(*b)
	}
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return out, nil
}

func bypassView(b entitlement.Bypass) *apitype.Bypass {
	return &apitype.Bypass{ID: b.ID, Reason: b.Reason, Actor: b.Actor,
		Start: b.Start.UTC().Format(time.RFC3339), End: b.Until.UTC().Format(time.RFC3339)}
}

// Bypass opens a time-boxed emergency bypass; the audit row commits with it.
func (s *Service) Bypass(ctx context.Context, call Call, req apitype.BypassRequest) (*apitype.Bypass, error) {
	a, rec, err := s.adminCall(call, audit.ActionLicenceBypass)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	d, err := time.ParseDuration(req.For)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: for: %v", ErrInvalidRequest, err))
	}
	b, err := a.Entitlement.Bypass(ctx, req.Reason, principalName(call.Caller), d, func(tx *sql.Tx, e entitlement.Event) error {
		r := rec
		r.Decision, r.PoEState = audit.DecisionAllow, "bypass until "+e.Bypass.Until.UTC().Format(time.RFC3339)
		r.Reason = req.Reason
		if err := a.Auth.RecordJTI(tx, call.Caller); err != nil {
			return err
		}
		return a.Audit.Append(tx, r)
	})
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, rejected(err))
	}
	return bypassView(b), nil
}

// Quota reports the caller's tenant's quota and today's use.
func (s *Service) Quota(ctx context.Context, call Call) (*apitype.QuotaUsage, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, "quota")
	a := s.admission()
	if a == nil {
		return nil, ErrNoAdmission
	}
	tenant, err := s.tenantFor(call.Caller, "")
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	u, err := a.Entitlement.Usage(ctx, tenant)
	if err != nil {
		return nil, err
	}
	q, _ := json.Marshal(u.Quotas)
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return &apitype.QuotaUsage{Tenant: tenant, Plan: u.Plan, Quotas: q, Day: u.Day, Used: u.SignaturesToday}, nil
}

// AuditQuery selects audit rows.
type AuditQuery struct {
	Tenant     string // admin only; a tenant-bound caller always reads its own
	AllTenants bool   // admin only
	After      uint64
	Limit      int
	Decision   string
}

// AuditList lists audit rows: a tenant-bound caller its tenant's, an admin
// any tenant's or all.
func (s *Service) AuditList(ctx context.Context, call Call, q AuditQuery) (*apitype.AuditList, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, "audit.list")
	a := s.admission()
	if a == nil {
		return nil, ErrNoAdmission
	}
	aq := audit.Query{After: q.After, Limit: q.Limit, Decision: q.Decision}
	// stellad.admin is site-wide: an admin reads any tenant's rows or all of
	// them when it asks for them (the admin route); otherwise a caller reads its
	// own tenant's.
	switch c := call.Caller; {
	case c != nil && c.HasScope(authn.ScopeAdmin) && (q.AllTenants || q.Tenant != "" || c.Tenant == ""):
		aq.Tenant, aq.AllTenants = q.Tenant, q.Tenant == ""
	case c != nil && c.Tenant != "" && (q.Tenant == "" || q.Tenant == c.Tenant) && !q.AllTenants:
		aq.Tenant = c.Tenant
	default:
		return nil, s.refuse(ctx, call.Caller, rec, &authn.Error{Code: authn.CodeTenantForbidden, Msg: "the caller may read its own tenant's audit rows only"})
	}
	rows, next, err := a.Audit.List(ctx, aq)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, rejected(err))
	}
	out := &apitype.AuditList{Rows: make([]apitype.AuditRow, 0, len(rows))}
	for _, r := range rows {
		out.Rows = append(out.Rows, auditRowView(r))
	}
	if next != 0 {
		out.Next = &next
	}
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return out, nil
}

func auditRowView(r audit.Row) apitype.AuditRow {
	return apitype.AuditRow{
		Seq: r.Seq, Time: r.Time.UTC().Format(time.RFC3339Nano), RequestID: r.RequestID, Tenant: r.Tenant,
		Principal: r.Principal, Issuer: r.Issuer, Action: r.Action, SubjectDigests: r.SubjectDigests,
		PredicateType: r.PredicateType, PoEState: r.PoEState, QuotaState: r.QuotaState, KeyURI: r.KeyURI,
		Decision: r.Decision, Reason: r.Reason, LogIndex: r.LogIndex, UUID: r.UUID,
		Prev: hex.EncodeToString(r.Prev[:]), Hash: hex.EncodeToString(r.Hash[:]),
	}
}

// AuditVerify recomputes the chain and checks its anchors.
func (s *Service) AuditVerify(ctx context.Context, call Call) (*apitype.AuditVerify, error) {
	a, rec, err := s.adminCall(call, audit.ActionVerify)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	v, err := a.Audit.Verify(ctx)
	if err != nil {
		return nil, err
	}
	out := &apitype.AuditVerify{OK: v.OK(), Rows: v.Rows, HeadSeq: v.HeadSeq, HeadHash: hex.EncodeToString(v.HeadHash[:]), Anchors: v.Anchors}
	if f := v.Failure; f != nil {
		seq := f.Seq
		out.FirstBad, out.Problem = &seq, string(f.Problem)+": "+f.Detail
	}
	// The verification itself is audited after it ran, so that it does not
	// extend the chain it reports on.
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return out, nil
}

// AuditExport writes audit rows as JSON Lines to w.
func (s *Service) AuditExport(ctx context.Context, call Call, w io.Writer, tenant string) error {
	a, rec, err := s.adminCall(call, "audit.export")
	if err != nil {
		return s.refuse(ctx, call.Caller, rec, err)
	}
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return err
	}
	return a.Audit.Export(ctx, w, audit.Query{Tenant: tenant, AllTenants: tenant == ""})
}

// ImportScannerReleases imports the signed releases in the OCI image layout at
// dir (a path on the appliance); the audit row commits with them.
func (s *Service) ImportScannerReleases(ctx context.Context, call Call, dir string) (*apitype.ScannerImport, error) {
	a, rec, err := s.adminCall(call, "scanner.import")
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	res, err := a.Scanner.ImportLayout(ctx, dir, principalName(call.Caller), func(tx *sql.Tx, r policy.ImportResult) error {
		ar := rec
		ar.Decision, ar.SubjectDigests, ar.Reason = audit.DecisionAllow, r.Digests, "imported from "+dir
		if err := a.Auth.RecordJTI(tx, call.Caller); err != nil {
			return err
		}
		return a.Audit.Append(tx, ar)
	})
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, rejected(err))
	}
	return &apitype.ScannerImport{Digests: append([]string{}, res.Digests...)}, nil
}

// ScannerApprovals lists the approvals waiting for a decision.
func (s *Service) ScannerApprovals(ctx context.Context, call Call) (*apitype.ScannerApprovalList, error) {
	a, rec, err := s.adminCall(call, "scanner.approvals")
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	ps, err := a.Scanner.Pending(ctx, "")
	if err != nil {
		return nil, err
	}
	out := &apitype.ScannerApprovalList{Approvals: []apitype.ScannerApproval{}}
	for _, p := range ps {
		out.Approvals = append(out.Approvals, approvalView(p))
	}
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return out, nil
}

func approvalView(p policy.Approval) apitype.ScannerApproval {
	return apitype.ScannerApproval{ID: p.ID, Tenant: p.Tenant, Digest: p.Digest, RequestedAt: p.RequestedAt.UTC().Format(time.RFC3339),
		State: p.State, DecidedBy: p.DecidedBy, Reason: p.Reason}
}

// DecideScannerApproval approves or denies approval id; the audit row commits with it.
func (s *Service) DecideScannerApproval(ctx context.Context, call Call, id int64, d apitype.ApprovalDecision) (*apitype.ScannerApproval, error) {
	a, rec, err := s.adminCall(call, audit.ActionScannerApprove)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	hook := func(tx *sql.Tx, p policy.Approval) error {
		r := rec
		r.Decision, r.Tenant, r.SubjectDigests, r.Reason = audit.DecisionAllow, p.Tenant, []string{p.Digest}, p.State+": "+d.Reason
		if err := a.Auth.RecordJTI(tx, call.Caller); err != nil {
			return err
		}
		return a.Audit.Append(tx, r)
	}
	decide := a.Scanner.Deny
	if d.Approve {
		decide = a.Scanner.Approve
	}
	p, err := decide(ctx, policy.ApprovalRef{ID: id}, principalName(call.Caller), d.Reason, hook)
	if err != nil {
		if errors.Is(err, policy.ErrApprovalNotFound) {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		} else {
			err = rejected(err)
		}
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	v := approvalView(p)
	return &v, nil
}

// AnchorAudit appends the audit chain's head to the transparency log, as an
// in-toto statement signed by the default DSSE key (tenant SystemTenant), and
// records the anchor with the entry. It does nothing when the head was
// anchored already or the trail is empty. The daemon calls it at a fixed
// interval.
func (s *Service) AnchorAudit(ctx context.Context, origin string) (anchored bool, err error) {
	a := s.admission()
	if a == nil {
		return false, ErrNoAdmission
	}
	seq, hash, err := a.Audit.Head(ctx)
	if err != nil || seq == 0 {
		return false, err
	}
	if last, ok, err := a.Audit.LastAnchor(ctx); err != nil {
		return false, err
	} else if ok && seq <= last.Seq+1 {
		// Nothing since the last anchor but that anchor's own audit row.
		return false, nil
	}
	payload, err := audit.AnchorStatement(seq, hash, origin)
	if err != nil {
		return false, err
	}
	st, err := dsse.ParseStatement(payload)
	if err != nil {
		return false, fmt.Errorf("anchor statement: %w", err)
	}
	key := s.cfg.Keys.DSSE(SystemTenant)
	pae := dsse.PAE(dsse.PayloadTypeInToto, payload)
	sig, err := key.SignPAE(s.cfg.Rand, pae)
	if err != nil {
		return false, err
	}
	s.cfg.Metrics.KeyUsed(key.URI())
	env := &dsse.Envelope{PayloadType: dsse.PayloadTypeInToto, Payload: payload, Signatures: []dsse.Signature{{Sig: sig}}}
	envJSON, err := env.Marshal()
	if err != nil {
		return false, err
	}
	_, err = s.logSignature(ctx, logJob{
		tenant: SystemTenant, envJSON: envJSON, single: env, pae: pae, key: s.own[key.KeyID()], stmt: st, fresh: true,
		also: func(tx *sql.Tx, uuid string, index uint64) error {
			if err := a.Audit.RecordAnchor(tx, seq, hash, index, uuid); err != nil {
				return err
			}
			return a.Audit.Append(tx, audit.Record{Time: s.cfg.Now(), Tenant: SystemTenant, Principal: "stellad",
				Action: audit.ActionAuditAnchor, Decision: audit.DecisionAllow, KeyURI: key.URI(), UUID: uuid, LogIndex: &index,
				SubjectDigests: []string{"sha256:" + hex.EncodeToString(hash[:])}, PredicateType: audit.AnchorPredicateType})
		},
	})
	if err != nil {
		return false, fmt.Errorf("anchoring audit head %d: %w", seq, err)
	}
	return true, nil
}

// rejected marks a domain's refusal of an admin request as bad input, and a
// store that is busy or closed as unavailable.
func rejected(err error) error {
	if errors.Is(err, store.ErrBusy) || errors.Is(err, store.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return unavailableIf(err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
}
