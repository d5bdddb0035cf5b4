package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/tsa"
)

// sigstoreCommand is the key ceremony of the appliance's Sigstore services:
// it certifies keys that already exist (in the HSM, made with `stellactl key
// generate`) and writes the certificates the daemon is then started with
// (--ca-cert, --tsa-chain). It runs on the appliance, with the daemon
// stopped or running; it never overwrites a file.
func sigstoreCommand() *cli.Command {
	var (
		caKey, tsaKey, tsaRootKey, module, outDir, name string
		validity                                        time.Duration
	)
	return &cli.Command{
		Name:  "sigstore",
		Usage: "key ceremony of the certificate authority and the timestamp authority",
		Subcommands: []*cli.Command{{
			Name:  "init",
			Usage: "make the CA's root certificate and the TSA's certificate chain for existing keys",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "ca-key", Usage: "key `URI` of the certificate authority (pkcs11:... or file:...)", Destination: &caKey},
				&cli.StringFlag{Name: "tsa-key", Usage: "key `URI` of the timestamp authority", Destination: &tsaKey},
				&cli.StringFlag{Name: "tsa-root-key", Usage: "key `URI` of the TSA's root (kept offline after the ceremony)", Destination: &tsaRootKey},
				&cli.StringFlag{Name: "pkcs11-module", Usage: "PKCS#11 module for pkcs11: URIs without module-path", Destination: &module, EnvVars: []string{"STELLAD_PKCS11_MODULE"}},
				&cli.StringFlag{Name: "out-dir", Value: ".", Usage: "`DIR` to write ca.pem and tsa-chain.pem into", Destination: &outDir},
				&cli.StringFlag{Name: "name", Value: "stellad", Usage: "name in the certificates' subjects (e.g. the site)", Destination: &name},
				&cli.DurationFlag{Name: "validity", Value: 10 * 365 * 24 * time.Hour, Usage: "how long the certificates are valid", Destination: &validity},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return configErrorf("sigstore init takes no arguments, got %q", c.Args().Slice())
				}
				if caKey == "" && tsaKey == "" {
					return configErrorf("sigstore init: give --ca-key, --tsa-key (with --tsa-root-key) or both")
				}
				if (tsaKey == "") != (tsaRootKey == "") {
					return configErrorf("sigstore init: --tsa-key and --tsa-root-key go together")
				}
				if validity < 24*time.Hour {
					return configErrorf("--validity %s: want at least a day", validity)
				}
				o := keys.NewOpener(keys.Config{DefaultModule: module})
				defer o.Close()
				now := time.Now()
				open := func(uri string) (keys.Key, error) {
					k, err := o.Open(c.Context, uri)
					if err != nil {
						return nil, fmt.Errorf("opening key %s: %w", uri, err)
					}
					return k, nil
				}
				if caKey != "" {
					k, err := open(caKey)
					if err != nil {
						return err
					}
					crt, err := ca.NewRootCertificate(k, name+" CA", now, validity, rand.Reader)
					if err != nil {
						return fmt.Errorf("certifying the CA key: %w", err)
					}
					if err := writeChain(c, filepath.Join(outDir, "ca.pem"), []*x509.Certificate{crt}); err != nil {
						return err
					}
				}
				if tsaKey != "" {
					leaf, err := open(tsaKey)
					if err != nil {
						return err
					}
					root, err := open(tsaRootKey)
					if err != nil {
						return err
					}
					chain, err := tsa.NewChain(root, leaf, name+" TSA", now, validity, rand.Reader)
					if err != nil {
						return fmt.Errorf("certifying the TSA key: %w", err)
					}
					if err := writeChain(c, filepath.Join(outDir, "tsa-chain.pem"), chain); err != nil {
						return err
					}
				}
				return nil
			},
		}},
	}
}

// writeChain writes chain as PEM to a new file (never over an existing one)
// and says what it wrote.
func writeChain(c *cli.Context, path string, chain []*x509.Certificate) error {
	var b []byte
	for _, crt := range chain {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: crt.Raw})...)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return configErrorf("%s exists: the ceremony never replaces a certificate (a new one is a rotation: see docs/sigstore.md)", path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(c.App.Writer, "%s: %s, valid %s to %s\n", path, chain[0].Subject.CommonName,
		chain[0].NotBefore.UTC().Format(time.RFC3339), chain[0].NotAfter.UTC().Format(time.RFC3339))
	return nil
}
