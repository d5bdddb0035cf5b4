package attest

import (
	"context"
	"crypto"
	"fmt"
	"time"

	"github.com/stellaops/stellad/internal/audit"

	"github.com/stellaops/stellad/kit/dsse"
)

// Submit logs an envelope signed elsewhere, for the caller's tenant. Every
// signature that verifies against a trusted key (the appliance's own DSSE keys
// and Config.TrustedKeys) gets its own hashedrekord leaf; signatures by
// unknown keys are ignored and at least one must verify. The envelope is
// stored verbatim. A resubmission of an already logged signature answers with
// the existing entry. Admission checks entitlement and quota (each logged
// signature counts); the decision is audited. Errors wrap ErrInvalidEnvelope,
// ErrUntrusted or ErrUnavailable, or are the admission domains' *Error values.
func (s *Service) Submit(ctx context.Context, call Call, envelopeJSON []byte) ([]*Issued, error) {
	out, err := s.submit(ctx, call, envelopeJSON)
	outcome := "logged"
	if err != nil {
		outcome = reasonCode(err)
	}
	s.cfg.Metrics.Submission(outcome)
	return out, err
}

func (s *Service) submit(ctx context.Context, call Call, envelopeJSON []byte) ([]*Issued, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, audit.ActionSubmit)
	tenant, err := s.tenantFor(call.Caller, "")
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	rec.Tenant = tenant
	env, err := dsse.Parse(envelopeJSON)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: %v", ErrInvalidEnvelope, err))
	}
	t0 := time.Now()
	accepted, err := dsse.Verify(env, 1, toPublicKeys(s.trusted)...)
	s.cfg.Metrics.Verified(time.Since(t0))
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: %v", ErrUntrusted, err))
	}
	var stmt *dsse.Statement
	if env.PayloadType == dsse.PayloadTypeInToto {
		st, err := dsse.ParseStatement(env.Payload)
		if err != nil {
			return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w: payload: %v", ErrInvalidEnvelope, err))
		}
		stmt = st
	}
	pae := dsse.PAE(env.PayloadType, env.Payload)
	out := make([]*Issued, 0, len(accepted))
	// caller records the request's DPoP proof id with the first row committed,
	// and only then (withoutProof).
	caller := call.Caller
	for _, a := range accepted {
		// Each signature is its own entry, admitted and audited on its own.
		ad, err := s.admitSubmission(call.Caller, call.RequestID, tenant, stmt, len(envelopeJSON))
		if err != nil {
			return nil, s.refuse(ctx, caller, ad.rec, err)
		}
		ad.rec.KeyURI = "trusted:" + s.trusted[a.Index].id
		sig := env.Signatures[a.SignatureIndex]
		single := &dsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload, Signatures: []dsse.Signature{sig}}
		is, err := s.logSignature(ctx, logJob{
			tenant:   tenant,
			envJSON:  envelopeJSON,
			single:   single,
			sigIndex: a.SignatureIndex,
			pae:      pae,
			key:      s.trusted[a.Index],
			stmt:     stmt,
			also:     s.allowHook(caller, ad),
		})
		if err != nil {
			ad.cancel()
			ad.release()
			return nil, s.refuse(ctx, caller, ad.rec, err)
		}
		if !ad.recorded {
			// A duplicate: nothing was logged, the quota is given back, and
			// the request is audited on its own.
			ad.cancel()
			ad.rec.UUID, ad.rec.LogIndex = is.UUID, &is.Index
			ad.rec.Reason = "duplicate"
			if err := s.allowed(ctx, caller, ad.rec); err != nil {
				ad.release()
				return nil, err
			}
		}
		caller = withoutProof(caller)
		ad.release()
		out = append(out, is)
	}
	return out, nil
}

// admitSubmission admits one submitted signature (entitlement and quota; no
// scanner check: the appliance does not sign it).
func (s *Service) admitSubmission(c *Caller, requestID, tenant string, st *dsse.Statement, size int) (*admitted, error) {
	return s.admit(context.Background(), c, requestID, audit.ActionSubmit, tenant, st, size, nil)
}

func toPublicKeys(ks []trustedKey) []crypto.PublicKey {
	out := make([]crypto.PublicKey, len(ks))
	for i, k := range ks {
		out[i] = k.pub
	}
	return out
}
