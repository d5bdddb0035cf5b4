package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellad/kit"
	"github.com/stellaops/stellad/kit/dsse"
)

// rawEntry is one tar entry of a hand-made kit; size, when not 0, is the
// header size written instead of len(data) (the data is then size zero
// bytes streamed, for bombs).
type rawEntry struct {
	name string
	data []byte
	size int64
}

// craftKit writes a kit by hand: manifest.json listing files, its DSSE
// envelope signed by keys, then entries as given. It is how an attacker
// with a kit key's signature on some manifest, or none, would shape an
// archive that kit build never writes.
func craftKit(t *testing.T, out string, files []kit.File, entries []rawEntry, keys ...kitKey) string {
	return craftKitMangled(t, out, nil, files, entries, keys...)
}

// craftKitMangled is craftKit with the manifest bytes passed through mangle
// before they are signed (to list what kit.Manifest refuses to marshal).
func craftKitMangled(t *testing.T, out string, mangle func([]byte) []byte, files []kit.File, entries []rawEntry, keys ...kitKey) string {
	t.Helper()
	m := kit.Manifest{KitVersion: kit.Version, Kind: kit.KindBuild, CreatedBy: "e2e crafted", Source: "build.example", Sequence: 50, Files: files}
	mj, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if mangle != nil {
		mj = mangle(mj)
	}
	var ks []dsse.KeySigner
	for _, k := range keys {
		ks = append(ks, dsse.KeySigner{Signer: crypto.Signer(k.key)})
	}
	env, err := dsse.Sign(nil, kit.PayloadType, mj, ks...)
	if err != nil {
		t.Fatal(err)
	}
	ej, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.OS = 255
	tw := tar.NewWriter(zw)
	all := append([]rawEntry{{name: kit.ManifestPath, data: mj}, {name: kit.SignaturePath, data: ej}}, entries...)
	for _, e := range all {
		size := int64(len(e.data))
		if e.size > 0 {
			size = e.size
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Size: size, Mode: 0o644, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(e.data)
		if e.size > 0 {
			r = io.LimitReader(zeroReader{}, e.size)
		}
		if _, err := io.Copy(tw, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, out, buf.Bytes())
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func listed(path string, data []byte, size int64) kit.File {
	sum := sha256.Sum256(data)
	if size == 0 {
		size = int64(len(data))
	}
	return kit.File{Path: path, SHA256: hex.EncodeToString(sum[:]), Size: size, MediaType: "application/octet-stream"}
}

// TestKitRefusalsTwoDaemons: appliance B (kit threshold 2) has imported a
// kit carrying a public log's trusted root, witness policy and witnessed
// checkpoint; then it refuses, each time with exit 1, the reason named and
// its kit status and mirrored checkpoint unchanged: an older trusted root,
// a checkpoint cosigned below the witness policy, a kit signed by only one
// of the two kit keys it needs, a path-traversal entry, and two
// decompression bombs (a signed manifest listing a file over the size limit
// that a small archive expands to, and a tar header far larger than the
// manifest says).
func TestKitRefusalsTwoDaemons(t *testing.T) {
	work := t.TempDir()
	pub := newPublicRekor(t, 400)
	k1, k2 := newKitKey(t, work, "kit-1", 11), newKitKey(t, work, "kit-2", 12)
	b := startKitDaemon(t, "appliance-b", 2, k1, k2)
	bctl := func(args ...string) (string, string, int) {
		return ctl(t, "", nil, append([]string{"--admin-socket", b.adminSocket()}, args...)...)
	}
	// The installed root's key is valid from 2025; an older root names the
	// same log from 2020 only.
	newRoot := bytes.ReplaceAll(pub.root, []byte("2020-01-01T00:00:00Z"), []byte("2025-06-01T00:00:00Z"))
	base := pub.kitFiles(t, 350, false, pub.witnesses...)
	base["trust/trusted_root.json"] = newRoot
	if _, errs, code := bctl("kit", "import", buildKit(t, filepath.Join(work, "base.kit"), "build.example", 1, base, k1, k2)); code != 0 {
		t.Fatalf("base kit: exit %d: %s", code, errs)
	}
	status := func() string {
		out, errs, code := bctl("kit", "status", "--json")
		if code != 0 {
			t.Fatalf("kit status: exit %d: %s", code, errs)
		}
		return out
	}
	mirrorURL := b.url + "/api/v2/mirror/" + rekorOrigin + "/checkpoint"
	beforeStatus, beforeCP := status(), string(getBytes(t, mirrorURL))
	if !strings.Contains(beforeStatus, rekorOrigin) || !strings.HasPrefix(beforeCP, rekorOrigin+"\n350\n") {
		t.Fatalf("base state: status %s, mirrored checkpoint %q", beforeStatus, beforeCP)
	}

	older := pub.kitFiles(t, 400, false, pub.witnesses...) // the old root, a good checkpoint
	weak := pub.kitFiles(t, 400, false, pub.witnesses[2])
	weak["checkpoints/"+rekorOrigin+"/consistency.json"], _ = pub.log.ConsistencyJSON(350, 400)
	delete(weak, "trust/trusted_root.json")
	okFiles := map[string][]byte{"trust/witness-policy": pub.policy}

	policy := pub.policy
	bigSize := int64(300 << 20) // over the 256 MiB file limit; ~300 KiB compressed
	cases := []struct {
		name string
		kit  string
		want string
	}{
		{"older trusted root", buildKit(t, filepath.Join(work, "older.kit"), "build.example", 2, older, k1, k2), "rollback refused"},
		{"cosignatures below the witness policy", buildKit(t, filepath.Join(work, "weak.kit"), "build.example", 3, weak, k1, k2), "witness policy not satisfied"},
		{"one of two kit signatures", buildKit(t, filepath.Join(work, "one-sig.kit"), "build.example", 4, okFiles, k1), "1 of 2 required keys verified"},
		{"path traversal", craftKit(t, filepath.Join(work, "traversal.kit"), []kit.File{listed("trust/witness-policy", policy, 0)},
			[]rawEntry{{name: "trust/witness-policy", data: policy}, {name: "../../../etc/cron.d/evil", data: []byte("* * * * * root sh\n")}}, k1, k2), `../../../etc/cron.d/evil: invalid path: ".." element`},
		{"path traversal listed in a signed manifest", craftKitMangled(t, filepath.Join(work, "traversal-listed.kit"),
			func(b []byte) []byte {
				return bytes.Replace(b, []byte("trust/x.x.x.evil"), []byte("trust/../../evil"), 1)
			},
			[]kit.File{listed("trust/x.x.x.evil", policy, 0)},
			[]rawEntry{{name: "trust/../../evil", data: policy}}, k1, k2), `trust/../../evil: invalid path`},
		{"bomb: signed manifest lists 300 MiB", craftKit(t, filepath.Join(work, "bomb.kit"), []kit.File{listed("attestations/zeros.json", nil, bigSize)},
			[]rawEntry{{name: "attestations/zeros.json", size: bigSize}}, k1, k2), "limit exceeded"},
		{"bomb: tar header larger than listed", craftKit(t, filepath.Join(work, "bomb2.kit"), []kit.File{listed("attestations/small.json", []byte("{}"), 0)},
			[]rawEntry{{name: "attestations/small.json", size: 200 << 20}}, k1, k2), "archive holds 209715200 bytes, manifest says 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs, code := bctl("kit", "import", c.kit)
			if code != 1 || !strings.Contains(errs, "kit_refused") || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, want 1, kit_refused and %q\n%s", code, c.want, errs)
			}
			t.Logf("refusal: %s", strings.TrimSpace(errs))
			if after := status(); after != beforeStatus {
				t.Errorf("kit status changed:\nbefore %s\nafter  %s", beforeStatus, after)
			}
			if after := string(getBytes(t, mirrorURL)); after != beforeCP {
				t.Errorf("mirrored checkpoint changed:\nbefore %q\nafter  %q", beforeCP, after)
			}
		})
	}
	// The refusals consumed nothing: a good kit with the next sequence still goes in.
	next := pub.kitFiles(t, 400, false, pub.witnesses[0], pub.witnesses[1])
	next["checkpoints/"+rekorOrigin+"/consistency.json"], _ = pub.log.ConsistencyJSON(350, 400)
	next["trust/trusted_root.json"] = newRoot
	if _, errs, code := bctl("kit", "import", buildKit(t, filepath.Join(work, "next.kit"), "build.example", 2, next, k1, k2)); code != 0 {
		t.Fatalf("good kit after the refusals: exit %d: %s", code, errs)
	}
	if cp := string(getBytes(t, mirrorURL)); !strings.HasPrefix(cp, rekorOrigin+"\n400\n") {
		t.Errorf("mirrored checkpoint after the good kit: %q", cp)
	}
}
