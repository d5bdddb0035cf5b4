package attest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	flog "github.com/transparency-dev/formats/log"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
)

// SignRequest asks for one attestation. Either Statement (a complete in-toto
// statement, signed verbatim) or Subjects + PredicateType (+ Predicate) is set.
type SignRequest struct {
	// Tenant is the tenant to sign for: empty means the caller's. A caller
	// bound to a tenant may name only its own.
	Tenant        string
	Statement     []byte
	Subjects      []dsse.ResourceDescriptor
	PredicateType string
	Predicate     json.RawMessage
	// ScannerDigest names the scanner image (sha256:HEX) that produced an SBOM
	// or scan report; required for Admission.ScannerPredicates.
	ScannerDigest string
}

// Issued is a logged signature: its entry's uuid (hex leaf hash), log index and
// Sigstore bundle.
type Issued struct {
	UUID   string
	Index  uint64
	Bundle []byte
}

// Sign admits the request (tenant, entitlement, quota, scanner release), signs
// its statement with the tenant's DSSE key, logs the signature and returns
// its bundle; the entry row, the audit row, the DPoP proof id and the quota
// use commit together. A refusal writes its own audit row and never reaches
// the key. Errors wrap ErrInvalidRequest or ErrInvalidStatement for bad input,
// ErrUnavailable when the log pushes back, or are the admission domains'
// *Error values.
func (s *Service) Sign(ctx context.Context, call Call, req SignRequest) (*Issued, error) {
	return s.timed(ctx, call, req, s.sign)
}

// timed runs one signing request and records its latency and outcome.
func (s *Service) timed(ctx context.Context, call Call, req SignRequest, sign func(context.Context, Call, SignRequest) (*Issued, error)) (*Issued, error) {
	start := time.Now()
	is, err := sign(ctx, call, req)
	outcome := "ok"
	if err != nil {
		outcome = reasonCode(err)
	}
	s.cfg.Metrics.Sign(outcome, time.Since(start))
	return is, err
}

func (s *Service) sign(ctx context.Context, call Call, req SignRequest) (*Issued, error) {
	ad, payload, st, err := s.admitStatement(ctx, call, req, s.baseRecord(call.RequestID, call.Caller, audit.ActionSign))
	if err != nil {
		return nil, err
	}
	defer ad.release()
	tenant := ad.tenant
	key := s.cfg.Keys.DSSE(tenant)
	ad.rec.KeyURI = key.URI()
	pae := dsse.PAE(dsse.PayloadTypeInToto, payload)
	sig, err := key.SignPAE(s.cfg.Rand, pae)
	if err != nil {
		ad.cancel()
		return nil, s.refuse(ctx, call.Caller, ad.rec, err)
	}
	s.cfg.Metrics.KeyUsed(key.URI())
	env := &dsse.Envelope{
		PayloadType: dsse.PayloadTypeInToto,
		Payload:     payload,
		// No keyid: cosign and sigstore-go skip a signature whose keyid is not
		// the key's SSH fingerprint, and keyids decide nothing here anyway.
		Signatures: []dsse.Signature{{Sig: sig}},
	}
	envJSON, err := env.Marshal()
	if err != nil {
		ad.cancel()
		return nil, s.refuse(ctx, call.Caller, ad.rec, fmt.Errorf("encoding envelope: %w", err))
	}
	is, err := s.logSignature(ctx, logJob{
		tenant:   tenant,
		envJSON:  envJSON,
		single:   env,
		sigIndex: 0,
		pae:      pae,
		key:      s.own[key.KeyID()],
		stmt:     st,
		fresh:    true,
		also:     s.allowHook(call.Caller, ad),
	})
	if err != nil {
		ad.cancel()
		return nil, s.refuse(ctx, call.Caller, ad.rec, err)
	}
	s.cfg.Metrics.Decision(audit.ActionSign, audit.DecisionAllow, "")
	return is, nil
}

// admitStatement runs what every signing request passes before a key is
// chosen: the tenant, the statement (the audit anchors' predicate type is
// reserved for the appliance) and admission. A refusal is audited (from rec)
// and returned; otherwise the caller releases the admission.
func (s *Service) admitStatement(ctx context.Context, call Call, req SignRequest, rec audit.Record) (*admitted, []byte, *dsse.Statement, error) {
	tenant, err := s.tenantFor(call.Caller, req.Tenant)
	if err != nil {
		return nil, nil, nil, s.refuse(ctx, call.Caller, rec, err)
	}
	rec.Tenant = tenant
	payload, st, err := statementPayload(req)
	if err == nil && st.PredicateType == audit.AnchorPredicateType {
		err = fmt.Errorf("%w: predicate type %s is reserved for the appliance's audit anchors", ErrInvalidStatement, st.PredicateType)
	}
	if err != nil {
		return nil, nil, nil, s.refuse(ctx, call.Caller, rec, err)
	}
	ad, err := s.admit(ctx, call.Caller, call.RequestID, audit.ActionSign, tenant, st, len(payload), &req.ScannerDigest)
	if err != nil {
		return nil, nil, nil, s.refuse(ctx, call.Caller, ad.rec, err)
	}
	return ad, payload, st, nil
}

func statementPayload(req SignRequest) ([]byte, *dsse.Statement, error) {
	if len(req.Statement) > 0 {
		if len(req.Subjects) > 0 || req.PredicateType != "" || len(req.Predicate) > 0 {
			return nil, nil, fmt.Errorf("%w: give either statement or subjects/predicateType/predicate, not both", ErrInvalidRequest)
		}
		st, err := dsse.ParseStatement(req.Statement)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidStatement, err)
		}
		return req.Statement, st, nil
	}
	if len(req.Subjects) == 0 {
		return nil, nil, fmt.Errorf("%w: subjects: at least one subject is required", ErrInvalidRequest)
	}
	if req.PredicateType == "" {
		return nil, nil, fmt.Errorf("%w: predicateType is required", ErrInvalidRequest)
	}
	payload, err := dsse.NewStatement(req.Subjects, req.PredicateType, req.Predicate)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidStatement, err)
	}
	return payload, &dsse.Statement{Type: dsse.StatementTypeV1, Subject: req.Subjects, PredicateType: req.PredicateType, Predicate: req.Predicate}, nil
}

func (s *Service) tenant(t string) string {
	if t == "" {
		return s.cfg.DefaultTenant
	}
	return t
}

// logJob is one signature on its way into the log.
type logJob struct {
	tenant   string
	envJSON  []byte         // the envelope as stored (verbatim for submissions)
	single   *dsse.Envelope // the envelope reduced to this signature, as the bundle carries it
	sigIndex int
	pae      []byte
	key      trustedKey
	stmt     *dsse.Statement // nil when the payload is not an in-toto statement
	fresh    bool            // signed here just now, so it cannot be a duplicate
	// also runs inside the transaction that records the logged entry (the
	// request's audit row, DPoP proof id and quota use); nil for none.
	also func(tx *sql.Tx, uuid string, index uint64) error
}

// withAlso chains j.also after fn in one transaction function.
func (j logJob) withAlso(fn func(*sql.Tx) error, uuid string, index uint64) func(*sql.Tx) error {
	if j.also == nil {
		return fn
	}
	return func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return j.also(tx, uuid, index)
	}
}

// logSignature runs the durable part of the path. A fresh signature is
// appended and then recorded once, complete; a submitted one gets a pending
// row (which dedupes), the append, and the logged row. Once the work
// on the log has started it goes on even if ctx ends, bounded by
// AppendTimeout, so that the row is settled.
func (s *Service) logSignature(ctx context.Context, j logJob) (*Issued, error) {
	body, err := bodyFor(j.pae, j.single.Signatures[0].Sig, j.key)
	if err != nil {
		return nil, err
	}
	leaf := bundle.LeafHash(body)
	uuid := hex.EncodeToString(leaf[:])

	envSum := sha256.Sum256(j.envJSON)
	predicateType := ""
	var subjects []dsse.ResourceDescriptor
	if j.stmt != nil {
		predicateType = j.stmt.PredicateType
		subjects = j.stmt.Subject
	}
	row := pendingRow{
		uuid:          uuid,
		minIndex:      s.cfg.Log.CoveredSize(),
		envelopeSHA:   hex.EncodeToString(envSum[:]),
		sigIndex:      j.sigIndex,
		keyID:         j.key.id,
		predicateType: predicateType,
		tenant:        j.tenant,
		createdAt:     s.cfg.Now().UTC().Format(time.RFC3339Nano),
		subjects:      subjects,
		envelope:      j.envJSON,
	}
	// The durable part goes on even if the caller goes away, so that the row
	// is settled; AppendTimeout bounds it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AppendTimeout)
	defer cancel()
	var p translog.Proof
	if j.fresh {
		// A signature made just now cannot be logged already: append first,
		// then record the complete row (index, proof, checkpoint) in one group
		// commit, and answer only when it is durable. A crash in between
		// leaves a leaf that no row names and no caller was told of (as a
		// crash before any row would); never an answered entry without its row.
		if p, err = s.append(wctx, uuid, body); err != nil {
			return nil, err
		}
		b, err := s.buildBundle(j.single, j.key, body, p)
		if err != nil {
			return nil, err
		}
		// The entries of one round share its checkpoint: once a commit that
		// holds it is durable, the others need not insert it again.
		withCheckpoint := s.checkpointStored.Load() != p.TreeSize
		if err := s.cfg.DB.Commit(wctx, j.withAlso(s.stmts.insertLogged(row, p, withCheckpoint), uuid, p.Index)); err != nil {
			return nil, unavailableIf(fmt.Errorf("recording logged entry %s at index %d: %w", uuid, p.Index, err))
		}
		if withCheckpoint {
			for {
				old := s.checkpointStored.Load()
				if old >= p.TreeSize || s.checkpointStored.CompareAndSwap(old, p.TreeSize) {
					break
				}
			}
		}
		return &Issued{UUID: uuid, Index: p.Index, Bundle: b}, nil
	}
	// A submitted envelope may have been logged before: the pending row,
	// whose uuid is unique, decides before anything is appended.
	if err := s.cfg.DB.Commit(ctx, s.stmts.insertPending(row)); err != nil {
		if errors.Is(err, errDuplicate) {
			return s.existing(ctx, uuid)
		}
		return nil, unavailableIf(fmt.Errorf("recording pending entry %s: %w", uuid, err))
	}
	if p, err = s.append(wctx, uuid, body); err != nil {
		s.abandonIfNotQueued(wctx, uuid, err)
		return nil, err
	}
	b, err := s.buildBundle(j.single, j.key, body, p)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.DB.Commit(wctx, j.withAlso(s.stmts.markLogged(uuid, p), uuid, p.Index)); err != nil {
		return nil, unavailableIf(fmt.Errorf("recording logged entry %s at index %d: %w", uuid, p.Index, err))
	}
	return &Issued{UUID: uuid, Index: p.Index, Bundle: b}, nil
}

// append adds the leaf to the log and waits for its proof; a log that pushes
// back or is closing gives ErrUnavailable.
func (s *Service) append(ctx context.Context, uuid string, body []byte) (translog.Proof, error) {
	p, err := s.cfg.Log.Append(ctx, body)
	if err != nil {
		if errors.Is(err, translog.ErrBusy) || errors.Is(err, translog.ErrClosed) || errors.Is(err, translog.ErrDiverged) {
			return p, fmt.Errorf("%w: appending entry %s: %w", ErrUnavailable, uuid, err)
		}
		return p, fmt.Errorf("appending entry %s: %w", uuid, err)
	}
	return p, nil
}

// abandonIfNotQueued marks the pending row of a leaf that the log refused
// before queueing it (busy, closing): it will never be in the log, and the
// same signature submitted again may take the row back. A leaf that was queued
// may still land, so its row stays pending for Reconcile.
func (s *Service) abandonIfNotQueued(ctx context.Context, uuid string, err error) {
	if !errors.Is(err, translog.ErrNotQueued) {
		return
	}
	if aerr := s.cfg.DB.Commit(ctx, s.stmts.abandon(uuid)); aerr != nil {
		s.cfg.Logger.Warn("marking a refused entry abandoned", "uuid", uuid, "err", aerr)
	}
}

// unavailableIf marks store errors that mean "try again" (a busy or closing
// database) as ErrUnavailable.
func unavailableIf(err error) error {
	if errors.Is(err, store.ErrBusy) || errors.Is(err, store.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func (s *Service) buildBundle(env *dsse.Envelope, k trustedKey, body []byte, p translog.Proof) ([]byte, error) {
	b, err := bundle.NewDSSE(env, k.hint, bundle.Entry{
		LogIndex: p.Index,
		LogID:    s.cfg.LogID,
		Body:     body,
		Proof: bundle.InclusionProof{
			LogIndex:   p.Index,
			TreeSize:   p.TreeSize,
			RootHash:   p.RootHash,
			Hashes:     p.Hashes,
			Checkpoint: string(p.Checkpoint),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("building bundle for index %d: %w", p.Index, err)
	}
	return b, nil
}

// bodyFor is the hashedrekord v0.0.2 leaf that logs sig by k over a DSSE PAE;
// the digest uses the hash that goes with the key (SHA-256 for P-256).
func bodyFor(pae, sig []byte, k trustedKey) ([]byte, error) {
	h, err := dsse.HashFor(k.pub)
	if err != nil {
		return nil, fmt.Errorf("building log entry: %w", err)
	}
	hh := h.New()
	hh.Write(pae)
	body, err := bundle.HashedRekord{
		Digest:       hh.Sum(nil),
		Signature:    sig,
		PublicKeyDER: k.der,
		KeyDetails:   k.kd,
	}.CanonicalBody()
	if err != nil {
		return nil, fmt.Errorf("building log entry: %w", err)
	}
	return body, nil
}

// checkpointRoot reads the root hash from a signed checkpoint note that this
// service stored itself (its signature was made here; it is not re-verified).
func checkpointRoot(signed string) ([]byte, error) {
	text, _, ok := strings.Cut(signed, "\n\n")
	if !ok {
		return nil, errors.New("stored checkpoint is not a signed note")
	}
	var cp flog.Checkpoint
	if _, err := cp.Unmarshal([]byte(text + "\n")); err != nil {
		return nil, fmt.Errorf("stored checkpoint: %w", err)
	}
	return cp.Hash, nil
}

// describeKey derives, once, what log entries and bundles need of a key.
func describeKey(pub crypto.PublicKey) (trustedKey, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return trustedKey{}, err
	}
	kd, err := bundle.KeyDetails(pub)
	if err != nil {
		return trustedKey{}, err
	}
	hint, err := bundle.KeyHint(pub)
	if err != nil {
		return trustedKey{}, err
	}
	sum := sha256.Sum256(der)
	return trustedKey{pub: pub, der: der, id: hex.EncodeToString(sum[:]), kd: kd, hint: hint}, nil
}
