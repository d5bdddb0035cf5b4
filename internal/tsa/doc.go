// Package tsa is the appliance's RFC 3161 time-stamping authority: it answers
// DER TimeStampReq queries (RFC 3161 §2.4.1) with DER TimeStampResp answers
// (§2.4.2) whose token is a CMS SignedData (RFC 5652) over a TSTInfo, signed
// through a crypto.Signer (a PKCS#11 key in production, a file key in
// development) and carrying the ESS signing-certificate-v2 attribute of
// RFC 5816. Stock cosign v3.1.3 and sigstore's timestamp-authority
// verification library accept its tokens, and so does `openssl ts -verify`.
//
// The promise: Respond always returns a TimeStampResp to send back, even when
// it returns an error. A query the client got wrong is answered with status
// rejection and the RFC 3161 failure info (badAlg, badRequest, badDataFormat,
// unacceptedPolicy, unacceptedExtension), and the error is a *RejectError; a
// failure of the TSA itself (signer, clock outside the certificate's
// validity, cancelled context) is answered with systemFailure and any other
// error. A granted token echoes the query's messageImprint bytes and nonce,
// names Config.Policy, carries a fresh random 128-bit serial number drawn
// from Config.Rand and genTime = Config.Now() in UTC to the second, and
// includes the TSA's certificate (the leaf only) when the query sets certReq.
//
// The certificate chain is leaf (the TSA's own, extended key usage
// timeStamping only and marked critical, RFC 3161 §2.3), intermediates, root
// last: the order Chain and ChainPEM return and the order a Sigstore
// trusted_root.json lists under timestampAuthorities. NewChain is the
// ceremony helper that makes a root and a leaf for two keys.
//
// The ASN.1 is written with encoding/asn1 alone; the production code
// imports no third-party module. github.com/digitorus/timestamp (the
// library sigstore's TSA uses) was read and set aside, each place says why:
// its request parser cannot tell a bad algorithm from bad data, its
// response builder draws its own serial numbers and its CMS layer
// (github.com/digitorus/pkcs7) stamps signingTime from the wall clock
// rather than Config.Now, and its error responses carry no status text.
// The tests verify every answer with that library and with sigstore's
// verifier, sigstore-go's trusted-root path and `openssl ts -verify`.
//
// Concurrency: a *TSA is immutable after New and all its methods are safe for
// concurrent use. It holds no resources and needs no Close; the Signer's
// lifecycle belongs to the caller.
package tsa
