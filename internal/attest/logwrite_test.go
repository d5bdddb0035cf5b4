package attest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stellaops/stellad/kit/bundle"
)

// writeRequest is a Rekor v2 create-entry request for artifact signed by f.key.
func (f *fixture) writeRequest(t *testing.T, artifact string) []byte {
	t.Helper()
	d := sha256.Sum256([]byte(artifact))
	sig, err := f.key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(f.key.Public())
	enc := base64.StdEncoding.EncodeToString
	return []byte(fmt.Sprintf(`{"hashedRekordRequestV002":{"digest":%q,"signature":{"content":%q,"verifier":{"publicKey":{"rawBytes":%q},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}`,
		enc(d[:]), enc(sig), enc(der)))
}

func TestWriteEntry(t *testing.T) {
	f := newFixture(t, t.TempDir(), mustKey(t), mustKey(t))
	defer f.close()
	ctx := context.Background()
	req := f.writeRequest(t, "one")
	w, err := f.svc.WriteEntry(ctx, Call{}, req)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Created {
		t.Fatal("first write not created")
	}
	if err := w.Entry.Verify(f.logVer); err != nil {
		t.Fatalf("the answer's inclusion proof: %v", err)
	}
	h, err := bundle.ParseHashedRekord(w.Entry.Body)
	if err != nil || h.VerifySignature() != nil {
		t.Fatalf("logged body: %v", err)
	}
	again, err := f.svc.WriteEntry(ctx, Call{}, req)
	if err != nil || again.Created || again.Index != w.Index || again.UUID != w.UUID {
		t.Fatalf("identical write: %+v, %v", again, err)
	}
	if err := again.Entry.Verify(f.logVer); err != nil {
		t.Fatalf("the duplicate's inclusion proof: %v", err)
	}
	// Concurrent identical writes make one leaf.
	req2 := f.writeRequest(t, "two")
	var wg sync.WaitGroup
	idx := make([]uint64, 8)
	created := make([]bool, 8)
	for i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := f.svc.WriteEntry(ctx, Call{}, req2)
			if err != nil {
				t.Error(err)
				return
			}
			idx[i], created[i] = w.Index, w.Created
		}()
	}
	wg.Wait()
	n := 0
	for i := range idx {
		if idx[i] != idx[0] {
			t.Fatalf("concurrent identical writes got indexes %v", idx)
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of the concurrent identical writes created the entry", n)
	}
	for _, bad := range [][]byte{[]byte(`{}`), []byte(`{"hashedRekordRequestV002":{"digest":"AAAA"}}`)} {
		if _, err := f.svc.WriteEntry(ctx, Call{}, bad); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("bad request %s: %v, want ErrInvalidRequest", bad, err)
		}
	}
	forged := []byte(string(f.writeRequest(t, "three")))
	other := f.writeRequest(t, "four")
	// Swap in the signature of another digest.
	var a, b map[string]map[string]any
	_ = jsonUnmarshal(forged, &a)
	_ = jsonUnmarshal(other, &b)
	a["hashedRekordRequestV002"]["signature"] = b["hashedRekordRequestV002"]["signature"]
	forged = jsonMarshal(t, a)
	if _, err := f.svc.WriteEntry(ctx, Call{}, forged); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("forged signature: %v, want ErrInvalidRequest", err)
	}
}

// TestReconcileLogWrite crashes a write after its leaf was appended and
// before it was recorded: start-up settles it from the log, and the same
// request is then answered with that entry instead of a second leaf.
func TestReconcileLogWrite(t *testing.T) {
	dir := t.TempDir()
	key, logKey := mustKey(t), mustKey(t)
	f := newFixture(t, dir, key, logKey)
	ctx := context.Background()
	req := f.writeRequest(t, "crash")
	h, err := bundle.ParseHashedRekordRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := h.CanonicalBody()
	leaf := bundle.LeafHash(body)
	uuid := hex.EncodeToString(leaf[:])
	lost := f.writeRequest(t, "lost")
	hl, _ := bundle.ParseHashedRekordRequest(lost)
	lbody, _ := hl.CanonicalBody()
	lleaf := bundle.LeafHash(lbody)
	for _, r := range []struct {
		uuid string
		body []byte
	}{{uuid, body}, {hex.EncodeToString(lleaf[:]), lbody}} {
		err := f.db.Commit(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO log_writes (uuid, state, min_index, body, key_id, tenant, principal, created_at)
				VALUES (?, 'pending', 0, ?, 'k', 'default', 'test', '2026-01-01T00:00:00Z')`, r.uuid, r.body)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.log.Append(ctx, body); err != nil {
		t.Fatal(err)
	}
	f.close()

	f2 := newFixture(t, dir, key, logKey) // runs Reconcile
	defer f2.close()
	w, err := f2.svc.WriteEntry(ctx, Call{}, req)
	if err != nil {
		t.Fatal(err)
	}
	if w.Created || w.Index != 0 {
		t.Fatalf("after the crash the request got %+v, want the reconciled entry at index 0", w)
	}
	if err := w.Entry.Verify(f2.logVer); err != nil {
		t.Fatal(err)
	}
	var state string
	if err := f2.db.Read().QueryRow(`SELECT state FROM log_writes WHERE uuid = ?`, hex.EncodeToString(lleaf[:])).Scan(&state); err != nil || state != "abandoned" {
		t.Fatalf("write never appended: state %q, %v", state, err)
	}
	// The abandoned write may be made again.
	w2, err := f2.svc.WriteEntry(ctx, Call{}, lost)
	if err != nil || !w2.Created || w2.Index != 1 {
		t.Fatalf("retrying the abandoned write: %+v, %v", w2, err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
