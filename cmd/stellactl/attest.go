package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/client"
	"github.com/stellaops/stellad/kit/verify"
	"github.com/urfave/cli/v2"
)

func attestCommand() *cli.Command {
	return &cli.Command{
		Name:  "attest",
		Usage: "sign, verify, list and fetch attestations",
		Subcommands: []*cli.Command{
			{
				Name:      "sign",
				Usage:     "sign an in-toto statement through stellad and write its bundle",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "predicate-type", Usage: "predicate type `URI`"},
					&cli.StringFlag{Name: "predicate", Usage: "predicate JSON `FILE`"},
					&cli.StringSliceFlag{Name: "subject", Usage: "subject `FILE` (repeatable; digest = SHA-256, name = base name)"},
					&cli.StringFlag{Name: "statement", Usage: "complete in-toto statement `FILE` (instead of --predicate-type/--predicate/--subject)"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "bundle `FILE` to write"},
					scannerDigestFlag(),
				},
				Action: attestSign,
			},
			{
				Name:      "verify",
				Usage:     "verify a bundle offline against a trusted root and a key",
				ArgsUsage: "SUBJECT_FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "bundle", Usage: "Sigstore bundle `FILE`"},
					&cli.StringFlag{Name: "trusted-root", Usage: "trusted_root.json `FILE`"},
					&cli.StringFlag{Name: "key", Usage: "signer public key PEM `FILE`"},
					&cli.StringFlag{Name: "predicate-type", Usage: "required predicate type `URI`"},
					&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
				},
				Action: attestVerify,
			},
			{
				Name:      "list",
				Usage:     "list logged attestations",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "predicate-type", Usage: "only this predicate type `URI`"},
					&cli.StringFlag{Name: "subject", Usage: "only this subject: a `FILE` or sha256:HEX"},
					&cli.IntFlag{Name: "limit", Usage: "at most `N` entries", Value: 100},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: attestList,
			},
			{
				Name:      "fetch",
				Usage:     "fetch the bundle of a log entry",
				ArgsUsage: "UUID",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "bundle `FILE` to write"},
				},
				Action: attestFetch,
			},
		},
	}
}

// oneArg returns the single positional argument named what.
func oneArg(c *cli.Context, what string) (string, error) {
	switch c.NArg() {
	case 1:
		return c.Args().First(), nil
	case 0:
		return "", usageErrorf("%s: missing %s argument", cmdName(c), what)
	default:
		return "", usageErrorf("%s: want one %s argument, got %d (%s); flags go before arguments",
			cmdName(c), what, c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
}

func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q; flags go before arguments", cmdName(c), c.Args().First())
	}
	return nil
}

// subjectsFromFiles hashes each file: digest = SHA-256, name = base name.
func subjectsFromFiles(paths []string) ([]apitype.Subject, error) {
	subjects := make([]apitype.Subject, 0, len(paths))
	for _, p := range paths {
		sum, err := sha256File("--subject", p)
		if err != nil {
			return nil, err
		}
		subjects = append(subjects, apitype.Subject{Name: filepath.Base(p), Digest: map[string]string{"sha256": hex.EncodeToString(sum)}})
	}
	return subjects, nil
}

func attestSign(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "output"); err != nil {
		return err
	}
	var req apitype.SignRequest
	if c.IsSet("statement") {
		for _, f := range []string{"predicate-type", "predicate", "subject"} {
			if c.IsSet(f) {
				return usageErrorf("attest sign: --statement and --%s exclude each other", f)
			}
		}
		st, err := readJSONFile("--statement", c.String("statement"))
		if err != nil {
			return err
		}
		if t := bytes.TrimSpace(st); len(t) == 0 || t[0] != '{' {
			return usageErrorf("--statement: %s is not a JSON object", c.String("statement"))
		}
		req.Statement = st
	} else {
		if err := requireFlags(c, "predicate-type", "predicate", "subject"); err != nil {
			return err
		}
		pred, err := readJSONFile("--predicate", c.String("predicate"))
		if err != nil {
			return err
		}
		subjects, err := subjectsFromFiles(c.StringSlice("subject"))
		if err != nil {
			return err
		}
		req = apitype.SignRequest{Subjects: subjects, PredicateType: c.String("predicate-type"), Predicate: pred}
	}
	return signAndWrite(c, req)
}

// signAndWrite sends req, writes the bundle verbatim (0644, atomically) to
// --output and prints the uuid and log index.
func signAndWrite(c *cli.Context, req apitype.SignRequest) error {
	req.ScannerDigest = c.String("scanner-digest")
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	resp, err := cl.Sign(c.Context, req)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	if len(resp.Bundle) == 0 {
		return fmt.Errorf("signing: %s answered without a bundle (uuid %s)", cl.BaseURL(), resp.UUID)
	}
	out := c.String("output")
	if err := writeFileAtomic("--output", out, resp.Bundle, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "uuid: %s\nlog index: %d\nbundle: %s\n", resp.UUID, resp.LogIndex, out)
	return nil
}

func attestVerify(c *cli.Context) error {
	subject, err := oneArg(c, "SUBJECT_FILE")
	if err != nil {
		return err
	}
	if err := requireFlags(c, "bundle", "trusted-root"); err != nil {
		return err
	}
	bundle, err := readFile("--bundle", c.String("bundle"))
	if err != nil {
		return err
	}
	root, err := readFile("--trusted-root", c.String("trusted-root"))
	if err != nil {
		return err
	}
	opts := verify.Options{TrustedRoot: root, PredicateType: c.String("predicate-type")}
	if c.IsSet("key") {
		pem, err := readFile("--key", c.String("key"))
		if err != nil {
			return err
		}
		if opts.Key, err = parsePublicKeyPEM("--key "+c.String("key"), pem); err != nil {
			return err
		}
	}
	if opts.ArtifactDigest, err = sha256File("SUBJECT_FILE", subject); err != nil {
		return err
	}
	res, err := verify.Verify(bundle, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", c.String("bundle"), err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	printVerified(c.App.Writer, res)
	return nil
}

func printVerified(w io.Writer, res *verify.Result) {
	fmt.Fprintf(w, "Verified OK\npredicate type: %s\n", res.PredicateType)
	for _, s := range res.Subjects {
		fmt.Fprintf(w, "subject: %s sha256:%s\n", s.Name, s.Digest["sha256"])
	}
	fmt.Fprintf(w, "log index: %d\ntree size: %d\nlog origin: %s\nlog id: %s\nkey id: %s\n",
		res.LogIndex, res.TreeSize, res.LogOrigin, res.LogID, res.KeyID)
}

// subjectFilter turns --subject (a file or sha256:HEX) into sha256:HEX.
func subjectFilter(v string) (string, error) {
	if h, ok := strings.CutPrefix(v, "sha256:"); ok {
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			return "", usageErrorf("--subject: %q is not sha256: and 64 hex digits", v)
		}
		return "sha256:" + strings.ToLower(h), nil
	}
	sum, err := sha256File("--subject", v)
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(sum), nil
}

func attestList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	limit := c.Int("limit")
	if limit < 1 {
		return usageErrorf("--limit: %d is not a positive number", limit)
	}
	opts := client.ListOptions{PredicateType: c.String("predicate-type")}
	if c.IsSet("subject") {
		s, err := subjectFilter(c.String("subject"))
		if err != nil {
			return err
		}
		opts.Subject = s
	}
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	all := apitype.EntryList{Entries: []apitype.EntrySummary{}}
	for len(all.Entries) < limit {
		opts.Limit = limit - len(all.Entries)
		page, err := cl.ListEntries(c.Context, opts)
		if err != nil {
			return fmt.Errorf("listing entries: %w", err)
		}
		all.Entries = append(all.Entries, page.Entries...)
		all.Next = page.Next
		if page.Next == nil || len(page.Entries) == 0 {
			break
		}
		opts.After = page.Next
	}
	if len(all.Entries) > limit {
		all.Entries = all.Entries[:limit]
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, all)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tUUID\tPREDICATE TYPE\tSUBJECTS\tCREATED")
	for _, e := range all.Entries {
		names := make([]string, 0, len(e.Subjects))
		for _, s := range e.Subjects {
			names = append(names, s.Name)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Index, e.UUID, e.PredicateType, strings.Join(names, ","), e.CreatedAt)
	}
	return tw.Flush()
}

func attestFetch(c *cli.Context) error {
	uuid, err := oneArg(c, "UUID")
	if err != nil {
		return err
	}
	if err := requireFlags(c, "output"); err != nil {
		return err
	}
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	e, err := cl.GetEntry(c.Context, uuid)
	if err != nil {
		return fmt.Errorf("fetching entry %s: %w", uuid, err)
	}
	if len(e.Bundle) == 0 || !json.Valid(e.Bundle) {
		return fmt.Errorf("fetching entry %s: %s answered without a bundle", uuid, cl.BaseURL())
	}
	if err := writeFileAtomic("--output", c.String("output"), e.Bundle, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "uuid: %s\nlog index: %d\nbundle: %s\n", e.UUID, e.Index, c.String("output"))
	return nil
}

// scannerDigestFlag names the scanner image whose output is signed: SBOMs and
// scan reports are signed only for trusted scanner releases.
func scannerDigestFlag() cli.Flag {
	return &cli.StringFlag{Name: "scanner-digest", Usage: "`sha256:HEX` digest of the scanner image that produced the SBOM or report", EnvVars: []string{"STELLAD_SCANNER_DIGEST"}}
}
