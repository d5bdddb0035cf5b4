package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	kitbundle "github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/verify"
)

// Certificate (keyless) bundles are verified by sigstore-go v1.3.0 with the
// options cosign v3 verify-blob-attestation uses for a Rekor v2 bundle and a
// certificate: one verified log entry, one RFC 3161 timestamp from a TSA in the
// trusted root (the signed time), one SCT from a CT log in the trusted root,
// the chain to a CA of the trusted root at the signed time, the DSSE signature
// with the certificate's key, the statement's subject against the artifact
// digest, and the certificate identity (SAN and Fulcio issuer extension
// 1.3.6.1.4.1.57264.1.8). This file only names what failed and reports what
// was verified; it checks nothing sigstore-go does not.

// The checks certCheckError names.
const (
	checkIdentity      = "identity"
	checkIssuer        = "issuer"
	checkSCT           = "SCT"
	checkTimestamp     = "timestamp"
	checkChain         = "chain"
	checkInclusion     = "inclusion"
	checkSignature     = "signature"
	checkSubject       = "subject"
	checkPredicateType = "predicate type"
	checkBundle        = "bundle"
)

// certCheckError is a certificate bundle that does not verify: Check names
// the failed check (one of the check* constants) and Err says why. It wraps
// errVerifyFailed, so stellactl exits 1.
type certCheckError struct {
	Check string
	Err   error
}

func (e *certCheckError) Error() string { return e.Check + ": " + e.Err.Error() }

func (e *certCheckError) Unwrap() []error { return []error{errVerifyFailed, e.Err} }

// certVerifyOptions says what to trust and what a certificate bundle must be
// about. Every field but PredicateType is required.
type certVerifyOptions struct {
	// TrustedRoot is a Sigstore trusted_root.json naming the log, the CA,
	// the CT log and the TSA.
	TrustedRoot []byte
	// Identity must equal the certificate's subject alternative name.
	Identity string
	// Issuer must equal the certificate's OIDC issuer extension.
	Issuer string
	// PredicateType, when set, must equal the statement's predicate type.
	PredicateType string
	// ArtifactDigest is the SHA-256 of the subject file.
	ArtifactDigest []byte
}

// certIdentity is what a verified certificate bundle adds to verify.Result.
type certIdentity struct {
	// Identity is the certificate's subject alternative name.
	Identity string `json:"identity"`
	// Issuer is the certificate's OIDC issuer (Fulcio extension).
	Issuer string `json:"issuer"`
	// CertificateSerial is the certificate's serial number in lower-case hex
	// (what the appliance's audit row names as keyless:SERIAL).
	CertificateSerial string `json:"certificateSerial"`
	// SignedTime is the earliest verified RFC 3161 timestamp: the time the
	// certificate was checked at.
	SignedTime time.Time `json:"signedTime"`
}

// bundleHasCertificate reports whether bundleJSON parses as a Sigstore bundle
// whose verification material is a certificate or a certificate chain. A
// bundle that does not parse is not one; the key path reports why.
func bundleHasCertificate(bundleJSON []byte) bool {
	var b protobundle.Bundle
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(bundleJSON, &b); err != nil {
		return false
	}
	vm := b.GetVerificationMaterial()
	return vm.GetCertificate() != nil || vm.GetX509CertificateChain() != nil
}

// verifyCertBundle verifies a certificate bundle offline against opts. Errors
// are bad input (the bundle or the trusted root does not parse; exit 2) or a
// *certCheckError naming the failed check (exit 1). It reads no clock and no
// network.
func verifyCertBundle(bundleJSON []byte, opts certVerifyOptions) (*verify.Result, *certIdentity, error) {
	if len(bundleJSON) > verify.MaxBundleSize {
		return nil, nil, usageErrorf("bundle is %d bytes, more than the %d allowed", len(bundleJSON), verify.MaxBundleSize)
	}
	if opts.Identity == "" || opts.Issuer == "" {
		return nil, nil, usageErrorf("a certificate bundle needs --certificate-identity and --certificate-oidc-issuer")
	}
	if len(opts.ArtifactDigest) != sha256.Size {
		return nil, nil, usageErrorf("artifact digest is %d bytes, want %d", len(opts.ArtifactDigest), sha256.Size)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, nil, badInput(fmt.Errorf("parsing bundle: %w", err))
	}
	tr, err := root.NewTrustedRootFromJSON(opts.TrustedRoot)
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("parsing trusted root: %w", err))
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("bundle: %w", err))
	}
	leaf := vc.Certificate()
	if leaf == nil {
		return nil, nil, usageErrorf("bundle carries a public key, not a certificate")
	}
	// Summarised before sigstore-go edits the certificate's unhandled
	// critical extensions (the otherName SAN) for path validation.
	summary, err := certificate.SummarizeCertificate(leaf)
	if err != nil {
		return nil, nil, failCheck(checkIdentity, fmt.Errorf("reading the certificate's identity: %w", err))
	}
	serial := leaf.SerialNumber.Text(16)
	keyDER, err := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	if err != nil {
		return nil, nil, failCheck(checkSignature, fmt.Errorf("encoding the certificate's public key: %w", err))
	}

	v, err := sgverify.NewVerifier(tr, sgverify.WithTransparencyLog(1), sgverify.WithSignedTimestamps(1),
		sgverify.WithSignedCertificateTimestamps(1))
	if err != nil {
		return nil, nil, fmt.Errorf("configuring sigstore-go's verifier: %w", err)
	}
	id, err := sgverify.NewShortCertificateIdentity(opts.Issuer, "", opts.Identity, "")
	if err != nil {
		return nil, nil, usageErrorf("certificate identity: %v", err)
	}
	vr, err := v.Verify(&b, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", opts.ArtifactDigest), sgverify.WithCertificateIdentity(id)))
	if err != nil {
		return nil, nil, classifySigstoreError(err, leaf, summary, opts)
	}

	res := &verify.Result{}
	sum := sha256.Sum256(keyDER)
	res.KeyID = hex.EncodeToString(sum[:])
	if st := vr.Statement; st != nil {
		res.PredicateType = st.GetPredicateType()
		for _, s := range st.GetSubject() {
			res.Subjects = append(res.Subjects, verify.Subject{Name: s.GetName(), Digest: s.GetDigest()})
		}
	}
	if opts.PredicateType != "" && res.PredicateType != opts.PredicateType {
		return nil, nil, failCheck(checkPredicateType, fmt.Errorf("the statement's predicate type is %q, not %q", res.PredicateType, opts.PredicateType))
	}
	if err := fillLogResult(b.Bundle, res); err != nil {
		return nil, nil, err
	}
	ci := &certIdentity{Identity: summary.SubjectAlternativeName, Issuer: summary.Issuer, CertificateSerial: serial}
	for _, ts := range vr.VerifiedTimestamps {
		if ts.Type == "TimestampAuthority" && (ci.SignedTime.IsZero() || ts.Timestamp.Before(ci.SignedTime)) {
			ci.SignedTime = ts.Timestamp.UTC()
		}
	}
	return res, ci, nil
}

func failCheck(check string, err error) error {
	return fmt.Errorf("certificate bundle does not verify: %w", &certCheckError{Check: check, Err: err})
}

// classifySigstoreError names the check behind an error of sigstore-go
// v1.3.0's Verifier.Verify, which prefixes each step's error with the step
// (pkg/verify/signed_entity.go), and says in a line what the step checks.
// Identity errors are split into SAN and issuer by sigstore-go's own matchers
// on the certificate's summary.
func classifySigstoreError(err error, leaf *x509.Certificate, summary certificate.Summary, opts certVerifyOptions) error {
	msg := err.Error()
	step := func(prefix string) bool { return strings.HasPrefix(msg, prefix) }
	var check, what string
	switch {
	case step("failed to verify log inclusion"):
		check, what = checkInclusion, "the log entry, its inclusion proof or its checkpoint does not verify against a log of the trusted root (a changed envelope, signature or certificate changes the entry)"
	case step("failed to verify timestamps"):
		check, what = checkTimestamp, "no RFC 3161 timestamp over the signature verifies against a timestamp authority of the trusted root"
	case step("failed to verify leaf certificate"):
		check, what = checkChain, fmt.Sprintf("the certificate (valid %s to %s) does not chain to a certificate authority of the trusted root at the signed time",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	case step("failed to verify signed certificate timestamp"):
		check, what = checkSCT, "no SCT embedded in the certificate verifies against a CT log of the trusted root"
	case step("failed to verify signature"):
		check, what = checkSignature, "the DSSE signature does not verify with the certificate's key"
		if strings.Contains(msg, "in statement") || strings.Contains(msg, "subject digests") || strings.Contains(msg, "no subjects") {
			check, what = checkSubject, "the subject file's SHA-256 is not a subject of the statement"
		}
	case step("failed to verify certificate identity"):
		san := sgverify.SubjectAlternativeNameMatcher{SubjectAlternativeName: opts.Identity}
		if san.Verify(summary) != nil {
			return failCheck(checkIdentity, fmt.Errorf("the certificate is for %q, not %q", summary.SubjectAlternativeName, opts.Identity))
		}
		iss := sgverify.IssuerMatcher{Issuer: opts.Issuer}
		if iss.Verify(summary) != nil {
			return failCheck(checkIssuer, fmt.Errorf("the certificate's OIDC issuer is %q, not %q", summary.Issuer, opts.Issuer))
		}
		check, what = checkIdentity, "the certificate's identity does not match"
	default:
		check, what = checkBundle, "sigstore-go refuses the bundle"
	}
	// Some of sigstore-go's messages span lines (Merkle roots as byte
	// lists); stellactl prints one line.
	return failCheck(check, fmt.Errorf("%s: %w", what, oneLineError{err}))
}

// oneLineError is err with its message's runs of white space collapsed.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }

func (e oneLineError) Unwrap() error { return e.err }

// fillLogResult copies the verified log entry's index, log id and checkpoint
// (origin, size, root hash) into res. sigstore-go has verified the entry's
// inclusion proof against that checkpoint and the checkpoint's signature by
// the log key, so these are read, not checked, here.
func fillLogResult(b *protobundle.Bundle, res *verify.Result) error {
	entries := b.GetVerificationMaterial().GetTlogEntries()
	if len(entries) != 1 {
		return failCheck(checkInclusion, fmt.Errorf("bundle has %d log entries, want 1", len(entries)))
	}
	e := entries[0]
	res.LogIndex = uint64(e.GetLogIndex())
	res.LogID = hex.EncodeToString(e.GetLogId().GetKeyId())
	env := []byte(e.GetInclusionProof().GetCheckpoint().GetEnvelope())
	text, _, ok := bytes.Cut(env, []byte("\n\n"))
	if !ok {
		return failCheck(checkInclusion, errors.New("the checkpoint is not a signed note"))
	}
	cp, err := kitbundle.ParseCheckpoint(append(bytes.Clone(text), '\n'))
	if err != nil {
		return failCheck(checkInclusion, err)
	}
	res.LogOrigin, res.TreeSize, res.RootHash = cp.Origin, cp.Size, cp.Hash
	return nil
}

// printCertIdentity adds a certificate bundle's identity to printVerified's lines.
func printCertIdentity(w io.Writer, ci *certIdentity) {
	fmt.Fprintf(w, "identity: %s\nissuer: %s\ncertificate serial: %s\nsigned time: %s\n",
		ci.Identity, ci.Issuer, ci.CertificateSerial, ci.SignedTime.Format(time.RFC3339))
}
