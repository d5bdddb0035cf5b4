package witness

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/stellaops/stellad/kit/bundle"
)

const origin = "log.example.com/test"

var t0 = time.Unix(1_790_000_000, 0).UTC()

func TestOpen(t *testing.T) {
	ls, lvk := logKey(t, origin, 1)
	w1 := newCosigner("w1.example", 11, t0)
	w2 := newCosigner("w2.example", 12, t0.Add(time.Minute))
	w3 := newCosigner("w3.example", 13, t0)
	signed := sign(t, checkpointText(origin, 42), ls, w1, w2)

	c, err := Open(signed, logVerifier(t, lvk), verifier(t, w1.vkey()), verifier(t, w2.vkey()), verifier(t, w3.vkey()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != origin || c.Size != 42 || len(c.Hash) != 32 || len(c.Unverified) != 0 || !bytes.Equal(c.Note, signed) {
		t.Fatalf("checkpoint %+v", c)
	}
	want := []Cosignature{{KeyName: "w1.example", KeyHash: w1.KeyHash(), Time: t0}, {KeyName: "w2.example", KeyHash: w2.KeyHash(), Time: t0.Add(time.Minute)}}
	if fmt.Sprint(c.Cosignatures) != fmt.Sprint(want) {
		t.Fatalf("cosignatures\n%v\nwant\n%v", c.Cosignatures, want)
	}
	// A witness not given stays unverified.
	c, err = Open(signed, logVerifier(t, lvk), verifier(t, w1.vkey()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cosignatures) != 1 || len(c.Unverified) != 1 || c.Unverified[0].Name != "w2.example" {
		t.Fatalf("got %+v", c)
	}
}

// TestFormatsInterop: cosignatures made by transparency-dev/formats' signer
// verify here, and vkeys converted by formats are accepted.
func TestFormatsInterop(t *testing.T) {
	ls, lvk := logKey(t, origin, 1)
	skey, vkey, err := note.GenerateKey(rand.Reader, "witness.example")
	if err != nil {
		t.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	signed := sign(t, checkpointText(origin, 9), ls, s)
	for _, k := range []string{vkey, cvkey} {
		c, err := Open(signed, logVerifier(t, lvk), verifier(t, k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if len(c.Cosignatures) != 1 || c.Cosignatures[0].Time.IsZero() {
			t.Fatalf("%s: %+v", k, c.Cosignatures)
		}
	}
	// Our test cosigner verifies with formats' verifier too.
	w := newCosigner("w.example", 5, t0)
	fv, err := fnote.NewVerifierForCosignatureV1(w.vkey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(sign(t, checkpointText(origin, 9), w), note.VerifierList(fv)); err != nil {
		t.Fatalf("formats refuses the test cosigner: %v", err)
	}
}

// TestRekorStyleLog: an ECDSA P-256 log key as Rekor v2 signs checkpoints.
func TestRekorStyleLog(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := bundle.NewNoteSigner("rekor.example", k)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	vkey := fmt.Sprintf("rekor.example+%x+%s", sum[:4], base64.StdEncoding.EncodeToString(append([]byte{0x02}, der...)))
	w := newCosigner("w.example", 5, t0)
	c, err := Open(sign(t, checkpointText("rekor.example", 7), ls, w), logVerifier(t, vkey), verifier(t, w.vkey()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cosignatures) != 1 {
		t.Fatalf("%+v", c)
	}
}

func TestOpenRefusals(t *testing.T) {
	ls, lvk := logKey(t, origin, 1)
	other, _ := logKey(t, "other.example", 2)
	w1 := newCosigner("w1.example", 11, t0)
	good := string(sign(t, checkpointText(origin, 42), ls, w1))
	sigLine := func(s string, i int) string { return strings.Split(strings.SplitN(s, "\n\n", 2)[1], "\n")[i] }
	flipSig := func(line string) string {
		name, b64, _ := strings.Cut(strings.TrimPrefix(line, "— "), " ")
		raw, _ := base64.StdEncoding.DecodeString(b64)
		raw[len(raw)-1] ^= 1
		return "— " + name + " " + base64.StdEncoding.EncodeToString(raw)
	}
	bumpTime := func(line string) string {
		name, b64, _ := strings.Cut(strings.TrimPrefix(line, "— "), " ")
		raw, _ := base64.StdEncoding.DecodeString(b64)
		raw[11]++ // the low byte of the timestamp, after the 4-byte key hash
		return "— " + name + " " + base64.StdEncoding.EncodeToString(raw)
	}
	body := checkpointText(origin, 42)
	tests := []struct {
		name    string
		note    string
		wantErr error
	}{
		{"ok", good, nil},
		{"no log signature", string(sign(t, body, w1)), ErrLogSignature},
		{"log signature broken", body + "\n" + flipSig(sigLine(good, 0)) + "\n" + sigLine(good, 1) + "\n", ErrLogSignature},
		{"cosignature broken", body + "\n" + sigLine(good, 0) + "\n" + flipSig(sigLine(good, 1)) + "\n", ErrCosignature},
		{"cosignature time changed", body + "\n" + sigLine(good, 0) + "\n" + bumpTime(sigLine(good, 1)) + "\n", ErrCosignature},
		{"signed by another log", string(sign(t, body, other, w1)), ErrLogSignature},
		{"origin differs from key name", string(sign(t, checkpointText("other.example", 1), ls)), ErrLogSignature},
		{"size not canonical", string(sign(t, strings.Replace(body, "\n42\n", "\n042\n", 1), ls)), ErrMalformed},
		{"short hash", string(sign(t, origin+"\n1\nAAAA\n", ls)), ErrMalformed},
		{"no signature block", body, ErrMalformed},
		{"garbage", "\x00\xff", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open([]byte(tt.note), logVerifier(t, lvk), verifier(t, w1.vkey()))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if _, err := Open([]byte(good), logVerifier(t, lvk), verifier(t, w1.vkey()), verifier(t, w1.vkey())); err == nil {
		t.Error("same witness key twice accepted")
	}
}

func TestNewVerifier(t *testing.T) {
	w := newCosigner("w.example", 5, t0)
	vk := w.vkey()
	name, rest, _ := strings.Cut(vk, "+")
	_, key64, _ := strings.Cut(rest, "+")
	key, _ := base64.StdEncoding.DecodeString(key64)
	withType := func(b byte) string {
		k := append([]byte{b}, key[1:]...)
		return name + "+" + strings.SplitN(vk, "+", 3)[1] + "+" + base64.StdEncoding.EncodeToString(k)
	}
	for _, tt := range []struct {
		name, vkey string
		ok         bool
	}{
		{"cosignature/v1", vk, true},
		{"wrong hash", name + "+00000000+" + key64, false},
		{"plain Ed25519 vkey", plainVKey(t, w), true},
		{"plain Ed25519 vkey, wrong hash", strings.Replace(plainVKey(t, w), strings.SplitN(plainVKey(t, w), "+", 3)[1], "00000000", 1), false},
		{"ECDSA type", withType(0x02), false},
		{"ML-DSA type", withType(0x06), false},
		{"bad base64", name + "+" + strings.SplitN(vk, "+", 3)[1] + "+!!", false},
		{"short key", name + "+00000000+BA==", false},
		{"no name", "+" + rest, false},
		{"two parts", name + "+" + key64, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.vkey)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v is not ErrMalformed", err)
			}
		})
	}
}

// plainVKey returns w's key as a signed-note Ed25519 (type 0x01) vkey.
func plainVKey(t *testing.T, w *cosigner) string {
	vk, err := note.NewEd25519VerifierKey(w.name, w.key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return vk
}
