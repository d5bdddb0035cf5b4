package attest

import (
	"context"
)

// Audit actions of the appliance's Sigstore services.
const (
	// ActionCertIssue is a signing certificate issued by the CA.
	ActionCertIssue = "cert.issue"
)

// Allow writes the allow row of a request served outside the signing and
// logging use cases (a certificate issued by the CA, say): action, the
// caller, a note (the certificate's serial and identity) and the digests it
// concerns. Without Admission it writes nothing.
func (s *Service) Allow(ctx context.Context, call Call, action, note string, digests []string) error {
	rec := s.baseRecord(call.RequestID, call.Caller, action)
	rec.Reason, rec.SubjectDigests = note, digests
	return s.allowed(ctx, call.Caller, rec)
}
