package offline

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/kit"
)

func TestImportGoodKit(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	res, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 1, w.baseline(t), w.signers(0, 1)...)), "alice")
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if res.Checkpoints["rekor.example"] != 10 || len(res.Licences) != 1 || strings.Join(res.Installed, ",") != "trusted_root,witness_policy" {
		t.Fatalf("result %+v", res)
	}
	if d, err := w.ent.Check("acme"); err != nil || d.LicenceID != "lic-1" {
		t.Fatalf("licence not in force: %+v %v", d, err)
	}
	st, err := w.svc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TrustedRoot == nil || len(st.Origins) != 1 || st.Origins[0].TreeSize != 10 ||
		strings.Join(st.Origins[0].Witnesses, ",") != "w1,w2" || len(st.Sources) != 1 || st.Sources[0].Sequence != 1 || st.KitThreshold != 2 {
		t.Fatalf("status %+v", st)
	}

	// A later kit extends the log with a consistency proof.
	w.log.grow("b", 7)
	next := []kfile{
		{"checkpoints/rekor.example/checkpoint", kit.MediaTypeCheckpoint, w.log.checkpoint(t, w.w1, w.w2)},
		{"checkpoints/rekor.example/consistency.json", kit.MediaTypeConsistencyProof, w.log.consistency(t, 10)},
	}
	if _, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 2, next, w.signers(1, 2)...)), "alice"); err != nil {
		t.Fatalf("second Import: %v", err)
	}
	if st, _ := w.svc.Status(ctx); st.Origins[0].TreeSize != 17 {
		t.Fatalf("size after second import %d", st.Origins[0].TreeSize)
	}
}

// craft rewrites a valid kit's tar stream: keep the manifest and envelope,
// then append the given entries.
func craft(t *testing.T, valid []byte, entries ...func(*tar.Writer)) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(valid))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.OS = 255
	tw := tar.NewWriter(zw)
	for i := 0; i < 2; i++ {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	for _, e := range entries {
		e(tw)
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

func TestImportRefusals(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 1, w.baseline(t), w.signers(0, 1)...)), "alice"); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	good := func(seq uint64, files ...kfile) []byte {
		return buildKit(t, "build.example", seq, files, w.signers(0, 1)...)
	}
	w.log.grow("c", 5)
	cp15 := w.log.checkpoint(t, w.w1, w.w2)
	cons15 := w.log.consistency(t, 10)

	// A forked log: the same key signing a tree with other leaves, so its
	// root at size 10 differs from the accepted one.
	forkTree := newPublicLog(t, w.log.origin)
	forkTree.key, forkTree.signer = w.log.key, w.log.signer
	forkTree.grow("fork", 15)
	evil := make([]byte, 64<<20)

	tests := []struct {
		name      string
		kit       []byte
		want      error
		evidence  bool
		mentioned string
	}{
		{"changed byte", func() []byte {
			b := good(2, kfile{"trust/witness-policy", kit.MediaTypeWitnessPolicy, w.policy()})
			b[len(b)/2] ^= 1
			return b
		}(), ErrSignature, false, ""},
		{"unknown signer", buildKit(t, "build.example", 2, nil, edKey(9), edKey(8)), ErrSignature, false, ""},
		{"too few of k-of-n", buildKit(t, "build.example", 2, []kfile{{"trust/witness-policy", kit.MediaTypeWitnessPolicy, w.policy()}}, w.kitKeys[0]), ErrSignature, false, "2 of 3"},
		{"older trusted root", good(2, kfile{TrustedRootPath, kit.MediaTypeTrustedRoot, w.log.trustedRoot(t, t0.Add(-96*time.Hour))}), ErrRollback, false, "older than the installed"},
		{"replayed sequence", good(1, kfile{WitnessPolicyPath, kit.MediaTypeWitnessPolicy, w.policy()}), ErrReplay, false, "not above the last accepted 1"},
		{"split view", good(2,
			kfile{"checkpoints/rekor.example/checkpoint", kit.MediaTypeCheckpoint, forkTree.checkpoint(t, w.w1, w.w2)},
			kfile{"checkpoints/rekor.example/consistency.json", kit.MediaTypeConsistencyProof, forkTree.consistency(t, 10)}), ErrSplitView, true, "accepted size 10"},
		{"cosignatures below the policy", good(2,
			kfile{"checkpoints/rekor.example/checkpoint", kit.MediaTypeCheckpoint, w.log.checkpoint(t, w.w1)},
			kfile{"checkpoints/rekor.example/consistency.json", kit.MediaTypeConsistencyProof, cons15}), ErrWitnessPolicy, false, "group both needs 2"},
		{"no consistency proof", good(2, kfile{"checkpoints/rekor.example/checkpoint", kit.MediaTypeCheckpoint, cp15}), ErrConsistency, false, ""},
		{"stale licence", good(2, kfile{"entitlements/acme.dsse.json", kit.MediaTypeLicence, w.vendor.Sign(t, entitlementtest.Licence("lic-1", t0.Add(-time.Hour), "acme"))}), ErrContent, false, "newer version"},
		{"path traversal", craft(t, good(2, kfile{"trust/witness-policy", kit.MediaTypeWitnessPolicy, w.policy()}), func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "../../etc/passwd", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
			tw.Write([]byte("root"))
		}), ErrSignature, false, "invalid path"},
		{"decompression bomb", craft(t, good(2, kfile{"trust/witness-policy", kit.MediaTypeWitnessPolicy, w.policy()}), func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "trust/witness-policy", Mode: 0o644, Size: int64(len(evil)), Typeflag: tar.TypeReg})
			tw.Write(evil)
		}), ErrSignature, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(t, w.db, "kit_split_views")
			views := countRows(t, w.db, "kit_split_views")
			_, err := w.svc.Import(ctx, bytes.NewReader(tc.kit), "alice")
			if !errors.Is(err, ErrRefused) || !errors.Is(err, tc.want) {
				t.Fatalf("Import: %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.mentioned) {
				t.Errorf("error %q does not mention %q", err, tc.mentioned)
			}
			if after := dump(t, w.db, "kit_split_views"); after != before {
				t.Fatalf("state changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if got := countRows(t, w.db, "kit_split_views") - views; got != map[bool]int{true: 1}[tc.evidence] {
				t.Fatalf("split-view rows added: %d", got)
			}
		})
	}
	st, _ := w.svc.Status(ctx)
	if len(st.SplitViews) != 1 || st.SplitViews[0].AcceptedSize != 10 || st.SplitViews[0].OfferedSize != 15 || len(st.SplitViews[0].OfferedNote) == 0 {
		t.Fatalf("split views %+v", st.SplitViews)
	}
	// The honest extension is still accepted afterwards.
	if _, err := w.svc.Import(ctx, bytes.NewReader(good(2,
		kfile{"checkpoints/rekor.example/checkpoint", kit.MediaTypeCheckpoint, cp15},
		kfile{"checkpoints/rekor.example/consistency.json", kit.MediaTypeConsistencyProof, cons15})), "alice"); err != nil {
		t.Fatalf("honest import after refusals: %v", err)
	}
}

func TestImportRevocations(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	base := w.baseline(t)
	revs := mustJSON(t, map[string]any{"revocations": []map[string]any{
		{"keyId": mustKeyID(t, w.kitKeys[2].Public()), "reason": "key lost", "revokedAt": t0.Format(time.RFC3339)},
		{"keyId": w.w2.keyID(t), "reason": "witness compromised", "revokedAt": t0.Format(time.RFC3339)},
	}})
	if _, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 1, base, w.signers(0, 1)...)), "alice"); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if _, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 2, []kfile{{RevocationsPath, kit.MediaTypeRevocations, revs}}, w.signers(0, 1)...)), "alice"); err != nil {
		t.Fatalf("Import revocations: %v", err)
	}
	// A kit signed with the revoked key (and one good one) no longer
	// reaches 2 of 3.
	k := buildKit(t, "build.example", 3, []kfile{{WitnessPolicyPath, kit.MediaTypeWitnessPolicy, w.policy()}}, w.signers(0, 2)...)
	before := dump(t, w.db)
	if _, err := w.svc.Import(ctx, bytes.NewReader(k), "alice"); !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrRefused) {
		t.Fatalf("kit signed by a revoked key: %v", err)
	}
	// A checkpoint cosigned by the revoked witness does not meet the quorum.
	w.log.grow("d", 3)
	k = buildKit(t, "build.example", 3, []kfile{
		{"checkpoints/rekor.example/checkpoint", kit.MediaTypeCheckpoint, w.log.checkpoint(t, w.w1, w.w2)},
		{"checkpoints/rekor.example/consistency.json", kit.MediaTypeConsistencyProof, w.log.consistency(t, 10)},
	}, w.signers(0, 1)...)
	_, err := w.svc.Import(ctx, bytes.NewReader(k), "alice")
	if !errors.Is(err, ErrWitnessPolicy) || !strings.Contains(err.Error(), "revoked witnesses not counted: w2") {
		t.Fatalf("revoked witness: %v", err)
	}
	// Installing a revoked kit key is refused.
	pem, err := MarshalKitKeys(KeySet{Keys: []crypto.PublicKey{w.kitKeys[0].Public(), w.kitKeys[2].Public()}, Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	k = buildKit(t, "build.example", 3, []kfile{{KitKeysPath, kit.MediaTypePublicKey, pem}}, w.signers(0, 1)...)
	if _, err := w.svc.Import(ctx, bytes.NewReader(k), "alice"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("installing a revoked key: %v", err)
	}
	if after := dump(t, w.db); after != before {
		t.Fatalf("state changed by refusals")
	}
}

func TestImportRotatesKitKeys(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	nk := edKey(42)
	pem, err := MarshalKitKeys(KeySet{Keys: []crypto.PublicKey{nk.Public()}, Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	k := buildKit(t, "build.example", 1, []kfile{{KitKeysPath, kit.MediaTypePublicKey, pem}}, w.signers(0, 1)...)
	if _, err := w.svc.Import(ctx, bytes.NewReader(k), "alice"); err != nil {
		t.Fatal(err)
	}
	// The old keys no longer verify; the new one does.
	old := buildKit(t, "build.example", 2, []kfile{{WitnessPolicyPath, kit.MediaTypeWitnessPolicy, w.policy()}}, w.signers(0, 1)...)
	if _, err := w.svc.Import(ctx, bytes.NewReader(old), "alice"); !errors.Is(err, ErrSignature) {
		t.Fatalf("old keys after rotation: %v", err)
	}
	if _, err := w.svc.Import(ctx, bytes.NewReader(buildKit(t, "build.example", 2, []kfile{{WitnessPolicyPath, kit.MediaTypeWitnessPolicy, w.policy()}}, nk)), "alice"); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if st, _ := w.svc.Status(ctx); st.KitThreshold != 1 || len(st.KitKeys) != 1 || st.KitKeysFrom != "kit build.example #1" {
		t.Fatalf("status %+v", st)
	}
}

func mustKeyID(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	id, err := KeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
