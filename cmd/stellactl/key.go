package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/keys"
	"github.com/urfave/cli/v2"
)

func keyCommand() *cli.Command {
	localFlags := func(uriUsage string) []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "uri", Usage: uriUsage},
			&cli.StringFlag{Name: "module", Usage: "PKCS#11 module `PATH` for pkcs11: URIs without module-path", EnvVars: []string{"STELLAD_PKCS11_MODULE"}},
			&cli.BoolFlag{Name: "allow-pin-value", Usage: "accept pin-value in pkcs11: URIs (development only)"},
		}
	}
	return &cli.Command{
		Name:  "key",
		Usage: "generate, list and export keys",
		Subcommands: []*cli.Command{
			{
				Name:      "generate",
				Usage:     "generate an ECDSA P-256 key in a file or an HSM token (runs locally)",
				ArgsUsage: " ",
				Flags: append(localFlags("key `URI` to create: file:PATH or pkcs11:token=...;object=..."),
					&cli.StringFlag{Name: "public-out", Usage: "write the public key PEM to `FILE`"}),
				Action: keyGenerate,
			},
			{
				Name:      "list",
				Usage:     "list stellad's keys, or with --uri a local keystore (file:DIR or pkcs11:token=...)",
				ArgsUsage: " ",
				Flags:     append(localFlags("local keystore `URI`"), &cli.BoolFlag{Name: "json", Usage: "print JSON"}),
				Action:    keyList,
			},
			{
				Name:      "public",
				Usage:     "export a public key: stellad's (by --purpose) or, with --uri, a local key's",
				ArgsUsage: " ",
				Flags: append(localFlags("local key `URI`"),
					&cli.StringFlag{Name: "purpose", Usage: "dsse or checkpoint (daemon keys)", Value: "dsse"},
					&cli.StringFlag{Name: "key-id", Usage: "choose among several daemon keys of the purpose by hex `ID`"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "`FILE` to write (default: stdout)"}),
				Action: keyPublic,
			},
		},
	}
}

// opener returns an internal/keys Opener configured from the local flags.
func opener(c *cli.Context) *keys.Opener {
	return keys.NewOpener(keys.Config{DefaultModule: c.String("module"), Development: c.Bool("allow-pin-value")})
}

func checkKeyURI(uri string) error {
	if !strings.HasPrefix(uri, "file:") && !strings.HasPrefix(strings.ToLower(uri), "pkcs11:") {
		return usageErrorf("--uri: %q is not a file: or pkcs11: URI", uri)
	}
	return nil
}

func keyGenerate(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "uri"); err != nil {
		return err
	}
	uri := c.String("uri")
	if err := checkKeyURI(uri); err != nil {
		return err
	}
	o := opener(c)
	defer o.Close()
	k, err := o.Generate(c.Context, uri)
	if err != nil {
		return fmt.Errorf("generating key %s: %w", redactURI(uri), err)
	}
	pemBytes, err := publicKeyPEM(k.Public())
	if err != nil {
		return err
	}
	if c.IsSet("public-out") {
		if err := writeFileAtomic("--public-out", c.String("public-out"), pemBytes, 0o644); err != nil {
			return err
		}
	}
	id, err := keyID(k.Public())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "uri: %s\nkey id: %s\n", k.URI(), id)
	if c.IsSet("public-out") {
		fmt.Fprintf(c.App.Writer, "public key: %s\n", c.String("public-out"))
	}
	return nil
}

func keyList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	w := c.App.Writer
	if c.IsSet("uri") {
		uri := c.String("uri")
		if err := checkKeyURI(uri); err != nil {
			return err
		}
		o := opener(c)
		defer o.Close()
		infos, err := o.List(c.Context, uri)
		if err != nil {
			return fmt.Errorf("listing keys at %s: %w", redactURI(uri), err)
		}
		if c.Bool("json") {
			return printJSON(w, infos)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "URI\tKEY ID\tALGORITHM")
		for _, k := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.URI, k.KeyID, k.Algorithm)
		}
		return tw.Flush()
	}
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	kl, err := cl.Keys(c.Context)
	if err != nil {
		return fmt.Errorf("listing keys: %w", err)
	}
	if c.Bool("json") {
		return printJSON(w, kl)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PURPOSE\tURI\tKEY ID\tALGORITHM")
	for _, k := range kl.Keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Purpose, k.URI, k.KeyID, k.Algorithm)
	}
	return tw.Flush()
}

func keyPublic(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	var pemBytes []byte
	if c.IsSet("uri") {
		uri := c.String("uri")
		if err := checkKeyURI(uri); err != nil {
			return err
		}
		o := opener(c)
		defer o.Close()
		k, err := o.Open(c.Context, uri)
		if err != nil {
			return fmt.Errorf("opening key %s: %w", redactURI(uri), err)
		}
		if pemBytes, err = publicKeyPEM(k.Public()); err != nil {
			return err
		}
	} else {
		cl, err := daemonClient(c)
		if err != nil {
			return err
		}
		kl, err := cl.Keys(c.Context)
		if err != nil {
			return fmt.Errorf("listing keys: %w", err)
		}
		k, err := pickKey(kl.Keys, c.String("purpose"), c.String("key-id"))
		if err != nil {
			return err
		}
		pub, err := parsePublicKeyPEM("stellad key "+k.KeyID, []byte(k.PublicKeyPEM))
		if err != nil {
			return fmt.Errorf("stellad's key list: %v", err) // the daemon's answer is bad: internal
		}
		if pemBytes, err = publicKeyPEM(pub); err != nil {
			return err
		}
	}
	if !c.IsSet("output") {
		_, err := c.App.Writer.Write(pemBytes)
		return err
	}
	return writeFileAtomic("--output", c.String("output"), pemBytes, 0o644)
}

// pickKey chooses the daemon key of purpose (and id, when given).
func pickKey(all []apitype.Key, purpose, id string) (*apitype.Key, error) {
	var match []apitype.Key
	for _, k := range all {
		if k.Purpose == purpose && (id == "" || strings.EqualFold(k.KeyID, id)) {
			match = append(match, k)
		}
	}
	switch len(match) {
	case 1:
		return &match[0], nil
	case 0:
		if id != "" {
			return nil, usageErrorf("--key-id: stellad has no %s key with id %s", purpose, id)
		}
		return nil, usageErrorf("--purpose: stellad has no %s key", purpose)
	default:
		ids := make([]string, len(match))
		for i, k := range match {
			ids[i] = k.KeyID
		}
		return nil, usageErrorf("--purpose: stellad has %d %s keys (%s); pass --key-id", len(match), purpose, strings.Join(ids, ", "))
	}
}

func keyID(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// redactURI drops any pin-value attribute from a pkcs11 URI before it is shown.
func redactURI(uri string) string {
	if !strings.HasPrefix(strings.ToLower(uri), "pkcs11:") {
		return uri
	}
	path, query, hasQuery := strings.Cut(uri, "?")
	var kept []string
	for _, a := range strings.Split(query, "&") {
		if !strings.HasPrefix(a, "pin-value=") {
			kept = append(kept, a)
		}
	}
	if !hasQuery {
		return path
	}
	return path + "?" + strings.Join(kept, "&")
}
