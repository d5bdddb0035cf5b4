package ctlog

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"
)

// issuerDir is where issuer certificates are served from, relative to Config.Dir
// (c2sp.org/static-ct-api, "Issuers").
const issuerDir = "issuer"

// maxLeafIndex is the largest index the 40-bit leaf_index extension can carry.
const maxLeafIndex = 1<<40 - 1

// AddPreChain logs a precertificate chain (precert DER first, then its issuer's DER, up to the
// root) and returns the log's signed certificate timestamp, TLS-encoded as an RFC 6962 §3.2
// SignedCertificateTimestamp (the bytes that go, length-prefixed, into an SCT list).
//
// chain[0] must carry the critical poison extension and be signed directly by chain[1]
// (RFC 6962 §3.1 without a Precertificate Signing Certificate). The issuers are stored under
// issuer/<sha256 hex> first; then the entry is sequenced and integrated by Tessera and the SCT,
// carrying the static-ct-api leaf_index extension, is signed with the log key over the entry's
// own timestamp. It returns once the entry has an index, without waiting for a checkpoint
// that covers it (the SCT promises that within a second). Errors wrap ErrInvalidChain (refused
// input), ErrBusy (Tessera pushback) or ErrClosed; others are the log's failures.
func (l *Log) AddPreChain(ctx context.Context, chain [][]byte) ([]byte, error) {
	s, err := parsePreChain(chain)
	if err != nil {
		return nil, err
	}
	return l.submit(ctx, s)
}

// AddChain logs a final certificate chain (certificate DER first, then its issuers) and
// returns its TLS-encoded SCT, as AddPreChain does. chain[0] must not carry the poison
// extension. The appliance's CA does not need it; it is here for RFC 6962 completeness.
func (l *Log) AddChain(ctx context.Context, chain [][]byte) ([]byte, error) {
	s, err := parseFinalChain(chain)
	if err != nil {
		return nil, err
	}
	return l.submit(ctx, s)
}

// submit stores s's issuers, adds its entry, waits for the index and returns the signed SCT.
func (l *Log) submit(ctx context.Context, s *submission) ([]byte, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	l.wg.Add(1)
	l.mu.RUnlock()
	defer l.wg.Done()

	for i, der := range s.issuers {
		if err := l.storeIssuer(s.fingerprints[i], der); err != nil {
			return nil, err
		}
	}
	e := &ctonly.Entry{
		Timestamp:         uint64(l.cfg.Now().UnixMilli()),
		IsPrecert:         s.precert,
		Certificate:       s.signed,
		FingerprintsChain: s.fingerprints,
	}
	if s.precert {
		e.Precertificate = s.leaf
		e.IssuerKeyHash = s.issuerKeyHash[:]
	}
	idx, err := l.add(ctx, e)()
	if err != nil {
		if errors.Is(err, tessera.ErrPushback) {
			return nil, fmt.Errorf("%w: %w", ErrBusy, err)
		}
		return nil, fmt.Errorf("adding entry to the CT log: %w", err)
	}
	if idx.Index > maxLeafIndex {
		return nil, fmt.Errorf("CT log index %d exceeds the 40-bit leaf_index", idx.Index)
	}
	sct, err := l.signSCT(s, e.Timestamp, idx.Index)
	if err != nil {
		return nil, err
	}
	l.cfg.Logger.Debug("ct log entry added", "log_index", idx.Index, "precert", s.precert)
	return sct, nil
}

// leafIndexExtension encodes the static-ct-api CtExtensions holding one leaf_index extension:
// extension_type 0, a two-byte length 5, and the index as a big-endian uint40 (8 bytes).
// Tessera's ctonly writes the same bytes into the Merkle leaf; it does not export them.
func leafIndexExtension(idx uint64) ct.CTExtensions {
	return ct.CTExtensions{0, 0, 5, byte(idx >> 32), byte(idx >> 24), byte(idx >> 16), byte(idx >> 8), byte(idx)}
}

// signSCT returns the TLS-encoded SCT v1 for s at timestamp ts (ms) and index idx, signed over
// the RFC 6962 §3.2 digitally-signed CertificateTimestamp struct.
func (l *Log) signSCT(s *submission, ts, idx uint64) ([]byte, error) {
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1,
		LogID:      ct.LogID{KeyID: l.logID},
		Timestamp:  ts,
		Extensions: leafIndexExtension(idx),
	}
	te := ct.TimestampedEntry{Timestamp: ts, Extensions: sct.Extensions}
	if s.precert {
		te.EntryType = ct.PrecertLogEntryType
		te.PrecertEntry = &ct.PreCert{IssuerKeyHash: s.issuerKeyHash, TBSCertificate: s.signed}
	} else {
		te.EntryType = ct.X509LogEntryType
		te.X509Entry = &ct.ASN1Cert{Data: s.signed}
	}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
		Version: ct.V1, LeafType: ct.TimestampedEntryLeafType, TimestampedEntry: &te,
	}})
	if err != nil {
		return nil, fmt.Errorf("encoding SCT signature input: %w", err)
	}
	ds, err := signDigitally(l.cfg.Signer, input)
	if err != nil {
		return nil, fmt.Errorf("signing SCT: %w", err)
	}
	sct.Signature = ct.DigitallySigned(ds)
	out, err := tls.Marshal(sct)
	if err != nil {
		return nil, fmt.Errorf("encoding SCT: %w", err)
	}
	return out, nil
}

// storeIssuer writes der to issuer/<hex fp> unless already there, atomically (temporary file,
// fsync, rename), so that every issuer a data tile refers to is served before the entry exists.
func (l *Log) storeIssuer(fp [32]byte, der []byte) error {
	l.issuerMu.Lock()
	defer l.issuerMu.Unlock()
	if l.issuers[fp] {
		return nil
	}
	p := filepath.Join(l.cfg.Dir, issuerDir, hex.EncodeToString(fp[:]))
	if _, err := os.Stat(p); err == nil {
		l.issuers[fp] = true
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-issuer-*")
	if err != nil {
		return fmt.Errorf("storing CT issuer: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(der)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr == nil {
		werr = syncDir(filepath.Dir(p))
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storing CT issuer %s: %w", p, werr)
	}
	l.issuers[fp] = true
	return nil
}

// syncDir fsyncs a directory so that a rename into it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
