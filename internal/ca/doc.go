// Package ca is the appliance's Fulcio-compatible certificate authority: it
// issues short-lived code-signing certificates that bind a caller's public key
// to the identity an identity token proved, so that stock cosign can sign
// keyless inside a sealed network and verify with --certificate-identity and
// --certificate-oidc-issuer.
//
// The promise: every certificate Issue returns
//
//   - is valid for Config.Validity (10 minutes at most) from the moment it was
//     issued, has an empty subject, a random positive 159-bit serial, KeyUsage
//     digitalSignature, ExtKeyUsage codeSigning, subject and authority key
//     identifiers;
//   - names the identity in exactly one critical Subject Alternative Name: an
//     rfc822Name for a verified email, a URI for an absolute URI subject, and
//     otherwise a Fulcio "username" otherName (1.3.6.1.4.1.57264.1.7,
//     UTF8String) — the three forms sigstore-go's certificate summary reads;
//   - carries the token issuer in Fulcio's 1.3.6.1.4.1.57264.1.8 (DER
//     UTF8String) and, as Fulcio still does, the deprecated
//     1.3.6.1.4.1.57264.1.1 (raw bytes);
//   - was first logged as an RFC 6962 precertificate through a PrecertLogger
//     (the embedded CT log) and carries the returned SCT in the
//     1.3.6.1.4.1.11129.2.4.2 extension, so verifiers that demand an SCT
//     accept it without --insecure-ignore-sct.
//
// The CA signs directly with its own key (a crypto.Signer, in production a
// PKCS#11 key in the HSM): there is no intermediate precertificate-signing
// certificate, so the precertificate is the final certificate's
// TBSCertificate with the CT poison extension in place of the SCT list,
// signed by the same key.
//
// The wire codec (DecodeRequest, Request, EncodeResponse) speaks the JSON of
// Fulcio's POST /api/v2/signingCert. Token verification and HTTP belong to the
// caller (internal/api): it verifies the identity token, calls DecodeRequest,
// Request.VerifyPossession with the token's subject, Issue, and
// EncodeResponse. Input problems are *refusal.Error values with the codes
// CodeBadRequest, CodeBadKey and CodeProofFailed (all meant for HTTP 400);
// every other error is the appliance's own failure.
//
// A CA is safe for concurrent use.
package ca
