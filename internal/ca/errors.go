package ca

import (
	"github.com/stellaops/stellad/internal/refusal"
)

// Refusal codes carried by the *refusal.Error values this package returns for
// bad input. They are stable; every one is meant to answer HTTP 400. Compare
// with errors.Is(err, &refusal.Error{Code: CodeBadKey}).
const (
	// CodeBadRequest: the request body is not a Fulcio v2 signing-certificate
	// request (too large, not JSON, unknown or duplicate field, neither or
	// both of publicKeyRequest and certificateSigningRequest, bad base64 or
	// PEM), or the identity cannot be put in a certificate.
	CodeBadRequest = "ca_bad_request"
	// CodeBadKey: the public key is of a type or size the CA does not certify
	// (it accepts ECDSA P-256 and P-384, RSA of 2048 to 4096 bits, Ed25519),
	// or it contradicts the declared algorithm.
	CodeBadKey = "ca_bad_key"
	// CodeProofFailed: the proof of possession (a signature over the token's
	// subject, or the CSR's own signature) does not verify with the key.
	CodeProofFailed = "ca_proof_failed"
)

func badRequest(format string, args ...any) error {
	return refusal.New(CodeBadRequest, format, args...)
}

func badKey(format string, args ...any) error {
	return refusal.New(CodeBadKey, format, args...)
}

func proofFailed(format string, args ...any) error {
	return refusal.New(CodeProofFailed, format, args...)
}
