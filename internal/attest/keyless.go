package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/internal/tsa"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
)

// ErrKeylessUnavailable is returned (wrapped) by SignKeyless when the service
// has no Certifier or no Timestamper: the appliance runs without its CA or
// its TSA.
var ErrKeylessUnavailable = errors.New("keyless signing is not configured (no certificate authority or timestamp authority)")

// Certifier issues a short-lived signing certificate binding a public key to
// an identity (internal/ca.CA). The chain comes back leaf first.
type Certifier interface {
	Issue(ctx context.Context, id ca.Identity, pub crypto.PublicKey) ([]*x509.Certificate, error)
}

// Timestamper answers a DER RFC 3161 TimeStampReq with a DER TimeStampResp
// (internal/tsa.TSA); an error means no timestamp was granted.
type Timestamper interface {
	Respond(ctx context.Context, query []byte) ([]byte, error)
}

// keylessURIPrefix starts the signing_keys uri of an ephemeral key; the
// certificate's serial number (hex) follows.
const keylessURIPrefix = "keyless:"

// SignKeyless is Sign with an ephemeral key instead of the tenant's DSSE key:
// after the same admission (tenant, entitlement, quota, scanner release) it
// generates an ECDSA P-256 key, has Config.Certifier bind it by a fresh
// certificate to the caller's identity (the token's sub as subject, its iss
// as issuer), signs the statement once, has Config.Timestamper timestamp
// SHA-256 of the signature bytes (what sigstore verifiers check for a DSSE
// bundle), logs the signature as a hashedrekord entry whose verifier is the
// certificate, and returns the Sigstore bundle with the certificate, the
// entry and the timestamp. The private key never leaves memory and is
// dropped after the one signature. The entry, its certificate and timestamp,
// the ephemeral key's registration (uri keyless:SERIAL) and the audit row
// (KeyURI keyless:SERIAL) commit together, after the append, as for Sign.
//
// Errors wrap ErrKeylessUnavailable without a Certifier or Timestamper,
// ErrInvalidRequest for a caller without a token subject and issuer (the
// admin socket), the errors of Sign otherwise, and the CA's refusals for an
// identity it cannot certify.
func (s *Service) SignKeyless(ctx context.Context, call Call, req SignRequest) (*Issued, error) {
	return s.timed(ctx, call, req, s.signKeyless)
}

func (s *Service) signKeyless(ctx context.Context, call Call, req SignRequest) (*Issued, error) {
	rec := s.baseRecord(call.RequestID, call.Caller, audit.ActionSign)
	if s.cfg.Certifier == nil || s.cfg.Timestamper == nil {
		return nil, s.refuse(ctx, call.Caller, rec, fmt.Errorf("%w", ErrKeylessUnavailable))
	}
	c := call.Caller
	if c == nil || c.Subject == "" || c.Issuer == "" {
		return nil, s.refuse(ctx, c, rec, fmt.Errorf("%w: keyless signing needs a caller authenticated by a token with a subject and an issuer", ErrInvalidRequest))
	}
	ad, payload, st, err := s.admitStatement(ctx, call, req, rec)
	if err != nil {
		return nil, err
	}
	defer ad.release()
	tenant := ad.tenant
	fail := func(err error) error {
		ad.cancel()
		return s.refuse(ctx, c, ad.rec, err)
	}

	pae := dsse.PAE(dsse.PayloadTypeInToto, payload)
	sig, leaf, err := s.signEphemeral(ctx, ca.Identity{Subject: c.Subject, Issuer: c.Issuer}, pae)
	if err != nil {
		return nil, fail(err)
	}
	serial := leaf.SerialNumber.Text(16)
	ad.rec.KeyURI = keylessURIPrefix + serial
	s.cfg.Metrics.KeyUsed("keyless")
	stamp, err := s.timestamp(ctx, sig)
	if err != nil {
		return nil, fail(err)
	}
	key, err := describeKey(leaf.PublicKey)
	if err != nil {
		return nil, fail(fmt.Errorf("certificate %s: %w", serial, err))
	}
	env := &dsse.Envelope{PayloadType: dsse.PayloadTypeInToto, Payload: payload, Signatures: []dsse.Signature{{Sig: sig}}}
	envJSON, err := env.Marshal()
	if err != nil {
		return nil, fail(fmt.Errorf("encoding envelope: %w", err))
	}
	is, err := s.logKeyless(ctx, keylessJob{
		logJob: logJob{tenant: tenant, envJSON: envJSON, single: env, pae: pae, key: key, stmt: st, fresh: true,
			also: s.allowHook(c, ad)},
		cert:   leaf.Raw,
		serial: serial,
		stamp:  stamp,
	})
	if err != nil {
		return nil, fail(err)
	}
	s.cfg.Metrics.Decision(audit.ActionSign, audit.DecisionAllow, "")
	return is, nil
}

// signEphemeral generates a P-256 key, has it certified for id and signs pae
// with it once; the key goes out of scope on return. It returns the DER
// signature and the certificate.
func (s *Service) signEphemeral(ctx context.Context, id ca.Identity, pae []byte) ([]byte, *x509.Certificate, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), s.cfg.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generating an ephemeral key: %w", err)
	}
	chain, err := s.cfg.Certifier.Issue(ctx, id, k.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("certifying the ephemeral key for %s: %w", id.Subject, err)
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, nil, errors.New("certifying the ephemeral key: the CA returned no certificate")
	}
	leaf := chain[0]
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(k.Public()) {
		return nil, nil, fmt.Errorf("certificate %s does not certify the ephemeral key", leaf.SerialNumber.Text(16))
	}
	d := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(s.cfg.Rand, k, d[:])
	if err != nil {
		return nil, nil, fmt.Errorf("signing with the ephemeral key: %w", err)
	}
	return sig, leaf, nil
}

// timestamp asks the TSA for a timestamp over SHA-256 of sig and returns its
// DER TimeStampResp.
func (s *Service) timestamp(ctx context.Context, sig []byte) ([]byte, error) {
	d := sha256.Sum256(sig)
	q, err := tsa.Query(crypto.SHA256, d[:])
	if err != nil {
		return nil, err
	}
	resp, err := s.cfg.Timestamper.Respond(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("timestamping the signature: %w", err)
	}
	return resp, nil
}

// keylessJob is a keyless signature on its way into the log: a fresh
// logJob whose verifier is a certificate, with its timestamp.
type keylessJob struct {
	logJob
	cert   []byte // the signing certificate, DER
	serial string // its serial number, hex
	stamp  []byte // the DER TimeStampResp over SHA-256 of the signature
}

// logKeyless is logSignature's fresh path for a certificate: append first,
// then one group commit that registers the ephemeral key, records the
// complete entry row with its certificate and timestamp (entry_keyless) and
// runs j.also. A crash in between leaves a leaf that no row names and no
// caller was told of, as for Sign.
func (s *Service) logKeyless(ctx context.Context, j keylessJob) (*Issued, error) {
	sig := j.single.Signatures[0].Sig
	body, err := certBody(j.pae, sig, j.cert, j.key)
	if err != nil {
		return nil, err
	}
	leaf := bundle.LeafHash(body)
	uuid := hex.EncodeToString(leaf[:])
	envSum := sha256.Sum256(j.envJSON)
	now := s.cfg.Now().UTC()
	row := pendingRow{
		uuid:          uuid,
		minIndex:      s.cfg.Log.CoveredSize(),
		envelopeSHA:   hex.EncodeToString(envSum[:]),
		keyID:         j.key.id,
		predicateType: j.stmt.PredicateType,
		tenant:        j.tenant,
		createdAt:     now.Format(time.RFC3339Nano),
		subjects:      j.stmt.Subject,
		envelope:      j.envJSON,
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AppendTimeout)
	defer cancel()
	p, err := s.append(wctx, uuid, body)
	if err != nil {
		return nil, err
	}
	b, err := s.keylessBundle(j.single, j.cert, j.stamp, body, p)
	if err != nil {
		return nil, err
	}
	withCheckpoint := s.checkpointStored.Load() != p.TreeSize
	insert := s.stmts.insertLogged(row, p, withCheckpoint)
	record := func(tx *sql.Tx) error {
		if err := registerKey(wctx, tx, j.key.id, j.key.der, j.key.kd, keylessURIPrefix+j.serial, now.Format(time.RFC3339)); err != nil {
			return err
		}
		if err := insert(tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(wctx, `INSERT INTO entry_keyless (entry_id, certificate, timestamp)
			SELECT id, ?, ? FROM entries WHERE uuid = ?`, j.cert, j.stamp, uuid)
		return err
	}
	if err := s.cfg.DB.Commit(wctx, j.withAlso(record, uuid, p.Index)); err != nil {
		return nil, unavailableIf(fmt.Errorf("recording keyless entry %s at index %d: %w", uuid, p.Index, err))
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

// certBody is the hashedrekord v0.0.2 leaf that logs sig over a DSSE PAE
// with the certificate cert (whose key is k) as the verifier.
func certBody(pae, sig, cert []byte, k trustedKey) ([]byte, error) {
	h, err := dsse.HashFor(k.pub)
	if err != nil {
		return nil, fmt.Errorf("building log entry: %w", err)
	}
	hh := h.New()
	hh.Write(pae)
	body, err := bundle.HashedRekord{Digest: hh.Sum(nil), Signature: sig, CertificateDER: cert, KeyDetails: k.kd}.CanonicalBody()
	if err != nil {
		return nil, fmt.Errorf("building log entry: %w", err)
	}
	return body, nil
}

// keylessBundle is buildBundle for a keyless signature: the certificate in
// place of the key hint, and the timestamp.
func (s *Service) keylessBundle(env *dsse.Envelope, cert, stamp, body []byte, p translog.Proof) ([]byte, error) {
	b, err := bundle.NewDSSEWithCertificate(env, cert, bundle.Entry{
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
	}, [][]byte{stamp})
	if err != nil {
		return nil, fmt.Errorf("building keyless bundle for index %d: %w", p.Index, err)
	}
	return b, nil
}

// keylessMaterial returns the certificate and timestamp of a keyless entry,
// or nil, nil for an entry signed by a key. Entries signed by the service's
// own or trusted keys are told apart without a query.
func (s *Service) keylessMaterial(ctx context.Context, e *storedEntry) (cert, stamp []byte, err error) {
	if _, ok := s.own[e.keyID]; ok {
		return nil, nil, nil
	}
	for _, k := range s.trusted {
		if k.id == e.keyID {
			return nil, nil, nil
		}
	}
	err = s.cfg.DB.Read().QueryRowContext(ctx, `SELECT k.certificate, k.timestamp FROM entry_keyless k
		JOIN entries e ON e.id = k.entry_id WHERE e.uuid = ?`, e.uuid).Scan(&cert, &stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("entry %s: reading its certificate: %w", e.uuid, err)
	}
	return cert, stamp, nil
}
