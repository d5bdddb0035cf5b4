package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrVerification is wrapped by every error that means "this bundle does not
// verify": a tampered envelope, a wrong key, a subject that does not name the
// artifact, a predicate type other than the one asked for, a log entry that is
// not of this signature, a bad inclusion proof, a bad or foreign checkpoint, or
// a log that the trusted root does not name.
var ErrVerification = errors.New("bundle does not verify")

// ErrInvalidInput is wrapped by errors about inputs that cannot be checked at
// all: bundle bytes that are not a Sigstore bundle, a trusted root that does not
// parse, a missing artifact or an unusable key.
var ErrInvalidInput = errors.New("invalid input")

// ErrKeyRequired is returned (it wraps ErrInvalidInput) when the bundle carries
// only a public-key hint and Options.Key is nil: the verifier must be told
// which key to trust.
var ErrKeyRequired = fmt.Errorf("%w: bundle names no certificate; a public key is required", ErrInvalidInput)

// MaxBundleSize bounds the bundle bytes Verify accepts (64 MiB).
const MaxBundleSize = 64 << 20

// Options says what to trust and what the bundle must be about.
type Options struct {
	// TrustedRoot is a Sigstore trusted_root.json naming the transparency
	// log(s) whose checkpoints are trusted. Required.
	TrustedRoot []byte
	// Key is the signer's public key. Nil is refused for a bundle with a
	// public-key hint (ErrKeyRequired); certificate bundles are not supported yet.
	Key crypto.PublicKey
	// ArtifactDigest is the SHA-256 of the subject file. Exactly one of
	// ArtifactDigest and Artifact is set.
	ArtifactDigest []byte
	// Artifact is read to the end and hashed with SHA-256 when ArtifactDigest is nil.
	Artifact io.Reader
	// PredicateType, when set, must equal the statement's predicate type.
	PredicateType string
}

// Subject is one subject of the verified in-toto statement.
type Subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// Result describes what was verified.
type Result struct {
	// PredicateType is the statement's predicate type URI.
	PredicateType string `json:"predicateType"`
	// Subjects lists the statement's subjects.
	Subjects []Subject `json:"subjects"`
	// LogIndex is the index of the log entry.
	LogIndex uint64 `json:"logIndex"`
	// TreeSize is the size of the tree the checkpoint commits to.
	TreeSize uint64 `json:"treeSize"`
	// RootHash is the root hash of that tree, as the signed checkpoint states it.
	RootHash []byte `json:"rootHash"`
	// LogOrigin is the checkpoint origin (the host of the log's baseUrl).
	LogOrigin string `json:"logOrigin"`
	// LogID is the hex SHA-256 of the log key (the bundle's logId.keyId).
	LogID string `json:"logId"`
	// KeyID is the hex SHA-256 of the signer's PKIX public key.
	KeyID string `json:"keyId"`
}

// Verify checks bundleJSON against opts and returns what it verified. It reads
// opts.Artifact when set and touches nothing else: no network, no clock. Errors
// wrap ErrVerification or ErrInvalidInput (see the package doc). Verify is safe
// for concurrent use.
func Verify(bundleJSON []byte, opts Options) (*Result, error) {
	in, err := prepare(bundleJSON, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{KeyID: in.keyID}

	stmt, err := checkEnvelope(in)
	if err != nil {
		return nil, err
	}
	res.PredicateType = stmt.PredicateType
	res.Subjects = stmt.Subject
	if err := checkStatement(stmt, in.digest, opts.PredicateType); err != nil {
		return nil, err
	}
	if err := checkTlog(in, res); err != nil {
		return nil, err
	}
	if err := checkWithSigstore(in); err != nil {
		return nil, err
	}
	return res, nil
}

// input is everything Verify derived from its arguments before checking.
type input struct {
	raw       *protobundle.Bundle
	trusted   *root.TrustedRoot
	key       crypto.PublicKey
	keyDER    []byte
	keyID     string
	digest    []byte
	trustJSON []byte
}

func prepare(bundleJSON []byte, opts Options) (*input, error) {
	if len(bundleJSON) == 0 {
		return nil, fmt.Errorf("%w: bundle is empty", ErrInvalidInput)
	}
	if len(bundleJSON) > MaxBundleSize {
		return nil, fmt.Errorf("%w: bundle is %d bytes, more than the %d allowed", ErrInvalidInput, len(bundleJSON), MaxBundleSize)
	}
	// Parse the protobuf form only: sigstore-go's stricter bundle validation
	// (which also parses the log entry body) runs in checkWithSigstore, after
	// this package's checks have named what is wrong.
	var b protobundle.Bundle
	if err := protojson.Unmarshal(bundleJSON, &b); err != nil {
		return nil, fmt.Errorf("%w: parsing bundle: %v", ErrInvalidInput, err)
	}
	if !strings.HasPrefix(b.GetMediaType(), "application/vnd.dev.sigstore.bundle") {
		return nil, fmt.Errorf("%w: parsing bundle: media type %q is not a Sigstore bundle's", ErrInvalidInput, b.GetMediaType())
	}
	if b.GetDsseEnvelope() == nil {
		return nil, fmt.Errorf("%w: bundle carries no DSSE envelope", ErrInvalidInput)
	}
	if b.GetVerificationMaterial() == nil {
		return nil, fmt.Errorf("%w: bundle carries no verification material", ErrInvalidInput)
	}
	if len(opts.TrustedRoot) == 0 {
		return nil, fmt.Errorf("%w: no trusted root given", ErrInvalidInput)
	}
	tr, err := root.NewTrustedRootFromJSON(opts.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing trusted root: %v", ErrInvalidInput, err)
	}
	if len(tr.RekorLogs()) == 0 {
		return nil, fmt.Errorf("%w: trusted root names no transparency log", ErrInvalidInput)
	}

	vm := b.GetVerificationMaterial()
	if vm.GetCertificate() != nil || vm.GetX509CertificateChain() != nil {
		return nil, fmt.Errorf("%w: bundle carries a certificate; certificate verification is not supported yet", ErrInvalidInput)
	}
	if opts.Key == nil {
		return nil, ErrKeyRequired
	}
	der, err := x509.MarshalPKIXPublicKey(opts.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the public key: %v", ErrInvalidInput, err)
	}
	sum := sha256.Sum256(der)

	digest, err := artifactDigest(opts)
	if err != nil {
		return nil, err
	}
	return &input{
		raw:       &b,
		trusted:   tr,
		key:       opts.Key,
		keyDER:    der,
		keyID:     hex.EncodeToString(sum[:]),
		digest:    digest,
		trustJSON: opts.TrustedRoot,
	}, nil
}

func artifactDigest(opts Options) ([]byte, error) {
	switch {
	case opts.ArtifactDigest != nil && opts.Artifact != nil:
		return nil, fmt.Errorf("%w: both an artifact digest and an artifact given", ErrInvalidInput)
	case opts.ArtifactDigest != nil:
		if len(opts.ArtifactDigest) != sha256.Size {
			return nil, fmt.Errorf("%w: artifact digest is %d bytes, want a %d-byte SHA-256", ErrInvalidInput, len(opts.ArtifactDigest), sha256.Size)
		}
		return bytes.Clone(opts.ArtifactDigest), nil
	case opts.Artifact != nil:
		h := sha256.New()
		if _, err := io.Copy(h, opts.Artifact); err != nil {
			return nil, fmt.Errorf("%w: reading the artifact: %v", ErrInvalidInput, err)
		}
		return h.Sum(nil), nil
	default:
		return nil, fmt.Errorf("%w: no artifact or artifact digest given", ErrInvalidInput)
	}
}

// failf returns a verification failure; the message is kept on one line.
func failf(format string, args ...any) error {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	return fmt.Errorf("%w: %s", ErrVerification, msg)
}
