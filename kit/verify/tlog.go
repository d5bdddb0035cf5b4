package verify

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekorpb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/protobuf/encoding/protojson"
)

// expectedBody is the RFC 8785 canonical JSON of the Rekor v2 hashedrekord
// v0.0.2 entry that logs this envelope's signature: digest = hash of the DSSE
// PAE, signature = the envelope's signature, verifier = the key (PKIX DER).
func expectedBody(in *input) ([]byte, error) {
	details, err := signature.GetDefaultAlgorithmDetails(in.key, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("%w: key type %T cannot sign Rekor v2 entries: %v", ErrInvalidInput, in.key, err)
	}
	hf := details.GetHashType()
	if hf == crypto.Hash(0) || !hf.Available() {
		return nil, fmt.Errorf("%w: key type %T has no prehash for Rekor v2 entries", ErrInvalidInput, in.key)
	}
	env := in.raw.GetDsseEnvelope()
	h := hf.New()
	h.Write(pae(env.GetPayloadType(), env.GetPayload()))
	entry := &rekorpb.Entry{
		Kind:       "hashedrekord",
		ApiVersion: "0.0.2",
		Spec: &rekorpb.Spec{Spec: &rekorpb.Spec_HashedRekordV002{HashedRekordV002: &rekorpb.HashedRekordLogEntryV002{
			Data: &protocommon.HashOutput{Algorithm: details.GetProtoHashType(), Digest: h.Sum(nil)},
			Signature: &rekorpb.Signature{
				Content: env.GetSignatures()[0].GetSig(),
				Verifier: &rekorpb.Verifier{
					Verifier:   &rekorpb.Verifier_PublicKey{PublicKey: &rekorpb.PublicKey{RawBytes: in.keyDER}},
					KeyDetails: details.GetSignatureAlgorithm(),
				},
			},
		}}},
	}
	js, err := protojson.Marshal(entry)
	if err != nil {
		return nil, fmt.Errorf("encoding the expected log entry: %w", err)
	}
	return jsoncanonicalizer.Transform(js)
}

// checkTlog verifies every log entry of a log the trusted root names, and
// requires at least one; res receives the first verified entry's figures.
func checkTlog(in *input, res *Result) error {
	entries := in.raw.GetVerificationMaterial().GetTlogEntries()
	if len(entries) == 0 {
		return failf("bundle carries no transparency log entry")
	}
	want, err := expectedBody(in)
	if err != nil {
		return err
	}
	logs := in.trusted.RekorLogs()
	verified := 0
	var foreign []string
	for i, e := range entries {
		logID := hex.EncodeToString(e.GetLogId().GetKeyId())
		tl, ok := logs[logID]
		if !ok {
			foreign = append(foreign, logID)
			continue
		}
		r, err := checkEntry(e, tl, want)
		if errors.Is(err, ErrVerification) {
			return failf("log entry %d (log %s): %s", i, logID, strings.TrimPrefix(err.Error(), ErrVerification.Error()+": "))
		}
		if err != nil {
			return fmt.Errorf("log entry %d (log %s): %w", i, logID, err)
		}
		if verified == 0 {
			r.LogID = logID
			res.LogIndex, res.TreeSize, res.RootHash, res.LogOrigin, res.LogID = r.LogIndex, r.TreeSize, r.RootHash, r.LogOrigin, r.LogID
		}
		verified++
	}
	if verified == 0 {
		trusted := make([]string, 0, len(logs))
		for id, tl := range logs {
			trusted = append(trusted, id+" ("+tl.BaseURL+")")
		}
		sort.Strings(trusted)
		return failf("no log entry is from a log of the trusted root: bundle logs %s; trusted logs %s",
			strings.Join(foreign, ", "), strings.Join(trusted, ", "))
	}
	return nil
}

// checkEntry checks one entry: its kind, its body against want, the checkpoint
// (origin and signature by the trusted log key) and the inclusion proof.
func checkEntry(e *protorekor.TransparencyLogEntry, tl *root.TransparencyLog, want []byte) (*Result, error) {
	if kv := e.GetKindVersion(); kv.GetKind() != "hashedrekord" || kv.GetVersion() != "0.0.2" {
		return nil, failf("entry kind is %s/%s, want hashedrekord/0.0.2", kv.GetKind(), kv.GetVersion())
	}
	body := e.GetCanonicalizedBody()
	if len(body) == 0 {
		return nil, failf("entry has no canonicalizedBody")
	}
	if !bytes.Equal(body, want) {
		return nil, failf("entry body is not the hashedrekord v0.0.2 of this envelope: %s", bodyDiff(body, want))
	}

	ip := e.GetInclusionProof()
	if ip == nil {
		return nil, failf("entry has no inclusion proof")
	}
	if ip.GetLogIndex() != e.GetLogIndex() {
		return nil, failf("inclusion proof is for index %d but the entry has index %d", ip.GetLogIndex(), e.GetLogIndex())
	}
	if ip.GetLogIndex() < 0 || ip.GetTreeSize() <= 0 || ip.GetLogIndex() >= ip.GetTreeSize() {
		return nil, failf("inclusion proof index %d is not inside a tree of size %d", ip.GetLogIndex(), ip.GetTreeSize())
	}

	host, err := logHost(tl)
	if err != nil {
		return nil, err
	}
	cpText := ip.GetCheckpoint().GetEnvelope()
	if cpText == "" {
		return nil, failf("inclusion proof carries no checkpoint")
	}
	origin, _, _ := strings.Cut(cpText, "\n")
	if origin != host {
		return nil, failf("checkpoint origin %q is not %q, the host of the trusted log's baseUrl %s", origin, host, tl.BaseURL)
	}
	cp, err := openCheckpoint(tl, host, cpText)
	if err != nil {
		return nil, err
	}
	if cp.Size != uint64(ip.GetTreeSize()) {
		return nil, failf("checkpoint is for tree size %d but the inclusion proof is for %d", cp.Size, ip.GetTreeSize())
	}
	if !bytes.Equal(cp.Hash, ip.GetRootHash()) {
		return nil, failf("checkpoint root hash %x differs from the inclusion proof's %x", cp.Hash, ip.GetRootHash())
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(body)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(ip.GetLogIndex()), cp.Size, leaf, ip.GetHashes(), cp.Hash); err != nil {
		return nil, failf("inclusion proof of leaf %d in the tree of size %d does not verify: %v", ip.GetLogIndex(), cp.Size, err)
	}
	return &Result{LogIndex: uint64(ip.GetLogIndex()), TreeSize: cp.Size, RootHash: cp.Hash, LogOrigin: cp.Origin}, nil
}

// bodyDiff names which part of a logged hashedrekord differs from the expected one.
func bodyDiff(got, want []byte) string {
	var g, w rekorpb.Entry
	if err := protojson.Unmarshal(got, &g); err != nil {
		return fmt.Sprintf("the logged body is not a Rekor v2 entry (%v)", err)
	}
	if err := protojson.Unmarshal(want, &w); err != nil {
		return "the expected body does not parse"
	}
	if g.GetKind() != w.GetKind() || g.GetApiVersion() != w.GetApiVersion() {
		return fmt.Sprintf("logged kind %s/%s", g.GetKind(), g.GetApiVersion())
	}
	gh, wh := g.GetSpec().GetHashedRekordV002(), w.GetSpec().GetHashedRekordV002()
	switch {
	case gh == nil:
		return "the logged body has no hashedRekordV002 spec"
	case !bytes.Equal(gh.GetData().GetDigest(), wh.GetData().GetDigest()) || gh.GetData().GetAlgorithm() != wh.GetData().GetAlgorithm():
		return fmt.Sprintf("logged digest %s:%x is not the envelope PAE's %s:%x",
			gh.GetData().GetAlgorithm(), gh.GetData().GetDigest(), wh.GetData().GetAlgorithm(), wh.GetData().GetDigest())
	case !bytes.Equal(gh.GetSignature().GetContent(), wh.GetSignature().GetContent()):
		return "the logged signature is not the envelope's signature"
	case !bytes.Equal(gh.GetSignature().GetVerifier().GetPublicKey().GetRawBytes(), wh.GetSignature().GetVerifier().GetPublicKey().GetRawBytes()):
		return "the logged verifier is not the given public key"
	case gh.GetSignature().GetVerifier().GetKeyDetails() != wh.GetSignature().GetVerifier().GetKeyDetails():
		return fmt.Sprintf("logged key details %s, want %s", gh.GetSignature().GetVerifier().GetKeyDetails(), wh.GetSignature().GetVerifier().GetKeyDetails())
	default:
		return "the logged body is not in RFC 8785 canonical form"
	}
}
