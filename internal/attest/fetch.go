package attest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/stellaops/stellad/internal/audit"

	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
)

// Entry is a logged entry as GET returns it: the bundle as first issued and an
// inclusion proof against the newest published checkpoint that covers it.
type Entry struct {
	UUID   string
	Index  uint64
	Proof  translog.Proof
	Bundle []byte
}

// Get returns the logged entry uuid of the caller's tenant (an admin without
// a tenant sees every tenant's); the read is audited. Errors wrap ErrNotFound
// for an unknown, malformed, pending or abandoned uuid and for another
// tenant's entry, which is not told apart from an unknown one.
func (s *Service) Get(ctx context.Context, call Call, uuid string) (*Entry, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, audit.ActionFetch)
	e, err := s.get(ctx, call, uuid)
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	rec.UUID, rec.LogIndex = e.UUID, &e.Index
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return e, nil
}

// EntryFor is Get without the audit row and without the tenant check, for the
// answer to a submission (audited already): its caller holds the envelope, so
// it learns nothing the public log does not tell anyone who holds it, even
// when another tenant logged the same signature first.
func (s *Service) EntryFor(ctx context.Context, call Call, uuid string) (*Entry, error) {
	e, err := s.entry(ctx, uuid)
	if err != nil {
		return nil, err
	}
	return e.Entry, nil
}

func (s *Service) get(ctx context.Context, call Call, uuid string) (*Entry, error) {
	e, err := s.entry(ctx, uuid)
	if err != nil {
		return nil, err
	}
	if !s.mayRead(call.Caller, e.tenant) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, uuid)
	}
	return e.Entry, nil
}

// tenantEntry is an entry with the tenant that owns it.
type tenantEntry struct {
	*Entry
	tenant string
}

func (s *Service) entry(ctx context.Context, uuid string) (*tenantEntry, error) {
	uuid = strings.ToLower(uuid)
	if !validUUID(uuid) {
		return nil, fmt.Errorf("%w: %q is not a 64-digit hex leaf hash", ErrNotFound, uuid)
	}
	e, err := s.loadEntry(ctx, uuid)
	if err != nil {
		return nil, err
	}
	if e.state != "logged" {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotFound, uuid, e.state)
	}
	issued, b, err := s.rebuild(ctx, e)
	if err != nil {
		return nil, err
	}
	fresh, err := s.cfg.Log.InclusionProof(ctx, issued.Index)
	if err != nil || fresh.TreeSize < issued.TreeSize {
		// The published checkpoint may lag the one the entry was issued
		// against by up to one checkpoint interval: answer with the issued proof.
		fresh = issued
	}
	return &tenantEntry{Entry: &Entry{UUID: uuid, Index: issued.Index, Proof: fresh, Bundle: b}, tenant: e.tenant}, nil
}

// existing answers a duplicate submission with the entry logged before.
func (s *Service) existing(ctx context.Context, uuid string) (*Issued, error) {
	e, err := s.loadEntry(ctx, uuid)
	if err != nil {
		return nil, err
	}
	if e.state != "logged" {
		return nil, fmt.Errorf("%w: entry %s is being logged by another request; retry", ErrUnavailable, uuid)
	}
	p, b, err := s.rebuild(ctx, e)
	if err != nil {
		return nil, err
	}
	return &Issued{UUID: uuid, Index: p.Index, Bundle: b}, nil
}

// rebuild derives the issued proof and bundle of a logged row from the CAS
// envelope, the stored proof and the stored checkpoint, and for a keyless
// entry its stored certificate and timestamp.
func (s *Service) rebuild(ctx context.Context, e *storedEntry) (translog.Proof, []byte, error) {
	hashes, err := splitHashes(e.proof)
	if err != nil {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: %w", e.uuid, err)
	}
	if e.checkpoint == "" {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: checkpoint for tree size %d is missing", e.uuid, e.treeSize)
	}
	envJSON := e.envelope
	if sum := sha256.Sum256(envJSON); hex.EncodeToString(sum[:]) != e.envelopeSHA {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: stored envelope does not hash to its address %s", e.uuid, e.envelopeSHA)
	}
	env, err := dsse.Parse(envJSON)
	if err != nil {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: stored envelope: %w", e.uuid, err)
	}
	if e.sigIndex < 0 || e.sigIndex >= len(env.Signatures) {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: signature %d not in its envelope", e.uuid, e.sigIndex)
	}
	single := &dsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload, Signatures: []dsse.Signature{env.Signatures[e.sigIndex]}}
	pub, err := x509.ParsePKIXPublicKey(e.keyDER)
	if err != nil {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: stored key %s: %w", e.uuid, e.keyID, err)
	}
	k, err := describeKey(pub)
	if err != nil {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: stored key %s: %w", e.uuid, e.keyID, err)
	}
	// A keyless entry's verifier is its certificate, and its bundle carries
	// the certificate and the timestamp. Export (Bundles) calls rebuild
	// without a context; the lookup is one indexed read of the local store.
	cert, stamp, err := s.keylessMaterial(ctx, e)
	if err != nil {
		return translog.Proof{}, nil, err
	}
	pae := dsse.PAE(single.PayloadType, single.Payload)
	var body []byte
	if cert != nil {
		body, err = certBody(pae, single.Signatures[0].Sig, cert, k)
	} else {
		body, err = bodyFor(pae, single.Signatures[0].Sig, k)
	}
	if err != nil {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: %w", e.uuid, err)
	}
	leaf := bundle.LeafHash(body)
	if hex.EncodeToString(leaf[:]) != e.uuid {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: stored envelope does not hash to the entry", e.uuid)
	}
	cp, err := checkpointRoot(e.checkpoint)
	if err != nil {
		return translog.Proof{}, nil, fmt.Errorf("entry %s: %w", e.uuid, err)
	}
	p := translog.Proof{
		Index:      uint64(e.index),
		TreeSize:   uint64(e.treeSize),
		RootHash:   cp,
		Hashes:     hashes,
		Checkpoint: []byte(e.checkpoint),
	}
	var b []byte
	if cert != nil {
		b, err = s.keylessBundle(single, cert, stamp, body, p)
	} else {
		b, err = s.buildBundle(single, k, body, p)
	}
	if err != nil {
		return translog.Proof{}, nil, err
	}
	return p, b, nil
}
