package attest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stellaops/stellad/internal/refusal"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/offline"
	"github.com/stellaops/stellad/internal/policy"
	"github.com/stellaops/stellad/kit/dsse"
)

// Admission holds the checks a request passes before a key is used, and the
// trail every decision leaves. With Config.Admission nil the service admits
// every request for the default tenant and audits nothing: that is the bare
// signing path, for tests and for the benchmark that prices admission.
type Admission struct {
	// Auth records the DPoP proof ids of the requests it authenticated, in
	// the same transaction as their audit row. Required.
	Auth *authn.Authenticator
	// Entitlement checks the tenant's licence and quotas. Required.
	Entitlement *entitlement.Manager
	// Scanner checks scanner releases for ScannerPredicates. Required.
	Scanner *policy.Checker
	// Audit is the hash-chained trail. Required.
	Audit *audit.Trail
	// ScannerPredicates are the predicate types (SBOMs, scan reports) whose
	// requests must name a trusted scanner image digest.
	ScannerPredicates []string
	// Offline imports and exports Offline Kits; nil refuses the kit routes.
	Offline *offline.Service
	// KitExport is the template of every export (signers, log, log
	// directory, source); Since, Bundles and Audit are filled per request.
	KitExport offline.ExportOptions
}

// DefaultScannerPredicates are the predicate types of SBOMs and scan reports.
var DefaultScannerPredicates = []string{
	"https://spdx.dev/Document",
	"https://spdx.dev/Document/v2.3",
	"https://cyclonedx.org/bom",
	"https://cyclonedx.org/bom/v1.5",
	"https://cyclonedx.org/bom/v1.6",
	"https://cosign.sigstore.dev/attestation/vuln/v1",
	"https://in-toto.io/attestation/vulns/v0.2",
	"https://stellaops.dev/attestations/scan-report/v1",
	"https://stellaops.dev/attestations/sbom/v1",
}

// Caller is who asks, as authenticated by the API.
type Caller = authn.Principal

// Call says who makes a request: the caller (nil when Config.Admission is nil)
// and the request id that its audit row and logs carry.
type Call struct {
	Caller    *Caller
	RequestID string
}

var errNoCaller = errors.New("attest: admission is configured but the request names no caller")

// admitted is what admission hands to the signing path.
type admitted struct {
	tenant   string
	ticket   *entitlement.Ticket // nil without admission
	rec      audit.Record
	recorded bool // the allow row was written with the entry
}

// release ends the ticket's concurrency slot.
func (ad *admitted) release() {
	if ad.ticket != nil {
		ad.ticket.Release()
	}
}

// cancel gives the ticket's signatures back (the request failed).
func (ad *admitted) cancel() {
	if ad.ticket != nil {
		ad.ticket.Cancel()
	}
}

// allowHook returns the function that writes, inside the entry's own
// transaction, the request's allow row, its DPoP proof id and its quota use;
// nil without admission.
func (s *Service) allowHook(c *Caller, ad *admitted) func(tx *sql.Tx, uuid string, index uint64) error {
	a := s.admission()
	if a == nil {
		return nil
	}
	return func(tx *sql.Tx, uuid string, index uint64) error {
		rec := ad.rec
		rec.Decision, rec.UUID = audit.DecisionAllow, uuid
		rec.LogIndex = &index
		if c != nil {
			if err := a.Auth.RecordJTI(tx, c); err != nil {
				return err
			}
		}
		if ad.ticket != nil {
			if err := ad.ticket.Record(tx); err != nil {
				return err
			}
		}
		if err := a.Audit.Append(tx, rec); err != nil {
			return err
		}
		ad.recorded = true
		return nil
	}
}

// allowed writes the allow row of a request whose effect needed no new entry
// row (a duplicate submission, a read), with its DPoP proof id.
func (s *Service) allowed(ctx context.Context, c *Caller, rec audit.Record) error {
	a := s.admission()
	if a == nil {
		return nil
	}
	rec.Decision = audit.DecisionAllow
	s.cfg.Metrics.Decision(rec.Action, audit.DecisionAllow, "")
	err := s.cfg.DB.Commit(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if c != nil {
			if err := a.Auth.RecordJTI(tx, c); err != nil {
				return err
			}
		}
		return a.Audit.Append(tx, rec)
	})
	if err != nil {
		return unavailableIf(fmt.Errorf("writing the audit row of request %s: %w", rec.RequestID, err))
	}
	return nil
}

func (s *Service) admission() *Admission { return s.cfg.Admission }

// baseRecord starts the audit record of a request.
func (s *Service) baseRecord(requestID string, c *Caller, action string) audit.Record {
	r := audit.Record{Time: s.cfg.Now(), RequestID: requestID, Action: action}
	if c != nil {
		r.Tenant, r.Principal, r.Issuer = c.Tenant, c.Subject, c.Issuer
		if c.ClientID != "" && c.ClientID != c.Subject {
			r.Principal = c.Subject + " (client " + c.ClientID + ")"
		}
	}
	return r
}

// refuse writes the denial's audit row (with the caller's DPoP proof id, so a
// refused proof cannot be replayed either) and returns err.
func (s *Service) refuse(ctx context.Context, c *Caller, rec audit.Record, err error) error {
	a := s.admission()
	if a == nil {
		return err
	}
	rec.Decision = audit.DecisionDeny
	rec.Reason = reasonCode(err)
	s.cfg.Metrics.Decision(rec.Action, audit.DecisionDeny, rec.Reason)
	werr := s.cfg.DB.Commit(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if c != nil {
			if err := a.Auth.RecordJTI(tx, c); err != nil {
				return err
			}
		}
		return a.Audit.Append(tx, rec)
	})
	if werr != nil {
		var ae *authn.Error
		if errors.As(werr, &ae) {
			return werr // a proof replayed from another process
		}
		s.cfg.Logger.Error("writing a denial's audit row", "request_id", rec.RequestID, "err", werr)
		return unavailableIf(fmt.Errorf("%w (and its audit row was not written: %v)", err, werr))
	}
	return err
}

// Refuse records a request the API refused before it reached the use case
// (no token, a bad token, a missing scope): its audit row, and the DPoP proof
// id when the caller was authenticated. It returns err.
func (s *Service) Refuse(ctx context.Context, call Call, action string, err error) error {
	return s.refuse(ctx, call.Caller, s.baseRecord(call.RequestID, call.Caller, action), err)
}

// reasonCode is the stable code of a refusal for the audit row and metrics.
func reasonCode(err error) string {
	var re *refusal.Error
	switch {
	case errors.As(err, &re):
		return re.Code
	case errors.Is(err, ErrInvalidRequest):
		return "bad_request"
	case errors.Is(err, ErrInvalidStatement):
		return "invalid_statement"
	case errors.Is(err, ErrInvalidEnvelope):
		return "invalid_envelope"
	case errors.Is(err, ErrUntrusted):
		return "untrusted_signature"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, offline.ErrRefused):
		return "kit_refused"
	case errors.Is(err, ErrNoOffline), errors.Is(err, ErrNoAdmission), errors.Is(err, ErrKeylessUnavailable):
		return "not_configured"
	}
	return "internal"
}

// tenantFor is the tenant a request acts for: the caller's. A request naming
// another tenant is refused; an admin principal without a tenant (the admin
// socket) may name any.
func (s *Service) tenantFor(c *Caller, asked string) (string, error) {
	if s.admission() == nil {
		return s.tenant(asked), nil
	}
	if c == nil {
		return "", errNoCaller
	}
	if asked == SystemTenant || c.Tenant == SystemTenant {
		return "", &authn.Error{Code: authn.CodeTenantForbidden, Msg: fmt.Sprintf("tenant %q is reserved for the appliance's own entries", SystemTenant)}
	}
	if asked != "" {
		if c.Tenant == "" && !c.HasScope(authn.ScopeAdmin) || c.Tenant != "" && c.Tenant != asked {
			return "", &authn.Error{Code: authn.CodeTenantForbidden, Msg: fmt.Sprintf("the caller may not act for tenant %q", asked)}
		}
		return asked, nil
	}
	if c.Tenant == "" {
		return "", &authn.Error{Code: authn.CodeTenantForbidden, Msg: "the caller has no tenant; name one"}
	}
	return c.Tenant, nil
}

// admit runs the checks of a signing request, cheapest first, and returns
// the ticket that holds its quota. Nothing here touches a key.
// scanner is nil for a request that signs nothing here (a submission): then no
// scanner release is checked.
func (s *Service) admit(ctx context.Context, c *Caller, requestID, action, tenant string, st *dsse.Statement, payloadBytes int, scanner *string) (*admitted, error) {
	ad := &admitted{tenant: tenant, rec: s.baseRecord(requestID, c, action)}
	ad.rec.Tenant = tenant
	if st != nil {
		ad.rec.PredicateType = st.PredicateType
		for _, sub := range st.Subject {
			for alg, d := range sub.Digest {
				ad.rec.SubjectDigests = append(ad.rec.SubjectDigests, alg+":"+strings.ToLower(d))
			}
		}
		slices.Sort(ad.rec.SubjectDigests)
	}
	a := s.admission()
	if a == nil {
		return ad, nil
	}
	t, err := a.Entitlement.Admit(tenant, int64(payloadBytes), 1)
	if err != nil {
		ad.rec.PoEState, ad.rec.QuotaState = poeState(err), quotaState(err)
		return ad, err
	}
	ad.ticket = t
	ad.rec.PoEState = t.Decision.State + ":" + t.Decision.LicenceID
	ad.rec.QuotaState = "day " + t.Day + " " + strconv.FormatInt(t.DailyUsed, 10)
	if st != nil && scanner != nil && slices.Contains(a.ScannerPredicates, st.PredicateType) {
		ad.rec.Reason = "scanner " + *scanner
		if err := a.Scanner.Check(ctx, tenant, *scanner); err != nil {
			t.Cancel()
			t.Release()
			ad.ticket = nil
			return ad, err
		}
	}
	return ad, nil
}

func poeState(err error) string {
	var ee *entitlement.Error
	if errors.As(err, &ee) && !strings.HasPrefix(ee.Code, "quota_") {
		return ee.Code
	}
	return ""
}

func quotaState(err error) string {
	var ee *entitlement.Error
	if errors.As(err, &ee) && strings.HasPrefix(ee.Code, "quota_") {
		if ee.RetryAfter > 0 {
			return ee.Code + " retry " + ee.RetryAfter.Round(time.Millisecond).String()
		}
		return ee.Code
	}
	return ""
}

// withoutProof returns c with its DPoP proof id already accounted for: once a
// request's proof id is committed, its further rows (the other signatures of a
// submission, a later refusal) must not record it again, which would read as
// a replay.
func withoutProof(c *Caller) *Caller {
	if c == nil || c.Binding != authn.BindingDPoP {
		return c
	}
	cp := *c
	cp.Binding = ""
	return &cp
}

// mayRead reports whether c may read a row of tenant: without admission
// everyone may, an admin principal without a tenant may read every tenant's,
// a tenant-bound caller only its own.
func (s *Service) mayRead(c *Caller, tenant string) bool {
	if s.admission() == nil {
		return true
	}
	return c != nil && (c.Tenant == tenant || c.Tenant == "" && c.HasScope(authn.ScopeAdmin))
}
