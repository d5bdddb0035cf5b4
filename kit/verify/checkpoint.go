package verify

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"

	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a checkpoint whose signature VerifyCheckpoint checked.
type Checkpoint struct {
	// Origin is the checkpoint origin, the host of the log's baseUrl.
	Origin string `json:"origin"`
	// Size is the tree size the checkpoint commits to.
	Size uint64 `json:"size"`
	// RootHash is the RFC 6962 root hash of that tree.
	RootHash []byte `json:"rootHash"`
	// LogID is the hex SHA-256 of the key of the log that signed it.
	LogID string `json:"logId"`
}

// VerifyCheckpoint checks that signedNote (a C2SP tlog-checkpoint as a signed
// note) is signed by a log of trustedRoot whose baseUrl host is the checkpoint
// origin, and returns its content. Errors wrap ErrInvalidInput (trusted root)
// or ErrVerification (no trusted log signed it).
func VerifyCheckpoint(trustedRoot []byte, signedNote string) (*Checkpoint, error) {
	tr, err := root.NewTrustedRootFromJSON(trustedRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing trusted root: %v", ErrInvalidInput, err)
	}
	origin, _, _ := strings.Cut(signedNote, "\n")
	ids := make([]string, 0, len(tr.RekorLogs()))
	for id := range tr.RekorLogs() {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var hosts []string
	for _, id := range ids {
		tl := tr.RekorLogs()[id]
		host, err := logHost(tl)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, host)
		if host != origin {
			continue
		}
		cp, err := openCheckpoint(tl, host, signedNote)
		if err != nil {
			return nil, err
		}
		return &Checkpoint{Origin: cp.Origin, Size: cp.Size, RootHash: cp.Hash, LogID: id}, nil
	}
	return nil, failf("checkpoint origin %q is not the host of any log in the trusted root (%s)", origin, strings.Join(hosts, ", "))
}

// VerifyInclusion checks an RFC 6962 inclusion proof of the leaf with hash
// leafHash at index in the tree cp commits to. Errors wrap ErrVerification.
func VerifyInclusion(cp *Checkpoint, index uint64, leafHash []byte, hashes [][]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leafHash, hashes, cp.RootHash); err != nil {
		return failf("inclusion proof of leaf %d in the tree of size %d does not verify: %v", index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks an RFC 6962 consistency proof that the tree of size
// oldSize with root oldRoot is a prefix of the tree cp commits to. Errors wrap
// ErrVerification.
func VerifyConsistency(cp *Checkpoint, oldSize uint64, oldRoot []byte, hashes [][]byte) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, oldSize, cp.Size, hashes, oldRoot, cp.RootHash); err != nil {
		return failf("consistency proof from size %d to %d does not verify: %v", oldSize, cp.Size, err)
	}
	return nil
}

// LeafHash is the RFC 6962 leaf hash of a log entry's canonicalized body; its
// hex form is the entry's uuid in stellad.
func LeafHash(body []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(body) }

func logHost(tl *root.TransparencyLog) (string, error) {
	u, err := url.Parse(tl.BaseURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%w: trusted root log baseUrl %q has no host name", ErrInvalidInput, tl.BaseURL)
	}
	return u.Hostname(), nil
}

// openCheckpoint verifies the note signature of cpText by the log tl under the
// name host and parses the checkpoint.
func openCheckpoint(tl *root.TransparencyLog, host, cpText string) (*flog.Checkpoint, error) {
	nv, err := logNoteVerifier(tl, host)
	if err != nil {
		return nil, err
	}
	cp, _, _, err := flog.ParseCheckpoint([]byte(cpText), host, nv)
	if err != nil {
		return nil, failf("checkpoint is not signed by the trusted log key %s for origin %q: %v", hex.EncodeToString(tl.ID), host, err)
	}
	return cp, nil
}

// logNoteVerifier returns the signed-note verifier of the trusted log tl
// under the key name host (Rekor v2's key hash rules).
func logNoteVerifier(tl *root.TransparencyLog, host string) (note.Verifier, error) {
	sv, err := signature.LoadVerifier(tl.PublicKey, tl.SignatureHashFunc)
	if err != nil {
		return nil, fmt.Errorf("%w: loading the trusted log key: %v", ErrInvalidInput, err)
	}
	nv, err := rekornote.NewNoteVerifier(host, sv)
	if err != nil {
		return nil, fmt.Errorf("%w: building the checkpoint verifier for %q: %v", ErrInvalidInput, host, err)
	}
	return nv, nil
}
