package bundle

import (
	"testing"
)

// BenchmarkNewDSSE measures bundle encoding (runs once per signature on the
// signing path).
func BenchmarkNewDSSE(b *testing.B) {
	f := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewDSSE(f.env, f.hint, f.entry); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalBody measures building a hashedrekord leaf body.
func BenchmarkCanonicalBody(b *testing.B) {
	f := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.hr.CanonicalBody(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse measures decoding a bundle.
func BenchmarkParse(b *testing.B) {
	f := fixture(b)
	raw, err := NewDSSE(f.env, f.hint, f.entry)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEntryVerify measures an offline inclusion check: checkpoint
// signature, origin, and RFC 6962 proof.
func BenchmarkEntryVerify(b *testing.B) {
	f := fixture(b)
	v, err := NewNoteVerifier("localhost", f.logKey.Public())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.entry.Verify(v); err != nil {
			b.Fatal(err)
		}
	}
}
