package kit

import (
	"bytes"
	"crypto"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGolden pins the bytes of a kit built from fixed inputs and an Ed25519
// key seeded with 0x01. A failure of the byte comparison alone means the
// toolchain's deflate output changed (see docs/offline-kit-format.md,
// Determinism); the golden kit must still verify.
func TestGolden(t *testing.T) {
	k := seededKey(1)
	got := buildKit(t, testOptions(), sampleFiles(), k)
	path := filepath.Join("testdata", "kit.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(want), VerifyOptions{Keys: []crypto.PublicKey{pub(k)}}); err != nil {
		t.Fatalf("golden kit no longer verifies: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("kit bytes differ from %s (run with -update if the format changed on purpose)", path)
	}
}
