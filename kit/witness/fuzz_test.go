package witness

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzParsePolicy checks that ParsePolicy never panics, that Check works on
// whatever it accepts, and that an accepted policy's canonical form parses
// back to the same canonical form.
func FuzzParsePolicy(f *testing.F) {
	w1 := newCosigner("w1.example", 1, t0)
	w2 := newCosigner("w2.example", 2, t0)
	_, lvk := logKey(f, origin, 1)
	f.Add([]byte("quorum none\n"))
	f.Add([]byte(fmt.Sprintf("log %s\nwitness a %s https://a.example/\nwitness b %s\ngroup g 1 a b\ngroup h all g a\nquorum h\n", lvk, w1.vkey(), w2.vkey())))
	f.Add([]byte("# c\n\tgroup g any\r\nquorum g # x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		names := []string{}
		for _, w := range p.Witnesses {
			names = append(names, w.Name)
		}
		_ = p.Check(names)
		_ = p.Check(nil)
		out := p.Marshal()
		p2, err := ParsePolicy(out)
		if err != nil {
			t.Fatalf("canonical form refused: %v\n%s", err, out)
		}
		if !bytes.Equal(p2.Marshal(), out) {
			t.Fatalf("canonical form not stable:\n%s\n%s", out, p2.Marshal())
		}
		if p.Satisfied(names) != p2.Satisfied(names) {
			t.Fatal("canonical form changed the quorum")
		}
	})
}

// FuzzCosignedCheckpoint feeds arbitrary notes to Open with a fixed log key
// and two witnesses: no panic, and an accepted note has a valid checkpoint
// and cosignatures only by the given witnesses.
func FuzzCosignedCheckpoint(f *testing.F) {
	ls, lvk := logKey(f, origin, 1)
	w1 := newCosigner("w1.example", 1, t0)
	w2 := newCosigner("w2.example", 2, t0)
	f.Add(sign(f, checkpointText(origin, 5), ls, w1, w2))
	f.Add(sign(f, checkpointText(origin, 0), ls))
	f.Add(sign(f, checkpointText(origin, 5)+"ext line\n", ls, w2))
	f.Add(sign(f, checkpointText(origin, 5), w1))
	lv := logVerifier(f, lvk)
	v1, v2 := verifier(f, w1.vkey()), verifier(f, w2.vkey())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Open(data, lv, v1, v2)
		if err != nil {
			return
		}
		if c.Origin != origin || len(c.Hash) != 32 {
			t.Fatalf("accepted checkpoint %+v", c.Checkpoint)
		}
		for _, cs := range c.Cosignatures {
			if cs.KeyName != "w1.example" && cs.KeyName != "w2.example" {
				t.Fatalf("cosignature by %s", cs.KeyName)
			}
		}
	})
}
