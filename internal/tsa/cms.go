package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// The CMS SignedData of a token (RFC 5652 §5) is encoded here rather than by
// github.com/digitorus/pkcs7 (which digitorus/timestamp uses): pkcs7's
// AddSigner stamps the signingTime attribute from time.Now, out of reach of
// Config.Now, and pkcs7's own verifier (the one sigstore's client runs)
// rejects a token whose signingTime falls outside the TSA certificate's
// validity. With genTime and signingTime both from Config.Now, the TSA's
// clock is one clock. Only the signer's Sign (or SignContext) is called.

var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []algorithmIdentifier `asn1:"set"`
	EncapContentInfo contentInfo
	Certificates     asn1.RawValue `asn1:"optional"` // [0] IMPLICIT CertificateSet
	SignerInfos      []signerInfo  `asn1:"set"`
}

type issuerAndSerialNumber struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerialNumber
	DigestAlgorithm    algorithmIdentifier
	SignedAttrs        asn1.RawValue // [0] IMPLICIT SET OF Attribute
	SignatureAlgorithm algorithmIdentifier
	Signature          []byte
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF, one value
}

// signatureAlgorithm is the CMS signatureAlgorithm for the key and digest:
// ecdsa-with-SHA* without parameters (RFC 5758 §3.2) or sha*WithRSAEncryption
// with NULL parameters (RFC 4055 §5).
func signatureAlgorithm(pub crypto.PublicKey, h crypto.Hash) algorithmIdentifier {
	if _, ok := pub.(*rsa.PublicKey); ok {
		oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA}[h]
		return algorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}
	}
	oid := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[h]
	return algorithmIdentifier{Algorithm: oid}
}

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return oidSHA256
}

// encodeAttr encodes one Attribute whose single value is the DER value.
func encodeAttr(typ asn1.ObjectIdentifier, value []byte) ([]byte, error) {
	return asn1.Marshal(attribute{Type: typ, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: value}})
}

// signTSTInfo wraps the DER TSTInfo in a CMS ContentInfo of type SignedData
// signed by t.signer, with the signed attributes contentType, messageDigest,
// signingTime (= genTime) and signingCertificateV2, and the leaf in
// certificates when withCert.
func (t *TSA) signTSTInfo(ctx context.Context, info []byte, genTime time.Time, withCert bool) ([]byte, error) {
	h := t.hash.New()
	h.Write(info)
	digest, err := asn1.Marshal(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	ctype, err := asn1.Marshal(oidCTTSTInfo)
	if err != nil {
		return nil, err
	}
	stime, err := asn1.Marshal(genTime) // UTCTime until 2049, then GeneralizedTime (RFC 5652 §11.3)
	if err != nil {
		return nil, err
	}
	var attrs [][]byte
	for _, a := range []struct {
		typ asn1.ObjectIdentifier
		val []byte
	}{{oidContentType, ctype}, {oidMessageDigest, digest}, {oidSigningTime, stime}, {oidAASigningCertV2, t.essAttr}} {
		der, err := encodeAttr(a.typ, a.val)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, der)
	}
	// DER orders a SET OF by its elements' encodings (X.690 §11.6).
	slices.SortFunc(attrs, bytes.Compare)
	set, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(attrs, nil)})
	if err != nil {
		return nil, err
	}
	// The signature covers the attributes encoded as a SET (RFC 5652 §5.4);
	// the SignerInfo carries them [0] IMPLICIT.
	h = t.hash.New()
	h.Write(set)
	sig, err := t.sign(ctx, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("tsa: signing the token: %w", err)
	}

	sd := signedData{
		Version:          3, // RFC 5652 §5.1: eContentType is not id-data
		DigestAlgorithms: []algorithmIdentifier{{Algorithm: hashOID(t.hash)}},
		EncapContentInfo: contentInfo{ContentType: oidCTTSTInfo},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: t.leaf.RawIssuer}, Serial: t.leaf.SerialNumber},
			DigestAlgorithm:    algorithmIdentifier{Algorithm: hashOID(t.hash)},
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(attrs, nil)},
			SignatureAlgorithm: t.sigAlg,
			Signature:          sig,
		}},
	}
	econtent, err := asn1.Marshal(info) // OCTET STRING
	if err != nil {
		return nil, err
	}
	sd.EncapContentInfo.Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: econtent}
	if withCert {
		sd.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: t.leaf.Raw}
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding SignedData: %w", err)
	}
	return asn1.Marshal(contentInfo{
		ContentType: oidSignedData,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner},
	})
}

// sign signs digest with the TSA key, through SignContext when the key has
// it. The randomness is crypto/rand's (an HSM ignores it).
func (t *TSA) sign(ctx context.Context, digest []byte) ([]byte, error) {
	if cs, ok := t.signer.(contextSigner); ok {
		return cs.SignContext(ctx, digest, t.hash)
	}
	return t.signer.Sign(rand.Reader, digest, t.hash)
}

// contextSigner is a Signer that can stop waiting when ctx is done, as the
// keys of internal/keys can.
type contextSigner interface {
	crypto.Signer
	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}
