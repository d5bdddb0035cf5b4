package verifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// Log is an in-memory stand-in for a public Rekor v2 log: an RFC 6962 tree
// of hashedrekord bodies under an ECDSA P-256 checkpoint key, whose
// checkpoints, proofs, C2SP tlog-tiles and cosigned checkpoints tests read.
// It is not safe for concurrent use.
type Log struct {
	BaseURL string
	Origin  string
	Key     *ecdsa.PrivateKey
	rand    io.Reader
	tree    *testonly.Tree
	leaves  [][]byte // leaf hashes
	bodies  [][]byte
	forked  int // how many forks deep: fillers differ from the parent's
}

// NewLog returns an empty log at baseURL (its host is the origin) signing
// with key (a fresh one from r when nil; r nil means crypto/rand).
func NewLog(baseURL string, key *ecdsa.PrivateKey, r io.Reader) (*Log, error) {
	if r == nil {
		r = rand.Reader
	}
	origin, err := hostOf(baseURL)
	if err != nil {
		return nil, err
	}
	if key == nil {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), r); err != nil {
			return nil, fmt.Errorf("generating log key: %w", err)
		}
	}
	return &Log{BaseURL: baseURL, Origin: origin, Key: key, rand: r, tree: testonly.New(rfc6962.DefaultHasher)}, nil
}

// Fork returns a second log under the same origin and key that shares the
// first n entries of l and nothing after: a split view once both grow.
func (l *Log) Fork(n uint64) *Log {
	f := &Log{BaseURL: l.BaseURL, Origin: l.Origin, Key: l.Key, rand: l.rand, tree: testonly.New(rfc6962.DefaultHasher), forked: l.forked + 1}
	for _, b := range l.bodies[:n] {
		f.Append(b)
	}
	return f
}

// Append adds a leaf and returns its index.
func (l *Log) Append(body []byte) uint64 {
	l.tree.AppendData(body)
	l.bodies = append(l.bodies, bytes.Clone(body))
	l.leaves = append(l.leaves, rfc6962.DefaultHasher.HashLeaf(body))
	return uint64(len(l.leaves) - 1)
}

// AppendFiller adds n leaves that are not attestations.
func (l *Log) AppendFiller(n int) {
	for range n {
		l.Append([]byte(l.Origin + " filler " + strconv.Itoa(len(l.leaves)) + strings.Repeat(" fork", l.forked)))
	}
}

// Size is the number of leaves.
func (l *Log) Size() uint64 { return uint64(len(l.leaves)) }

// Root is the root hash of the tree of the given size.
func (l *Log) Root(size uint64) []byte { return l.tree.HashAt(size) }

// Checkpoint is the checkpoint of the tree of size, signed by the log and
// cosigned by witnesses.
func (l *Log) Checkpoint(size uint64, witnesses ...*Witness) (string, error) {
	cp, err := SignCheckpoint(l.Key, l.Origin, size, l.Root(size), l.rand)
	if err != nil {
		return "", err
	}
	if len(witnesses) == 0 {
		return cp, nil
	}
	return Cosign(cp, witnesses...)
}

// TrustedRoot is a trusted_root.json naming this log.
func (l *Log) TrustedRoot() ([]byte, error) { return TrustedRoot(l.BaseURL, &l.Key.PublicKey) }

// Attest signs an attestation described by cfg (its Signer and statement
// fields; Signer fresh when nil), appends its hashedrekord body and returns
// a Fixture whose Bundle is proven in the tree of size atSize (0: the size
// right after the append). Fillers may be appended between Attest and
// Prove; call Prove to move the fixture's proof to another size.
func (l *Log) Attest(cfg Config) (*Fixture, error) {
	if cfg.Rand == nil {
		cfg.Rand = l.rand
	}
	cfg.BaseURL, cfg.LogKey = l.BaseURL, l.Key
	cfg.LeafIndex, cfg.TreeSize = 0, 1
	f, err := New(cfg)
	if err != nil {
		return nil, err
	}
	f.LeafIndex = l.Append(f.Body)
	return f, l.Prove(f, l.Size())
}

// Prove sets f's inclusion proof and checkpoint to the tree of size.
func (l *Log) Prove(f *Fixture, size uint64) error {
	if f.LeafIndex >= size || size > l.Size() {
		return fmt.Errorf("leaf %d not in a tree of size %d (log size %d)", f.LeafIndex, size, l.Size())
	}
	hashes, err := l.tree.InclusionProof(f.LeafIndex, size)
	if err != nil {
		return err
	}
	cp, err := SignCheckpoint(l.Key, l.Origin, size, l.Root(size), l.rand)
	if err != nil {
		return err
	}
	f.TreeSize, f.RootHash, f.Hashes, f.Checkpoint = size, l.Root(size), hashes, cp
	f.TrustedRoot, err = l.TrustedRoot()
	return err
}

// ConsistencyProof is the RFC 6962 consistency proof from size old to size
// new.
func (l *Log) ConsistencyProof(old, new uint64) ([][]byte, error) {
	return l.tree.ConsistencyProof(old, new)
}

// ConsistencyJSON is the proof from old to new as an Offline Kit carries it
// in checkpoints/<origin>/consistency.json.
func (l *Log) ConsistencyJSON(old, new uint64) ([]byte, error) {
	hs, err := l.ConsistencyProof(old, new)
	if err != nil {
		return nil, err
	}
	q := make([]string, len(hs))
	for i, h := range hs {
		q[i] = strconv.Quote(base64.StdEncoding.EncodeToString(h))
	}
	return fmt.Appendf(nil, `{"hashes":[%s],"newSize":%d,"oldSize":%d}`, strings.Join(q, ","), new, old), nil
}

// Tiles returns every C2SP tlog-tiles hash tile of the tree of size, at
// every level, by path ("tile/0/000.p/5"), as a tlog-tiles log serves them.
func (l *Log) Tiles(size uint64) map[string][]byte {
	out := map[string][]byte{}
	row := l.leaves[:size]
	for level := uint64(0); len(row) > 0; level++ {
		for idx := uint64(0); idx*256 < uint64(len(row)); idx++ {
			end := min(uint64(len(row)), idx*256+256)
			var b []byte
			for _, h := range row[idx*256 : end] {
				b = append(b, h...)
			}
			w := uint8(0)
			if end-idx*256 < 256 {
				w = uint8(end - idx*256)
			}
			out[tilePath(level, idx, w)] = b
		}
		// The next tile level holds the roots of 256-node subtrees.
		var next [][]byte
		for i := 0; i+256 <= len(row); i += 256 {
			next = append(next, perfectRoot(row[i:i+256]))
		}
		row = next
	}
	return out
}

func perfectRoot(hs [][]byte) []byte {
	if len(hs) == 1 {
		return hs[0]
	}
	h := len(hs) / 2
	return rfc6962.DefaultHasher.HashChildren(perfectRoot(hs[:h]), perfectRoot(hs[h:]))
}

// tilePath is written here, not taken from package verify, so the two can
// be checked against each other.
func tilePath(level, index uint64, w uint8) string {
	var parts []string
	for {
		parts = append([]string{fmt.Sprintf("%03d", index%1000)}, parts...)
		index /= 1000
		if index == 0 {
			break
		}
	}
	for i := 0; i < len(parts)-1; i++ {
		parts[i] = "x" + parts[i]
	}
	p := fmt.Sprintf("tile/%d/%s", level, strings.Join(parts, "/"))
	if w > 0 {
		p += fmt.Sprintf(".p/%d", w)
	}
	return p
}

// Witness is a C2SP tlog-cosignature/v1 witness (Ed25519) with a fixed
// clock: a note.Signer for Cosign.
type Witness struct {
	WitnessName string
	PrivateKey  ed25519.PrivateKey
	Now         time.Time
}

// NewWitness returns a witness whose key is derived from seed.
func NewWitness(name string, seed byte, now time.Time) *Witness {
	return &Witness{WitnessName: name, PrivateKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)), Now: now}
}

func (w *Witness) keyBytes() []byte {
	return append([]byte{0x04}, w.PrivateKey.Public().(ed25519.PublicKey)...)
}

// Name implements note.Signer.
func (w *Witness) Name() string { return w.WitnessName }

// KeyHash implements note.Signer: the first 4 bytes of SHA-256(name \n key).
func (w *Witness) KeyHash() uint32 {
	h := sha256.Sum256(append([]byte(w.WitnessName+"\n"), w.keyBytes()...))
	return binary.BigEndian.Uint32(h[:4])
}

// Sign implements note.Signer with a cosignature/v1 signature: the 8-byte
// big-endian time, then Ed25519 over "cosignature/v1\ntime <t>\n" + msg.
func (w *Witness) Sign(msg []byte) ([]byte, error) {
	t := uint64(w.Now.Unix())
	signed := append(fmt.Appendf(nil, "cosignature/v1\ntime %d\n", t), msg...)
	return append(binary.BigEndian.AppendUint64(nil, t), ed25519.Sign(w.PrivateKey, signed)...), nil
}

// VKey is the witness's verifier key, "NAME+HASH+BASE64(0x04 || key)".
func (w *Witness) VKey() string {
	return fmt.Sprintf("%s+%08x+%s", w.WitnessName, w.KeyHash(), base64.StdEncoding.EncodeToString(w.keyBytes()))
}

// Cosign adds the witnesses' cosignature lines to a signed checkpoint.
func Cosign(signed string, witnesses ...*Witness) (string, error) {
	text, _, ok := strings.Cut(signed, "\n\n")
	if !ok {
		return "", fmt.Errorf("not a signed note")
	}
	text += "\n"
	var b strings.Builder
	b.WriteString(signed)
	for _, w := range witnesses {
		one, err := note.Sign(&note.Note{Text: text}, w)
		if err != nil {
			return "", fmt.Errorf("cosigning as %s: %w", w.WitnessName, err)
		}
		_, line, _ := strings.Cut(string(one), "\n\n")
		b.WriteString(line)
	}
	return b.String(), nil
}

// Policy is a C2SP tlog-policy text listing the witnesses and a quorum of k
// of them (k 0: "quorum none").
func Policy(k int, witnesses ...*Witness) []byte {
	var b strings.Builder
	names := make([]string, len(witnesses))
	for i, w := range witnesses {
		fmt.Fprintf(&b, "witness %s %s\n", w.WitnessName, w.VKey())
		names[i] = w.WitnessName
	}
	if k == 0 {
		b.WriteString("quorum none\n")
		return []byte(b.String())
	}
	fmt.Fprintf(&b, "group all-witnesses %d %s\nquorum all-witnesses\n", k, strings.Join(names, " "))
	return []byte(b.String())
}
