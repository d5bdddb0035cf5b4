package ctlog

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
)

// noteSigner signs C2SP checkpoints with an RFC6962NoteSignature (c2sp.org/static-ct-api,
// "Checkpoints"): the signature body is a uint64 timestamp followed by the RFC 6962 §3.5
// TreeHeadSignature digitally-signed struct over (timestamp, size, root). It implements
// golang.org/x/mod/sumdb/note.Signer for Tessera. golang.org/x/mod and transparency-dev/formats
// only verify this signature type, hence this signer.
type noteSigner struct {
	name    string
	keyHash uint32
	signer  crypto.Signer
	now     func() time.Time
}

// sigTypeRFC6962 is the note signature type byte of RFC6962NoteSignature.
const sigTypeRFC6962 = 0x05

// newNoteSigner returns the checkpoint signer for origin, whose key has the given RFC 6962
// log ID.
func newNoteSigner(origin string, logID [32]byte, s crypto.Signer, now func() time.Time) *noteSigner {
	return &noteSigner{name: origin, keyHash: rfc6962KeyHash(origin, logID), signer: s, now: now}
}

// rfc6962KeyHash is the note key ID of an RFC6962NoteSignature key: the first four bytes,
// big-endian, of SHA-256(name || 0x0A || 0x05 || logID).
func rfc6962KeyHash(name string, logID [32]byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', sigTypeRFC6962})
	h.Write(logID[:])
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Name returns the key name, the log's origin.
func (s *noteSigner) Name() string { return s.name }

// KeyHash returns the RFC6962NoteSignature key ID.
func (s *noteSigner) KeyHash() uint32 { return s.keyHash }

// Sign signs a checkpoint body (origin, size, base64 root; no extension lines) and returns the
// RFC6962NoteSignature body.
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	size, root, err := parseCheckpointBody(msg, s.name)
	if err != nil {
		return nil, err
	}
	ts := uint64(s.now().UnixMilli())
	input, err := tls.Marshal(ct.TreeHeadSignature{
		Version:        ct.V1,
		SignatureType:  ct.TreeHashSignatureType,
		Timestamp:      ts,
		TreeSize:       size,
		SHA256RootHash: root,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding tree head signature input: %w", err)
	}
	ds, err := signDigitally(s.signer, input)
	if err != nil {
		return nil, fmt.Errorf("signing checkpoint: %w", err)
	}
	enc, err := tls.Marshal(ds)
	if err != nil {
		return nil, fmt.Errorf("encoding checkpoint signature: %w", err)
	}
	return append(binary.BigEndian.AppendUint64(nil, ts), enc...), nil
}

// parseCheckpointBody parses the three lines of a checkpoint body with no extension lines,
// as RFC6962NoteSignature requires, and checks its origin.
func parseCheckpointBody(msg []byte, origin string) (uint64, ct.SHA256Hash, error) {
	var root ct.SHA256Hash
	lines := bytes.Split(msg, []byte("\n"))
	if len(lines) != 4 || len(lines[3]) != 0 {
		return 0, root, errors.New("checkpoint body must be exactly origin, size and root hash lines")
	}
	if string(lines[0]) != origin {
		return 0, root, fmt.Errorf("checkpoint origin %q, want %q", lines[0], origin)
	}
	size, err := strconv.ParseUint(string(lines[1]), 10, 64)
	if err != nil {
		return 0, root, fmt.Errorf("checkpoint size: %w", err)
	}
	h, err := base64.StdEncoding.DecodeString(string(lines[2]))
	if err != nil || len(h) != len(root) {
		return 0, root, errors.New("checkpoint root hash is not 32 base64-encoded bytes")
	}
	copy(root[:], h)
	return size, root, nil
}

// signDigitally returns the RFC 5246 §4.7 digitally-signed struct (SHA-256, ECDSA) over input.
func signDigitally(s crypto.Signer, input []byte) (tls.DigitallySigned, error) {
	d := sha256.Sum256(input)
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return tls.DigitallySigned{}, err
	}
	return tls.DigitallySigned{
		Algorithm: tls.SignatureAndHashAlgorithm{Hash: tls.SHA256, Signature: tls.ECDSA},
		Signature: sig,
	}, nil
}
