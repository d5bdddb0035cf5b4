package dsse

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addGoldenSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.golden"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseEnvelope checks that Parse never panics and that an accepted
// envelope re-encodes to bytes that parse and re-encode identically.
func FuzzParseEnvelope(f *testing.F) {
	addGoldenSeeds(f)
	f.Add([]byte(`{"payload":"aGk","payloadType":"t","signatures":[{"keyid":"k","sig":"-_8"}]}`))
	f.Add([]byte(`{"payload":"","payloadType":"\u0000","signatures":[{"sig":"AA=="},{"sig":"AQ"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed envelope: %v", err)
		}
		e2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal): %v\n%s", err, out)
		}
		out2, err := e2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not byte-stable:\n%s\n%s", out, out2)
		}
		if !bytes.Equal(e.Payload, e2.Payload) || e.PayloadType != e2.PayloadType || len(e.Signatures) != len(e2.Signatures) {
			t.Fatal("round trip changed the envelope")
		}
	})
}

// FuzzParseStatement checks that ParseStatement never panics and that what
// it accepts can be rebuilt by NewStatement into an accepted statement.
func FuzzParseStatement(f *testing.F) {
	addGoldenSeeds(f)
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://e/p","subject":[{"name":"a","digest":{"sha256":"` + testDigest + `"}}],"predicate":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStatement(data)
		if err != nil {
			return
		}
		if len(s.Subject) == 0 || s.PredicateType == "" {
			t.Fatal("accepted a statement without subject or predicateType")
		}
		out, err := NewStatement(s.Subject, s.PredicateType, s.Predicate)
		if err != nil {
			return // e.g. annotations with values canonical JSON cannot carry
		}
		if _, err := ParseStatement(out); err != nil {
			t.Fatalf("ParseStatement(NewStatement): %v\n%s", err, out)
		}
	})
}
