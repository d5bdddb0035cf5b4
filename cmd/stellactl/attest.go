package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/client"
	"github.com/stellaops/stellad/kit"
	"github.com/stellaops/stellad/kit/verify"
	"github.com/stellaops/stellad/kit/witness"
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
					scannerDigestFlag(), keylessFlag(),
				},
				Action: attestSign,
			},
			{
				Name:      "verify",
				Usage:     "verify a bundle offline against a trusted root and a key or a certificate identity, and its checkpoint against witnessed mirrored checkpoints",
				ArgsUsage: "SUBJECT_FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "bundle", Usage: "Sigstore bundle `FILE`"},
					&cli.StringFlag{Name: "trusted-root", Usage: "trusted_root.json `FILE` (default with --kit: the kit's trust/trusted_root.json)"},
					&cli.StringFlag{Name: "key", Usage: "signer public key PEM `FILE` (key-based bundles)"},
					&cli.StringFlag{Name: "certificate-identity", Usage: "`IDENTITY` the certificate's subject alternative name must equal (certificate bundles)"},
					&cli.StringFlag{Name: "certificate-oidc-issuer", Usage: "`ISSUER` the certificate's OIDC issuer extension must equal (certificate bundles)"},
					&cli.StringFlag{Name: "predicate-type", Usage: "required predicate type `URI`"},
					&cli.StringFlag{Name: "kit", Usage: "Offline Kit `FILE` carrying mirrored checkpoints, tiles, trusted root and witness policy (verified offline first)"},
					&cli.GenericFlag{Name: "kit-key", Value: &multiFlag{}, Usage: "trusted kit public key PEM `FILE` for --kit (repeatable)"},
					&cli.IntFlag{Name: "kit-threshold", Usage: "`K` distinct --kit-key keys must have signed the kit", Value: 1},
					&cli.StringFlag{Name: "mirror", Usage: "C2SP tlog-tiles `URL` of a mirror of the bundle's log, e.g. https://APPLIANCE/api/v2/mirror/ORIGIN"},
					&cli.StringFlag{Name: "witness-policy", Usage: "witness policy `FILE` (C2SP tlog-policy; default with --kit: the kit's trust/witness-policy)"},
					&cli.StringFlag{Name: "witnessed", Usage: "`require`, warn or off: a checkpoint not tied to a witnessed mirrored one fails, warns or is not checked (default: warn with --kit or --mirror, else off)"},
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
	req.Keyless = c.Bool("keyless")
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
	if err := requireFlags(c, "bundle"); err != nil {
		return err
	}
	mode := c.String("witnessed")
	switch mode {
	case "":
		mode = "off"
		if c.IsSet("kit") || c.IsSet("mirror") {
			mode = "warn"
		}
	case "require", "warn", "off":
		if mode != "off" && !c.IsSet("kit") && !c.IsSet("mirror") {
			return usageErrorf("--witnessed %s: give the mirrored checkpoints with --kit or --mirror", mode)
		}
	default:
		return usageErrorf("--witnessed: %q, want require, warn or off", mode)
	}
	bundle, err := readFile("--bundle", c.String("bundle"))
	if err != nil {
		return err
	}
	keyless := bundleHasCertificate(bundle)
	if keyless {
		if c.IsSet("key") {
			return usageErrorf("--key: %s carries a certificate (keyless), not a key hint; verify it with --certificate-identity and --certificate-oidc-issuer", c.String("bundle"))
		}
		if err := requireFlags(c, "certificate-identity", "certificate-oidc-issuer"); err != nil {
			return usageErrorf("%v: %s carries a certificate (keyless)", err, c.String("bundle"))
		}
	} else {
		for _, f := range []string{"certificate-identity", "certificate-oidc-issuer"} {
			if c.IsSet(f) {
				return usageErrorf("--%s: %s carries no certificate (a key-based bundle); verify it with --key", f, c.String("bundle"))
			}
		}
	}
	var mat *mirrorMaterial
	if c.IsSet("kit") {
		if mat, err = readKitMirrors(c); err != nil {
			return err
		}
	} else {
		mat = &mirrorMaterial{}
	}
	root := mat.trustedRoot
	if c.IsSet("trusted-root") || root == nil {
		if err := requireFlags(c, "trusted-root"); err != nil {
			return usageErrorf("%v (or --kit carrying %s)", err, verify.KitTrustedRootPath)
		}
		if root, err = readFile("--trusted-root", c.String("trusted-root")); err != nil {
			return err
		}
	}
	digest, err := sha256File("SUBJECT_FILE", subject)
	if err != nil {
		return err
	}
	var (
		res  *verify.Result
		cert *certIdentity
	)
	if keyless {
		res, cert, err = verifyCertBundle(bundle, certVerifyOptions{TrustedRoot: root, Identity: c.String("certificate-identity"),
			Issuer: c.String("certificate-oidc-issuer"), PredicateType: c.String("predicate-type"), ArtifactDigest: digest})
	} else {
		opts := verify.Options{TrustedRoot: root, PredicateType: c.String("predicate-type"), ArtifactDigest: digest}
		if c.IsSet("key") {
			pem, err := readFile("--key", c.String("key"))
			if err != nil {
				return err
			}
			if opts.Key, err = parsePublicKeyPEM("--key "+c.String("key"), pem); err != nil {
				return err
			}
		}
		res, err = verify.Verify(bundle, opts)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.String("bundle"), err)
	}
	out := attestVerifyResult{Result: res, WitnessedMode: mode}
	if mode != "off" {
		if c.IsSet("witness-policy") {
			b, err := readFile("--witness-policy", c.String("witness-policy"))
			if err != nil {
				return err
			}
			if mat.policy, err = witness.ParsePolicy(b); err != nil {
				return usageErrorf("--witness-policy %s: %v", c.String("witness-policy"), err)
			}
		}
		if c.IsSet("mirror") {
			m, err := fetchMirror(c)
			if err != nil {
				return err
			}
			mat.mirrors = append(mat.mirrors, *m)
		}
		w, werr := verify.VerifyWitnessed(c.Context, res, verify.WitnessOptions{TrustedRoot: root, Policy: mat.policy, Mirrors: mat.mirrors})
		switch {
		case werr == nil:
			out.Witnessed = w
		case errors.Is(werr, verify.ErrNotWitnessed) && mode == "warn":
			out.Warning = werr.Error()
			fmt.Fprintf(c.App.ErrWriter, "warning: %s: %v\n", c.String("bundle"), werr)
		case errors.Is(werr, verify.ErrNotWitnessed):
			return fmt.Errorf("%s: %w: %w", c.String("bundle"), errVerifyFailed, werr)
		default:
			return fmt.Errorf("%s: %w", c.String("bundle"), werr)
		}
	}
	if c.Bool("json") {
		if cert != nil {
			return printJSON(c.App.Writer, struct {
				attestVerifyResult
				*certIdentity
			}{out, cert})
		}
		return printJSON(c.App.Writer, out)
	}
	printVerified(c.App.Writer, res)
	if cert != nil {
		printCertIdentity(c.App.Writer, cert)
	}
	if out.Witnessed != nil {
		w := out.Witnessed
		names := make([]string, len(w.Cosigners))
		for i, cs := range w.Cosigners {
			names[i] = cs.Witness
		}
		fmt.Fprintf(c.App.Writer, "witnessed: mirrored checkpoint of size %d (%s), cosigned by %s\n", w.MirroredSize, w.Method, orNone(names))
	} else if out.Warning != "" {
		fmt.Fprintf(c.App.Writer, "witnessed: NO (%s)\n", out.Warning)
	}
	return nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no witness (quorum none)"
	}
	return strings.Join(names, ", ")
}

// attestVerifyResult is attest verify's JSON output: the bundle's result,
// and how its checkpoint relates to the witnessed mirrored ones.
type attestVerifyResult struct {
	*verify.Result
	// WitnessedMode is require, warn or off.
	WitnessedMode string `json:"witnessedMode"`
	// Witnessed is set when the checkpoint was tied to a witnessed
	// mirrored checkpoint.
	Witnessed *verify.Witnessed `json:"witnessed,omitempty"`
	// Warning says why not, under --witnessed warn.
	Warning string `json:"warning,omitempty"`
}

// mirrorMaterial is what --kit supplied.
type mirrorMaterial struct {
	trustedRoot []byte
	policy      *witness.Policy
	mirrors     []verify.MirroredLog
}

// readKitMirrors verifies --kit offline with --kit-key and --kit-threshold
// (every hash, the k-of-n signature, the end of the archive) and returns its
// trusted root, witness policy and mirrored logs.
func readKitMirrors(c *cli.Context) (*mirrorMaterial, error) {
	if err := requireFlags(c, "kit-key"); err != nil {
		return nil, err
	}
	var pubs []crypto.PublicKey
	for _, f := range multi(c, "kit-key") {
		b, err := readFile("--kit-key", f)
		if err != nil {
			return nil, err
		}
		pub, err := parsePublicKeyPEM("--kit-key "+f, b)
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, pub)
	}
	k := c.Int("kit-threshold")
	if k < 1 || k > len(pubs) {
		return nil, usageErrorf("--kit-threshold: %d, want 1 to the number of --kit-key (%d)", k, len(pubs))
	}
	path := c.String("kit")
	file, err := os.Open(path)
	if err != nil {
		return nil, badInput(fmt.Errorf("--kit: %w", err))
	}
	defer file.Close()
	rd, err := kit.NewReader(file, kit.VerifyOptions{Keys: pubs, Threshold: k})
	if err != nil {
		return nil, fmt.Errorf("--kit %s: %w: %v", path, errVerifyFailed, err)
	}
	files := map[string][]byte{}
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--kit %s: %w: %v", path, errVerifyFailed, err)
		}
		if f.Path == verify.KitTrustedRootPath || f.Path == verify.KitPolicyPath ||
			strings.HasPrefix(f.Path, verify.KitCheckpointsRoot) || strings.HasPrefix(f.Path, verify.KitTilesRoot) {
			b, err := io.ReadAll(rd)
			if err != nil {
				return nil, fmt.Errorf("--kit %s: %w: %v", path, errVerifyFailed, err)
			}
			files[f.Path] = b
		}
	}
	m := &mirrorMaterial{trustedRoot: files[verify.KitTrustedRootPath]}
	if b, ok := files[verify.KitPolicyPath]; ok {
		if m.policy, err = witness.ParsePolicy(b); err != nil {
			return nil, badInput(fmt.Errorf("--kit %s: %s: %w", path, verify.KitPolicyPath, err))
		}
	}
	if m.mirrors, err = verify.KitMirrors(files); err != nil {
		return nil, fmt.Errorf("--kit %s: %w", path, err)
	}
	return m, nil
}

// fetchMirror reads --mirror's checkpoint now and returns a mirrored log
// whose tiles are fetched from it on demand. The mirror is only a
// transport: its checkpoint is verified against the trusted root and the
// witness policy, and its tiles against that checkpoint.
func fetchMirror(c *cli.Context) (*verify.MirroredLog, error) {
	base, err := url.Parse(strings.TrimSuffix(c.String("mirror"), "/") + "/")
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, usageErrorf("--mirror: %q is not an http(s) URL", c.String("mirror"))
	}
	rt, err := transportFor(c, nil)
	if err != nil {
		return nil, err
	}
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hm := &httpMirror{base: base, hc: &http.Client{Transport: rt, Timeout: timeout}}
	cp, err := hm.get(c.Context, "checkpoint", witness.MaxNoteSize)
	if err != nil {
		return nil, err
	}
	return &verify.MirroredLog{Checkpoint: cp, Tiles: hm}, nil
}

// httpMirror reads a C2SP tlog-tiles mirror over HTTP.
type httpMirror struct {
	base *url.URL
	hc   *http.Client
}

// ReadTile implements verify.TileReader.
func (h *httpMirror) ReadTile(ctx context.Context, level, index uint64, width uint8) ([]byte, error) {
	return h.get(ctx, verify.TilePath(level, index, width), 256*32)
}

func (h *httpMirror) get(ctx context.Context, p string, max int64) ([]byte, error) {
	u := h.base.JoinPath(p).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, badInput(fmt.Errorf("--mirror: %w", err))
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--mirror: %w: %v", client.ErrUnreachable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("--mirror: %s: %w", u, fs.ErrNotExist)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("--mirror: GET %s: %s", u, resp.Status)
	case err != nil:
		return nil, fmt.Errorf("--mirror: GET %s: %w", u, err)
	case int64(len(b)) > max:
		return nil, fmt.Errorf("--mirror: GET %s: more than %d bytes", u, max)
	}
	return b, nil
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
