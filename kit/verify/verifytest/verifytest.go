// Package verifytest builds real, self-consistent Sigstore bundles v0.3 for
// tests of verifiers and of stellactl: an ECDSA P-256 DSSE signature over an
// in-toto statement, its Rekor v2 hashedrekord v0.0.2 leaf in an RFC 6962 tree,
// an inclusion proof and a checkpoint signed as a C2SP signed note by an ECDSA
// log key (key hash = the first 4 bytes of SHA-256 of the log key's PKIX DER,
// as rekor-tiles does), plus the trusted_root.json naming that log.
//
// It is built independently of package verify (plain encoding/json, the
// transparency-dev Merkle reference tree, x/mod's note) so that a test of one
// does not merely repeat the other. Fixtures are for tests only: keys come from
// the given random source and live in memory.
package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// Config says what the fixture's bundle is about. Zero values get defaults.
type Config struct {
	// Artifact is the subject file's content (default "hello, stellad\n").
	Artifact []byte
	// SubjectName is the subject's name (default "artifact.txt").
	SubjectName string
	// PredicateType is the statement's predicate type (default https://slsa.dev/provenance/v1).
	PredicateType string
	// Predicate is the predicate JSON (default {"note":"test"}).
	Predicate json.RawMessage
	// BaseURL is the log's base URL in the trusted root (default https://log.stellad.test);
	// the checkpoint origin is its host name.
	BaseURL string
	// LeafIndex and TreeSize place the leaf in a tree of other leaves (defaults 5 and 11).
	LeafIndex, TreeSize uint64
	// Statement, when set, is the DSSE payload verbatim (Artifact, SubjectName,
	// PredicateType and Predicate are then ignored for the statement).
	Statement []byte
	// Signer and LogKey, when set, are used instead of fresh keys.
	Signer, LogKey *ecdsa.PrivateKey
	// Rand is the source for key generation and signatures (default crypto/rand).
	Rand io.Reader
}

// Fixture holds the parts of a bundle. Tests may change any field and call
// Bundle again to get the (possibly tampered) bundle bytes.
type Fixture struct {
	Signer     *ecdsa.PrivateKey // the DSSE signing key
	LogKey     *ecdsa.PrivateKey // the log's checkpoint key
	Artifact   []byte
	Statement  []byte // the DSSE payload
	Signature  []byte // ASN.1 ECDSA signature over SHA-256 of the PAE
	Body       []byte // canonicalized hashedrekord v0.0.2 body
	LeafIndex  uint64
	TreeSize   uint64
	RootHash   []byte
	Hashes     [][]byte // inclusion proof
	Checkpoint string   // signed note
	Origin     string
	BaseURL    string
	// TrustedRoot is trusted_root.json naming the log.
	TrustedRoot []byte
}

// PayloadType is the DSSE payload type of in-toto statements.
const PayloadType = "application/vnd.in-toto+json"

// New builds a fixture. Errors come only from the random source or bad Config.
func New(cfg Config) (*Fixture, error) {
	if cfg.Artifact == nil {
		cfg.Artifact = []byte("hello, stellad\n")
	}
	if cfg.SubjectName == "" {
		cfg.SubjectName = "artifact.txt"
	}
	if cfg.PredicateType == "" {
		cfg.PredicateType = "https://slsa.dev/provenance/v1"
	}
	if cfg.Predicate == nil {
		cfg.Predicate = json.RawMessage(`{"note":"test"}`)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://log.stellad.test"
	}
	if cfg.TreeSize == 0 {
		cfg.LeafIndex, cfg.TreeSize = 5, 11
	}
	if cfg.LeafIndex >= cfg.TreeSize {
		return nil, fmt.Errorf("leaf index %d outside tree size %d", cfg.LeafIndex, cfg.TreeSize)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	origin, err := hostOf(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	signer, logKey := cfg.Signer, cfg.LogKey
	if signer == nil {
		if signer, err = ecdsa.GenerateKey(elliptic.P256(), cfg.Rand); err != nil {
			return nil, fmt.Errorf("generating signer key: %w", err)
		}
	}
	if logKey == nil {
		if logKey, err = ecdsa.GenerateKey(elliptic.P256(), cfg.Rand); err != nil {
			return nil, fmt.Errorf("generating log key: %w", err)
		}
	}
	f := &Fixture{Signer: signer, LogKey: logKey, Artifact: cfg.Artifact, LeafIndex: cfg.LeafIndex,
		TreeSize: cfg.TreeSize, Origin: origin, BaseURL: cfg.BaseURL}

	sum := sha256.Sum256(cfg.Artifact)
	f.Statement, err = json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": cfg.SubjectName, "digest": map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": cfg.PredicateType,
		"predicate":     cfg.Predicate,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding statement: %w", err)
	}
	if cfg.Statement != nil {
		f.Statement = cfg.Statement
	}
	paeSum := sha256.Sum256(PAE(PayloadType, f.Statement))
	f.Signature, err = ecdsa.SignASN1(cfg.Rand, signer, paeSum[:])
	if err != nil {
		return nil, fmt.Errorf("signing envelope: %w", err)
	}
	f.Body, err = HashedRekordBody(paeSum[:], f.Signature, &signer.PublicKey)
	if err != nil {
		return nil, err
	}

	tree := testonly.New(rfc6962.DefaultHasher)
	for i := uint64(0); i < cfg.TreeSize; i++ {
		if i == cfg.LeafIndex {
			tree.AppendData(f.Body)
		} else {
			tree.AppendData([]byte("other leaf " + strconv.FormatUint(i, 10)))
		}
	}
	f.RootHash = tree.Hash()
	f.Hashes, err = tree.InclusionProof(cfg.LeafIndex, cfg.TreeSize)
	if err != nil {
		return nil, fmt.Errorf("building inclusion proof: %w", err)
	}
	f.Checkpoint, err = SignCheckpoint(logKey, origin, cfg.TreeSize, f.RootHash, cfg.Rand)
	if err != nil {
		return nil, err
	}
	f.TrustedRoot, err = TrustedRoot(cfg.BaseURL, &logKey.PublicKey)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// PAE is the DSSE v1 pre-authentication encoding.
func PAE(payloadType string, payload []byte) []byte {
	s := "DSSEv1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " "
	return append([]byte(s), payload...)
}

// HashedRekordBody is the RFC 8785 canonical JSON of a Rekor v2 hashedrekord
// v0.0.2 entry for an ECDSA P-256 key. encoding/json sorts map keys and the
// values are ASCII strings, which makes its output canonical here.
func HashedRekordBody(digest, sig []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return json.Marshal(map[string]any{
		"apiVersion": "0.0.2",
		"kind":       "hashedrekord",
		"spec": map[string]any{"hashedRekordV002": map[string]any{
			"data": map[string]string{"algorithm": "SHA2_256", "digest": b64(digest)},
			"signature": map[string]any{
				"content": b64(sig),
				"verifier": map[string]any{
					"keyDetails": "PKIX_ECDSA_P256_SHA_256",
					"publicKey":  map[string]string{"rawBytes": b64(der)},
				},
			},
		}},
	})
}

// ecdsaNoteSigner signs notes with an ECDSA log key the way rekor-tiles does.
type ecdsaNoteSigner struct {
	name string
	hash uint32
	key  *ecdsa.PrivateKey
	rand io.Reader
}

func (s *ecdsaNoteSigner) Name() string    { return s.name }
func (s *ecdsaNoteSigner) KeyHash() uint32 { return s.hash }
func (s *ecdsaNoteSigner) Sign(msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	return ecdsa.SignASN1(s.rand, s.key, sum[:])
}

// SignCheckpoint returns a C2SP checkpoint for (origin, size, root) as a signed
// note by key.
func SignCheckpoint(key *ecdsa.PrivateKey, origin string, size uint64, root []byte, r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", fmt.Errorf("encoding log key: %w", err)
	}
	id := sha256.Sum256(der)
	text := origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
	signed, err := note.Sign(&note.Note{Text: text}, &ecdsaNoteSigner{name: origin, hash: binary.BigEndian.Uint32(id[:4]), key: key, rand: r})
	if err != nil {
		return "", fmt.Errorf("signing checkpoint: %w", err)
	}
	return string(signed), nil
}

// TrustedRoot returns a trusted_root.json naming one log at baseURL with key.
func TrustedRoot(baseURL string, key *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding log key: %w", err)
	}
	id := sha256.Sum256(der)
	b64 := base64.StdEncoding.EncodeToString
	return json.MarshalIndent(map[string]any{
		"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		"tlogs": []any{map[string]any{
			"baseUrl":       baseURL,
			"hashAlgorithm": "SHA2_256",
			"publicKey": map[string]any{
				"rawBytes":   b64(der),
				"keyDetails": "PKIX_ECDSA_P256_SHA_256",
				"validFor":   map[string]string{"start": "2020-01-01T00:00:00Z"},
			},
			"logId": map[string]string{"keyId": b64(id[:])},
		}},
	}, "", "  ")
}

// Bundle returns the Sigstore bundle v0.3 JSON of the fixture's current fields.
func (f *Fixture) Bundle() []byte {
	der, err := x509.MarshalPKIXPublicKey(&f.LogKey.PublicKey)
	if err != nil {
		panic(err) // an in-memory P-256 key always encodes
	}
	logID := sha256.Sum256(der)
	b64 := base64.StdEncoding.EncodeToString
	hashes := make([]string, len(f.Hashes))
	for i, h := range f.Hashes {
		hashes[i] = b64(h)
	}
	idx := strconv.FormatUint(f.LeafIndex, 10)
	out, err := json.MarshalIndent(map[string]any{
		"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{
			"publicKey": map[string]string{"hint": b64(f.signerKeyID())},
			"tlogEntries": []any{map[string]any{
				"logIndex":    idx,
				"logId":       map[string]string{"keyId": b64(logID[:])},
				"kindVersion": map[string]string{"kind": "hashedrekord", "version": "0.0.2"},
				"inclusionProof": map[string]any{
					"logIndex":   idx,
					"rootHash":   b64(f.RootHash),
					"treeSize":   strconv.FormatUint(f.TreeSize, 10),
					"hashes":     hashes,
					"checkpoint": map[string]string{"envelope": f.Checkpoint},
				},
				"canonicalizedBody": b64(f.Body),
			}},
		},
		"dsseEnvelope": map[string]any{
			"payload":     b64(f.Statement),
			"payloadType": PayloadType,
			"signatures":  []any{map[string]string{"sig": b64(f.Signature), "keyid": ""}},
		},
	}, "", "  ")
	if err != nil {
		panic(err) // maps of strings always encode
	}
	return out
}

func (f *Fixture) signerKeyID() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&f.Signer.PublicKey)
	sum := sha256.Sum256(der)
	return sum[:]
}

// PublicKeyPEM is the signer's public key as a PEM "PUBLIC KEY" block.
func (f *Fixture) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&f.Signer.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// LogKeyPEM is the log's public key as a PEM "PUBLIC KEY" block.
func (f *Fixture) LogKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&f.LogKey.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func hostOf(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("base URL %q has no host name", baseURL)
	}
	return u.Hostname(), nil
}
