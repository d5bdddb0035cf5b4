package kit

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/kit/dsse"
)

func TestRoundTrip(t *testing.T) {
	k1, k2 := seededKey(1), seededKey(2)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	files := sampleFiles()
	archive := buildKit(t, testOptions(), files, k1, k2, ec)
	kit, err := Verify(bytes.NewReader(archive), VerifyOptions{Keys: []crypto.PublicKey{pub(k1), ec.Public(), pub(k2)}, Threshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := kit.Manifest; got.Kind != KindBuild || got.Source != "connected.example" || got.Sequence != 7 || got.CreatedBy != "stellactl test" {
		t.Errorf("manifest = %+v", got)
	}
	if len(kit.Manifest.Files) != len(files) {
		t.Fatalf("%d files, want %d", len(kit.Manifest.Files), len(files))
	}
	for _, f := range files {
		got, ok := kit.File(f.path)
		if !ok || !bytes.Equal(got, f.data) {
			t.Errorf("File(%s) = %q, %v", f.path, got, ok)
		}
		mf, _ := kit.Manifest.Lookup(f.path)
		if mf.MediaType != f.mediaType {
			t.Errorf("%s media type %q", f.path, mf.MediaType)
		}
	}
	if len(kit.Signers) != 3 {
		t.Errorf("Signers = %v", kit.Signers)
	}
	env, err := dsse.Parse(kit.Envelope)
	if err != nil || !bytes.Equal(env.Payload, kit.ManifestJSON) {
		t.Fatalf("envelope does not carry the manifest: %v", err)
	}
	if _, err := Open(bytes.NewReader(archive), VerifyOptions{Keys: []crypto.PublicKey{pub(k2)}}); err != nil {
		t.Errorf("Open with one of the signers: %v", err)
	}
}

func TestLayout(t *testing.T) {
	archive := buildKit(t, testOptions(), sampleFiles(), seededKey(1))
	if !bytes.Equal(archive[:10], gzipHeader[:]) {
		t.Fatalf("gzip header % x", archive[:10])
	}
	rd, err := NewReader(bytes.NewReader(archive), VerifyOptions{Keys: []crypto.PublicKey{pub(seededKey(1))}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, f.Path)
	}
	want := "attestations/b1.sigstore.json checkpoints/rekor.example/checkpoint entitlements/licence.jwt tiles/rekor.example/tile/0/000 trust/empty trust/trusted_root.json trust/witness-policy"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("order:\n%s\nwant\n%s", got, want)
	}
	// The tar headers: fixed metadata.
	zr, _ := newGzip(archive)
	tr := newTar(zr)
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && h.Name != ManifestPath || i == 1 && h.Name != SignaturePath {
			t.Errorf("entry %d is %s", i, h.Name)
		}
		if h.Mode != 0o644 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.ModTime.Unix() != 0 || len(h.PAXRecords) != 0 {
			t.Errorf("%s header %+v", h.Name, h)
		}
	}
}

func TestDeterministic(t *testing.T) {
	files := sampleFiles()
	reversed := make([]content, len(files))
	for i, f := range files {
		reversed[len(files)-1-i] = f
	}
	a := buildKit(t, testOptions(), files, seededKey(1), seededKey(2))
	b := buildKit(t, testOptions(), reversed, seededKey(1), seededKey(2))
	if !bytes.Equal(a, b) {
		t.Fatal("same inputs gave different archives")
	}
	opts := testOptions()
	opts.ModTime = time.Unix(1_700_000_000, 0).In(time.FixedZone("x", 3600))
	c := buildKit(t, opts, files, seededKey(1), seededKey(2))
	d := buildKit(t, opts, reversed, seededKey(1), seededKey(2))
	if !bytes.Equal(c, d) || bytes.Equal(a, c) {
		t.Fatal("a fixed ModTime must give identical archives that differ from the epoch ones")
	}
	// AddReaderAt gives the same bytes as Add.
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := w.AddReaderAt(f.path, f.mediaType, bytes.NewReader(f.data), int64(len(f.data))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(seededKey(1), seededKey(2)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), a) {
		t.Fatal("AddReaderAt and Add differ")
	}
}

// TestEveryChangedByteIsRefused flips bits at every offset of a kit. Each
// change must be refused, except where the deflate encoding changes but still
// decodes to the identical tar stream (a back-reference into a run of zeros
// moved, an unused padding bit): nothing a verifier or importer sees changes,
// and no format based on deflate can tell those apart without a digest of the
// compressed bytes. The test proves that every accepted change is of that
// kind.
func TestLongPaths(t *testing.T) {
	k := seededKey(1)
	long := "tiles/" + strings.Repeat("x", 120) + "/" + strings.Repeat("y", 200)
	files := []content{{long, MediaTypeTile, []byte("t")}, {"tiles/" + strings.Repeat("z", 150), MediaTypeTile, nil}}
	archive := buildKit(t, testOptions(), files, k)
	kit, err := Verify(bytes.NewReader(archive), VerifyOptions{Keys: []crypto.PublicKey{pub(k)}})
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := kit.File(long); !ok || string(b) != "t" {
		t.Fatalf("long path lost")
	}
	if err := ValidatePath("trust/" + strings.Repeat("a", MaxPathLen)); !errors.Is(err, ErrPath) {
		t.Errorf("overlong path: %v", err)
	}
}

func TestEveryChangedByteIsRefused(t *testing.T) {
	k := seededKey(1)
	archive := buildKit(t, testOptions(), sampleFiles(), k)
	plain := decompress(t, archive)
	opts := VerifyOptions{Keys: []crypto.PublicKey{pub(k)}}
	masks := []byte{0xff, 0x01, 0x80}
	if testing.Short() {
		masks = masks[:1]
	}
	benign := 0
	for i := range archive {
		for _, x := range masks {
			mod := bytes.Clone(archive)
			mod[i] ^= x
			_, err := Verify(bytes.NewReader(mod), opts)
			if err == nil {
				if !bytes.Equal(decompress(t, mod), plain) {
					t.Errorf("byte %d of %d xor %#x: accepted with different content", i, len(archive), x)
				}
				benign++
				continue
			}
			if !errors.As(err, new(*Error)) {
				t.Errorf("byte %d: untyped error %v", i, err)
			}
		}
	}
	t.Logf("%d of %d changes refused; %d only re-encoded the same tar stream", len(masks)*len(archive)-benign, len(masks)*len(archive), benign)
}

func decompress(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := newGzip(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignatureRefusals(t *testing.T) {
	k1, k2, k3, stranger := seededKey(1), seededKey(2), seededKey(3), seededKey(9)
	twoOf := buildKit(t, testOptions(), sampleFiles(), k1, k2)
	tests := []struct {
		name    string
		archive []byte
		opts    VerifyOptions
		wantErr error
	}{
		{"unknown key", buildKit(t, testOptions(), sampleFiles(), stranger), VerifyOptions{Keys: []crypto.PublicKey{pub(k1), pub(k2)}}, ErrSignature},
		{"2 of 3 needs two", buildKit(t, testOptions(), sampleFiles(), k1), VerifyOptions{Keys: []crypto.PublicKey{pub(k1), pub(k2), pub(k3)}, Threshold: 2}, ErrSignature},
		{"same signer twice counts once", buildKit(t, testOptions(), sampleFiles(), k1, k1), VerifyOptions{Keys: []crypto.PublicKey{pub(k1), pub(k2), pub(k3)}, Threshold: 2}, ErrSignature},
		{"key listed twice counts once", twoOf, VerifyOptions{Keys: []crypto.PublicKey{pub(k1), pub(k1), pub(k3)}, Threshold: 2}, ErrSignature},
		{"2 of 3 ok", twoOf, VerifyOptions{Keys: []crypto.PublicKey{pub(k1), pub(k2), pub(k3)}, Threshold: 2}, nil},
		{"3 of 3 with two", twoOf, VerifyOptions{Keys: []crypto.PublicKey{pub(k1), pub(k2), pub(k3)}, Threshold: 3}, ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(tt.archive), tt.opts)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.wantErr)
			var te *dsse.ThresholdError
			if !errors.As(err, &te) {
				t.Errorf("no *dsse.ThresholdError in %v", err)
			}
		})
	}
	if _, err := Verify(bytes.NewReader(twoOf), VerifyOptions{}); err == nil {
		t.Error("no keys: accepted")
	}
	if _, err := Verify(bytes.NewReader(twoOf), VerifyOptions{Keys: []crypto.PublicKey{pub(k1)}, Threshold: 2}); err == nil {
		t.Error("threshold above key count: accepted")
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	k := seededKey(1)
	data := []byte("x")
	files := []File{fileFor("trust/a", data)}
	head := signedHead(t, files, k)
	other := signedHead(t, []File{fileFor("trust/a", []byte("y"))}, k)
	m := Manifest{KitVersion: Version, Kind: KindBuild, CreatedBy: "t", Source: "s", Files: files}
	mj, _ := m.Marshal()
	wrongType, _ := dsse.Sign(nil, "application/json", mj, dsse.KeySigner{Signer: k})
	wtj, _ := wrongType.Marshal()
	tests := []struct {
		name    string
		entries []rawEntry
		wantErr error
	}{
		{"envelope over another manifest", []rawEntry{head[0], other[1], reg("trust/a", data)}, ErrSignature},
		{"wrong payload type", []rawEntry{head[0], reg(SignaturePath, wtj), reg("trust/a", data)}, ErrSignature},
		{"envelope first", []rawEntry{head[1], head[0], reg("trust/a", data)}, ErrFormat},
		{"no envelope", []rawEntry{head[0], reg("trust/a", data)}, ErrFormat},
		{"malformed envelope", []rawEntry{head[0], reg(SignaturePath, []byte("{}")), reg("trust/a", data)}, ErrFormat},
		{"empty archive", nil, ErrFormat},
		{"ok", []rawEntry{head[0], head[1], reg("trust/a", data)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(craft(t, tt.entries, nil)), VerifyOptions{Keys: []crypto.PublicKey{pub(k)}})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.wantErr)
		})
	}
}

func TestEntryRefusals(t *testing.T) {
	k := seededKey(1)
	a, b := []byte("alpha"), []byte("bravo")
	listed := []File{fileFor("trust/a", a), fileFor("trust/b", b)}
	head := signedHead(t, listed, k)
	with := func(rest ...rawEntry) []rawEntry { return append(append([]rawEntry{}, head...), rest...) }
	typed := func(name string, typ byte, link string) rawEntry {
		return rawEntry{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: link, Mode: 0o644, Devmajor: 1, Devminor: 3}}
	}
	tests := []struct {
		name    string
		entries []rawEntry
		extra   []byte
		wantErr error
		path    string
	}{
		{"ok", with(reg("trust/a", a), reg("trust/b", b)), nil, nil, ""},
		{"path traversal", with(reg("trust/a", a), reg("trust/../../etc/passwd", b)), nil, ErrPath, "trust/../../etc/passwd"},
		{"leading dotdot", with(reg("../trust/b", b)), nil, ErrPath, "../trust/b"},
		{"absolute path", with(reg("/etc/passwd", a)), nil, ErrPath, "/etc/passwd"},
		{"backslash", with(reg(`trust\a`, a)), nil, ErrPath, `trust\a`},
		{"outside roots", with(reg("etc/a", a)), nil, ErrPath, "etc/a"},
		{"symlink", with(typed("trust/a", tar.TypeSymlink, "/etc/passwd")), nil, ErrEntryType, "trust/a"},
		{"hard link", with(typed("trust/a", tar.TypeLink, "trust/b")), nil, ErrEntryType, "trust/a"},
		{"char device", with(typed("trust/a", tar.TypeChar, "")), nil, ErrEntryType, "trust/a"},
		{"block device", with(typed("trust/a", tar.TypeBlock, "")), nil, ErrEntryType, "trust/a"},
		{"fifo", with(typed("trust/a", tar.TypeFifo, "")), nil, ErrEntryType, "trust/a"},
		{"directory", with(typed("trust/d", tar.TypeDir, "")), nil, ErrEntryType, "trust/d"},
		{"duplicate", with(reg("trust/a", a), reg("trust/a", a), reg("trust/b", b)), nil, ErrDuplicate, "trust/a"},
		{"not in manifest", with(reg("trust/a", a), reg("trust/ab", a), reg("trust/b", b)), nil, ErrUnlisted, "trust/ab"},
		{"not in manifest at end", with(reg("trust/a", a), reg("trust/b", b), reg("trust/c", b)), nil, ErrUnlisted, "trust/c"},
		{"missing last", with(reg("trust/a", a)), nil, ErrMissing, "trust/b"},
		{"missing first", with(reg("trust/b", b)), nil, ErrMissing, "trust/a"},
		{"out of order", with(reg("trust/b", b), reg("trust/a", a)), nil, ErrMissing, "trust/a"},
		{"content changed", with(reg("trust/a", []byte("alphA")), reg("trust/b", b)), nil, ErrDigest, "trust/a"},
		{"size changed", with(reg("trust/a", []byte("alpha!")), reg("trust/b", b)), nil, ErrDigest, "trust/a"},
		{"data after tar end", with(reg("trust/a", a), reg("trust/b", b)), []byte{0}, ErrFormat, ""},
		{"global header", with(rawEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "trust/g", PAXRecords: map[string]string{"comment": "x"}, Format: tar.FormatPAX}}), nil, ErrEntryType, "trust/g"},
		{"pax time record", with(rawEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "trust/a", Size: 5, Mode: 0o644, ModTime: time.Unix(1, 5), Format: tar.FormatPAX}, data: a}), nil, ErrFormat, "trust/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(craft(t, tt.entries, tt.extra)), VerifyOptions{Keys: []crypto.PublicKey{pub(k)}})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.wantErr)
			var ke *Error
			errors.As(err, &ke)
			if ke.Path != tt.path {
				t.Errorf("error names %q, want %q (%v)", ke.Path, tt.path, err)
			}
		})
	}
}

func TestManifestPathsRefused(t *testing.T) {
	// A signed manifest must itself list only safe, collision-free paths.
	k := seededKey(1)
	for _, files := range [][]File{
		{fileFor("trust/A", nil), fileFor("trust/a", nil)},
		{fileFor("trust/a", nil), fileFor("trust/a/b", nil)},
	} {
		m := Manifest{KitVersion: Version, Kind: KindBuild, CreatedBy: "t", Source: "s", Files: files}
		if _, err := m.Marshal(); !errors.Is(err, ErrPath) {
			t.Errorf("%v: Marshal err %v, want ErrPath", files, err)
		}
	}
	_ = k
}

func TestTrailingGarbage(t *testing.T) {
	k := seededKey(1)
	archive := buildKit(t, testOptions(), sampleFiles(), k)
	opts := VerifyOptions{Keys: []crypto.PublicKey{pub(k)}}
	for name, tail := range map[string][]byte{
		"one byte":        {0},
		"text":            []byte("garbage"),
		"second member":   archive,
		"gzip magic only": {0x1f, 0x8b},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(append(bytes.Clone(archive), tail...)), opts)
			wantErr(t, err, ErrFormat)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{0, 5, 10, 20, len(archive) / 2, len(archive) - 8, len(archive) - 1} {
			if _, err := Verify(bytes.NewReader(archive[:n]), opts); err == nil {
				t.Errorf("truncated to %d: accepted", n)
			}
		}
	})
	t.Run("other gzip header", func(t *testing.T) {
		mod := bytes.Clone(archive)
		mod[9] = 3 // OS Unix
		_, err := Verify(bytes.NewReader(mod), opts)
		wantErr(t, err, ErrFormat)
	})
}

func TestDecompressionBombs(t *testing.T) {
	k := seededKey(1)
	opts := VerifyOptions{Keys: []crypto.PublicKey{pub(k)}, Limits: Limits{MaxTotalSize: 1 << 20, MaxFileSize: 1 << 20, MaxManifestSize: 1 << 20}}
	zeros := make([]byte, 64<<20)
	big := fileFor("attestations/big", zeros)

	t.Run("signed manifest lists more than MaxTotalSize", func(t *testing.T) {
		in := &countingReader{r: bytes.NewReader(craft(t, append(signedHead(t, []File{big}, k), reg(big.Path, zeros)), nil))}
		_, err := Verify(in, opts)
		wantErr(t, err, ErrLimit)
		if in.n > 1<<20 {
			t.Errorf("read %d bytes of input before refusing", in.n)
		}
	})
	t.Run("total over limit across files", func(t *testing.T) {
		half := make([]byte, 600<<10)
		f1, f2 := fileFor("tiles/a", half), fileFor("tiles/b", half)
		_, err := Verify(bytes.NewReader(craft(t, append(signedHead(t, []File{f1, f2}, k), reg(f1.Path, half), reg(f2.Path, half)), nil)), opts)
		wantErr(t, err, ErrLimit)
	})
	t.Run("entry count", func(t *testing.T) {
		o := opts
		o.Limits.MaxEntries = 1
		_, err := Verify(bytes.NewReader(craft(t, append(signedHead(t, []File{fileFor("trust/a", nil), fileFor("trust/b", nil)}, k), reg("trust/a", nil), reg("trust/b", nil)), nil)), o)
		wantErr(t, err, ErrLimit)
	})
	t.Run("oversized manifest entry, unsigned", func(t *testing.T) {
		in := &countingReader{r: bytes.NewReader(craft(t, []rawEntry{reg(ManifestPath, zeros)}, nil))}
		_, err := Verify(in, opts)
		wantErr(t, err, ErrLimit)
		if in.n > 1<<20 {
			t.Errorf("read %d bytes of input before refusing", in.n)
		}
	})
	t.Run("size lie in the tar header", func(t *testing.T) {
		small := fileFor("attestations/big", []byte("tiny"))
		_, err := Verify(bytes.NewReader(craft(t, append(signedHead(t, []File{small}, k), reg(small.Path, zeros)), nil)), opts)
		wantErr(t, err, ErrDigest)
	})
	t.Run("zeros after the tar stream", func(t *testing.T) {
		a := []byte("a")
		in := &countingReader{r: bytes.NewReader(craft(t, append(signedHead(t, []File{fileFor("trust/a", a)}, k), reg("trust/a", a)), zeros))}
		_, err := Verify(in, opts)
		wantErr(t, err, ErrFormat)
		if in.n > 1<<20 {
			t.Errorf("read %d bytes of input before refusing", in.n)
		}
	})
	t.Run("counting reader stops at its limit", func(t *testing.T) {
		c := &countReader{r: bytes.NewReader(zeros), max: 1000}
		n, err := io.Copy(io.Discard, c)
		if n != 1000 || !errors.Is(err, ErrLimit) {
			t.Errorf("copied %d, err %v", n, err)
		}
	})
}

func TestWriterRefusals(t *testing.T) {
	var buf bytes.Buffer
	if _, err := NewWriter(&buf, WriterOptions{Kind: "Bad Kind", CreatedBy: "x", Source: "y"}); !errors.Is(err, ErrFormat) {
		t.Errorf("bad kind: %v", err)
	}
	if _, err := NewWriter(&buf, WriterOptions{Kind: KindBuild, CreatedBy: "x", Source: "y", ModTime: time.Unix(1, 5)}); err == nil {
		t.Error("sub-second ModTime accepted")
	}
	w, err := NewWriter(&buf, WriterOptions{Kind: KindBuild, CreatedBy: "x", Source: "y", Limits: Limits{MaxEntries: 2, MaxFileSize: 10, MaxTotalSize: 15}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		path, typ string
		data      []byte
		wantErr   error
	}{
		{"ok", "trust/a", "text/plain", []byte("0123456789"), nil},
		{"duplicate", "trust/a", "text/plain", nil, ErrDuplicate},
		{"case collision", "trust/A", "text/plain", nil, ErrPath},
		{"file under file", "trust/a/b", "text/plain", nil, ErrPath},
		{"absolute", "/trust/b", "text/plain", nil, ErrPath},
		{"dotdot", "trust/../b", "text/plain", nil, ErrPath},
		{"dot", "trust/./b", "text/plain", nil, ErrPath},
		{"trailing slash", "trust/b/", "text/plain", nil, ErrPath},
		{"space", "trust/b c", "text/plain", nil, ErrPath},
		{"non-ascii", "trust/é", "text/plain", nil, ErrPath},
		{"control", "trust/\x00", "text/plain", nil, ErrPath},
		{"root only", "trust", "text/plain", nil, ErrPath},
		{"manifest name", ManifestPath, "text/plain", nil, ErrPath},
		{"bad media type", "trust/b", "text plain", nil, ErrFormat},
		{"file too big", "trust/b", "text/plain", make([]byte, 11), ErrLimit},
		{"total too big", "trust/b", "text/plain", make([]byte, 6), ErrLimit},
		{"ok 2", "trust/b", "text/plain", make([]byte, 5), nil},
		{"too many", "trust/c", "text/plain", nil, ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := w.Add(tt.path, tt.typ, tt.data)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.wantErr)
		})
	}
	if err := w.Close(); err == nil {
		t.Error("Close without signers accepted")
	}
	if err := w.Add("trust/z", "text/plain", nil); err == nil {
		t.Error("Add after Close accepted")
	}
}

func TestReaderAtChanged(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, testOptions())
	data := []byte("original")
	if err := w.AddReaderAt("trust/x", "text/plain", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	copy(data, "modified")
	if err := w.Close(seededKey(1)); !errors.Is(err, ErrDigest) {
		t.Fatalf("Close = %v, want ErrDigest", err)
	}
}

func TestReaderStreaming(t *testing.T) {
	k := seededKey(1)
	archive := buildKit(t, testOptions(), sampleFiles(), k)
	rd, err := NewReader(bytes.NewReader(archive), VerifyOptions{Keys: []crypto.PublicKey{pub(k)}})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Manifest().Sequence != 7 || len(rd.Signers()) != 1 {
		t.Fatalf("manifest %+v signers %v", rd.Manifest(), rd.Signers())
	}
	// Skip every file without reading: Next still checks each.
	n := 0
	for {
		_, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(sampleFiles()) {
		t.Errorf("%d files", n)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("Next after EOF: %v", err)
	}
	// A changed file is caught even when skipped.
	a := []byte("alpha")
	bad := craft(t, append(signedHead(t, []File{fileFor("trust/a", a)}, k), reg("trust/a", []byte("alphA"))), nil)
	rd, err = NewReader(bytes.NewReader(bad), VerifyOptions{Keys: []crypto.PublicKey{pub(k)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = rd.Next()
	wantErr(t, err, ErrDigest)
	if _, err2 := rd.Next(); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
}
