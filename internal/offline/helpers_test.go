package offline

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/internal/policy"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
	"github.com/stellaops/stellad/kit"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// t0 is the tests' clock.
var t0 = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

func now() time.Time { return t0 }

// migrations are every migration the offline tests need.
func migrations() []store.Migration {
	return storetest.Padded(append(Migrations(), entitlement.Migrations()...)...)
}

func openDB(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Path: path, Migrations: migrations()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// edKey is a deterministic Ed25519 kit key.
func edKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

type kfile struct {
	path, mt string
	data     []byte
}

// buildKit builds a kit signed by signers.
func buildKit(t testing.TB, source string, seq uint64, files []kfile, signers ...crypto.Signer) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := kit.NewWriter(&buf, kit.WriterOptions{Kind: kit.KindBuild, CreatedBy: "offline-test", Source: source, Sequence: seq})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := w.Add(f.path, f.mt, f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(signers...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cosigner is a C2SP tlog-cosignature/v1 witness with a fixed clock.
type cosigner struct {
	name string
	key  ed25519.PrivateKey
}

func newCosigner(name string, seed byte) *cosigner {
	return &cosigner{name: name, key: edKey(seed)}
}

func (c *cosigner) keyBytes() []byte {
	return append([]byte{0x04}, c.key.Public().(ed25519.PublicKey)...)
}
func (c *cosigner) Name() string { return c.name }
func (c *cosigner) KeyHash() uint32 {
	h := sha256.Sum256(append([]byte(c.name+"\n"), c.keyBytes()...))
	return binary.BigEndian.Uint32(h[:4])
}
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	ts := uint64(t0.Unix())
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), msg...)
	return append(binary.BigEndian.AppendUint64(nil, ts), ed25519.Sign(c.key, signed)...), nil
}
func (c *cosigner) vkey() string {
	return fmt.Sprintf("%s+%08x+%s", c.name, c.KeyHash(), base64.StdEncoding.EncodeToString(c.keyBytes()))
}
func (c *cosigner) keyID(t testing.TB) string {
	id, err := KeyID(c.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// publicLog is a log of the public Sigstore kind known through the trusted
// root: an in-memory tree and an ECDSA P-256 checkpoint key.
type publicLog struct {
	origin string
	key    *ecdsa.PrivateKey
	signer note.Signer
	tree   *testonly.Tree
}

func newPublicLog(t testing.TB, origin string) *publicLog {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bundle.NewNoteSigner(origin, k)
	if err != nil {
		t.Fatal(err)
	}
	l := &publicLog{origin: origin, key: k, signer: s, tree: testonly.New(hasher)}
	return l
}

// grow appends n leaves whose content starts with prefix.
func (l *publicLog) grow(prefix string, n int) {
	for i := 0; i < n; i++ {
		l.tree.AppendData([]byte(fmt.Sprintf("%s-%d", prefix, l.tree.Size())))
	}
}

// checkpoint signs the current tree with the log key and the cosigners.
func (l *publicLog) checkpoint(t testing.TB, cosigners ...note.Signer) []byte {
	t.Helper()
	cp := &bundle.Checkpoint{Origin: l.origin, Size: l.tree.Size(), Hash: l.tree.Hash()}
	b, err := bundle.SignCheckpoint(cp, append([]note.Signer{l.signer}, cosigners...)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (l *publicLog) consistency(t testing.TB, from uint64) []byte {
	t.Helper()
	hs, err := l.tree.ConsistencyProof(from, l.tree.Size())
	if err != nil {
		t.Fatal(err)
	}
	f := consistencyFile{OldSize: from, NewSize: l.tree.Size()}
	for _, h := range hs {
		f.Hashes = append(f.Hashes, base64.StdEncoding.EncodeToString(h))
	}
	return mustJSON(t, f)
}

func (l *publicLog) trustedRoot(t testing.TB, start time.Time) []byte {
	t.Helper()
	b, err := bundle.NewTrustedRoot(bundle.TransparencyLog{BaseURL: "https://" + l.origin, PublicKey: l.key.Public(), Start: start})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dump returns every row of every table Import may write, so that a refused
// import can be shown to change nothing.
func dump(t testing.TB, db *store.DB, skip ...string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"kit_imports", "kit_trusted_roots", "kit_keysets", "kit_witness_policies", "kit_revocations",
		"kit_checkpoints", "kit_bundles", "kit_audit_heads", "kit_split_views", "kit_authorities", "kit_scanner_keys", "licences", "licence_tenants"} {
		if strings.Contains(strings.Join(skip, ","), table) {
			continue
		}
		rows, err := db.Read().Query("SELECT * FROM " + table + " ORDER BY rowid")
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s:", table)
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = hex.EncodeToString(bs)
				}
				fmt.Fprintf(&b, " %v", v)
			}
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String()
}

func countRows(t testing.TB, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// world is an importing appliance with three kit keys (2 of 3), a public log
// with two witnesses, and a licensing vendor.
type world struct {
	dir     string
	db      *store.DB
	svc     *Service
	kitKeys []ed25519.PrivateKey
	log     *publicLog
	w1, w2  *cosigner
	vendor  *entitlementtest.Vendor
	ent     *entitlement.Manager
	peers   []Peer
	// trust records every OnTrustChanged call.
	trust []Installed
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{dir: t.TempDir(), kitKeys: []ed25519.PrivateKey{edKey(1), edKey(2), edKey(3)},
		log: newPublicLog(t, "rekor.example"), w1: newCosigner("w1.example", 11), w2: newCosigner("w2.example", 12),
		vendor: entitlementtest.NewVendor(t)}
	w.db = openDB(t, filepath.Join(w.dir, "stellad.db"))
	w.open(t)
	return w
}

// open (re)creates the Service over the world's database and data dir.
func (w *world) open(t testing.TB) {
	t.Helper()
	var err error
	w.ent, err = entitlement.New(context.Background(), entitlement.Config{DB: w.db, VendorKeys: []crypto.PublicKey{w.vendor.Public()}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	w.svc, err = New(context.Background(), Config{DB: w.db, DataDir: w.dir, KitThreshold: 2, Entitlement: w.ent, Now: now, Peers: w.peers,
		KitKeys:   []crypto.PublicKey{w.kitKeys[0].Public(), w.kitKeys[1].Public(), w.kitKeys[2].Public()},
		CheckJWKS: authn.CheckJWKS, CheckReleaseKey: checkReleaseKey,
		OnTrustChanged: func(in Installed) { w.trust = append(w.trust, in) }})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) policy() []byte {
	return []byte("witness w1 " + w.w1.vkey() + "\nwitness w2 " + w.w2.vkey() + "\ngroup both 2 w1 w2\nquorum both\n")
}

// baseline is the first build kit: trusted root, witness policy, a
// checkpoint of size 10 cosigned by both witnesses, a licence.
func (w *world) baseline(t testing.TB) []kfile {
	t.Helper()
	w.log.grow("a", 10)
	return []kfile{
		{TrustedRootPath, kit.MediaTypeTrustedRoot, w.log.trustedRoot(t, t0.Add(-48*time.Hour))},
		{WitnessPolicyPath, kit.MediaTypeWitnessPolicy, w.policy()},
		{"checkpoints/rekor.example/checkpoint", kit.MediaTypeCheckpoint, w.log.checkpoint(t, w.w1, w.w2)},
		{"entitlements/acme.dsse.json", kit.MediaTypeLicence, w.vendor.Sign(t, entitlementtest.Licence("lic-1", t0, "acme"))},
	}
}

func (w *world) signers(idx ...int) []crypto.Signer {
	var out []crypto.Signer
	for _, i := range idx {
		out = append(out, w.kitKeys[i])
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func x509MarshalPKIX(pub crypto.PublicKey) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// checkReleaseKey is what the daemon passes as Config.CheckReleaseKey.
func checkReleaseKey(pub crypto.PublicKey) error {
	_, err := policy.KeyID(pub)
	return err
}
