package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/kit/verify"
	"github.com/stellaops/stellad/kit/verify/verifytest"
	"github.com/stellaops/stellad/kit/witness"
)

// publicLog is a stand-in for a public Rekor v2 shard: an attestation at
// index 300 of a log that grows to 700 entries (three tile levels' worth
// of partial and full tiles), witnessed by w1, w2, w3.
type publicLog struct {
	log       *verifytest.Log
	att       *verifytest.Fixture
	w         []*verifytest.Witness
	policy    *witness.Policy
	trustRoot []byte
}

var witnessTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newPublicLog(t testing.TB) *publicLog {
	t.Helper()
	l, err := verifytest.NewLog("https://log2025-1.rekor.sigstore.dev", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.AppendFiller(300)
	att, err := l.Attest(verifytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	l.AppendFiller(399)
	if err := l.Prove(att, 350); err != nil {
		t.Fatal(err)
	}
	p := &publicLog{log: l, att: att}
	for i, n := range []string{"w1", "w2", "w3"} {
		p.w = append(p.w, verifytest.NewWitness(n, byte(i+1), witnessTime))
	}
	if p.policy, err = witness.ParsePolicy(verifytest.Policy(2, p.w...)); err != nil {
		t.Fatal(err)
	}
	if p.trustRoot, err = l.TrustedRoot(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *publicLog) result(t testing.TB, f *verifytest.Fixture) *verify.Result {
	t.Helper()
	sum := sha256.Sum256(f.Artifact)
	res, err := verify.Verify(f.Bundle(), verify.Options{TrustedRoot: p.trustRoot, Key: &f.Signer.PublicKey, ArtifactDigest: sum[:]})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func (p *publicLog) checkpoint(t testing.TB, l *verifytest.Log, size uint64, ws ...*verifytest.Witness) []byte {
	t.Helper()
	cp, err := l.Checkpoint(size, ws...)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(cp)
}

func TestVerifyWitnessed(t *testing.T) {
	p := newPublicLog(t)
	res := p.result(t, p.att)
	l := p.log
	consistency := func(old, new uint64) *verify.ConsistencyProof {
		hs, err := l.ConsistencyProof(old, new)
		if err != nil {
			t.Fatal(err)
		}
		return &verify.ConsistencyProof{OldSize: old, NewSize: new, Hashes: hs}
	}
	fork := l.Fork(320)
	fork.AppendFiller(380)
	otherLog, err := verifytest.NewLog("https://log2025-1.rekor.sigstore.dev", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	otherLog.AppendFiller(700)
	other, err := verifytest.NewLog("https://log2026-1.rekor.sigstore.dev", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	other.AppendFiller(10)

	tests := []struct {
		name       string
		mirrors    []verify.MirroredLog
		policy     *witness.Policy
		wantMethod string
		wantSize   uint64
		wantErr    error
		wantText   string
	}{
		{name: "same tree, 2 of 3 cosigned",
			mirrors:    []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 350, p.w[0], p.w[2])}},
			wantMethod: "same-tree", wantSize: 350},
		{name: "newer mirror, proof from tiles",
			mirrors:    []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 700, p.w...), Tiles: verify.MapTiles(l.Tiles(700))}},
			wantMethod: "tiles", wantSize: 700},
		{name: "newer mirror, carried consistency proof",
			mirrors:    []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 600, p.w[1], p.w[2]), Consistency: consistency(350, 600)}},
			wantMethod: "consistency-proof", wantSize: 600},
		{name: "the newest covering mirror is reported",
			mirrors: []verify.MirroredLog{
				{Checkpoint: p.checkpoint(t, l, 350, p.w[0], p.w[1])},
				{Checkpoint: p.checkpoint(t, l, 700, p.w...), Tiles: verify.MapTiles(l.Tiles(700))},
				{Checkpoint: p.checkpoint(t, other, 10, p.w...)},
			},
			wantMethod: "tiles", wantSize: 700},
		{name: "quorum none counts as witnessed", policy: mustPolicy(t, verifytest.Policy(0, p.w...)),
			mirrors:    []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 350)}},
			wantMethod: "same-tree", wantSize: 350},

		{name: "one cosignature, policy needs two",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 350, p.w[0])}},
			wantErr: verify.ErrBelowPolicy, wantText: "group all-witnesses needs 2"},
		{name: "cosigned by unknown witnesses only",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 350, verifytest.NewWitness("w1", 9, witnessTime), verifytest.NewWitness("x", 8, witnessTime))}},
			wantErr: verify.ErrBelowPolicy},
		{name: "no policy given", policy: nil,
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 350, p.w...)}},
			wantErr: verify.ErrBelowPolicy, wantText: "no witness policy"},
		{name: "nothing mirrored for the origin",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, other, 10, p.w...)}},
			wantErr: verify.ErrUncovered, wantText: "no mirrored checkpoint of origin"},
		{name: "bundle newer than every mirror",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 340, p.w...), Tiles: verify.MapTiles(l.Tiles(340))}},
			wantErr: verify.ErrUncovered, wantText: "newer than the mirrored checkpoint of size 340"},
		{name: "older bundle, no tiles and no proof",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 700, p.w...), Consistency: consistency(351, 700)}},
			wantErr: verify.ErrUncovered, wantText: "neither tiles nor a consistency proof"},
		{name: "tiles of another size",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 700, p.w...), Tiles: verify.MapTiles(l.Tiles(600))}},
			wantErr: verify.ErrUncovered, wantText: "incomplete"},
		{name: "tiles of another tree are not taken for a split view",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, l, 700, p.w...), Tiles: verify.MapTiles(otherLog.Tiles(700))}},
			wantErr: verify.ErrUncovered, wantText: "do not hash to the mirrored checkpoint"},

		{name: "fork: same size, other root",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, fork, 350, p.w...)}},
			wantErr: verify.ErrSplitView, wantText: "same size, different roots"},
		{name: "fork: tiles of the forked tree",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, fork, 700, p.w...), Tiles: verify.MapTiles(fork.Tiles(700))}},
			wantErr: verify.ErrSplitView, wantText: "computed from the mirrored tiles fails"},
		{name: "fork below the policy is still a split view",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, fork, 350)}},
			wantErr: verify.ErrSplitView},
		{name: "fork wins over a witnessed match",
			mirrors: []verify.MirroredLog{
				{Checkpoint: p.checkpoint(t, l, 350, p.w...)},
				{Checkpoint: p.checkpoint(t, fork, 700, p.w...), Tiles: verify.MapTiles(fork.Tiles(700))},
			},
			wantErr: verify.ErrSplitView},

		{name: "mirrored checkpoint not signed by the log",
			mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, otherLog, 700, p.w...)}},
			wantErr: verify.ErrInvalidInput, wantText: "not signed by the log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := p.policy
			if tt.policy != nil || strings.HasPrefix(tt.name, "no policy") {
				pol = tt.policy
			}
			w, err := verify.VerifyWitnessed(context.Background(), res, verify.WitnessOptions{TrustedRoot: p.trustRoot, Policy: pol, Mirrors: tt.mirrors})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("error %q does not say %q", err, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyWitnessed: %v", err)
			}
			if w.Method != tt.wantMethod || w.MirroredSize != tt.wantSize || w.BundleSize != 350 || w.Origin != "log2025-1.rekor.sigstore.dev" {
				t.Fatalf("witnessed = %+v, want method %s size %d", w, tt.wantMethod, tt.wantSize)
			}
			if !bytes.Equal(w.MirroredRoot, l.Root(tt.wantSize)) {
				t.Fatal("mirrored root differs from the log's")
			}
		})
	}
}

func mustPolicy(t testing.TB, b []byte) *witness.Policy {
	t.Helper()
	p, err := witness.ParsePolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyWitnessedNamesCosigners(t *testing.T) {
	p := newPublicLog(t)
	w, err := verify.VerifyWitnessed(context.Background(), p.result(t, p.att), verify.WitnessOptions{TrustedRoot: p.trustRoot, Policy: p.policy,
		Mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(t, p.log, 350, p.w[2], p.w[0])}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Cosigners) != 2 || w.Cosigners[0].Witness != "w3" || w.Cosigners[1].Witness != "w1" || !w.Cosigners[0].Time.Equal(witnessTime) {
		t.Fatalf("cosigners = %+v", w.Cosigners)
	}
}

func TestVerifyWitnessedInputs(t *testing.T) {
	p := newPublicLog(t)
	res := p.result(t, p.att)
	ctx := context.Background()
	if _, err := verify.VerifyWitnessed(ctx, nil, verify.WitnessOptions{TrustedRoot: p.trustRoot}); !errors.Is(err, verify.ErrInvalidInput) {
		t.Errorf("nil result: %v", err)
	}
	if _, err := verify.VerifyWitnessed(ctx, res, verify.WitnessOptions{TrustedRoot: []byte("{")}); !errors.Is(err, verify.ErrInvalidInput) {
		t.Errorf("bad trusted root: %v", err)
	}
	otherRoot, err := verifytest.TrustedRoot("https://elsewhere.example", &p.log.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.VerifyWitnessed(ctx, res, verify.WitnessOptions{TrustedRoot: otherRoot}); !errors.Is(err, verify.ErrInvalidInput) {
		t.Errorf("trusted root naming the log under another host: %v", err)
	}
}

func TestKitMirrors(t *testing.T) {
	p := newPublicLog(t)
	cp := p.checkpoint(t, p.log, 700, p.w...)
	files := map[string][]byte{
		"trust/trusted_root.json":                                   p.trustRoot,
		"checkpoints/log2025-1.rekor.sigstore.dev/checkpoint":       cp,
		"checkpoints/log2025-1.rekor.sigstore.dev/consistency.json": mustJSON(t, p.log, 350, 700),
		"attestations/x.json":                                       []byte("{}"),
	}
	for tp, b := range p.log.Tiles(700) {
		files["tiles/log2025-1.rekor.sigstore.dev/"+tp] = b
	}
	ms, err := verify.KitMirrors(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || !bytes.Equal(ms[0].Checkpoint, cp) || ms[0].Consistency == nil || ms[0].Consistency.OldSize != 350 || ms[0].Tiles == nil {
		t.Fatalf("mirrors = %+v", ms)
	}
	if _, err := ms[0].Tiles.ReadTile(context.Background(), 0, 2, 188); err != nil {
		t.Fatalf("tile 0/002.p/188: %v", err)
	}
	w, err := verify.VerifyWitnessed(context.Background(), p.result(t, p.att), verify.WitnessOptions{TrustedRoot: p.trustRoot, Policy: p.policy, Mirrors: ms})
	if err != nil || w.MirroredSize != 700 {
		t.Fatalf("witnessed %+v, %v", w, err)
	}

	for name, bad := range map[string]map[string][]byte{
		"tiles without checkpoint":       {"tiles/o.example/tile/0/000.p/1": make([]byte, 32)},
		"consistency without checkpoint": {"checkpoints/o.example/consistency.json": mustJSON(t, p.log, 350, 700)},
		"bad consistency":                {"checkpoints/o.example/checkpoint": cp, "checkpoints/o.example/consistency.json": []byte(`{"oldSize":1}`)},
	} {
		if _, err := verify.KitMirrors(bad); !errors.Is(err, verify.ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustJSON(t testing.TB, l *verifytest.Log, old, new uint64) []byte {
	t.Helper()
	b, err := l.ConsistencyJSON(old, new)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConsistencyProof(t *testing.T) {
	h := `"` + strings.Repeat("A", 43) + `="`
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"valid", `{"hashes":[` + h + `],"newSize":5,"oldSize":3}`, true},
		{"equal sizes, no hashes", `{"hashes":[],"newSize":5,"oldSize":5}`, true},
		{"missing hashes", `{"newSize":5,"oldSize":3}`, false},
		{"zero old size", `{"hashes":[],"newSize":5,"oldSize":0}`, false},
		{"old above new", `{"hashes":[],"newSize":5,"oldSize":6}`, false},
		{"unknown member", `{"hashes":[],"newSize":5,"oldSize":3,"x":1}`, false},
		{"duplicate member", `{"hashes":[],"newSize":5,"oldSize":3,"oldSize":4}`, false},
		{"short hash", `{"hashes":["AAAA"],"newSize":5,"oldSize":3}`, false},
		{"trailing data", `{"hashes":[],"newSize":5,"oldSize":3} {}`, false},
		{"negative", `{"hashes":[],"newSize":5,"oldSize":-3}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := verify.ParseConsistencyProof([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("ParseConsistencyProof: %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (p.NewSize != 5) {
				t.Fatalf("proof = %+v", p)
			}
		})
	}
}

func TestTilePath(t *testing.T) {
	for _, tt := range []struct {
		level, index uint64
		width        uint8
		want         string
	}{
		{0, 0, 0, "tile/0/000"},
		{0, 2, 188, "tile/0/002.p/188"},
		{1, 1234, 0, "tile/1/x001/234"},
		{2, 1234067, 5, "tile/2/x001/x234/067.p/5"},
	} {
		if got := verify.TilePath(tt.level, tt.index, tt.width); got != tt.want {
			t.Errorf("TilePath(%d, %d, %d) = %q, want %q", tt.level, tt.index, tt.width, got, tt.want)
		}
	}
}

func BenchmarkVerifyWitnessedTiles(b *testing.B) {
	p := newPublicLog(b)
	res := p.result(b, p.att)
	opts := verify.WitnessOptions{TrustedRoot: p.trustRoot, Policy: p.policy,
		Mirrors: []verify.MirroredLog{{Checkpoint: p.checkpoint(b, p.log, 700, p.w...), Tiles: verify.MapTiles(p.log.Tiles(700))}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verify.VerifyWitnessed(context.Background(), res, opts); err != nil {
			b.Fatal(err)
		}
	}
}
