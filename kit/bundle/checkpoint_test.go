package bundle

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestParseCheckpoint(t *testing.T) {
	const h = "qGdW5Ys6p7Bz8jJVtZeqbOw0IT7K3Ff3TMf6lvOkhk8="
	tests := []struct {
		name    string
		in      string
		wantErr bool
		ext     int
	}{
		{name: "plain", in: "log.example\n42\n" + h + "\n"},
		{name: "size zero", in: "log.example\n0\n" + h + "\n"},
		{name: "extensions", in: "log.example\n1\n" + h + "\nx\ny z\n", ext: 2},
		{name: "no final newline", in: "log.example\n1\n" + h, wantErr: true},
		{name: "leading zero", in: "log.example\n01\n" + h + "\n", wantErr: true},
		{name: "negative", in: "log.example\n-1\n" + h + "\n", wantErr: true},
		{name: "short hash", in: "log.example\n1\nqGdW\n", wantErr: true},
		{name: "url-safe alphabet", in: "log.example\n1\n-" + h[1:] + "\n", wantErr: true},
		{name: "empty extension", in: "log.example\n1\n" + h + "\n\n", wantErr: true},
		{name: "empty origin", in: "\n1\n" + h + "\n", wantErr: true},
		{name: "two lines", in: "log.example\n1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCheckpoint([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrCheckpoint) {
					t.Fatalf("ParseCheckpoint error = %v, want ErrCheckpoint", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Extensions) != tt.ext || string(c.Text()) != tt.in {
				t.Fatalf("parsed %+v, Text %q", c, c.Text())
			}
		})
	}
}

func TestVerifyCheckpointAndInclusion(t *testing.T) {
	f := fixture(t)
	golden(t, "checkpoint.golden", []byte(f.entry.Proof.Checkpoint))
	v, err := NewNoteVerifier("localhost", f.logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyCheckpoint([]byte(f.entry.Proof.Checkpoint), v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 2 || !bytes.Equal(c.Hash, f.root) {
		t.Fatalf("checkpoint %+v", c)
	}
	// A witness cosignature by another key is ignored.
	w, _ := NewNoteSigner("witness.example", testEd25519("witness"))
	cosigned, err := note.Sign(&note.Note{Text: string(c.Text())}, detSignerNote(t, f), w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCheckpoint(cosigned, v); err != nil {
		t.Fatalf("cosigned checkpoint: %v", err)
	}
	other, _ := NewNoteVerifier("localhost", testP256(t, "another log").Public())
	if _, err := VerifyCheckpoint([]byte(f.entry.Proof.Checkpoint), other); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("other key: %v", err)
	}
	// Same key, other origin: the key hash matches for ECDSA, so the
	// origin check must catch it.
	renamed, _ := NewNoteVerifier("otherhost", f.logKey.Public())
	if _, err := VerifyCheckpoint([]byte(f.entry.Proof.Checkpoint), renamed); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("other origin: %v", err)
	}
	leaf := LeafHash(f.body)
	if err := VerifyInclusion(leaf[:], f.entry.Proof, v); err != nil {
		t.Fatalf("VerifyInclusion: %v", err)
	}
	mutate := []struct {
		name string
		fn   func(p *InclusionProof)
	}{
		{"tree size differs from checkpoint", func(p *InclusionProof) { p.TreeSize = 3 }},
		{"root differs from checkpoint", func(p *InclusionProof) { p.RootHash = bytes.Repeat([]byte{1}, 32) }},
		{"wrong index", func(p *InclusionProof) { p.LogIndex = 0 }},
		{"wrong proof hash", func(p *InclusionProof) { p.Hashes = [][]byte{bytes.Repeat([]byte{2}, 32)} }},
		{"no checkpoint", func(p *InclusionProof) { p.Checkpoint = "" }},
	}
	for _, tt := range mutate {
		t.Run(tt.name, func(t *testing.T) {
			p := f.entry.Proof
			tt.fn(&p)
			if err := VerifyInclusion(leaf[:], p, v); err == nil {
				t.Fatal("VerifyInclusion succeeded")
			}
		})
	}
}

func detSignerNote(t *testing.T, f *fixtureT) note.Signer {
	t.Helper()
	s, err := NewNoteSigner("localhost", f.logKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNoteKeyErrors(t *testing.T) {
	p384 := testEd25519("x")
	for _, origin := range []string{"", "a b", "a+b", "\xff"} {
		if _, err := NewNoteSigner(origin, p384); err == nil {
			t.Errorf("NewNoteSigner(%q) succeeded", origin)
		}
	}
}
