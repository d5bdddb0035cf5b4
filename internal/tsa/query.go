package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// FailureInfo is an RFC 3161 §2.4.2 PKIFailureInfo bit: why a query was
// refused. Its String is the RFC's name, fit for a metric label.
type FailureInfo int

// The failure infos Respond uses (RFC 3161 §2.4.2).
const (
	// BadAlg: the hash algorithm is not SHA-256, SHA-384 or SHA-512.
	BadAlg FailureInfo = 0
	// BadRequest: the query is well formed but not supported (version).
	BadRequest FailureInfo = 2
	// BadDataFormat: the query is not a DER TimeStampReq, is too large, or
	// its digest length does not match its hash algorithm.
	BadDataFormat FailureInfo = 5
	// UnacceptedPolicy: the query asks for a policy this TSA does not use.
	UnacceptedPolicy FailureInfo = 15
	// UnacceptedExtension: the query carries extensions, which this TSA
	// does not support.
	UnacceptedExtension FailureInfo = 16
	// SystemFailure: the TSA could not answer (signer, clock, context).
	SystemFailure FailureInfo = 25
)

// String returns the RFC 3161 name of f, such as "badAlg".
func (f FailureInfo) String() string {
	switch f {
	case BadAlg:
		return "badAlg"
	case BadRequest:
		return "badRequest"
	case BadDataFormat:
		return "badDataFormat"
	case UnacceptedPolicy:
		return "unacceptedPolicy"
	case UnacceptedExtension:
		return "unacceptedExtension"
	case SystemFailure:
		return "systemFailure"
	}
	return fmt.Sprintf("failureInfo(%d)", int(f))
}

// RejectError is the error of Respond for a query the client got wrong; the
// TimeStampResp returned with it has status rejection and failure info Info.
// The HTTP layer sends that response (HTTP 200, as RFC 3161 §3.4 expects)
// and logs or counts the rejection by Info.
type RejectError struct {
	// Info is the RFC 3161 failure info sent to the client.
	Info FailureInfo
	// Reason is the human-readable text sent as the response's
	// statusString.
	Reason string
}

// Error returns "tsa: query rejected (INFO): REASON".
func (e *RejectError) Error() string {
	return fmt.Sprintf("tsa: query rejected (%s): %s", e.Info, e.Reason)
}

func reject(info FailureInfo, format string, args ...any) *RejectError {
	return &RejectError{Info: info, Reason: fmt.Sprintf(format, args...)}
}

// timeStampReq is RFC 3161 §2.4.1 TimeStampReq. MessageImprint stays raw so
// the token can echo the client's exact bytes (§2.4.2: "MUST have the same
// value").
type timeStampReq struct {
	Version        int
	MessageImprint asn1.RawValue
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional,default:false"`
	Extensions     []pkix.Extension      `asn1:"optional,tag:0"`
}

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// query is a parsed, accepted TimeStampReq.
type query struct {
	imprint []byte // DER MessageImprint, as sent
	hash    crypto.Hash
	digest  []byte
	policy  asn1.ObjectIdentifier
	nonce   *big.Int
	certReq bool
	exts    int
}

var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// parseQuery decodes a DER TimeStampReq. Its error is always a
// *RejectError. It does not judge the policy or the extensions: Respond does,
// against the TSA's configuration.
//
// Written by hand rather than with timestamp.ParseRequest from
// github.com/digitorus/timestamp because that function reports an unknown
// hash algorithm and a malformed query with the same untyped error (so the
// failure info could not be chosen), accepts SHA-1 and any version, does not
// bound the input, and loses the exact messageImprint bytes the token must
// echo.
func parseQuery(der []byte) (*query, *RejectError) {
	if len(der) > MaxQuerySize {
		return nil, reject(BadDataFormat, "query of %d bytes exceeds %d", len(der), MaxQuerySize)
	}
	var req timeStampReq
	rest, err := asn1.Unmarshal(der, &req)
	if err != nil {
		return nil, reject(BadDataFormat, "not a DER TimeStampReq: %v", err)
	}
	if len(rest) != 0 {
		return nil, reject(BadDataFormat, "%d bytes after the TimeStampReq", len(rest))
	}
	if req.Version != 1 {
		return nil, reject(BadRequest, "TimeStampReq version %d; only v1 is defined", req.Version)
	}
	var mi messageImprint
	rest, err = asn1.Unmarshal(req.MessageImprint.FullBytes, &mi)
	if err != nil {
		return nil, reject(BadDataFormat, "messageImprint: %v", err)
	}
	if len(rest) != 0 {
		return nil, reject(BadDataFormat, "messageImprint: trailing data")
	}
	alg := mi.HashAlgorithm
	var h crypto.Hash
	switch {
	case alg.Algorithm.Equal(oidSHA256):
		h = crypto.SHA256
	case alg.Algorithm.Equal(oidSHA384):
		h = crypto.SHA384
	case alg.Algorithm.Equal(oidSHA512):
		h = crypto.SHA512
	default:
		return nil, reject(BadAlg, "hash algorithm %v; want SHA-256, SHA-384 or SHA-512", alg.Algorithm)
	}
	// RFC 5754 §2: the parameters are absent or NULL.
	if len(alg.Parameters.FullBytes) != 0 && !bytes.Equal(alg.Parameters.FullBytes, asn1.NullBytes) {
		return nil, reject(BadAlg, "hash algorithm %v has parameters other than NULL", alg.Algorithm)
	}
	if len(mi.HashedMessage) != h.Size() {
		return nil, reject(BadDataFormat, "hashedMessage of %d bytes for %v, which gives %d", len(mi.HashedMessage), h, h.Size())
	}
	return &query{
		imprint: req.MessageImprint.FullBytes,
		hash:    h,
		digest:  mi.HashedMessage,
		policy:  req.ReqPolicy,
		nonce:   req.Nonce,
		certReq: req.CertReq,
		exts:    len(req.Extensions),
	}, nil
}

// queryReq is the TimeStampReq that Query writes: no policy, no nonce,
// certReq false (DER omits a DEFAULT value), no extensions.
type queryReq struct {
	Version        int
	MessageImprint messageImprint
}

// Query returns a DER RFC 3161 §2.4.1 TimeStampReq for digest, made with h
// (SHA-256, SHA-384 or SHA-512): the query cosign v3 sends, with the hash
// algorithm's parameters NULL, no policy, no nonce and certReq false, so the
// token carries no certificate. It fails for another hash or a digest of the
// wrong length.
func Query(h crypto.Hash, digest []byte) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	switch h {
	case crypto.SHA256:
		oid = oidSHA256
	case crypto.SHA384:
		oid = oidSHA384
	case crypto.SHA512:
		oid = oidSHA512
	default:
		return nil, fmt.Errorf("tsa: query: hash %v; want SHA-256, SHA-384 or SHA-512", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("tsa: query: digest of %d bytes for %v, which gives %d", len(digest), h, h.Size())
	}
	der, err := asn1.Marshal(queryReq{Version: 1, MessageImprint: messageImprint{
		HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue},
		HashedMessage: digest,
	}})
	if err != nil {
		return nil, fmt.Errorf("tsa: query: %w", err)
	}
	return der, nil
}
