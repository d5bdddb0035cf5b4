package policy

import (
	"context"
	"crypto"
	"crypto/sha512"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

var untrustedDigest = "sha256:" + strings.Repeat("ab", 32)

// TestImportLayoutBothForms imports a layout with several scanner images,
// signed in every form by every supported key kind, and checks that exactly
// the signed digests become trusted.
func TestImportLayoutBothForms(t *testing.T) {
	ctx := context.Background()
	k := newTestKeys(t)
	l := newTestLayout(t)
	imgs := map[string]Descriptor{}
	for _, n := range []string{"classic-p256", "classic-rsa-pss", "dsse-p384", "dsse-ed25519", "msg-p256", "msg-rsa", "msg-ed25519", "unsigned"} {
		imgs[n] = l.image(n)
		l.list(imgs[n], "registry.example/scanner:"+n)
	}
	l.classic(k.p256, imgs["classic-p256"], imgs["classic-p256"].Digest)
	l.classic(pssSigner{k.rsa}, imgs["classic-rsa-pss"], imgs["classic-rsa-pss"].Digest)
	l.referrer(imgs["dsse-p384"], dsseBundle(t, k.p384, imgs["dsse-p384"].Digest))
	l.referrer(imgs["dsse-ed25519"], dsseBundle(t, k.ed, imgs["dsse-ed25519"].Digest))
	d := digestBytes(imgs["msg-p256"].Digest)
	l.referrer(imgs["msg-p256"], messageBundle(d, signDigest(t, k.p256, d)))
	d = digestBytes(imgs["msg-rsa"].Digest)
	l.referrer(imgs["msg-rsa"], messageBundle(d, signDigest(t, k.rsa, d)))
	manifest, err := os.ReadFile(filepath.Join(l.dir, blobPath(imgs["msg-ed25519"].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	d = digestBytes(imgs["msg-ed25519"].Digest)
	l.referrer(imgs["msg-ed25519"], messageBundle(d, signMessage(t, k.ed, manifest)))
	dir := l.write()

	db := openDB(t)
	c := newChecker(t, db, Config{ReleaseKeys: k.trusted()})
	var hookRan bool
	res, err := c.ImportLayout(ctx, dir, "admin@example", func(tx *sql.Tx, r ImportResult) error {
		hookRan = true
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM scanner_releases`).Scan(&n); err != nil {
			return err
		}
		if n != 7 {
			return fmt.Errorf("hook sees %d rows, want 7", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !hookRan {
		t.Error("audit hook did not run")
	}
	if len(res.Digests) != 7 || res.Recorded != 7 || res.Actor != "admin@example" || !res.At.Equal(testStart) {
		t.Errorf("result: %d digests, %d recorded, actor %q, at %v", len(res.Digests), res.Recorded, res.Actor, res.At)
	}
	forms := map[string]string{}
	for _, r := range res.Releases {
		forms[r.Digest] = r.Form
		if r.KeyID == "" || r.SignatureManifest == "" || !strings.HasPrefix(r.Source, "blobs/sha256/") {
			t.Errorf("release %+v lacks audit data", r)
		}
	}
	wantForms := map[string]string{
		"classic-p256": FormCosignClassic, "classic-rsa-pss": FormCosignClassic,
		"dsse-p384": FormReferrerDSSE, "dsse-ed25519": FormReferrerDSSE,
		"msg-p256": FormReferrerMessage, "msg-rsa": FormReferrerMessage, "msg-ed25519": FormReferrerMessage,
	}
	for n, img := range imgs {
		err := c.Check(ctx, "tenant-a", img.Digest)
		if n == "unsigned" {
			if !errors.Is(err, &Error{Code: CodeUntrusted}) {
				t.Errorf("unsigned image: Check = %v, want %s", err, CodeUntrusted)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Check = %v", n, err)
		}
		if forms[img.Digest] != wantForms[n] {
			t.Errorf("%s: form %q, want %q", n, forms[img.Digest], wantForms[n])
		}
	}
	if got := countRows(t, db, "scanner_releases"); got != 7 {
		t.Errorf("%d release rows, want 7", got)
	}
	// Importing the same layout again records nothing new.
	res, err = c.ImportLayout(ctx, dir, "admin@example")
	if err != nil || res.Recorded != 0 {
		t.Errorf("re-import: recorded %d, err %v", res.Recorded, err)
	}
}

// TestImportLayoutRefused covers layouts that must record nothing, and
// checks the error names what failed.
func TestImportLayoutRefused(t *testing.T) {
	k := newTestKeys(t)
	tests := []struct {
		name    string
		build   func(t *testing.T, l *testLayout)
		limits  Limits
		wantErr error
		wantMsg string // a substring the error must contain
	}{
		{
			name: "tampered signature payload",
			build: func(t *testing.T, l *testLayout) {
				good := l.image("good")
				l.classic(k.p256, good, good.Digest)
				img := l.image("img")
				m := l.classic(k.p256, img, img.Digest)
				// Rewrite the simple-signing blob of the second signature.
				var man testManifest
				data, _ := os.ReadFile(filepath.Join(l.dir, blobPath(m.Digest)))
				if err := decodeJSON(data, &man, false); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(l.dir, blobPath(man.Layers[0].Digest))
				payload, _ := os.ReadFile(p)
				payload[len(payload)-3] ^= 1
				os.WriteFile(p, payload, 0o644)
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "content hashes to",
		},
		{
			name: "tampered manifest",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				m := l.classic(k.p256, img, img.Digest)
				p := filepath.Join(l.dir, blobPath(m.Digest))
				data, _ := os.ReadFile(p)
				os.WriteFile(p, []byte(strings.Replace(string(data), `"schemaVersion":2`, `"schemaVersion":3`, 1)), 0o644)
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "blobs/sha256/",
		},
		{
			name: "wrong key",
			build: func(t *testing.T, l *testLayout) {
				good := l.image("good")
				l.classic(k.p256, good, good.Digest)
				img := l.image("img")
				l.classic(k.other, img, img.Digest)
			},
			wantErr: ErrSignature,
			wantMsg: "does not verify with any trusted release key",
		},
		{
			name: "wrong key, DSSE referrer",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.referrer(img, dsseBundle(t, k.other, img.Digest))
			},
			wantErr: ErrSignature,
			wantMsg: "does not verify with any trusted release key",
		},
		{
			name: "tag names another digest",
			build: func(t *testing.T, l *testLayout) {
				img, other := l.image("img"), l.image("other")
				l.classic(k.p256, img, other.Digest)
			},
			wantErr: ErrSignature,
			wantMsg: "but the manifest is tagged for",
		},
		{
			name: "DSSE statement names another image",
			build: func(t *testing.T, l *testLayout) {
				img, other := l.image("img"), l.image("other")
				l.referrer(img, dsseBundle(t, k.p256, other.Digest))
			},
			wantErr: ErrSignature,
			wantMsg: "does not name the referrer's subject",
		},
		{
			name: "message digest is another image's",
			build: func(t *testing.T, l *testLayout) {
				img, other := l.image("img"), l.image("other")
				d := digestBytes(other.Digest)
				l.referrer(img, messageBundle(d, signDigest(t, k.p256, d)))
			},
			wantErr: ErrSignature,
			wantMsg: "not the referrer's subject",
		},
		{
			name: "signature over other bytes",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				payload := simpleSigning(img.Digest)
				layer := l.blob(MediaTypeSimpleSigning, payload)
				layer.Annotations = map[string]string{AnnotationCosignSignature: base64.StdEncoding.EncodeToString(signMessage(t, k.p256, append(payload, ' ')))}
				cfg := l.blob("application/vnd.oci.image.config.v1+json", emptyConfig)
				m := l.blob(MediaTypeImageManifest, mustJSON(t, testManifest{SchemaVersion: 2, MediaType: MediaTypeImageManifest, Config: cfg, Layers: []Descriptor{layer}}))
				l.list(m, sigTag(img.Digest))
			},
			wantErr: ErrSignature,
			wantMsg: "does not verify",
		},
		{
			name: "symlink to a file outside the layout",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				m := l.classic(k.p256, img, img.Digest)
				p := filepath.Join(l.dir, blobPath(m.Digest))
				outside := filepath.Join(filepath.Dir(l.dir), "outside")
				data, _ := os.ReadFile(p)
				os.WriteFile(outside, data, 0o644)
				os.Remove(p)
				if err := os.Symlink(outside, p); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "not a regular file",
		},
		{
			name: "symlink to a blob inside the layout",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.classic(k.p256, img, img.Digest)
				os.Symlink(filepath.Join(l.dir, blobPath(img.Digest)), filepath.Join(l.dir, "blobs", "sha256", strings.Repeat("0", 64)))
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "blobs/sha256/" + strings.Repeat("0", 64),
		},
		{
			name: "symlinked blobs directory",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.classic(k.p256, img, img.Digest)
				moved := filepath.Join(filepath.Dir(l.dir), "elsewhere")
				os.Rename(filepath.Join(l.dir, "blobs"), moved)
				os.Symlink(moved, filepath.Join(l.dir, "blobs"))
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "blobs: not a directory",
		},
		{
			name: "index.json symlinked outside",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.classic(k.p256, img, img.Digest)
				l.write()
				outside := filepath.Join(filepath.Dir(l.dir), "index.json")
				os.Rename(filepath.Join(l.dir, "index.json"), outside)
				os.Symlink(outside, filepath.Join(l.dir, "index.json"))
				l.index = nil
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "index.json: not a regular file",
		},
		{
			name: "path traversal in a digest",
			build: func(t *testing.T, l *testLayout) {
				l.index = append(l.index, Descriptor{MediaType: MediaTypeImageManifest, Digest: "sha256:../../../../etc/passwd", Size: 10})
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "is not sha256:<64 lowercase hex>",
		},
		{
			name: "unexpected file in blobs",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.classic(k.p256, img, img.Digest)
				os.WriteFile(filepath.Join(l.dir, "blobs", "sha256", "..hidden"), nil, 0o644)
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "blob name is not 64 lowercase hex",
		},
		{
			name: "oversized blob",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.referrer(img, append(dsseBundle(t, k.p256, img.Digest), make([]byte, 4096)...))
			},
			limits:  Limits{MaxBlobSize: 2048},
			wantErr: ErrInvalidLayout,
			wantMsg: "exceeds the blob limit of 2048",
		},
		{
			name: "blob size differs from its descriptor",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				img.Size++
				l.classic(k.p256, img, img.Digest)
				l.list(img, "scanner:latest")
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "its descriptor says",
		},
		{
			name: "too many files",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.classic(k.p256, img, img.Digest)
			},
			limits:  Limits{MaxFiles: 4},
			wantErr: ErrInvalidLayout,
			wantMsg: "more than 4 entries",
		},
		{
			name: "indexes nested too deep",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				m := l.classic(k.p256, img, img.Digest)
				l.index = nil
				d := m
				for range 3 {
					d = l.blob(MediaTypeImageIndex, mustJSON(t, testIndex{SchemaVersion: 2, MediaType: MediaTypeImageIndex, Manifests: []Descriptor{d}}))
				}
				l.list(d, "")
			},
			limits:  Limits{MaxDepth: 2},
			wantErr: ErrInvalidLayout,
			wantMsg: "nested deeper than 2",
		},
		{
			name:    "no signature at all",
			build:   func(t *testing.T, l *testLayout) { l.list(l.image("img"), "scanner:1") },
			wantErr: ErrNoRelease,
		},
		{
			name: "wrong layout version",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.classic(k.p256, img, img.Digest)
				l.writeFile("oci-layout", []byte(`{"imageLayoutVersion":"2.0.0"}`))
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "oci-layout",
		},
		{
			name: "duplicate keys in a manifest",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				cfg := l.blob("application/vnd.oci.image.config.v1+json", emptyConfig)
				m := l.blob(MediaTypeImageManifest, fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[],"Layers":[]}`, MediaTypeImageManifest, mustJSON(t, cfg)))
				l.list(m, sigTag(img.Digest))
			},
			wantErr: ErrInvalidLayout,
			wantMsg: "duplicate key",
		},
		{
			name: "sig tag without a simple-signing layer",
			build: func(t *testing.T, l *testLayout) {
				img := l.image("img")
				l.list(img, sigTag(img.Digest))
			},
			wantErr: ErrSignature,
			wantMsg: "holds no application/vnd.dev.cosign.simplesigning.v1+json layer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLayout(t)
			tt.build(t, l)
			dir := l.dir
			if l.index != nil {
				dir = l.write()
			}
			db := openDB(t)
			c := newChecker(t, db, Config{ReleaseKeys: []crypto.PublicKey{k.p256.Public()}, Limits: tt.limits})
			_, err := c.ImportLayout(context.Background(), dir, "admin")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ImportLayout error = %v, want %v", err, tt.wantErr)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if n := countRows(t, db, "scanner_releases"); n != 0 {
				t.Errorf("%d release rows recorded, want none", n)
			}
			if len(c.releases) != 0 {
				t.Errorf("%d releases trusted in memory, want none", len(c.releases))
			}
		})
	}
}

// TestImportHookFailureRecordsNothing: an audit hook error rolls the import back.
func TestImportHookFailureRecordsNothing(t *testing.T) {
	k := newTestKeys(t)
	l := newTestLayout(t)
	img := l.image("img")
	l.classic(k.p256, img, img.Digest)
	dir := l.write()
	db := openDB(t)
	c := newChecker(t, db, Config{ReleaseKeys: k.trusted()})
	boom := errors.New("audit chain unavailable")
	_, err := c.ImportLayout(context.Background(), dir, "admin", func(*sql.Tx, ImportResult) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if n := countRows(t, db, "scanner_releases"); n != 0 {
		t.Errorf("%d rows after a failed hook", n)
	}
	if err := c.Check(context.Background(), "t", img.Digest); !errors.Is(err, &Error{Code: CodeUntrusted}) {
		t.Errorf("Check after failed import = %v", err)
	}
}

// TestMessageSignatureSHA384 covers a P-384 key signing the SHA-384 of the
// subject manifest, which must then be in the layout.
func TestMessageSignatureSHA384(t *testing.T) {
	k := newTestKeys(t)
	l := newTestLayout(t)
	img := l.image("img")
	manifest, _ := os.ReadFile(filepath.Join(l.dir, blobPath(img.Digest)))
	sum := sha512.Sum384(manifest)
	sig, err := k.p384.Sign(nil, sum[:], crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	b := fmt.Appendf(nil, `{"mediaType":%q,"verificationMaterial":{},"messageSignature":{"messageDigest":{"algorithm":"SHA2_384","digest":%q},"signature":%q}}`,
		MediaTypeBundle, base64.StdEncoding.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sig))
	l.referrer(img, b)
	dir := l.write()
	c := newChecker(t, openDB(t), Config{ReleaseKeys: k.trusted()})
	res, err := c.ImportLayout(context.Background(), dir, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Digests, []string{img.Digest}) {
		t.Errorf("digests %v", res.Digests)
	}
}

// TestRestartKeepsState: imported releases and decisions survive closing
// and reopening the database.
func TestRestartKeepsState(t *testing.T) {
	ctx := context.Background()
	k := newTestKeys(t)
	l := newTestLayout(t)
	img := l.image("img")
	l.classic(k.p256, img, img.Digest)
	dir := l.write()
	path := filepath.Join(t.TempDir(), "stellad.db")
	open := func() *store.DB {
		db, err := store.Open(ctx, store.Config{Path: path, Migrations: storetest.Padded(Migrations()...)})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	pendingDigest := "sha256:" + strings.Repeat("cd", 32)
	db := open()
	c := newChecker(t, db, Config{ReleaseKeys: k.trusted(), OnUntrusted: OnUntrustedQueue})
	if _, err := c.ImportLayout(ctx, dir, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, "t1", untrustedDigest); !errors.Is(err, &Error{Code: CodeApprovalPending}) {
		t.Fatal(err)
	}
	if _, err := c.Approve(ctx, ApprovalRef{Tenant: "t1", Digest: untrustedDigest}, "admin", "vendor hotfix"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, "t1", pendingDigest); !errors.Is(err, &Error{Code: CodeApprovalPending}) {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open()
	defer db.Close()
	// No release keys now: imported digests stay trusted.
	c = newChecker(t, db, Config{OnUntrusted: OnUntrustedQueue})
	if err := c.Check(ctx, "t1", img.Digest); err != nil {
		t.Errorf("imported release after restart: %v", err)
	}
	if v, err := c.Decide(ctx, "t1", untrustedDigest); err != nil || v.Basis != BasisApproval {
		t.Errorf("approved digest after restart: %+v, %v", v, err)
	}
	if err := c.Check(ctx, "t1", pendingDigest); !errors.Is(err, &Error{Code: CodeApprovalPending}) {
		t.Errorf("pending digest after restart: %v", err)
	}
	if n := countRows(t, db, "scanner_approvals"); n != 2 {
		t.Errorf("%d approval rows, want 2", n)
	}
}
