package kit

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to Verify as a kit: it must never panic,
// every refusal must be a *Error, and an accepted kit must hold exactly the
// files its manifest lists.
func FuzzReader(f *testing.F) {
	k := seededKey(1)
	f.Add(buildKit(f, testOptions(), sampleFiles(), k))
	if b, err := os.ReadFile(filepath.Join("testdata", "kit.golden")); err == nil {
		f.Add(b)
	}
	a := []byte("alpha")
	head := signedHead(f, []File{fileFor("trust/a", a)}, k)
	f.Add(craft(f, append(head, reg("trust/a", a)), nil))
	f.Add(craft(f, append(head, reg("../trust/a", a)), nil))
	f.Add(craft(f, append(head, reg("trust/a", a), reg("trust/a", a)), nil))
	f.Add(craft(f, head, []byte{0, 0, 0}))
	f.Add([]byte{})
	f.Add(gzipHeader[:])
	opts := VerifyOptions{Keys: []crypto.PublicKey{pub(k)}, Limits: Limits{MaxTotalSize: 1 << 20, MaxManifestSize: 1 << 16}}
	f.Fuzz(func(t *testing.T, data []byte) {
		kit, err := Verify(bytes.NewReader(data), opts)
		if err != nil {
			if !errors.As(err, new(*Error)) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		for _, mf := range kit.Manifest.Files {
			if b, ok := kit.File(mf.Path); !ok || int64(len(b)) != mf.Size {
				t.Fatalf("accepted kit lacks %s", mf.Path)
			}
		}
	})
}

// FuzzManifest checks that ParseManifest never panics and that an accepted
// manifest marshals back to the identical bytes.
func FuzzManifest(f *testing.F) {
	m := Manifest{KitVersion: Version, Kind: KindExport, CreatedBy: "stellad 1.0 \u00e9\u20ac", Source: "log.example/a", Sequence: 42,
		Files: []File{fileFor("attestations/x.json", []byte("x")), fileFor("trust/y", nil)}}
	good, err := m.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"createdBy":"a","files":[],"kind":"build","kitVersion":1,"sequence":0,"source":"b"}`))
	f.Add([]byte(`{"createdBy":"a","files":[],"kind":"build","kitVersion":1,"sequence":0,"source":"b","x":1}`))
	f.Add([]byte(`{"createdBy":"a","createdBy":"a","files":[],"kind":"build","kitVersion":1,"sequence":1e3,"source":"b"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.As(err, new(*Error)) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed manifest: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("not byte-identical:\n%s\n%s", data, out)
		}
	})
}
