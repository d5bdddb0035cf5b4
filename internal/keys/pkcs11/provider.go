//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"

	"github.com/stellaops/stellad/internal/keys/internal/keymeta"
)

// Provider opens, generates and lists keys in PKCS#11 tokens. It owns one
// crypto11 context per module and token, created on first use and shared by
// every key in that token. Its methods are safe for concurrent use. Keys it
// returned stop working after Close.
type Provider struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	tokens map[tokenKey]*token
	closed bool
}

type tokenKey struct {
	module, label, serial string
	slot                  uint64
	hasSlot               bool
}

// logins records, per module and token, the PIN (as a SHA-256) that logged
// the process in and how many Providers hold it. PKCS#11 login state belongs
// to the process, not to a session or a crypto11 context: once one context is
// logged in, crypto11 takes CKR_USER_ALREADY_LOGGED_IN from the next login as
// success, whatever PIN it sent. This record, as process-wide as the state it
// mirrors, lets a second Provider refuse a wrong PIN all the same. Tokens are
// keyed as the URI names them (label, serial or slot), so the check does not
// see that a label and a slot-id name the same token.
var logins = struct {
	sync.Mutex
	m map[tokenKey]*loginRecord
}{m: map[tokenKey]*loginRecord{}}

type loginRecord struct {
	pinHash [sha256.Size]byte
	refs    int
}

// token is one logged-in crypto11 context.
type token struct {
	name    string // for messages, e.g. `token "stellad"`
	ctx     *crypto11.Context
	pinHash [sha256.Size]byte
	sem     chan struct{} // bounds concurrent PKCS#11 calls
	genMu   sync.Mutex    // serialises Generate's check-then-create
}

// NewProvider returns a Provider for cfg. It does no I/O: modules are loaded
// and tokens logged into on first use.
func NewProvider(cfg Config) *Provider {
	if cfg.Sessions <= 0 {
		cfg.Sessions = DefaultSessions
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log, tokens: map[tokenKey]*token{}}
}

// do runs f, a PKCS#11 call, once a session slot is free. It gives up while
// waiting when ctx is done, and does not start f if ctx is already done; once
// started, f runs to completion.
func (t *token) do(ctx context.Context, f func() error) error {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-t.sem }()
	if err := ctx.Err(); err != nil {
		return err
	}
	return f()
}

// token returns the logged-in context for tg's module and token, creating it
// on first use. A later request for the same token must present the same PIN.
func (p *Provider) token(ctx context.Context, tg *target) (*token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u := tg.uri
	key := tokenKey{module: tg.module, label: u.Token, serial: u.Serial, slot: u.SlotID, hasSlot: u.HasSlotID}
	pinHash := sha256.Sum256([]byte(tg.pin))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("pkcs11 provider is closed")
	}
	if t, ok := p.tokens[key]; ok {
		if subtle.ConstantTimeCompare(t.pinHash[:], pinHash[:]) != 1 {
			return nil, fmt.Errorf("PIN for %s is incorrect: it differs from the PIN this process logged in with", t.name)
		}
		return t, nil
	}
	name := u.tokenName()
	if _, err := os.Stat(tg.module); err != nil {
		return nil, fmt.Errorf("loading PKCS#11 module for %s: %w", name, err)
	}
	logins.Lock()
	defer logins.Unlock()
	rec := logins.m[key]
	if rec != nil && subtle.ConstantTimeCompare(rec.pinHash[:], pinHash[:]) != 1 {
		return nil, fmt.Errorf("PIN for %s is incorrect: it differs from the PIN this process logged in with", name)
	}
	c11 := &crypto11.Config{
		Path:        tg.module,
		TokenLabel:  u.Token,
		TokenSerial: u.Serial,
		Pin:         tg.pin,
		// One session stays logged in for the context's life; the pool gets
		// the rest, as many as the semaphore lets run at once.
		MaxSessions: p.cfg.Sessions + 1,
	}
	if u.HasSlotID {
		slot := int(u.SlotID)
		if uint64(slot) != u.SlotID || slot < 0 {
			return nil, fmt.Errorf("slot-id %d is out of range", u.SlotID)
		}
		c11.SlotNumber = &slot
	}
	c, err := crypto11.Configure(c11)
	if err != nil {
		return nil, translate(err, name, tg.module)
	}
	if rec == nil {
		rec = &loginRecord{pinHash: pinHash}
		logins.m[key] = rec
	}
	rec.refs++
	t := &token{name: name, ctx: c, pinHash: pinHash, sem: make(chan struct{}, p.cfg.Sessions)}
	p.tokens[key] = t
	p.log.Debug("pkcs11 token opened", "key_uri", u.Redacted().String())
	return t, nil
}

// Key is an ECDSA P-256 private key inside a PKCS#11 token. It implements
// crypto.Signer and is safe for concurrent use; it stops working when the
// Provider that opened it is closed.
type Key struct {
	tok    *token
	signer crypto11.Signer
	pub    *ecdsa.PublicKey
	uri    string
	desc   string
}

// Public returns the key's *ecdsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// URI returns the key's URI without any pin-value.
func (k *Key) URI() string { return k.uri }

// Sign signs digest (the hash of the message, of the size opts.HashFunc()
// names) inside the token and returns an ASN.1 DER ECDSA signature. rand is
// ignored: the token draws its own randomness. Sign waits for a free session
// without limit; use SignContext to bound the wait.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext is Sign with a context: it returns ctx's error if ctx is done
// before a session is free, and does not start the PKCS#11 call then. A call
// once started cannot be cancelled.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkDigest(digest, opts); err != nil {
		return nil, fmt.Errorf("signing with %s in %s: %w", k.desc, k.tok.name, err)
	}
	var sig []byte
	err := k.tok.do(ctx, func() error {
		var err error
		// crypto11 converts the token's raw r||s into ASN.1 DER
		// (crypto11 dsaGeneric); the conformance suite checks it with
		// ecdsa.VerifyASN1.
		sig, err = k.signer.Sign(nil, digest, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %w", k.desc, translate(err, k.tok.name, ""))
	}
	return sig, nil
}

// checkDigest refuses a digest whose length does not match the hash opts name.
func checkDigest(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return errors.New("no signer options: pass the digest's hash, e.g. crypto.SHA256")
	}
	h := opts.HashFunc()
	if h == 0 {
		return errors.New("ECDSA signs a digest: opts must name its hash")
	}
	if h.Size() != len(digest) {
		return fmt.Errorf("digest is %d bytes; %v digests are %d", len(digest), h, h.Size())
	}
	return nil
}

// newKey checks that s is an ECDSA P-256 key and wraps it.
func newKey(t *token, s crypto11.Signer, u *URI) (*Key, error) {
	desc := u.describe()
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key %s in %s is %s; want ECDSA P-256", desc, t.name, keymeta.Algorithm(s.Public()))
	}
	return &Key{tok: t, signer: s, pub: pub, uri: u.Redacted().String(), desc: desc}, nil
}

// Open opens the private key uri names (object and/or id) in its token.
// Errors name the token and object: a missing key wraps keymeta.ErrNotFound
// (keys.ErrNotFound), several matches ask for an id, a non-P-256 key is
// refused, an incorrect PIN or unknown token is said so.
func (p *Provider) Open(ctx context.Context, uri string) (*Key, error) {
	tg, err := resolve(&p.cfg, uri, true)
	if err != nil {
		return nil, err
	}
	t, err := p.token(ctx, tg)
	if err != nil {
		return nil, err
	}
	u := tg.uri
	var found []crypto11.Signer
	err = t.do(ctx, func() error {
		var err error
		found, err = t.ctx.FindKeyPairs(u.ID, []byte(u.Object))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finding %s in %s: %w", u.describe(), t.name, translate(err, t.name, ""))
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no private key %s in %s: %w", u.describe(), t.name, keymeta.ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("%d private keys match %s in %s: add id= to the URI to pick one", len(found), u.describe(), t.name)
	}
	return newKey(t, found[0], u)
}

// Generate creates an ECDSA P-256 key pair inside the token uri names, with
// CKA_LABEL from object and CKA_ID from id (random 16 bytes when the URI has
// no id). The private key is a token object, private, sensitive and not
// extractable. Generate refuses, wrapping keymeta.ErrExists, when a private
// key with that label or id already exists.
func (p *Provider) Generate(ctx context.Context, uri string) (*Key, error) {
	tg, err := resolve(&p.cfg, uri, true)
	if err != nil {
		return nil, err
	}
	t, err := p.token(ctx, tg)
	if err != nil {
		return nil, err
	}
	u := tg.uri
	id := u.ID
	if len(id) == 0 {
		id = make([]byte, 16)
		if _, err := io.ReadFull(p.cfg.Rand, id); err != nil {
			return nil, fmt.Errorf("generating CKA_ID: %w", err)
		}
	}
	t.genMu.Lock()
	defer t.genMu.Unlock()
	if err := p.refuseExisting(ctx, t, u, id); err != nil {
		return nil, err
	}
	pubAttrs, privAttrs := crypto11.NewAttributeSet(), crypto11.NewAttributeSet()
	for _, a := range []crypto11.AttributeSet{pubAttrs, privAttrs} {
		_ = a.Set(crypto11.CkaId, id)
		if u.Object != "" {
			_ = a.Set(crypto11.CkaLabel, []byte(u.Object))
		}
		_ = a.Set(crypto11.CkaToken, true)
	}
	_ = pubAttrs.Set(crypto11.CkaVerify, true)
	_ = pubAttrs.Set(crypto11.CkaPrivate, false)
	_ = privAttrs.Set(crypto11.CkaSign, true)
	_ = privAttrs.Set(crypto11.CkaPrivate, true)
	_ = privAttrs.Set(crypto11.CkaSensitive, true)
	_ = privAttrs.Set(crypto11.CkaExtractable, false)
	var s crypto11.Signer
	err = t.do(ctx, func() error {
		var err error
		s, err = t.ctx.GenerateECDSAKeyPairWithAttributes(pubAttrs, privAttrs, elliptic.P256())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("generating %s in %s: %w", u.describe(), t.name, translate(err, t.name, ""))
	}
	p.log.Info("pkcs11 key generated", "key_uri", u.Redacted().String())
	return newKey(t, s, u)
}

func (p *Provider) refuseExisting(ctx context.Context, t *token, u *URI, id []byte) error {
	check := func(what string, id, label []byte) error {
		var n int
		err := t.do(ctx, func() error {
			found, err := t.ctx.FindPrivateKeys(id, label)
			n = len(found)
			return err
		})
		if err != nil {
			return fmt.Errorf("looking for %s in %s: %w", what, t.name, translate(err, t.name, ""))
		}
		if n > 0 {
			return fmt.Errorf("generating key: %s already exists in %s: %w", what, t.name, keymeta.ErrExists)
		}
		return nil
	}
	if u.Object != "" {
		if err := check(fmt.Sprintf("a private key with label %q", u.Object), nil, []byte(u.Object)); err != nil {
			return err
		}
	}
	return check(fmt.Sprintf("a private key with id %s", escapeAll(id)), id, nil)
}

// List returns the key pairs in the token uri names (narrowed by object and
// id when given), sorted by URI. Each Info.URI carries the listing URI's
// module-path and pin-source, so it opens the key as is.
func (p *Provider) List(ctx context.Context, uri string) ([]keymeta.Info, error) {
	tg, err := resolve(&p.cfg, uri, false)
	if err != nil {
		return nil, err
	}
	t, err := p.token(ctx, tg)
	if err != nil {
		return nil, err
	}
	u := tg.uri
	var infos []keymeta.Info
	err = t.do(ctx, func() error {
		var found []crypto11.Signer
		var err error
		if u.Object != "" || len(u.ID) > 0 {
			found, err = t.ctx.FindKeyPairs(u.ID, []byte(u.Object))
		} else {
			found, err = t.ctx.FindAllKeyPairs()
		}
		if err != nil {
			return err
		}
		for _, s := range found {
			attrs, err := t.ctx.GetAttributes(s, []crypto11.AttributeType{crypto11.CkaLabel, crypto11.CkaId})
			if err != nil {
				return err
			}
			ku := &URI{Token: u.Token, Serial: u.Serial, SlotID: u.SlotID, HasSlotID: u.HasSlotID,
				Type: "private", ModulePath: u.ModulePath, PINSource: u.PINSource}
			if a := attrs[crypto11.CkaLabel]; a != nil {
				ku.Object = string(a.Value)
			}
			if a := attrs[crypto11.CkaId]; a != nil && len(a.Value) > 0 {
				ku.ID = slices.Clone(a.Value)
			}
			kid, err := keymeta.KeyID(s.Public())
			if err != nil {
				return fmt.Errorf("key %s: %w", ku.describe(), err)
			}
			infos = append(infos, keymeta.Info{URI: ku.String(), KeyID: kid, Algorithm: keymeta.Algorithm(s.Public())})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing keys in %s: %w", t.name, translate(err, t.name, ""))
	}
	slices.SortFunc(infos, func(a, b keymeta.Info) int { return strings.Compare(a.URI, b.URI) })
	return infos, nil
}

// Close logs out of and closes every token context; it waits for operations
// in flight. Keys opened through p fail afterwards. Close is idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	logins.Lock()
	defer logins.Unlock()
	for k, t := range p.tokens {
		if err := t.ctx.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", t.name, err))
		}
		delete(p.tokens, k)
		if rec := logins.m[k]; rec != nil {
			if rec.refs--; rec.refs <= 0 {
				delete(logins.m, k)
			}
		}
	}
	return errors.Join(errs...)
}

// Attributes are a token key's PKCS#11 attributes, as the token reports them
// for the private key object.
type Attributes struct {
	Label            string // CKA_LABEL
	ID               []byte // CKA_ID
	Token            bool   // CKA_TOKEN: persistent in the token
	Private          bool   // CKA_PRIVATE: needs a login to use
	Sign             bool   // CKA_SIGN
	Sensitive        bool   // CKA_SENSITIVE: value never leaves in plaintext
	Extractable      bool   // CKA_EXTRACTABLE: may be wrapped out
	AlwaysSensitive  bool   // CKA_ALWAYS_SENSITIVE
	NeverExtractable bool   // CKA_NEVER_EXTRACTABLE
}

// Attributes reads the private key object's attributes from the token, for
// audits that must show a key was generated inside the HSM and cannot leave.
func (k *Key) Attributes(ctx context.Context) (*Attributes, error) {
	types := []crypto11.AttributeType{crypto11.CkaLabel, crypto11.CkaId, crypto11.CkaToken, crypto11.CkaPrivate,
		crypto11.CkaSign, crypto11.CkaSensitive, crypto11.CkaExtractable, crypto11.CkaAlwaysSensitive, crypto11.CkaNeverExtractable}
	var set crypto11.AttributeSet
	err := k.tok.do(ctx, func() error {
		var err error
		set, err = k.tok.ctx.GetAttributes(k.signer, types)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading attributes of %s: %w", k.desc, translate(err, k.tok.name, ""))
	}
	b := func(t crypto11.AttributeType) bool {
		a := set[t]
		return a != nil && len(a.Value) > 0 && a.Value[0] != 0
	}
	a := &Attributes{Token: b(crypto11.CkaToken), Private: b(crypto11.CkaPrivate), Sign: b(crypto11.CkaSign),
		Sensitive: b(crypto11.CkaSensitive), Extractable: b(crypto11.CkaExtractable),
		AlwaysSensitive: b(crypto11.CkaAlwaysSensitive), NeverExtractable: b(crypto11.CkaNeverExtractable)}
	if v := set[crypto11.CkaLabel]; v != nil {
		a.Label = string(v.Value)
	}
	if v := set[crypto11.CkaId]; v != nil {
		a.ID = slices.Clone(v.Value)
	}
	return a, nil
}
