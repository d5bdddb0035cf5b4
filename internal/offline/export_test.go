package offline

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// appliance is an exporting appliance: a real translog in DataDir/log, a
// DSSE signing key, and the bundles it issued.
type appliance struct {
	origin  string
	dir     string
	logKey  *ecdsa.PrivateKey
	log     *translog.Log
	svc     *Service
	signKey *ecdsa.PrivateKey
	bundles map[uint64][]byte
}

func newAppliance(t *testing.T, origin string) *appliance {
	t.Helper()
	ctx := context.Background()
	a := &appliance{origin: origin, dir: t.TempDir(), bundles: map[uint64][]byte{}}
	var err error
	if a.logKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if a.signKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	ns, err := bundle.NewNoteSigner(origin, a.logKey)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := bundle.NewNoteVerifier(origin, a.logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	a.log, err = translog.New(ctx, translog.Config{Dir: filepath.Join(a.dir, "log"), Origin: origin, Signer: ns, Verifier: nv, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.log.Close(ctx)
	})
	db := openDB(t, filepath.Join(a.dir, "stellad.db"))
	a.svc, err = New(ctx, Config{DB: db, DataDir: a.dir, KitKeys: []crypto.PublicKey{edKey(77).Public()}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sign logs n DSSE signatures and keeps their bundles, then waits until the
// published checkpoint covers them.
func (a *appliance) sign(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	der, _ := x509MarshalPKIX(a.signKey.Public())
	hint, err := bundle.KeyHint(a.signKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	logID, err := bundle.LogID(a.origin, a.logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		payload := []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","n":%d}`, len(a.bundles)))
		env, err := dsse.Sign(rand.Reader, "application/vnd.in-toto+json", payload, dsse.KeySigner{Signer: a.signKey})
		if err != nil {
			t.Fatal(err)
		}
		pae := dsse.PAE(env.PayloadType, env.Payload)
		d := sha256Sum(pae)
		body, err := bundle.HashedRekord{Digest: d, Signature: env.Signatures[0].Sig, PublicKeyDER: der, KeyDetails: bundle.KeyDetailsECDSAP256}.CanonicalBody()
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.log.Append(ctx, body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bundle.NewDSSE(env, hint, bundle.Entry{LogIndex: p.Index, LogID: logID, Body: body,
			Proof: bundle.InclusionProof{LogIndex: p.Index, TreeSize: p.TreeSize, RootHash: p.RootHash, Hashes: p.Hashes, Checkpoint: string(p.Checkpoint)}})
		if err != nil {
			t.Fatal(err)
		}
		a.bundles[p.Index] = b
	}
	want := uint64(len(a.bundles))
	deadline := time.Now().Add(30 * time.Second)
	for {
		cp, err := a.log.Checkpoint(ctx)
		if err == nil && bytes.HasPrefix(cp, []byte(fmt.Sprintf("%s\n%d\n", a.origin, want))) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("published checkpoint does not reach %d: %s", want, cp)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Bundles implements BundleSource.
func (a *appliance) Bundles(_ context.Context, from, to uint64) ([][]byte, error) {
	var out [][]byte
	for i := from; i < to; i++ {
		if b, ok := a.bundles[i]; ok {
			out = append(out, b)
		}
	}
	return out, nil
}

type fixedHead struct{}

func (fixedHead) Head(context.Context) (uint64, [32]byte, error) { return 42, [32]byte{1, 2, 3}, nil }

func (a *appliance) export(t *testing.T, since uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := a.svc.Export(context.Background(), &buf, ExportOptions{Since: since, Signers: []crypto.Signer{edKey(77)}, Log: a.log, Bundles: a, Audit: fixedHead{}}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

func TestExportImportMirror(t *testing.T) {
	ctx := context.Background()
	a := newAppliance(t, "a.example")
	a.sign(t, 300) // past one full tile
	k1 := a.export(t, 0)
	if again := a.export(t, 0); !bytes.Equal(again, k1) {
		t.Fatal("the same export twice gave different bytes")
	}

	// B knows A as a peer and trusts A's export key; it has no witness
	// policy, so no cosignature is required.
	b := newWorld(t)
	b.peers = []Peer{{Origin: a.origin, Key: a.logKey.Public()}}
	b.svc.cfg.KitKeys, b.svc.cfg.KitThreshold = []crypto.PublicKey{edKey(77).Public()}, 1
	b.svc.cfg.Peers = b.peers
	res, err := b.svc.Import(ctx, bytes.NewReader(k1), "bob")
	if err != nil {
		t.Fatalf("Import of A's export: %v", err)
	}
	if res.Checkpoints[a.origin] != 300 || res.Bundles != 300 || !res.AuditHead || res.Tiles == 0 {
		t.Fatalf("result %+v", res)
	}

	srv := httptest.NewServer(http.StripPrefix("/api/v2/mirror/"+a.origin, b.svc.MirrorHandler(a.origin)))
	defer srv.Close()
	checkMirror(t, srv.URL+"/api/v2/mirror/"+a.origin, a, 300)

	// A grows; the delta export (since 300) extends B's mirror.
	a.sign(t, 150)
	k2 := a.export(t, 300)
	if res, err := b.svc.Import(ctx, bytes.NewReader(k2), "bob"); err != nil || res.Checkpoints[a.origin] != 450 || res.Bundles != 150 {
		t.Fatalf("delta import: %+v, %v", res, err)
	}
	checkMirror(t, srv.URL+"/api/v2/mirror/"+a.origin, a, 450)
	// Replaying the first export is refused.
	if _, err := b.svc.Import(ctx, bytes.NewReader(k1), "bob"); err == nil {
		t.Fatal("replayed export accepted")
	}
	// A restart keeps the mirror (nothing committed is cleaned).
	b.open(t)
	b.svc.cfg.KitKeys, b.svc.cfg.Peers = []crypto.PublicKey{edKey(77).Public()}, b.peers
	checkMirror(t, srv.URL+"/api/v2/mirror/"+a.origin, a, 450)
}

// checkMirror fetches the mirror's checkpoint and proves inclusion of a few
// of A's leaves from the mirrored tiles alone.
func checkMirror(t *testing.T, base string, a *appliance, size uint64) {
	t.Helper()
	ctx := context.Background()
	get := func(p string) ([]byte, error) {
		resp, err := http.Get(base + "/" + p)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s", p, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	cpNote, err := get("checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := bundle.NewNoteVerifier(a.origin, a.logKey.Public())
	cp, err := bundle.VerifyCheckpoint(cpNote, v)
	if err != nil || cp.Size != size {
		t.Fatalf("mirror checkpoint: %v, size %d", err, cp.Size)
	}
	fetch := func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		return get(layout.TilePath(level, index, p))
	}
	pb, err := client.NewProofBuilder(ctx, size, fetch)
	if err != nil {
		t.Fatalf("proof builder over the mirror: %v", err)
	}
	for _, idx := range []uint64{0, 255, 256, size - 1} {
		hashes, err := pb.InclusionProof(ctx, idx)
		if err != nil {
			t.Fatalf("inclusion proof %d: %v", idx, err)
		}
		parsed, err := bundle.Parse(a.bundles[idx])
		if err != nil {
			t.Fatal(err)
		}
		lh := bundle.LeafHash(parsed.Entries[0].Body)
		if err := proof.VerifyInclusion(hasher, idx, size, lh[:], hashes, cp.Hash); err != nil {
			t.Fatalf("leaf %d: %v", idx, err)
		}
	}
	// Entry bundles are mirrored too, and nothing beyond the size is served.
	if _, err := get(layout.EntriesPath(0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := get(layout.TilePath(0, size/256+1, 0)); err == nil {
		t.Fatal("a tile beyond the accepted size was served")
	}
}
