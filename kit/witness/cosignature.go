package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Sentinel errors callers branch on (errors.Is).
var (
	// ErrMalformed: the note, checkpoint, vkey or policy cannot be parsed.
	ErrMalformed = errors.New("witness: malformed input")
	// ErrLogSignature: the checkpoint carries no valid signature by the log
	// key, or the key does not name the checkpoint's origin.
	ErrLogSignature = errors.New("witness: checkpoint not signed by the log")
	// ErrCosignature: a signature line by a known witness key does not verify.
	ErrCosignature = errors.New("witness: invalid cosignature")
	// ErrQuorum: the verified cosignatures do not satisfy the policy's quorum.
	ErrQuorum = errors.New("witness: quorum not satisfied")
)

// MaxNoteSize is the largest signed checkpoint Open accepts.
const MaxNoteSize = 1 << 20

const (
	algEd25519      = 0x01
	algCosignatureV = 0x04
)

// NewVerifier returns a note.Verifier for C2SP tlog-cosignature/v1 Ed25519
// cosignatures by the witness whose verifier key is vkey
// ("NAME+HASH+BASE64(0x04 || key)"). A plain signed-note Ed25519 vkey (type
// 0x01) is accepted and treated as the same key in cosignature form. The
// written key hash must match the key. Other algorithms are refused.
func NewVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	key, err := base64.StdEncoding.DecodeString(key64)
	if !ok1 || !ok2 || err != nil || len(key) != 33 || len(hash16) != 8 || name == "" {
		return nil, fmt.Errorf("%w: witness vkey %q", ErrMalformed, vkey)
	}
	switch key[0] {
	case algEd25519:
		cv, err := fnote.VKeyToCosignatureV1(vkey)
		if err != nil {
			return nil, fmt.Errorf("%w: witness vkey %q: %v", ErrMalformed, vkey, err)
		}
		vkey, hash16 = cv, strings.SplitN(cv, "+", 3)[1]
	case algCosignatureV:
	default:
		return nil, fmt.Errorf("%w: witness vkey %q: key type %#x is not Ed25519 cosignature/v1", ErrMalformed, vkey, key[0])
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: witness vkey %q: %v", ErrMalformed, vkey, err)
	}
	if fmt.Sprintf("%08x", v.KeyHash()) != hash16 {
		return nil, fmt.Errorf("%w: witness vkey %q: key hash %s does not match the key (%08x)", ErrMalformed, vkey, hash16, v.KeyHash())
	}
	return v, nil
}

// NewLogVerifier returns a note.Verifier for a log's checkpoint key given as
// a vkey: Ed25519 (type 0x01, x/mod/sumdb/note) or ECDSA P-256 as Rekor v2
// signs (type 0x02).
func NewLogVerifier(vkey string) (note.Verifier, error) {
	_, rest, _ := strings.Cut(vkey, "+")
	_, key64, _ := strings.Cut(rest, "+")
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) < 2 || key[0] != 0x01 && key[0] != 0x02 {
		return nil, fmt.Errorf("%w: log vkey %q: not an Ed25519 or ECDSA note key", ErrMalformed, vkey)
	}
	v, err := fnote.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: log vkey %q: %v", ErrMalformed, vkey, err)
	}
	return v, nil
}

// Checkpoint is a C2SP tlog-checkpoint body.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte // 32 bytes
	// Extensions holds the lines after the root hash, if any, verbatim.
	Extensions []byte
	// Text is the exact body the signatures cover.
	Text []byte
}

// ParseCheckpoint parses a checkpoint body strictly: a non-empty origin, the
// size in canonical decimal, a standard base64 32-byte hash, each on its own
// line, then optional extension lines.
func ParseCheckpoint(text []byte) (*Checkpoint, error) {
	var c flog.Checkpoint
	rest, err := c.Unmarshal(text)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrMalformed, err)
	}
	lines := bytes.SplitN(text, []byte("\n"), 4)
	if string(lines[1]) != strconv.FormatUint(c.Size, 10) {
		return nil, fmt.Errorf("%w: checkpoint: size %q is not canonical decimal", ErrMalformed, lines[1])
	}
	if len(c.Hash) != 32 || base64.StdEncoding.EncodeToString(c.Hash) != string(lines[2]) {
		return nil, fmt.Errorf("%w: checkpoint: root hash is not 32 bytes in standard base64", ErrMalformed)
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, fmt.Errorf("%w: checkpoint: no final newline", ErrMalformed)
	}
	return &Checkpoint{Origin: c.Origin, Size: c.Size, Hash: c.Hash, Extensions: rest, Text: text}, nil
}

// Cosignature is a verified cosignature/v1 of a checkpoint. Time is what the
// witness states; whether it is recent enough is the caller's decision.
type Cosignature struct {
	// Witness is the witness's name in the policy (set by Policy.Verify;
	// empty from Open).
	Witness string
	// KeyName and KeyHash identify the witness key, as in its vkey.
	KeyName string
	KeyHash uint32
	// Time is when the witness cosigned, as it states (UTC, whole seconds).
	Time time.Time
}

// Cosigned is a checkpoint verified against its log key, with the
// cosignatures that verified.
type Cosigned struct {
	Checkpoint
	// Note is the signed note as given.
	Note []byte
	// Cosignatures are the verified cosignatures, in note order, one per
	// witness key.
	Cosignatures []Cosignature
	// Unverified are signature lines by keys that were not given.
	Unverified []note.Signature
}

// Open parses signed, a C2SP signed note holding a checkpoint, and verifies
// it: the log's signature by logKey must be present and valid and logKey's
// name must equal the checkpoint origin; every signature line by one of the
// witnesses must be a valid cosignature/v1 (a bad one fails the whole note,
// as x/mod/sumdb/note does); lines by other keys are returned unverified.
// Errors wrap ErrMalformed, ErrLogSignature or ErrCosignature.
func Open(signed []byte, logKey note.Verifier, witnesses ...note.Verifier) (*Cosigned, error) {
	if logKey == nil {
		return nil, errors.New("witness: open: nil log key")
	}
	if len(signed) > MaxNoteSize {
		return nil, fmt.Errorf("%w: note of %d bytes exceeds %d", ErrMalformed, len(signed), MaxNoteSize)
	}
	vs := make([]note.Verifier, 0, 1+len(witnesses))
	vs = append(vs, logKey)
	for _, w := range witnesses {
		for _, o := range vs {
			if w.Name() == o.Name() && w.KeyHash() == o.KeyHash() {
				return nil, fmt.Errorf("witness: open: key %s+%08x given twice (or as log and witness)", w.Name(), w.KeyHash())
			}
		}
		vs = append(vs, w)
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		var inv *note.InvalidSignatureError
		var unv *note.UnverifiedNoteError
		switch {
		case errors.As(err, &inv) && inv.Name == logKey.Name() && inv.Hash == logKey.KeyHash():
			return nil, fmt.Errorf("%w: %v", ErrLogSignature, err)
		case errors.As(err, &inv):
			return nil, fmt.Errorf("%w: %s+%08x: %v", ErrCosignature, inv.Name, inv.Hash, err)
		case errors.As(err, &unv):
			return nil, fmt.Errorf("%w: no signature by %s+%08x", ErrLogSignature, logKey.Name(), logKey.KeyHash())
		}
		return nil, fmt.Errorf("%w: signed note: %v", ErrMalformed, err)
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	c := &Cosigned{Checkpoint: *cp, Note: signed, Unverified: n.UnverifiedSigs}
	logSigned := false
	for _, s := range n.Sigs {
		if s.Name == logKey.Name() && s.Hash == logKey.KeyHash() {
			logSigned = true
			continue
		}
		t, err := fnote.CoSigV1Timestamp(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s+%08x: %v", ErrCosignature, s.Name, s.Hash, err)
		}
		c.Cosignatures = append(c.Cosignatures, Cosignature{KeyName: s.Name, KeyHash: s.Hash, Time: t.UTC()})
	}
	if !logSigned {
		return nil, fmt.Errorf("%w: no signature by %s+%08x", ErrLogSignature, logKey.Name(), logKey.KeyHash())
	}
	if cp.Origin != logKey.Name() {
		return nil, fmt.Errorf("%w: checkpoint origin %q, log key name %q", ErrLogSignature, cp.Origin, logKey.Name())
	}
	return c, nil
}
