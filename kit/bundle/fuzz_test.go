package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addGolden(f *testing.F, names ...string) {
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join("testdata", n)); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseBundle checks that Parse never panics and that a key-hint bundle
// with one signature and one complete entry re-encodes through NewDSSE into
// bytes that parse back to the same encoding.
func FuzzParseBundle(f *testing.F) {
	addGolden(f, "bundle.golden")
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		if b.Envelope == nil || len(b.EnvelopeJSON) == 0 {
			t.Fatal("accepted a bundle without envelope")
		}
		if b.KeyHint == "" || len(b.Envelope.Signatures) != 1 || len(b.Entries) != 1 {
			return
		}
		out, err := NewDSSE(b.Envelope, b.KeyHint, b.Entries[0])
		if err != nil {
			return // e.g. an entry without proof, which Parse allows
		}
		b2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(NewDSSE(Parse(x))): %v\n%s", err, out)
		}
		out2, err := NewDSSE(b2.Envelope, b2.KeyHint, b2.Entries[0])
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not byte-stable: %v\n%s\n%s", err, out, out2)
		}
	})
}

// FuzzVerifyCheckpoint checks that note opening and checkpoint parsing
// never panic, and that an accepted checkpoint's body re-encodes exactly.
func FuzzVerifyCheckpoint(f *testing.F) {
	addGolden(f, "checkpoint.golden")
	f.Add([]byte("localhost\n1\nqGdW5Ys6p7Bz8jJVtZeqbOw0IT7K3Ff3TMf6lvOkhk8=\next\n\n— localhost AAAAAA==\n"))
	v, err := NewNoteVerifier("localhost", testP256(f, "fixture log").Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ParseCheckpoint(data); err == nil && !bytes.Equal(c.Text(), data) {
			t.Fatalf("ParseCheckpoint/Text not byte-stable: %q vs %q", data, c.Text())
		}
		c, err := VerifyCheckpoint(data, v)
		if err != nil {
			return
		}
		if c.Origin != "localhost" || !bytes.HasPrefix(data, c.Text()) {
			t.Fatalf("accepted checkpoint %+v does not match its note", c)
		}
	})
}

// FuzzParseHashedRekord checks that ParseHashedRekord never panics and only
// accepts bodies CanonicalBody reproduces byte for byte.
func FuzzParseHashedRekord(f *testing.F) {
	addGolden(f, "hashedrekord.golden")
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHashedRekord(data)
		if err != nil {
			return
		}
		out, err := h.CanonicalBody()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("accepted a body CanonicalBody does not reproduce: %v", err)
		}
	})
}
