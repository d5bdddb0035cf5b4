package bundle

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and the RFC 6962 root hash, plus any extension lines.
type Checkpoint struct {
	Origin     string
	Size       uint64
	Hash       []byte
	Extensions []string
}

// ErrCheckpoint is returned (wrapped) when a checkpoint's signature or
// syntax is wrong, or it does not match the proof it should support.
var ErrCheckpoint = errors.New("bundle: bad checkpoint")

// MaxCheckpointSize bounds the signed notes VerifyCheckpoint reads.
const MaxCheckpointSize = 1 << 20

// Text returns the checkpoint body (the text a log signs).
func (c *Checkpoint) Text() []byte {
	var b []byte
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Hash)
	b = append(b, '\n')
	for _, e := range c.Extensions {
		b = append(b, e...)
		b = append(b, '\n')
	}
	return b
}

// ParseCheckpoint parses an (already verified) checkpoint body strictly:
// origin line, decimal size without leading zeros, standard base64 hash of
// 32 bytes, then non-empty extension lines, each line ending in a newline.
func ParseCheckpoint(text []byte) (*Checkpoint, error) {
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, fmt.Errorf("%w: text does not end in a newline", ErrCheckpoint)
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%w: %d lines, want at least 3", ErrCheckpoint, len(lines))
	}
	c := &Checkpoint{Origin: lines[0]}
	if c.Origin == "" {
		return nil, fmt.Errorf("%w: empty origin", ErrCheckpoint)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return nil, fmt.Errorf("%w: size %q", ErrCheckpoint, lines[1])
	}
	c.Size = size
	// The decoder skips \r and \n even in strict mode: only the canonical
	// encoding of the hash is accepted, so that Text gives back these bytes.
	if c.Hash, err = base64.StdEncoding.Strict().DecodeString(lines[2]); err != nil || len(c.Hash) != 32 ||
		base64.StdEncoding.EncodeToString(c.Hash) != lines[2] {
		return nil, fmt.Errorf("%w: root hash %q", ErrCheckpoint, lines[2])
	}
	for _, e := range lines[3:] {
		if e == "" {
			return nil, fmt.Errorf("%w: empty extension line", ErrCheckpoint)
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// VerifyCheckpoint opens the signed note with v, requires the checkpoint's
// origin to be v's name, and parses the body. Signatures by keys other than v
// are ignored (witness cosignatures, for instance).
func VerifyCheckpoint(signedNote []byte, v note.Verifier) (*Checkpoint, error) {
	if len(signedNote) > MaxCheckpointSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrCheckpoint, len(signedNote))
	}
	n, err := note.Open(signedNote, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if c.Origin != v.Name() {
		return nil, fmt.Errorf("%w: origin %q, want %q", ErrCheckpoint, c.Origin, v.Name())
	}
	return c, nil
}

// SignCheckpoint returns c as a signed note signed by each of signers.
func SignCheckpoint(c *Checkpoint, signers ...note.Signer) ([]byte, error) {
	out, err := note.Sign(&note.Note{Text: string(c.Text())}, signers...)
	if err != nil {
		return nil, fmt.Errorf("bundle: signing checkpoint: %w", err)
	}
	return out, nil
}

// InclusionProof is an RFC 6962 inclusion proof of the leaf at LogIndex in
// the tree of TreeSize leaves with root RootHash, together with the signed
// checkpoint (a signed note) that commits to that tree.
type InclusionProof struct {
	LogIndex, TreeSize uint64
	RootHash           []byte
	Hashes             [][]byte
	Checkpoint         string
}

// VerifyInclusion checks the checkpoint's signature with v, that it commits
// to p.TreeSize and p.RootHash, and the RFC 6962 inclusion proof of leafHash.
func VerifyInclusion(leafHash []byte, p InclusionProof, v note.Verifier) error {
	c, err := VerifyCheckpoint([]byte(p.Checkpoint), v)
	if err != nil {
		return err
	}
	if c.Size != p.TreeSize || !bytes.Equal(c.Hash, p.RootHash) {
		return fmt.Errorf("%w: commits to size %d root %x, proof is for size %d root %x", ErrCheckpoint, c.Size, c.Hash, p.TreeSize, p.RootHash)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.LogIndex, p.TreeSize, leafHash, p.Hashes, p.RootHash); err != nil {
		return fmt.Errorf("bundle: inclusion proof of index %d in size %d: %w", p.LogIndex, p.TreeSize, err)
	}
	return nil
}
