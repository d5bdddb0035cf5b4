package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Development mode keeps `make run` a one-step start: besides the file keys it
// creates, under DATA/dev, a local Authority (its key and JWKS), a vendor
// licensing key with a licence for the default tenant, and an access token for
// the local user bound to a DPoP key, so that `stellactl` can sign at once
// (and an identity token, DATA/dev/id-token, for keyless signing with cosign):
//
//	export STELLAD_TOKEN_FILE=DATA/dev/token STELLAD_DPOP_KEY=DATA/dev/dpop-key.pem
//
// None of this exists outside development mode.

// devMaterial is what development mode created or found.
type devMaterial struct {
	dir         string
	issuer      string
	jwks        []byte
	vendorKey   crypto.Signer
	tokenFile   string
	idTokenFile string
	dpopKeyFile string
}

// devTokenLifetime bounds the development token; a new one is written at every start.
const devTokenLifetime = 30 * 24 * time.Hour

// setUpDev creates (or reuses) the development Authority, vendor key and DPoP
// key under dataDir/dev and writes a fresh token for the local user.
func setUpDev(dataDir, publicURL, tenant string, now time.Time) (*devMaterial, error) {
	dir := filepath.Join(dataDir, "dev")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	authKey, err := devKey(filepath.Join(dir, "authority-key.pem"))
	if err != nil {
		return nil, err
	}
	vendorKey, err := devKey(filepath.Join(dir, "licence-vendor-key.pem"))
	if err != nil {
		return nil, err
	}
	dpopKeyFile := filepath.Join(dir, "dpop-key.pem")
	dpopKey, err := devKey(dpopKeyFile)
	if err != nil {
		return nil, err
	}
	m := &devMaterial{dir: dir, issuer: publicURL + "/dev-authority", vendorKey: vendorKey, dpopKeyFile: dpopKeyFile,
		tokenFile: filepath.Join(dir, "token")}

	authJWK := jose.JSONWebKey{Key: authKey.Public(), Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := authJWK.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("development Authority key id: %w", err)
	}
	authJWK.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	m.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{authJWK}})
	if err != nil {
		return nil, fmt.Errorf("encoding the development JWKS: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "authority-jwks.json"), m.jwks, 0o644); err != nil {
		return nil, err
	}

	dpopJWK := jose.JSONWebKey{Key: dpopKey.Public()}
	jkt, err := dpopJWK.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("development DPoP key thumbprint: %w", err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: authKey, KeyID: authJWK.KeyID}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return nil, fmt.Errorf("development token signer: %w", err)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return nil, err
	}
	sub := "developer"
	if u, err := user.Current(); err == nil && u.Username != "" {
		sub = u.Username
	}
	claims := map[string]any{
		"iss":       m.issuer,
		"sub":       sub,
		"aud":       []string{"signer", "attestor", "stellad"},
		"client_id": "stellactl-dev",
		"scope":     "signer.sign attestor.write attestor.verify stellad.admin",
		"tenant":    tenant,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(devTokenLifetime).Unix(),
		"jti":       hex.EncodeToString(jti[:]),
		"cnf":       map[string]string{"jkt": base64.RawURLEncoding.EncodeToString(jkt)},
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		return nil, fmt.Errorf("signing the development token: %w", err)
	}
	if err := writeFileAtomic(m.tokenFile, []byte(tok), 0o600); err != nil {
		return nil, err
	}
	// An OpenID Connect identity token for the appliance's CA (audience
	// sigstore), for keyless signing with stock cosign:
	// cosign attest-blob --identity-token DATA/dev/id-token ... (no newline at
	// the end of the file: cosign would send it in the header).
	idSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: authKey, KeyID: authJWK.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("development identity token signer: %w", err)
	}
	idTok, err := jwt.Signed(idSigner).Claims(map[string]any{
		"iss": m.issuer, "sub": sub, "aud": "sigstore", "tenant": tenant,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(devTokenLifetime).Unix(),
	}).Serialize()
	if err != nil {
		return nil, fmt.Errorf("signing the development identity token: %w", err)
	}
	m.idTokenFile = filepath.Join(dir, "id-token")
	if err := writeFileAtomic(m.idTokenFile, []byte(idTok), 0o600); err != nil {
		return nil, err
	}
	return m, nil
}

// devKey reads the P-256 key at path, creating it (mode 0600) when missing.
func devKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading development key %s: %w", path, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("development key %s: want a PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("development key %s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("development key %s: want an ECDSA key, got %T", path, k)
	}
	return ek, nil
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// devLicenceID names the licence development mode issues itself.
func devLicenceID(vendor crypto.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(vendor)
	sum := sha256.Sum256(der)
	return "dev-" + hex.EncodeToString(sum[:6])
}
