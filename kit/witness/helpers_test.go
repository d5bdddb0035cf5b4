package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// cosigner is an independent, test-only implementation of a C2SP
// tlog-cosignature/v1 signer with a fixed clock: the note.Signer a witness
// would use.
type cosigner struct {
	name string
	key  ed25519.PrivateKey
	now  time.Time
}

func newCosigner(name string, seed byte, now time.Time) *cosigner {
	return &cosigner{name: name, key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)), now: now}
}

func (c *cosigner) keyBytes() []byte {
	return append([]byte{0x04}, c.key.Public().(ed25519.PublicKey)...)
}

func (c *cosigner) Name() string { return c.name }

func (c *cosigner) KeyHash() uint32 {
	h := sha256.Sum256(append([]byte(c.name+"\n"), c.keyBytes()...))
	return binary.BigEndian.Uint32(h[:4])
}

func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	t := uint64(c.now.Unix())
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
	return append(binary.BigEndian.AppendUint64(nil, t), ed25519.Sign(c.key, signed)...), nil
}

func (c *cosigner) vkey() string {
	return fmt.Sprintf("%s+%08x+%s", c.name, c.KeyHash(), base64.StdEncoding.EncodeToString(c.keyBytes()))
}

// logKey returns a deterministic Ed25519 note signer and its vkey for origin.
func logKey(t testing.TB, origin string, seed byte) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)), origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func checkpointText(origin string, size uint64) string {
	h := sha256.Sum256([]byte(fmt.Sprint(size)))
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(h[:]))
}

func sign(t testing.TB, text string, signers ...note.Signer) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func logVerifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := NewLogVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
