package audit

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedExport returns an export of a few rows chained in memory (the same
// encoding Trail.Export writes; TestExportRoundTrip checks Export itself).
// It stays clear of SQLite, whose coverage instrumentation slows fuzzing down
// to a crawl.
func seedExport(f *testing.F) []byte {
	c := newClock()
	var out []byte
	var prev [32]byte
	for i := range 4 {
		r := rec("a", i)
		if i == 3 {
			r.Tenant, r.Principal = "", "odd \"\\\n\x01 é"
		}
		n, err := normalize(r, c.Now)
		if err != nil {
			f.Fatal(err)
		}
		row := Row{Record: n, Seq: uint64(i + 1), Prev: prev}
		row.Hash = row.ComputeHash()
		prev = row.Hash
		out = append(append(out, row.MarshalCanonical()...), '\n')
	}
	return out
}

// FuzzParseExport: no panic on any input; whatever parses re-encodes to the
// very same bytes (the encoding is canonical, so nothing is malleable) and
// VerifyExport agrees with ParseExport on well-linked files.
func FuzzParseExport(f *testing.F) {
	good := seedExport(f)
	f.Add(good)
	lines := bytes.SplitAfter(good, []byte("\n"))
	f.Add(lines[0])
	f.Add(bytes.Join(lines[1:], nil))
	f.Add(bytes.Replace(good, []byte(`"seq":2`), []byte(`"seq":2.0`), 1))
	f.Add(bytes.Replace(good, []byte(`"log_index":0`), []byte(`"log_index":-1`), 1))
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n"))
	f.Add([]byte(""))
	f.Add([]byte(`{"action":"sign","action":"sign"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		rows, err := ParseExport(bytes.NewReader(data))
		res, verr := VerifyExport(bytes.NewReader(data))
		if verr != nil {
			t.Fatalf("VerifyExport returned a read error for in-memory input: %v", verr)
		}
		if err != nil {
			if res.OK() && len(data) > 0 {
				t.Fatalf("ParseExport refused (%v) what VerifyExport accepted", err)
			}
			return
		}
		var out []byte
		for i := range rows {
			if rows[i].ComputeHash() != rows[i].Hash {
				t.Fatalf("row %d: hash not checked", rows[i].Seq)
			}
			out = append(append(out, rows[i].MarshalCanonical()...), '\n')
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("round trip differs:\n%q\n%q", data, out)
		}
		if res.OK() && res.Rows != uint64(len(rows)) {
			t.Fatalf("VerifyExport checked %d rows, ParseExport returned %d", res.Rows, len(rows))
		}
	})
}

// FuzzCanonical: the hand-written RFC 8785 encoder matches the reference
// implementation for any string.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\/\b\f\n\r\t\x00\x7f", "é€𝄞\u2028", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		s = strings.ToValidUTF8(s, "\uFFFD") // what Append stores
		if !utf8.ValidString(s) {
			t.Fatal("not valid")
		}
		r := sampleRow(s)
		if got, want := r.MarshalCanonical(), reference(t, &r); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}

// FuzzParseAnchorStatement: no panic; whatever parses is rebuilt identically
// by AnchorStatement when it was canonical to begin with.
func FuzzParseAnchorStatement(f *testing.F) {
	st, err := AnchorStatement(7, [32]byte{0xab}, "log.example")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(st)
	f.Add(bytes.Replace(st, []byte(`"seq":7`), []byte(`"seq":7,"seq":8`), 1))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		seq, h, origin, err := ParseAnchorStatement(data)
		if err != nil {
			return
		}
		again, err := AnchorStatement(seq, h, origin)
		if err != nil {
			t.Fatalf("parsed %d %x %q, which AnchorStatement refuses: %v", seq, h, origin, err)
		}
		if s2, h2, o2, err := ParseAnchorStatement(again); err != nil || s2 != seq || h2 != h || o2 != origin {
			t.Fatalf("re-parse = %d %x %q %v", s2, h2, o2, err)
		}
	})
}
