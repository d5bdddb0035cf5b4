package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLayoutManifests(t *testing.T) {
	l := newTestLayout(t)
	a, b, c := l.image("a"), l.image("b"), l.image("c")
	nested := l.blob(MediaTypeImageIndex, mustJSON(t, testIndex{SchemaVersion: 2, MediaType: MediaTypeImageIndex, Manifests: []Descriptor{b, c}}))
	l.list(a, "scanner:a")
	l.list(a, "scanner:a") // listed twice: yielded once
	l.list(nested, "scanner:multi")
	l.index = append(l.index, Descriptor{MediaType: "application/vnd.example.other", Digest: digestOf([]byte("x")), Size: 1}) // skipped
	dir := l.write()

	lay, err := OpenLayout(dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer lay.Close()
	if len(lay.Index()) != 4 {
		t.Errorf("Index has %d entries, want 4", len(lay.Index()))
	}
	var got []string
	for m, err := range lay.Manifests() {
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.Digest == "" || len(m.Layers) != 1 || digestOf(m.Raw) != m.Descriptor.Digest {
			t.Errorf("manifest %s decoded badly: %+v", m.Descriptor.Digest, m)
		}
		got = append(got, m.Descriptor.Digest)
	}
	want := []string{a.Digest, b.Digest, c.Digest}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Manifests yielded %v, want %v", got, want)
	}
	// Stopping early is allowed.
	for range lay.Manifests() {
		break
	}
	if !lay.HasBlob(a.Digest) || lay.HasBlob(untrustedDigest) || lay.HasBlob("sha256:../oci-layout") {
		t.Error("HasBlob answers wrongly")
	}
}

func TestOpenLayoutErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"missing oci-layout", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "oci-layout")) }, "oci-layout"},
		{"missing index.json", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "index.json")) }, "index.json"},
		{"index.json is not JSON", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "index.json"), []byte("{"), 0o644) }, "index.json: malformed JSON"},
		{"index.json trailing data", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]} {}`), 0o644)
		}, "trailing data"},
		{"index.json schema 1", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":1,"manifests":[]}`), 0o644)
		}, "schemaVersion"},
		{"index.json too large", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`+strings.Repeat(" ", DefaultMaxIndexSize)), 0o644)
		}, "exceeds the limit"},
		{"index.json deeply nested", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"annotations":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`), 0o644)
		}, "nested deeper"},
		{"blobs is a file", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "blobs"))
			os.WriteFile(filepath.Join(dir, "blobs"), nil, 0o644)
		}, "blobs: not a directory"},
		{"fifo in blobs", func(t *testing.T, dir string) {
			if err := mkfifo(filepath.Join(dir, "blobs", "sha256", strings.Repeat("1", 64))); err != nil {
				t.Skip(err)
			}
		}, "not a regular file"},
		{"directory in blobs/sha256", func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, "blobs", "sha256", "sub"), 0o755) }, "not a regular file"},
		{"bad algorithm directory", func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, "blobs", "SHA256"), 0o755) }, "not a digest algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLayout(t)
			l.list(l.image("a"), "")
			dir := l.write()
			tt.setup(t, dir)
			_, err := OpenLayout(dir, Limits{})
			if !errors.Is(err, ErrInvalidLayout) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenLayout = %v, want ErrInvalidLayout mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := OpenLayout(filepath.Join(t.TempDir(), "absent"), Limits{}); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("absent directory: %v", err)
	}
}

func TestSigTagDigest(t *testing.T) {
	h := strings.Repeat("0a", 32)
	tests := []struct {
		ref, want string
	}{
		{"sha256-" + h + ".sig", "sha256:" + h},
		{"registry.example:5000/scanner:sha256-" + h + ".sig", "sha256:" + h},
		{"scanner:latest", ""},
		{"sha256-" + h + ".att", ""},
		{"sha256-" + strings.ToUpper(h) + ".sig", ""},
		{"sha256-" + h[:10] + ".sig", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := sigTagDigest(tt.ref)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("sigTagDigest(%q) = %q, %v; want %q", tt.ref, got, ok, tt.want)
		}
	}
}

func TestParseSimpleSigning(t *testing.T) {
	d := "sha256:" + strings.Repeat("0a", 32)
	tests := []struct {
		name, in, wantErr string
	}{
		{"cosign payload", string(simpleSigning(d)), ""},
		{"optional object", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"},"optional":{"creator":"x"}}`, ""},
		{"unknown critical field", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature","extra":1}}`, "unknown field"},
		{"unknown top-level field", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"},"x":1}`, "unknown field"},
		{"other type", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `"},"type":"atomic container signature"}}`, "critical.type"},
		{"no identity", `{"critical":{"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"}}`, "identity"},
		{"bad digest", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:x"},"type":"cosign container image signature"}}`, "docker-manifest-digest"},
		{"duplicate digest", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `","docker-manifest-digest":"` + untrustedDigest + `"},"type":"cosign container image signature"}}`, "duplicate key"},
		{"optional string", `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"},"optional":"x"}`, "optional"},
		{"not JSON", `critical`, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSimpleSigning([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil || got != d {
					t.Fatalf("= %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

func TestLayoutTotalReadLimit(t *testing.T) {
	l := newTestLayout(t)
	a := l.image("a")
	for i := range 5 {
		d := a
		d.Annotations = map[string]string{AnnotationRefName: fmt.Sprintf("scanner:%d", i)}
		l.index = append(l.index, d) // the same manifest under five tags: read five times
	}
	dir := l.write()
	lay, err := OpenLayout(dir, Limits{MaxTotalRead: 4 * a.Size})
	if err != nil {
		t.Fatal(err)
	}
	defer lay.Close()
	n := 0
	for _, err := range lay.Manifests() {
		if err != nil {
			if !errors.Is(err, ErrInvalidLayout) || !strings.Contains(err.Error(), "bytes read from the layout") {
				t.Fatalf("err = %v", err)
			}
			break
		}
		n++
	}
	if n != 4 {
		t.Errorf("read %d manifests before the limit, want 4", n)
	}
}
