package ctlog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/ctutil"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/crypto/cryptobyte"

	"github.com/stellaops/stellad/internal/ctlog"
)

// issued is one certificate the test CA issued through the log.
type issued struct {
	precert, final []byte
	sct            *ct.SignedCertificateTimestamp
}

// issueThroughLog does what internal/ca does: precertificate, SCT from the log, final
// certificate with the SCT embedded.
func issueThroughLog(t *testing.T, l *ctlog.Log, ca *testCA, serial int64) issued {
	t.Helper()
	tmpl := leafTemplate(serial)
	pub := newKey(t).Public()
	pre := ca.issue(t, tmpl, pub, poison())
	raw, err := l.AddPreChain(context.Background(), [][]byte{pre, ca.cert.Raw})
	if err != nil {
		t.Fatalf("AddPreChain: %v", err)
	}
	final := ca.issue(t, tmpl, pub, sctListExtension(t, raw))
	return issued{precert: pre, final: final, sct: parseSCT(t, raw)}
}

func TestAddPreChainEndToEnd(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	l := openLog(t, t.TempDir(), key)
	defer closeLog(t, l)
	ca := newCA(t, "stellad test CA")
	srv := httptest.NewServer(http.StripPrefix("/ct", l.Handler()))
	defer srv.Close()

	const n = 3
	var got []issued
	for i := range n {
		got = append(got, issueThroughLog(t, l, ca, int64(100+i)))
	}
	caCT := ctParse(t, ca.cert.Raw)
	for i, is := range got {
		if is.sct.SCTVersion != ct.V1 || is.sct.LogID.KeyID != l.LogID() {
			t.Errorf("entry %d: SCT version %v log id %x, want v1 %x", i, is.sct.SCTVersion, is.sct.LogID.KeyID, l.LogID())
		}
		if want := uint64(testEpoch.UnixMilli()); is.sct.Timestamp != want {
			t.Errorf("entry %d: SCT timestamp %d, want %d", i, is.sct.Timestamp, want)
		}
		if idx := leafIndex(t, is.sct.Extensions); idx != uint64(i) {
			t.Errorf("entry %d: SCT leaf_index %d", i, idx)
		}
		if err := ctutil.VerifySCT(l.PublicKey(), []*ctx509.Certificate{ctParse(t, is.precert), caCT}, is.sct, false); err != nil {
			t.Errorf("entry %d: SCT does not verify against the precertificate: %v", i, err)
		}
		if err := ctutil.VerifySCT(l.PublicKey(), []*ctx509.Certificate{ctParse(t, is.final), caCT}, is.sct, true); err != nil {
			t.Errorf("entry %d: SCT does not verify against the final certificate: %v", i, err)
		}
	}
	// The SCT is bound to its certificate: another entry's final certificate fails.
	if err := ctutil.VerifySCT(l.PublicKey(), []*ctx509.Certificate{ctParse(t, got[1].precert), caCT}, got[0].sct, false); err == nil {
		t.Error("SCT of entry 0 verified against the precertificate of entry 1")
	}

	// Read the log back as a monitor does, over HTTP on 127.0.0.1.
	base := srv.URL + "/ct/"
	cp := waitCheckpoint(t, base, l, n)
	tile := httpGet(t, base+"tile/data/"+layout.NWithSuffix(0, 0, n), "application/octet-stream")
	leaves := parseDataTile(t, tile)
	if len(leaves) != n {
		t.Fatalf("data tile holds %d entries, want %d", len(leaves), n)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		return httpGetErr(base + layout.TilePath(level, index, p))
	})
	if err != nil {
		t.Fatal(err)
	}
	caFP := sha256.Sum256(ca.cert.Raw)
	for i, is := range got {
		lf := leaves[i]
		if lf.entryType != 1 || !bytes.Equal(lf.precert, is.precert) || len(lf.chain) != 1 || lf.chain[0] != caFP {
			t.Errorf("entry %d: data tile has type %d, precert match %v, chain %x", i, lf.entryType,
				bytes.Equal(lf.precert, is.precert), lf.chain)
		}
		if lf.timestamp != is.sct.Timestamp || !bytes.Equal(lf.extensions, is.sct.Extensions) {
			t.Errorf("entry %d: tile timestamp %d extensions %x, SCT has %d %x", i, lf.timestamp, lf.extensions, is.sct.Timestamp, is.sct.Extensions)
		}
		// The leaf hash an auditor derives from the final certificate and its SCT alone
		// (certificate-transparency-go, not Tessera) is the one at the SCT's index.
		mtl, err := ct.MerkleTreeLeafForEmbeddedSCT([]*ctx509.Certificate{ctParse(t, is.final), caCT}, is.sct.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		mtl.TimestampedEntry.Extensions = is.sct.Extensions
		want, err := ct.LeafHashForLeaf(mtl)
		if err != nil {
			t.Fatal(err)
		}
		if h := rfc6962.DefaultHasher.HashLeaf(lf.merkleLeaf); !bytes.Equal(h, want[:]) {
			t.Errorf("entry %d: tile leaf hash %x, auditor computes %x", i, h, want)
		}
		p, err := pb.InclusionProof(ctx, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), cp.Size, want[:], p, cp.Hash); err != nil {
			t.Errorf("entry %d: inclusion in checkpoint of size %d: %v", i, cp.Size, err)
		}
	}
	if b := httpGet(t, base+"issuer/"+hex.EncodeToString(caFP[:]), "application/pkix-cert"); !bytes.Equal(b, ca.cert.Raw) {
		t.Error("issuer endpoint does not serve the CA certificate")
	}
}

// waitCheckpoint polls /checkpoint until it covers size entries, verifies it with the log's
// RFC6962NoteSignature key (through transparency-dev/formats) and returns it.
func waitCheckpoint(t *testing.T, base string, l *ctlog.Log, size uint64) *flog.Checkpoint {
	t.Helper()
	v, err := fnote.NewRFC6962Verifier(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		raw, err := httpGetErr(base + "checkpoint")
		if err == nil {
			cp, _, _, err := flog.ParseCheckpoint(raw, "localhost/ct", v)
			if err != nil {
				t.Fatalf("checkpoint does not verify: %v\n%s", err, raw)
			}
			if cp.Size >= size {
				return cp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covering %d entries: %v", size, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpGetErr(u string) ([]byte, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, nil
}

func httpGet(t *testing.T, u, wantType string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if got := resp.Header.Get("Content-Type"); got != wantType {
		t.Errorf("GET %s: Content-Type %q, want %q", u, got, wantType)
	}
	return b
}

// tileLeaf is one static-ct-api TileLeaf.
type tileLeaf struct {
	timestamp  uint64
	entryType  uint16
	extensions []byte
	precert    []byte
	chain      [][32]byte
	merkleLeaf []byte // the RFC 6962 MerkleTreeLeaf it commits to
}

// parseDataTile parses a static-ct-api data tile (c2sp.org/static-ct-api, "Log entries").
func parseDataTile(t *testing.T, b []byte) []tileLeaf {
	t.Helper()
	s := cryptobyte.String(b)
	var out []tileLeaf
	for !s.Empty() {
		var lf tileLeaf
		start := []byte(s)
		var signed, ext cryptobyte.String
		ok := s.ReadUint64(&lf.timestamp) && s.ReadUint16(&lf.entryType)
		switch {
		case !ok:
		case lf.entryType == 0:
			ok = s.ReadUint24LengthPrefixed(&signed)
		case lf.entryType == 1:
			ok = s.Skip(32) && s.ReadUint24LengthPrefixed(&signed)
		default:
			ok = false
		}
		ok = ok && s.ReadUint16LengthPrefixed(&ext)
		if !ok {
			t.Fatalf("malformed data tile entry %d", len(out))
		}
		lf.extensions = ext
		te := start[:len(start)-len(s)]
		lf.merkleLeaf = append([]byte{0, 0}, te...)
		if lf.entryType == 1 {
			var pre cryptobyte.String
			if !s.ReadUint24LengthPrefixed(&pre) {
				t.Fatalf("malformed precertificate in entry %d", len(out))
			}
			lf.precert = pre
		}
		var fps cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&fps) || len(fps)%32 != 0 {
			t.Fatalf("malformed chain in entry %d", len(out))
		}
		for len(fps) > 0 {
			var fp [32]byte
			copy(fp[:], fps[:32])
			lf.chain = append(lf.chain, fp)
			fps = fps[32:]
		}
		out = append(out, lf)
	}
	return out
}

// leafIndex decodes an SCT's extensions, which must hold exactly one leaf_index extension.
func leafIndex(t *testing.T, ext []byte) uint64 {
	t.Helper()
	if len(ext) != 8 || ext[0] != 0 || binary.BigEndian.Uint16(ext[1:3]) != 5 {
		t.Fatalf("SCT extensions %x are not a single leaf_index", ext)
	}
	return uint64(ext[3])<<32 | uint64(binary.BigEndian.Uint32(ext[4:]))
}

func TestRestartKeepsEntries(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	ca := newCA(t, "restart CA")
	l := openLog(t, dir, key)
	a := issueThroughLog(t, l, ca, 1)
	closeLog(t, l)

	l = openLog(t, dir, key)
	defer closeLog(t, l)
	b := issueThroughLog(t, l, ca, 2)
	if ia, ib := leafIndex(t, a.sct.Extensions), leafIndex(t, b.sct.Extensions); ia != 0 || ib != 1 {
		t.Fatalf("indices %d, %d across a restart, want 0, 1", ia, ib)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	waitCheckpoint(t, srv.URL+"/", l, 2)
	leaves := parseDataTile(t, httpGet(t, srv.URL+"/tile/data/000.p/2", "application/octet-stream"))
	if len(leaves) != 2 || !bytes.Equal(leaves[0].precert, a.precert) || !bytes.Equal(leaves[1].precert, b.precert) {
		t.Fatal("entries before and after the restart are not both in the data tile")
	}
}

func TestSecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	l := openLog(t, dir, key)
	defer closeLog(t, l)
	_, err := ctlog.New(context.Background(), ctlog.Config{Dir: dir, Origin: "localhost/ct", Signer: key})
	if err == nil || !strings.Contains(err.Error(), "another stellad") {
		t.Fatalf("second New on the same directory: %v, want a lock error", err)
	}
}

func TestAddChainFinalCertificate(t *testing.T) {
	l := openLog(t, t.TempDir(), newKey(t))
	defer closeLog(t, l)
	ca := newCA(t, "final CA")
	cert := ca.issue(t, leafTemplate(7), newKey(t).Public())
	raw, err := l.AddChain(context.Background(), [][]byte{cert, ca.cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	sct := parseSCT(t, raw)
	if err := ctutil.VerifySCT(l.PublicKey(), []*ctx509.Certificate{ctParse(t, cert)}, sct, false); err != nil {
		t.Fatalf("SCT for a final certificate does not verify: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	l := openLog(t, t.TempDir(), newKey(t))
	defer closeLog(t, l)
	ca := newCA(t, "good CA")
	other := newCA(t, "other CA")
	pub := newKey(t).Public()
	pre := ca.issue(t, leafTemplate(1), pub, poison())
	notCritical := poison()
	notCritical.Critical = false
	notNull := poison()
	notNull.Value = []byte{0x04, 0x00}
	final := ca.issue(t, leafTemplate(2), pub)
	tests := []struct {
		name    string
		add     func(context.Context, [][]byte) ([]byte, error)
		chain   [][]byte
		wantErr error
	}{
		{"no poison", l.AddPreChain, [][]byte{final, ca.cert.Raw}, ctlog.ErrInvalidChain},
		{"poison not critical", l.AddPreChain, [][]byte{ca.issue(t, leafTemplate(3), pub, notCritical), ca.cert.Raw}, ctlog.ErrInvalidChain},
		{"poison not NULL", l.AddPreChain, [][]byte{ca.issue(t, leafTemplate(4), pub, notNull), ca.cert.Raw}, ctlog.ErrInvalidChain},
		{"issuer did not sign", l.AddPreChain, [][]byte{pre, other.cert.Raw}, ctlog.ErrInvalidChain},
		{"no issuer", l.AddPreChain, [][]byte{pre}, ctlog.ErrInvalidChain},
		{"empty", l.AddPreChain, nil, ctlog.ErrInvalidChain},
		{"garbage DER", l.AddPreChain, [][]byte{[]byte("not a certificate"), ca.cert.Raw}, ctlog.ErrInvalidChain},
		{"garbage issuer", l.AddPreChain, [][]byte{pre, {0x30, 0x03, 0x02, 0x01, 0x01}}, ctlog.ErrInvalidChain},
		{"trailing bytes", l.AddPreChain, [][]byte{append(append([]byte(nil), pre...), 0), ca.cert.Raw}, ctlog.ErrInvalidChain},
		{"issuer not a CA", l.AddPreChain, [][]byte{pre, final}, ctlog.ErrInvalidChain},
		{"precert to AddChain", l.AddChain, [][]byte{pre, ca.cert.Raw}, ctlog.ErrInvalidChain},
		{"final chain wrong issuer", l.AddChain, [][]byte{final, other.cert.Raw}, ctlog.ErrInvalidChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sct, err := tc.add(context.Background(), tc.chain)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v (sct %x), want %v", err, sct, tc.wantErr)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), newKey(t))
	closeLog(t, l)
	closeLog(t, l) // idempotent
	ca := newCA(t, "CA")
	pre := ca.issue(t, leafTemplate(1), newKey(t).Public(), poison())
	if _, err := l.AddPreChain(context.Background(), [][]byte{pre, ca.cert.Raw}); !errors.Is(err, ctlog.ErrClosed) {
		t.Fatalf("AddPreChain after Close: %v, want ErrClosed", err)
	}
}

func TestConfigRefusals(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name string
		cfg  ctlog.Config
		want string
	}{
		{"no dir", ctlog.Config{Origin: "localhost/ct", Signer: key}, "Dir"},
		{"no origin", ctlog.Config{Dir: t.TempDir(), Signer: key}, "Origin"},
		{"scheme", ctlog.Config{Dir: t.TempDir(), Origin: "https://localhost/ct", Signer: key}, "scheme"},
		{"trailing slash", ctlog.Config{Dir: t.TempDir(), Origin: "localhost/ct/", Signer: key}, "slash"},
		{"space", ctlog.Config{Dir: t.TempDir(), Origin: "local host", Signer: key}, "whitespace"},
		{"no signer", ctlog.Config{Dir: t.TempDir(), Origin: "localhost/ct"}, "Signer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ctlog.New(context.Background(), tc.cfg)
			if err == nil {
				closeLog(t, l)
				t.Fatal("New accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestVerifierKeyMatchesFormats(t *testing.T) {
	key := newKey(t)
	l := openLog(t, t.TempDir(), key)
	defer closeLog(t, l)
	want, err := fnote.RFC6962VerifierString("https://localhost/ct/", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got := l.VerifierKey(); got != want {
		t.Fatalf("VerifierKey %q, formats derives %q", got, want)
	}
}

// newTestServer serves l's Handler on 127.0.0.1 for the test and returns its base URL.
func newTestServer(t *testing.T, l *ctlog.Log) string {
	t.Helper()
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHandlerMethodsAndMisses(t *testing.T) {
	l := openLog(t, t.TempDir(), newKey(t))
	ca := newCA(t, "handler CA")
	issueThroughLog(t, l, ca, 1)
	base := newTestServer(t, l)
	waitCheckpoint(t, base+"/", l, 1)
	fp := sha256.Sum256(ca.cert.Raw)
	tests := []struct {
		method, path string
		want         int
		cache        string
	}{
		{"GET", "/checkpoint", 200, "no-cache"},
		{"HEAD", "/checkpoint", 200, "no-cache"},
		{"GET", "/tile/0/000.p/1", 200, "no-cache"},
		{"GET", "/tile/data/000.p/1", 200, "no-cache"},
		{"GET", "/issuer/" + hex.EncodeToString(fp[:]), 200, "public, max-age=31536000, immutable"},
		{"GET", "/tile/data/000", 404, ""},
		{"GET", "/tile/data/001.p/1", 404, ""},
		{"GET", "/issuer/" + strings.Repeat("0", 64), 404, ""},
		{"GET", "/tile/entries/000.p/1", 404, ""},
		{"GET", "/.ctlog.lock", 404, ""},
		{"GET", "/.state/treeState", 404, ""},
		{"GET", "/ct/v1/get-sth", 404, ""},
		{"POST", "/checkpoint", 405, ""},
		{"PUT", "/tile/data/000.p/1", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.cache != "" && resp.Header.Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), tc.cache)
			}
		})
	}
}

func TestConcurrentSubmissionsGetDistinctIndices(t *testing.T) {
	l := openLog(t, t.TempDir(), newKey(t))
	ca := newCA(t, "concurrent CA")
	const n = 20
	pres := make([][]byte, n)
	for i := range pres {
		pres[i] = ca.issue(t, leafTemplate(int64(i+1)), newKey(t).Public(), poison())
	}
	raws := make([][]byte, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := l.AddPreChain(context.Background(), [][]byte{pres[i], ca.cert.Raw})
			if err != nil {
				errs <- err
			}
			raws[i] = raw
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	idx := make([]uint64, n)
	for i, raw := range raws {
		idx[i] = leafIndex(t, parseSCT(t, raw).Extensions)
	}
	seen := make(map[uint64]bool)
	for _, i := range idx {
		if i >= n || seen[i] {
			t.Fatalf("indices %v are not a permutation of 0..%d", idx, n-1)
		}
		seen[i] = true
	}
}
