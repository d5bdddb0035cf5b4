package tsa

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

var (
	oidExtKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidCTTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}  // RFC 3161 §2.4.2
	oidAASigningCertV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47} // RFC 5035 §3
)

// Respond answers one DER TimeStampReq with a DER TimeStampResp. It returns
// an answer to send in every case but a failure to encode one:
//
//   - granted (status 0) and a nil error;
//   - rejection (status 2) with the RFC 3161 failure info and a
//     *RejectError, for a query that is oversized, not DER, not version 1,
//     uses a hash other than SHA-256/384/512 (badAlg), has a digest of the
//     wrong length (badDataFormat), asks for another policy
//     (unacceptedPolicy) or carries extensions (unacceptedExtension);
//   - rejection with systemFailure and another error when the TSA cannot
//     answer: ctx is done, Now() is outside the chain's validity
//     (ErrOutsideValidity), or the signer fails.
//
// ctx is checked before signing; a Signer that also has SignContext (the
// keys of internal/keys do) gets it, so waiting for an HSM session stops
// when ctx is done, but a PKCS#11 signature in progress cannot be
// interrupted. Respond is safe for concurrent use.
func (t *TSA) Respond(ctx context.Context, query []byte) ([]byte, error) {
	q, rej := parseQuery(query)
	if rej == nil {
		switch {
		case len(q.policy) != 0 && !q.policy.Equal(t.policy):
			rej = reject(UnacceptedPolicy, "policy %v requested; this TSA issues under %v only", q.policy, t.policy)
		case q.exts != 0:
			rej = reject(UnacceptedExtension, "%d request extensions; this TSA supports none", q.exts)
		}
	}
	if rej != nil {
		t.log.Debug("timestamp query rejected", "failure", rej.Info.String(), "err", rej.Reason)
		return refusal(rej.Info, rej.Reason), rej
	}
	if err := ctx.Err(); err != nil {
		return refusal(SystemFailure, "request cancelled"), fmt.Errorf("tsa: answering a query: %w", err)
	}
	genTime := t.now().UTC().Truncate(time.Second)
	if genTime.Before(t.notBefore) || genTime.After(t.notAfter) {
		return refusal(SystemFailure, "the TSA's certificate is not valid at this time"),
			fmt.Errorf("%w: %s not in [%s, %s]", ErrOutsideValidity,
				genTime.Format(time.RFC3339), t.notBefore.UTC().Format(time.RFC3339), t.notAfter.UTC().Format(time.RFC3339))
	}
	token, err := t.token(ctx, q, genTime)
	if err != nil {
		return refusal(SystemFailure, "the TSA could not sign"), err
	}
	resp, err := asn1.Marshal(timeStampResp{
		Status: pkiStatusInfo{Status: statusGranted},
		Token:  asn1.RawValue{FullBytes: token},
	})
	if err != nil {
		return refusal(SystemFailure, "the TSA could not encode its answer"), fmt.Errorf("tsa: encoding TimeStampResp: %w", err)
	}
	return resp, nil
}

// token builds and signs the TimeStampToken (a CMS ContentInfo).
//
// The TSTInfo is encoded here rather than by (*timestamp.Timestamp)
// .CreateResponseWithOpts from github.com/digitorus/timestamp because that
// function draws the serial number from crypto/rand itself and ignores the
// one it is given (so neither Config.Rand nor our serial scheme could apply),
// re-encodes the messageImprint instead of echoing the client's bytes, and
// signs through github.com/digitorus/pkcs7, whose signingTime comes from the
// wall clock (see cms.go).
func (t *TSA) token(ctx context.Context, q *query, genTime time.Time) ([]byte, error) {
	serial, err := t.serial()
	if err != nil {
		return nil, err
	}
	info, err := asn1.Marshal(tstInfo{
		Version:        1,
		Policy:         t.policy,
		MessageImprint: asn1.RawValue{FullBytes: q.imprint},
		SerialNumber:   serial,
		GenTime:        genTime,
		Accuracy:       t.accuracy,
		Nonce:          q.nonce,
		TSA:            t.tsaName,
	})
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding TSTInfo: %w", err)
	}
	return t.signTSTInfo(ctx, info, genTime, q.certReq)
}

// tstInfo is RFC 3161 §2.4.2 TSTInfo. TSA holds the complete [0] EXPLICIT
// GeneralName encoding; ordering (DEFAULT FALSE) and extensions are never
// sent.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint asn1.RawValue
	SerialNumber   *big.Int
	GenTime        time.Time `asn1:"generalized"`
	Accuracy       accuracy  `asn1:"optional"`
	Nonce          *big.Int  `asn1:"optional"`
	TSA            asn1.RawValue
}

// accuracy is RFC 3161 §2.4.2 Accuracy; zero fields are omitted.
type accuracy struct {
	Seconds int64 `asn1:"optional"`
	Millis  int64 `asn1:"optional,tag:0"`
	Micros  int64 `asn1:"optional,tag:1"`
}

func accuracyOf(d time.Duration) accuracy {
	if d < time.Microsecond {
		d = time.Microsecond
	}
	return accuracy{
		Seconds: int64(d / time.Second),
		Millis:  int64(d % time.Second / time.Millisecond),
		Micros:  int64(d % time.Millisecond / time.Microsecond),
	}
}

// tsaGeneralName is the TSTInfo tsa field: [0] EXPLICIT GeneralName, the
// directoryName ([4] EXPLICIT Name) of the leaf's subject.
func tsaGeneralName(leaf *x509.Certificate) (asn1.RawValue, error) {
	dn, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: leaf.RawSubject})
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("tsa: encoding the TSA name: %w", err)
	}
	full, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: dn})
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("tsa: encoding the TSA name: %w", err)
	}
	return asn1.RawValue{FullBytes: full}, nil
}

// essCertIDv2Attr is the value of the signing-certificate-v2 attribute
// (RFC 5035 §3, required by RFC 5816 for SHA-2 tokens): one ESSCertIDv2 with
// the SHA-256 (the default algorithm, so omitted) of the leaf and its
// issuer and serial number.
func essCertIDv2Attr(leaf *x509.Certificate) ([]byte, error) {
	type issuerSerial struct {
		Issuer []asn1.RawValue // GeneralNames
		Serial *big.Int
	}
	type essCertIDv2 struct {
		CertHash     []byte
		IssuerSerial issuerSerial
	}
	type signingCertificateV2 struct {
		Certs []essCertIDv2
	}
	sum := sha256.Sum256(leaf.Raw)
	der, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{
		CertHash: sum[:],
		IssuerSerial: issuerSerial{
			Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: leaf.RawIssuer}},
			Serial: leaf.SerialNumber,
		},
	}}})
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding the signing-certificate-v2 attribute: %w", err)
	}
	return der, nil
}

// PKIStatus values (RFC 3161 §2.4.2) this TSA sends.
const (
	statusGranted   = 0
	statusRejection = 2
)

// timeStampResp is RFC 3161 §2.4.2 TimeStampResp.
type timeStampResp struct {
	Status pkiStatusInfo
	Token  asn1.RawValue `asn1:"optional"`
}

// pkiStatusInfo is RFC 3161 §2.4.2 PKIStatusInfo; StatusString holds
// UTF8String RawValues (PKIFreeText), as encoding/asn1 would otherwise pick
// PrintableString for ASCII text.
type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional,omitempty"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

// refusal encodes a rejection TimeStampResp with one failure info bit and a
// status string. Written by hand rather than with timestamp.
// CreateErrorResponse from github.com/digitorus/timestamp because that
// cannot carry the statusString that tells the client what was wrong. It
// returns nil only if encoding fails, which the fixed shape rules out.
func refusal(info FailureInfo, reason string) []byte {
	bit := int(info)
	fail := asn1.BitString{Bytes: make([]byte, bit/8+1), BitLength: bit + 1}
	fail.Bytes[bit/8] = 0x80 >> (bit % 8)
	der, err := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{
		Status:       statusRejection,
		StatusString: []asn1.RawValue{{Tag: asn1.TagUTF8String, Bytes: []byte(reason)}},
		FailInfo:     fail,
	}})
	if err != nil {
		return nil
	}
	return der
}
