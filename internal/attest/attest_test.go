package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stellaops/stellad/internal/signer"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
)

const predicateType = "https://stellad.example/test/v1"

// fixture is a Service on a real SQLite file, CAS and Tessera log in a temp dir.
type fixture struct {
	dir    string
	svc    *Service
	db     *store.DB
	log    *translog.Log
	key    *ecdsa.PrivateKey
	logKey *ecdsa.PrivateKey
	logVer interface {
		Name() string
		KeyHash() uint32
		Verify(msg, sig []byte) bool
	}
}

func newFixture(t testing.TB, dir string, key, logKey *ecdsa.PrivateKey, trusted ...crypto.PublicKey) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dir: dir, key: key, logKey: logKey}
	ns, err := bundle.NewNoteSigner("localhost", logKey)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := bundle.NewNoteVerifier("localhost", logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	f.logVer = nv
	f.log, err = translog.New(ctx, translog.Config{Dir: filepath.Join(dir, "log"), Origin: "localhost", Signer: ns, Verifier: nv})
	if err != nil {
		t.Fatal(err)
	}
	f.db, err = store.Open(ctx, store.Config{Path: filepath.Join(dir, "stellad.db"), Migrations: storetest.Padded(Migrations()...)})
	if err != nil {
		t.Fatal(err)
	}
	k, err := signer.NewKey(key, "file:test.pem", bundle.KeyDetails)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := signer.NewSet(k, nil)
	logID, err := bundle.LogID("localhost", logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DB: f.db, Log: f.log, Keys: set, LogID: logID, TrustedKeys: trusted}
	f.svc, err = New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	return f
}

func (f *fixture) close() {
	if f.log != nil {
		_ = f.log.Close(context.Background())
		f.log = nil
	}
	if f.db != nil {
		_ = f.db.Close()
		f.db = nil
	}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func subject(name string) []dsse.ResourceDescriptor {
	d := sha256.Sum256([]byte(name))
	return []dsse.ResourceDescriptor{{Name: name, Digest: map[string]string{"sha256": hex.EncodeToString(d[:])}}}
}

// checkBundle verifies a bundle the way an offline verifier does: envelope
// signature, leaf, inclusion proof and checkpoint signature.
func (f *fixture) checkBundle(t *testing.T, b []byte, pub any) *bundle.Bundle {
	t.Helper()
	bd, err := bundle.Parse(b)
	if err != nil {
		t.Fatalf("parsing bundle: %v", err)
	}
	if _, err := dsse.Verify(bd.Envelope, 1, pub); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	if len(bd.Entries) != 1 {
		t.Fatalf("bundle has %d entries", len(bd.Entries))
	}
	if err := bd.Entries[0].Verify(f.logVer); err != nil {
		t.Fatalf("log entry: %v", err)
	}
	return bd
}

func TestSignGetList(t *testing.T) {
	f := newFixture(t, t.TempDir(), mustKey(t), mustKey(t))
	ctx := context.Background()
	var issued []*Issued
	for i := 0; i < 5; i++ {
		is, err := f.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject(fmt.Sprint("artifact-", i)), PredicateType: predicateType,
			Predicate: json.RawMessage(`{"n":1}`)})
		if err != nil {
			t.Fatalf("sign %d: %v", i, err)
		}
		if is.Index != uint64(i) {
			t.Errorf("sign %d: index %d", i, is.Index)
		}
		bd := f.checkBundle(t, is.Bundle, f.key.Public())
		st, err := dsse.ParseStatement(bd.Envelope.Payload)
		if err != nil || st.PredicateType != predicateType || !st.HasSubjectDigest("sha256", subject(fmt.Sprint("artifact-", i))[0].Digest["sha256"]) {
			t.Fatalf("sign %d: statement %+v, %v", i, st, err)
		}
		issued = append(issued, is)
	}
	// A verbatim statement is signed as given.
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` +
		subject("x")[0].Digest["sha256"] + `"}}],"predicateType":"https://example.com/p","predicate":{"b":2,"a":1}}`)
	is, err := f.svc.Sign(ctx, Call{}, SignRequest{Statement: stmt})
	if err != nil {
		t.Fatal(err)
	}
	if bd := f.checkBundle(t, is.Bundle, f.key.Public()); !bytes.Equal(bd.Envelope.Payload, stmt) {
		t.Errorf("payload was not kept verbatim:\n%s\n%s", bd.Envelope.Payload, stmt)
	}
	for _, is := range issued {
		e, err := f.svc.Get(ctx, Call{}, is.UUID)
		if err != nil {
			t.Fatalf("get %s: %v", is.UUID, err)
		}
		if !bytes.Equal(e.Bundle, is.Bundle) {
			t.Errorf("get %s: bundle differs from the one issued", is.UUID)
		}
		if e.Proof.TreeSize < uint64(len(issued)) {
			// the fresh proof may lag, never below the issued one
			if e.Proof.TreeSize < is.Index+1 {
				t.Errorf("get %s: proof tree size %d does not cover index %d", is.UUID, e.Proof.TreeSize, is.Index)
			}
		}
	}
	rows, more, err := f.svc.List(ctx, Call{}, ListQuery{Limit: 2})
	if err != nil || len(rows) != 2 || !more || rows[0].Index != 0 || rows[1].Index != 1 {
		t.Fatalf("list page 1: %d rows, more=%v, err=%v", len(rows), more, err)
	}
	after := rows[1].Index
	rows, more, err = f.svc.List(ctx, Call{}, ListQuery{After: &after, Limit: 100})
	if err != nil || len(rows) != 4 || more {
		t.Fatalf("list page 2: %d rows, more=%v, err=%v", len(rows), more, err)
	}
	rows, _, err = f.svc.List(ctx, Call{}, ListQuery{SubjectDigest: "sha256:" + subject("artifact-3")[0].Digest["sha256"]})
	if err != nil || len(rows) != 1 || rows[0].UUID != issued[3].UUID || len(rows[0].Subjects) != 1 {
		t.Fatalf("list by subject: %+v, %v", rows, err)
	}
	rows, _, err = f.svc.List(ctx, Call{}, ListQuery{PredicateType: "https://example.com/p"})
	if err != nil || len(rows) != 1 || rows[0].UUID != is.UUID {
		t.Fatalf("list by predicate type: %+v, %v", rows, err)
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	f := newFixture(t, t.TempDir(), mustKey(t), mustKey(t))
	tests := []struct {
		name    string
		req     SignRequest
		wantErr error
	}{
		{"nothing", SignRequest{}, ErrInvalidRequest},
		{"no predicate type", SignRequest{Subjects: subject("a")}, ErrInvalidRequest},
		{"both forms", SignRequest{Statement: []byte(`{}`), PredicateType: predicateType}, ErrInvalidRequest},
		{"bad digest", SignRequest{Subjects: []dsse.ResourceDescriptor{{Name: "a", Digest: map[string]string{"sha256": "00"}}}, PredicateType: predicateType}, ErrInvalidStatement},
		{"predicate not an object", SignRequest{Subjects: subject("a"), PredicateType: predicateType, Predicate: json.RawMessage(`[1]`)}, ErrInvalidStatement},
		{"statement not JSON", SignRequest{Statement: []byte(`{`)}, ErrInvalidStatement},
		{"statement without subjects", SignRequest{Statement: []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://x.example/p"}`)}, ErrInvalidStatement},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Sign(context.Background(), Call{}, tc.req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
	size, _ := f.log.IntegratedSize(context.Background())
	if size != 0 {
		t.Errorf("refused requests reached the log: size %d", size)
	}
}

func TestSubmit(t *testing.T) {
	ci := mustKey(t)
	f := newFixture(t, t.TempDir(), mustKey(t), mustKey(t), ci.Public())
	ctx := context.Background()
	stmt, err := dsse.NewStatement(subject("ci.bin"), predicateType, nil)
	if err != nil {
		t.Fatal(err)
	}
	stranger := mustKey(t)
	// Two signatures, one by a trusted key, one by a stranger: one entry.
	env, err := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: stranger}, dsse.KeySigner{Signer: ci})
	if err != nil {
		t.Fatal(err)
	}
	envJSON, _ := env.Marshal()
	got, err := f.svc.Submit(ctx, Call{}, envJSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d entries, want 1", len(got))
	}
	bd := f.checkBundle(t, got[0].Bundle, ci.Public())
	if !bytes.Equal(bd.Envelope.Signatures[0].Sig, env.Signatures[1].Sig) {
		t.Error("the bundle does not carry the trusted signature")
	}
	again, err := f.svc.Submit(ctx, Call{}, envJSON)
	if err != nil || len(again) != 1 || again[0].UUID != got[0].UUID || !bytes.Equal(again[0].Bundle, got[0].Bundle) {
		t.Fatalf("resubmission: %+v, %v", again, err)
	}
	// Both signatures trusted (the appliance's own key too): two entries.
	own, err := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: f.key}, dsse.KeySigner{Signer: ci})
	if err != nil {
		t.Fatal(err)
	}
	ownJSON, _ := own.Marshal()
	two, err := f.svc.Submit(ctx, Call{}, ownJSON)
	if err != nil || len(two) != 2 {
		t.Fatalf("two trusted signatures: %d entries, %v", len(two), err)
	}
	f.checkBundle(t, two[0].Bundle, f.key.Public())
	f.checkBundle(t, two[1].Bundle, ci.Public())

	only, _ := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: stranger})
	onlyJSON, _ := only.Marshal()
	if _, err := f.svc.Submit(ctx, Call{}, onlyJSON); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("untrusted envelope: %v, want ErrUntrusted", err)
	}
	if _, err := f.svc.Submit(ctx, Call{}, []byte(`{"payload":"","payloadType":"x","signatures":[]}`)); !errors.Is(err, ErrInvalidEnvelope) {
		t.Fatalf("empty envelope: %v, want ErrInvalidEnvelope", err)
	}
}

// TestReconcile builds the two states a crash can leave: a pending row whose
// leaf reached the log, and one whose leaf did not.
func TestReconcile(t *testing.T) {
	dir := t.TempDir()
	key, logKey := mustKey(t), mustKey(t)
	f := newFixture(t, dir, key, logKey)
	ctx := context.Background()
	if _, err := f.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject("before"), PredicateType: predicateType}); err != nil {
		t.Fatal(err)
	}
	// Crash after append, before tx2: a pending row and its leaf in the log.
	inLog := f.pendingJob(t, "in-log")
	if err := f.db.Commit(ctx, f.svc.stmts.insertPending(inLog.row)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Append(ctx, inLog.body); err != nil {
		t.Fatal(err)
	}
	// Crash before append: a pending row only.
	lost := f.pendingJob(t, "lost")
	if err := f.db.Commit(ctx, f.svc.stmts.insertPending(lost.row)); err != nil {
		t.Fatal(err)
	}
	f.close()

	f2 := newFixture(t, dir, key, logKey) // runs Reconcile
	e, err := f2.svc.Get(ctx, Call{}, inLog.row.uuid)
	if err != nil {
		t.Fatalf("reconciled entry: %v", err)
	}
	if e.Index != 1 {
		t.Errorf("reconciled entry at index %d, want 1", e.Index)
	}
	f2.checkBundle(t, e.Bundle, key.Public())
	if _, err := f2.svc.Get(ctx, Call{}, lost.row.uuid); !errors.Is(err, ErrNotFound) {
		t.Errorf("abandoned entry: %v, want ErrNotFound", err)
	}
	var state string
	if err := f2.db.Read().QueryRow(`SELECT state FROM entries WHERE uuid = ?`, lost.row.uuid).Scan(&state); err != nil || state != "abandoned" {
		t.Errorf("lost entry state %q, %v", state, err)
	}
	rep, err := f2.svc.Reconcile(ctx)
	if err != nil || rep.Pending != 0 || rep.Scanned != 0 {
		t.Errorf("second reconcile: %+v, %v", rep, err)
	}
	if _, err := f2.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject("after"), PredicateType: predicateType}); err != nil {
		t.Fatal(err)
	}
}

type pendingJobT struct {
	row  pendingRow
	body []byte
}

// pendingJob prepares what Sign would have written before the append.
func (f *fixture) pendingJob(t *testing.T, name string) pendingJobT {
	t.Helper()
	payload, err := dsse.NewStatement(subject(name), predicateType, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := f.svc.trusted[0]
	pae := dsse.PAE(dsse.PayloadTypeInToto, payload)
	sig, err := dsse.SignPAE(rand.Reader, f.key, pae)
	if err != nil {
		t.Fatal(err)
	}
	env := &dsse.Envelope{PayloadType: dsse.PayloadTypeInToto, Payload: payload, Signatures: []dsse.Signature{{Sig: sig}}}
	envJSON, _ := env.Marshal()
	sum := sha256.Sum256(envJSON)
	body, err := bodyFor(pae, sig, k)
	if err != nil {
		t.Fatal(err)
	}
	leaf := bundle.LeafHash(body)
	return pendingJobT{
		row: pendingRow{uuid: hex.EncodeToString(leaf[:]), envelopeSHA: hex.EncodeToString(sum[:]), envelope: envJSON, keyID: k.id,
			predicateType: predicateType, tenant: "default", createdAt: "2026-01-01T00:00:00Z"},
		body: body,
	}
}

func TestConcurrentSign(t *testing.T) {
	f := newFixture(t, t.TempDir(), mustKey(t), mustKey(t))
	ctx := context.Background()
	const workers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	bundles := make(chan *Issued, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				is, err := f.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject(fmt.Sprintf("%d-%d", w, i)), PredicateType: predicateType})
				if err != nil {
					errs <- err
					return
				}
				bundles <- is
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	close(bundles)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for is := range bundles {
		if seen[is.Index] {
			t.Fatalf("index %d issued twice", is.Index)
		}
		seen[is.Index] = true
		f.checkBundle(t, is.Bundle, f.key.Public())
	}
	if len(seen) != workers*each {
		t.Fatalf("%d entries, want %d", len(seen), workers*each)
	}
}

// TestRefusedSubmissionCanBeRetried: a submission that the log refuses before
// queueing (here: the log is closing) leaves an abandoned row, and the same
// envelope submitted again once the log is back is logged.
func TestRefusedSubmissionCanBeRetried(t *testing.T) {
	dir := t.TempDir()
	key, logKey, ci := mustKey(t), mustKey(t), mustKey(t)
	f := newFixture(t, dir, key, logKey, ci.Public())
	ctx := context.Background()
	stmt, err := dsse.NewStatement(subject("retry.bin"), predicateType, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: ci})
	envJSON, _ := env.Marshal()

	if err := f.log.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Submit(ctx, Call{}, envJSON); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("submit to a closed log: %v, want ErrUnavailable", err)
	}
	var state string
	if err := f.db.Read().QueryRow(`SELECT state FROM entries`).Scan(&state); err != nil || state != "abandoned" {
		t.Fatalf("row after the refusal: %q, %v; want abandoned", state, err)
	}
	f.close()

	f2 := newFixture(t, dir, key, logKey, ci.Public())
	got, err := f2.svc.Submit(ctx, Call{}, envJSON)
	if err != nil || len(got) != 1 {
		t.Fatalf("resubmission: %v", err)
	}
	f2.checkBundle(t, got[0].Bundle, ci.Public())
}
