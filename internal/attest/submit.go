package attest

import (
	"context"
	"crypto"
	"fmt"

	"github.com/stellaops/stellad/kit/dsse"
)

// Submit logs an envelope signed elsewhere. Every signature that verifies
// against a trusted key (the appliance's own DSSE keys and Config.TrustedKeys)
// gets its own hashedrekord leaf; signatures by unknown keys are ignored and at
// least one must verify. The envelope is stored verbatim. A resubmission of an
// already logged signature answers with the existing entry. Errors wrap
// ErrInvalidEnvelope, ErrUntrusted or ErrUnavailable.
func (s *Service) Submit(ctx context.Context, tenant string, envelopeJSON []byte) ([]*Issued, error) {
	env, err := dsse.Parse(envelopeJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidEnvelope, err)
	}
	accepted, err := dsse.Verify(env, 1, toPublicKeys(s.trusted)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	var stmt *dsse.Statement
	if env.PayloadType == dsse.PayloadTypeInToto {
		st, err := dsse.ParseStatement(env.Payload)
		if err != nil {
			return nil, fmt.Errorf("%w: payload: %v", ErrInvalidEnvelope, err)
		}
		stmt = st
	}
	pae := dsse.PAE(env.PayloadType, env.Payload)
	tenant = s.tenant(tenant)
	out := make([]*Issued, 0, len(accepted))
	for _, a := range accepted {
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
		})
		if err != nil {
			return nil, err
		}
		out = append(out, is)
	}
	return out, nil
}

func toPublicKeys(ks []trustedKey) []crypto.PublicKey {
	out := make([]crypto.PublicKey, len(ks))
	for i, k := range ks {
		out[i] = k.pub
	}
	return out
}
