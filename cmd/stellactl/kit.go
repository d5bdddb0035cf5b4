package main

// stellactl kit: the Offline Kit commands. build and verify run locally and
// never talk to stellad; export, import and status are the daemon side.
//
// Exit codes of kit verify: 0 the kit verified (and every checkpoint covered
// by the witness policy met it); 1 the kit is not acceptable, whatever the
// reason found in the file named KIT: not a kit at all (wrong gzip header),
// framing, path, entry type, limit, signature, digest, a witness policy in
// the kit that does not parse, or a checkpoint below the policy. Everything
// read from the kit is treated alike on purpose: a kit is attacker-supplied
// input, and a script must never be able to mistake a hostile kit for an
// operator's typo and retry it. 2 is kept for what the operator wrote: flags,
// arguments, a KIT path or key file that cannot be read, a bad --kit-key PEM,
// a --threshold out of range, a --witness-policy file that does not parse.

import (
	"bufio"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/kit"
	"github.com/stellaops/stellad/kit/witness"
)

// kitCommand is the "kit" command group.
func kitCommand() *cli.Command {
	return &cli.Command{
		Name:  "kit",
		Usage: "build, verify, export and import Offline Kits",
		Subcommands: append([]*cli.Command{
			// Local, offline subcommands: no daemon involved.
			kitBuildCommand(),
			kitVerifyCommand(),
		}, kitDaemonCommands()...),
	}
}

// kitRoots are the content roots of a kit, in the order summaries list them.
var kitRoots = [...]string{kit.RootTrust, kit.RootCheckpoints, kit.RootAttestations, kit.RootEntitlements, kit.RootTiles}

// multiFlag is a repeatable string flag that, unlike cli.StringSliceFlag,
// never splits a value on commas (file names and pkcs11 URIs may hold them).
type multiFlag struct{ values []string }

// Set appends one value.
func (m *multiFlag) Set(v string) error { m.values = append(m.values, v); return nil }

// String joins the values for help output.
func (m *multiFlag) String() string { return strings.Join(m.values, " ") }

// multi returns the values of a multiFlag, in command-line order.
func multi(c *cli.Context, name string) []string {
	if m, ok := c.Generic(name).(*multiFlag); ok && m != nil {
		return m.values
	}
	return nil
}

func kitBuildCommand() *cli.Command {
	return &cli.Command{
		Name:  "build",
		Usage: "assemble and sign a kit from a directory laid out like one (runs locally)",
		Description: "Every regular file under DIR/trust, checkpoints, attestations, entitlements and tiles is added, with\n" +
			"a media type guessed from its path. Symbolic links, other special files and anything else in DIR\n" +
			"are refused. The manifest is signed by every --key and --key-file, in that order. With the same\n" +
			"files, flags and Ed25519 (or RSA) keys the kit is byte-identical; ECDSA signatures are randomised.\n" +
			"--key takes file: (ECDSA P-256, internal/keys) or pkcs11: URIs; --key-file takes any PKCS#8 PEM\n" +
			"private key, which is how Ed25519 kit keys are used: file: URIs hold ECDSA P-256 keys only.",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "`DIR` holding trust/, checkpoints/, attestations/, entitlements/, tiles/"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "kit `FILE` to write (atomically)"},
			&cli.GenericFlag{Name: "key", Value: &multiFlag{}, Usage: "kit signing key `URI`, file: or pkcs11: (repeatable)"},
			&cli.GenericFlag{Name: "key-file", Value: &multiFlag{}, Usage: "kit signing key as a PKCS#8 PEM `FILE`, e.g. Ed25519 (repeatable)"},
			&cli.StringFlag{Name: "module", Usage: "PKCS#11 module `PATH` for pkcs11: URIs without module-path", EnvVars: []string{"STELLAD_PKCS11_MODULE"}},
			&cli.BoolFlag{Name: "allow-pin-value", Usage: "accept pin-value in pkcs11: URIs (development only)"},
			&cli.StringFlag{Name: "source", Usage: "issuer `NAME` written in the manifest (default: the host name)"},
			&cli.Uint64Flag{Name: "sequence", Usage: "sequence `N`; importers refuse one not above the last accepted from --source"},
			&cli.StringFlag{Name: "kind", Usage: "manifest `KIND`, [a-z][a-z0-9-]{0,63}", Value: kit.KindBuild},
			&cli.StringFlag{Name: "mtime", Usage: "modification `TIME` of every entry: Unix seconds or RFC 3339 (default: the epoch)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: kitBuild,
	}
}

func kitVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "verify a kit offline: signatures, digests, limits and witness cosignatures",
		Description: "Exit 0: verified. Exit 1: the kit is refused (any problem found in KIT, including a file that is not\n" +
			"a kit, and checkpoints below the witness policy). Exit 2: the command line or a file it names is wrong.\n" +
			"The witness policy is --witness-policy, else the one the kit carries under trust/; a checkpoint whose\n" +
			"origin the policy lists as a log must satisfy its quorum; other checkpoints are reported only.",
		ArgsUsage: "KIT",
		Flags: []cli.Flag{
			&cli.GenericFlag{Name: "kit-key", Value: &multiFlag{}, Usage: "trusted kit public key PEM `FILE` (repeatable)"},
			&cli.IntFlag{Name: "threshold", Usage: "`K` distinct trusted keys must have signed (k of n)", Value: 1},
			&cli.StringFlag{Name: "witness-policy", Usage: "witness policy `FILE` (C2SP tlog-policy form) instead of the kit's"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: kitVerify,
	}
}

// kitMediaType guesses the media type of the content file at p (a valid kit
// path): by root, then by name. Unknown files get application/octet-stream.
func kitMediaType(p string) string {
	root, _, _ := strings.Cut(p, "/")
	base := strings.ToLower(path.Base(p))
	ext := path.Ext(base)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(base, w) {
				return true
			}
		}
		return false
	}
	switch root {
	case kit.RootTiles:
		return kit.MediaTypeTile
	case kit.RootCheckpoints:
		switch {
		case ext == ".cosig" || ext == ".cosignature" || has("cosignature"):
			return kit.MediaTypeCosignature
		case ext == ".json" && has("consistency", "proof"):
			return kit.MediaTypeConsistencyProof
		case base == "checkpoint" || ext == ".checkpoint" || ext == ".note" || ext == ".cp" || ext == ".txt" && has("checkpoint"):
			return kit.MediaTypeCheckpoint
		}
	case kit.RootAttestations:
		if ext == ".json" || ext == ".bundle" || strings.HasSuffix(base, ".sigstore") {
			return kit.MediaTypeBundle
		}
	case kit.RootEntitlements:
		switch {
		case ext == ".json" && has("audit"):
			return kit.MediaTypeAuditHead
		case ext == ".jwt" || ext == ".licence" || ext == ".license" || ext == ".lic":
			return kit.MediaTypeLicence
		}
	case kit.RootTrust:
		switch {
		case has("witness-policy", "witness_policy") || ext == ".policy":
			return kit.MediaTypeWitnessPolicy
		case ext == ".json" && has("trusted_root", "trusted-root", "trustedroot"):
			return kit.MediaTypeTrustedRoot
		case ext == ".json" && has("signing_config", "signing-config", "signingconfig"):
			return kit.MediaTypeSigningConfig
		case ext == ".jwks" || ext == ".json" && has("jwks", "authorities"):
			// trust/authorities.json carries the Authorities' JWKS.
			return kit.MediaTypeJWKS
		case ext == ".json" && has("revocation"):
			return kit.MediaTypeRevocations
		case ext == ".pem" || ext == ".pub":
			return kit.MediaTypePublicKey
		}
	}
	return "application/octet-stream"
}

// kitInput is one content file found under --from.
type kitInput struct {
	path string // kit path, ROOT/...
	file string // path on disk
	info fs.FileInfo
}

// maxListedProblems bounds how many refused files one error names.
const maxListedProblems = 20

// scanKitDir lists the content files under dir. Files outside the roots,
// symbolic links, special files and paths a kit cannot hold are refused, all
// named in one bad-input error.
func scanKitDir(dir string) ([]kitInput, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, badInput(fmt.Errorf("--from: %w", err))
	}
	if !st.IsDir() {
		return nil, usageErrorf("--from: %s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, badInput(fmt.Errorf("--from: %w", err))
	}
	var problems []string
	refuse := func(p, why string) { problems = append(problems, p+": "+why) }
	var inputs []kitInput
	for _, e := range entries {
		name := e.Name()
		isRoot := false
		for _, r := range kitRoots {
			isRoot = isRoot || name == r
		}
		switch {
		case !isRoot:
			refuse(name, "outside the kit roots ("+strings.Join(kitRoots[:], "/, ")+"/)")
			continue
		case e.Type()&fs.ModeSymlink != 0:
			refuse(name, "symbolic link")
			continue
		case !e.IsDir():
			refuse(name, "not a directory")
			continue
		}
		err := filepath.WalkDir(filepath.Join(dir, name), func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, file)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			switch t := d.Type(); {
			case t&fs.ModeSymlink != 0:
				refuse(rel, "symbolic link")
				return nil
			case d.IsDir():
				return nil
			case !t.IsRegular():
				refuse(rel, "not a regular file ("+t.String()+")")
				return nil
			}
			if err := kit.ValidatePath(rel); err != nil {
				refuse(rel, "cannot be a kit path: "+err.Error())
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			inputs = append(inputs, kitInput{path: rel, file: file, info: info})
			return nil
		})
		if err != nil {
			return nil, badInput(fmt.Errorf("--from: %w", err))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		more := ""
		if len(problems) > maxListedProblems {
			more = fmt.Sprintf("\n  ... and %d more", len(problems)-maxListedProblems)
			problems = problems[:maxListedProblems]
		}
		return nil, usageErrorf("--from %s: %d files cannot go into a kit:\n  %s%s", dir, len(problems), strings.Join(problems, "\n  "), more)
	}
	return inputs, nil
}

// lazyFile is the io.ReaderAt the kit writer reads a content file through. It
// opens the file on demand and closes it once read to its end, so a kit of
// many files never holds many descriptors; the writer reads each file twice
// (hash, then write) from start to end. An open file must still be the one
// scanned (same device and inode), so a file swapped for a link is refused.
type lazyFile struct {
	in kitInput
	f  *os.File
}

// ReadAt implements io.ReaderAt.
func (l *lazyFile) ReadAt(p []byte, off int64) (int, error) {
	if l.f == nil {
		f, err := os.Open(l.in.file)
		if err != nil {
			return 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return 0, err
		}
		if !os.SameFile(st, l.in.info) {
			f.Close()
			return 0, fmt.Errorf("%s was replaced during the build", l.in.file)
		}
		l.f = f
	}
	n, err := l.f.ReadAt(p, off)
	if err != nil || off+int64(n) >= l.in.info.Size() {
		l.f.Close()
		l.f = nil
	}
	return n, err
}

func (l *lazyFile) close() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// kitSigner is a kit signing key and how the command line named it.
type kitSigner struct {
	signer crypto.Signer
	name   string // URI (pin-value removed) or --key-file path
	keyID  string
}

// openKitSigners opens every --key (through internal/keys) and --key-file.
// The returned Opener must be closed after signing.
func openKitSigners(c *cli.Context) ([]kitSigner, *keys.Opener, error) {
	uris, files := multi(c, "key"), multi(c, "key-file")
	if len(uris)+len(files) == 0 {
		return nil, nil, usageErrorf("%s: missing required flag --key or --key-file", cmdName(c))
	}
	if n := len(uris) + len(files); n > kit.MaxSignatures {
		return nil, nil, usageErrorf("%s: %d kit keys, at most %d", cmdName(c), n, kit.MaxSignatures)
	}
	o := opener(c)
	var out []kitSigner
	add := func(s crypto.Signer, name string) error {
		id, err := keyID(s.Public())
		if err != nil {
			return usageErrorf("%s: %v", name, err)
		}
		for _, prev := range out {
			if prev.keyID == id {
				return usageErrorf("%s and %s are the same key (%s)", prev.name, name, id)
			}
		}
		out = append(out, kitSigner{signer: s, name: name, keyID: id})
		return nil
	}
	fail := func(err error) ([]kitSigner, *keys.Opener, error) {
		o.Close()
		return nil, nil, err
	}
	for _, uri := range uris {
		if !strings.HasPrefix(uri, "file:") && !strings.HasPrefix(strings.ToLower(uri), "pkcs11:") {
			return fail(usageErrorf("--key: %q is not a file: or pkcs11: URI (use --key-file for a PEM path)", redactURI(uri)))
		}
		k, err := o.Open(c.Context, uri)
		if err != nil {
			return fail(fmt.Errorf("--key: opening key %s: %w", redactURI(uri), err))
		}
		if err := add(k, k.URI()); err != nil {
			return fail(err)
		}
	}
	for _, f := range files {
		s, err := readPrivateKey(f)
		if err != nil {
			return fail(badInput(fmt.Errorf("--key-file: %w", err)))
		}
		if err := add(s, f); err != nil {
			return fail(err)
		}
	}
	return out, o, nil
}

// parseMTime parses --mtime: Unix seconds or RFC 3339.
func parseMTime(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageErrorf("--mtime: %q is neither Unix seconds nor RFC 3339", v)
	}
	return t, nil
}

// kitCreatedBy is the manifest's createdBy: stellactl and its module version
// when the binary carries one.
func kitCreatedBy() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return "stellactl " + v
		}
	}
	return "stellactl"
}

// kitRootSummary counts the files of one root.
type kitRootSummary struct {
	Root  string `json:"root"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// kitManifestSummary is what summaries show of a manifest.
type kitManifestSummary struct {
	SHA256    string           `json:"sha256"` // of manifest.json
	Kind      string           `json:"kind"`
	Source    string           `json:"source"`
	Sequence  uint64           `json:"sequence"`
	CreatedBy string           `json:"createdBy"`
	Files     int              `json:"files"`
	Bytes     int64            `json:"bytes"`
	Roots     []kitRootSummary `json:"roots"`
}

// kitSignerSummary names a key that signed (build) or verified (verify) a
// manifest.
type kitSignerSummary struct {
	KeyID string `json:"keyId"`
	Key   string `json:"key"`
}

// kitBuildResult is the output of kit build.
type kitBuildResult struct {
	Output   string             `json:"output"`
	SHA256   string             `json:"sha256"`
	Size     int64              `json:"size"`
	Manifest kitManifestSummary `json:"manifest"`
	Signers  []kitSignerSummary `json:"signers"`
}

func summarizeManifest(m *kit.Manifest, manifestJSON []byte) kitManifestSummary {
	sum := sha256.Sum256(manifestJSON)
	s := kitManifestSummary{SHA256: hex.EncodeToString(sum[:]), Kind: m.Kind, Source: m.Source, Sequence: m.Sequence,
		CreatedBy: m.CreatedBy, Files: len(m.Files)}
	for _, r := range kitRoots {
		s.Roots = append(s.Roots, kitRootSummary{Root: r})
	}
	for _, f := range m.Files {
		root, _, _ := strings.Cut(f.Path, "/")
		for i := range s.Roots {
			if s.Roots[i].Root == root {
				s.Roots[i].Files++
				s.Roots[i].Bytes += f.Size
			}
		}
		s.Bytes += f.Size
	}
	return s
}

func printManifestSummary(w io.Writer, s kitManifestSummary) {
	fmt.Fprintf(w, "manifest: sha256:%s\nkind: %s\nsource: %s\nsequence: %d\ncreated by: %s\nfiles: %d (%d bytes)\n",
		s.SHA256, s.Kind, s.Source, s.Sequence, s.CreatedBy, s.Files, s.Bytes)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range s.Roots {
		fmt.Fprintf(tw, "  %s/\t%d files\t%d bytes\n", r.Root, r.Files, r.Bytes)
	}
	tw.Flush()
}

func kitBuild(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "from", "output"); err != nil {
		return err
	}
	dir, out := c.String("from"), c.String("output")
	opts := kit.WriterOptions{Kind: c.String("kind"), CreatedBy: kitCreatedBy(), Source: c.String("source"), Sequence: c.Uint64("sequence")}
	if !c.IsSet("source") {
		h, err := os.Hostname()
		if err != nil {
			return usageErrorf("--source: not given and no host name: %v", err)
		}
		opts.Source = h
	}
	if c.IsSet("mtime") {
		t, err := parseMTime(c.String("mtime"))
		if err != nil {
			return err
		}
		opts.ModTime = t
	}
	m := kit.Manifest{KitVersion: kit.Version, Kind: opts.Kind, CreatedBy: opts.CreatedBy, Source: opts.Source, Sequence: opts.Sequence}
	if err := m.Validate(); err != nil {
		return usageErrorf("%s: --kind, --source or --sequence: %v", cmdName(c), err)
	}
	if absDir, err := filepath.Abs(dir); err == nil {
		if absOut, err := filepath.Abs(out); err == nil && strings.HasPrefix(absOut, absDir+string(filepath.Separator)) {
			return usageErrorf("--output: %s is inside --from %s", out, dir)
		}
	}
	inputs, err := scanKitDir(dir)
	if err != nil {
		return err
	}
	signers, o, err := openKitSigners(c)
	if err != nil {
		return err
	}
	defer o.Close()
	res, err := writeKit(c.Context, out, opts, inputs, signers)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "kit: %s (%d bytes, sha256:%s)\n", res.Output, res.Size, res.SHA256)
	printManifestSummary(w, res.Manifest)
	fmt.Fprintf(w, "signed by:\n")
	for _, s := range res.Signers {
		fmt.Fprintf(w, "  %s  %s\n", s.KeyID, s.Key)
	}
	return nil
}

// writeKit writes the kit to a temporary file next to out, verifies it with
// the signers' public keys (so build never leaves a kit its own keys refuse),
// and renames it to out.
func writeKit(ctx context.Context, out string, opts kit.WriterOptions, inputs []kitInput, signers []kitSigner) (*kitBuildResult, error) {
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, badInput(fmt.Errorf("--output: creating a file in %s: %w", dir, err))
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(name)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	kw, err := kit.NewWriter(bw, opts)
	if err != nil {
		return nil, badInput(fmt.Errorf("--mtime: %w", err))
	}
	files := make([]*lazyFile, len(inputs))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.close()
			}
		}
	}()
	for i, in := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		files[i] = &lazyFile{in: in}
		if err := kw.AddReaderAt(in.path, kitMediaType(in.path), files[i], in.info.Size()); err != nil {
			return nil, badInput(fmt.Errorf("--from: %w", err))
		}
	}
	cs := make([]crypto.Signer, len(signers))
	pubs := make([]crypto.PublicKey, len(signers))
	for i, s := range signers {
		cs[i], pubs[i] = s.signer, s.signer.Public()
	}
	if err := kw.Close(cs...); err != nil {
		var ke *kit.Error
		var pe *fs.PathError
		if errors.As(err, &ke) || errors.As(err, &pe) {
			return nil, badInput(fmt.Errorf("--from: %w", err))
		}
		return nil, fmt.Errorf("writing kit %s: %w", out, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing kit %s: %w", out, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("writing kit %s: %w", out, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("writing kit %s: %w", out, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("writing kit %s: %w", out, err)
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(tmp, h)} // read to the end by the kit reader
	rd, err := kit.NewReader(cr, kit.VerifyOptions{Keys: pubs, Threshold: len(pubs), Limits: opts.Limits})
	if err == nil {
		_, err = drainKit(rd, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("the kit just written does not verify with its own keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("writing kit %s: %w", out, err)
	}
	if err := os.Rename(name, out); err != nil {
		return nil, badInput(fmt.Errorf("--output: %w", err))
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	res := &kitBuildResult{Output: out, SHA256: hex.EncodeToString(h.Sum(nil)), Size: cr.n,
		Manifest: summarizeManifest(rd.Manifest(), rd.ManifestJSON())}
	for _, s := range signers {
		res.Signers = append(res.Signers, kitSignerSummary{KeyID: s.keyID, Key: s.name})
	}
	return res, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

// Read implements io.Reader.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// drainKit reads a kit to its end, so that every file's size and digest and
// the end of the archive are checked. keep, if not nil, is called for each
// file and returns how many leading bytes of it to keep (0 for none); they
// are returned, by path, only if the whole kit verified.
func drainKit(rd *kit.Reader, keep func(kit.File) int64) (map[string][]byte, error) {
	kept := map[string][]byte{}
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return kept, nil
		}
		if err != nil {
			return nil, err
		}
		if keep != nil {
			if n := keep(f); n > 0 {
				b, err := io.ReadAll(io.LimitReader(rd, n))
				if err != nil {
					return nil, err
				}
				kept[f.Path] = b
			}
		}
		// The rest of the file is skipped; Next checks its size and digest.
	}
}

// kitCosigner is one verified witness cosignature.
type kitCosigner struct {
	Witness string    `json:"witness"`
	KeyName string    `json:"keyName"`
	KeyHash string    `json:"keyHash"`
	Time    time.Time `json:"time"`
}

// kitCheckpoint reports one checkpoint the kit carries.
type kitCheckpoint struct {
	Path   string `json:"path"`
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	// CoveredByPolicy: the witness policy lists a log for this origin, so
	// the log signature and the quorum were checked.
	CoveredByPolicy bool          `json:"coveredByPolicy"`
	Cosigners       []kitCosigner `json:"cosigners"`
	// Unverified names the signature lines not checked (no policy, an
	// origin the policy does not cover, or keys the policy does not know).
	Unverified []string `json:"unverified,omitempty"`
	// PolicyMet is set for covered checkpoints.
	PolicyMet *bool  `json:"policyMet,omitempty"`
	Problem   string `json:"problem,omitempty"`
}

// kitProblem is why a kit was refused.
type kitProblem struct {
	File   string `json:"file,omitempty"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// kitVerifyResult is the output of kit verify.
type kitVerifyResult struct {
	OK          bool                `json:"ok"`
	Kit         string              `json:"kit"`
	SHA256      string              `json:"sha256,omitempty"`
	Manifest    *kitManifestSummary `json:"manifest,omitempty"`
	Threshold   int                 `json:"threshold"`
	TrustedKeys []kitSignerSummary  `json:"trustedKeys"`
	// Signers are the trusted keys that verified a signature of the manifest.
	Signers       []kitSignerSummary `json:"signers"`
	WitnessPolicy string             `json:"witnessPolicy,omitempty"`
	Checkpoints   []kitCheckpoint    `json:"checkpoints"`
	Error         *kitProblem        `json:"error,omitempty"`
}

// kitErrorKinds names the kit package's sentinels in JSON output.
var kitErrorKinds = []struct {
	err  error
	name string
}{
	{kit.ErrSignature, "signature"}, {kit.ErrDigest, "digest"}, {kit.ErrLimit, "limit"}, {kit.ErrPath, "path"},
	{kit.ErrEntryType, "entry-type"}, {kit.ErrDuplicate, "duplicate"}, {kit.ErrUnlisted, "unlisted"},
	{kit.ErrMissing, "missing"}, {kit.ErrFormat, "format"},
}

func kitProblemOf(err error) *kitProblem {
	p := &kitProblem{Kind: "format", Reason: err.Error()}
	var ke *kit.Error
	if errors.As(err, &ke) {
		p.File = ke.Path
		for _, k := range kitErrorKinds {
			if errors.Is(ke.Kind, k.err) {
				p.Kind = k.name
				break
			}
		}
	}
	return p
}

func kitVerify(c *cli.Context) error {
	kitPath, err := oneArg(c, "KIT")
	if err != nil {
		return err
	}
	if err := requireFlags(c, "kit-key"); err != nil {
		return err
	}
	res := &kitVerifyResult{Kit: kitPath, Threshold: c.Int("threshold"), Signers: []kitSignerSummary{}, Checkpoints: []kitCheckpoint{}}
	var pubs []crypto.PublicKey
	for _, f := range multi(c, "kit-key") {
		b, err := readFile("--kit-key", f)
		if err != nil {
			return err
		}
		pub, err := parsePublicKeyPEM("--kit-key "+f, b)
		if err != nil {
			return err
		}
		id, err := keyID(pub)
		if err != nil {
			return usageErrorf("--kit-key %s: %v", f, err)
		}
		for _, s := range res.TrustedKeys {
			if s.KeyID == id {
				return usageErrorf("--kit-key: %s and %s are the same key (%s)", s.Key, f, id)
			}
		}
		pubs = append(pubs, pub)
		res.TrustedKeys = append(res.TrustedKeys, kitSignerSummary{KeyID: id, Key: f})
	}
	if res.Threshold < 1 || res.Threshold > len(pubs) {
		return usageErrorf("--threshold: %d, want 1 to the number of --kit-key (%d)", res.Threshold, len(pubs))
	}
	var policy *witness.Policy
	if c.IsSet("witness-policy") {
		f := c.String("witness-policy")
		b, err := readFile("--witness-policy", f)
		if err != nil {
			return err
		}
		if policy, err = witness.ParsePolicy(b); err != nil {
			return usageErrorf("--witness-policy %s: %v", f, err)
		}
		res.WitnessPolicy = f
	}
	file, err := os.Open(kitPath)
	if err != nil {
		return badInput(fmt.Errorf("KIT: %w", err))
	}
	defer file.Close()
	if st, err := file.Stat(); err == nil && !st.Mode().IsRegular() {
		return usageErrorf("KIT: %s is not a regular file", kitPath)
	}

	refuse := func(p *kitProblem) error {
		res.OK, res.Error = false, p
		if c.Bool("json") {
			if err := printJSON(c.App.Writer, res); err != nil {
				return err
			}
		}
		where := ""
		if p.File != "" && !strings.Contains(p.Reason, p.File) {
			where = p.File + ": "
		}
		return fmt.Errorf("kit verify %s: %w: %s%s", kitPath, errVerifyFailed, where, p.Reason)
	}

	h := sha256.New()
	// The reader buffers its input and reads it to the end (trailing data
	// is refused), so h ends up hashing the whole file.
	rd, err := kit.NewReader(io.TeeReader(file, h), kit.VerifyOptions{Keys: pubs, Threshold: res.Threshold})
	if err != nil {
		return refuse(kitProblemOf(err))
	}
	kept, err := drainKit(rd, func(f kit.File) int64 {
		switch {
		case f.MediaType == kit.MediaTypeCheckpoint && strings.HasPrefix(f.Path, kit.RootCheckpoints+"/"):
			return witness.MaxNoteSize + 1
		case f.MediaType == kit.MediaTypeWitnessPolicy && strings.HasPrefix(f.Path, kit.RootTrust+"/") && policy == nil:
			return witness.MaxPolicySize + 1
		}
		return 0
	})
	if err != nil {
		return refuse(kitProblemOf(err))
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	ms := summarizeManifest(rd.Manifest(), rd.ManifestJSON())
	res.Manifest = &ms
	for _, i := range rd.Signers() {
		res.Signers = append(res.Signers, res.TrustedKeys[i])
	}

	// The witness policy: the flag's, else the one the kit carries.
	if policy == nil {
		var found []string
		for _, f := range rd.Manifest().Files {
			if _, ok := kept[f.Path]; ok && f.MediaType == kit.MediaTypeWitnessPolicy {
				found = append(found, f.Path)
			}
		}
		switch len(found) {
		case 0:
		case 1:
			if policy, err = witness.ParsePolicy(kept[found[0]]); err != nil {
				return refuse(&kitProblem{File: found[0], Kind: "witness-policy", Reason: err.Error()})
			}
			res.WitnessPolicy = found[0]
		default:
			return refuse(&kitProblem{Kind: "witness-policy", Reason: fmt.Sprintf("the kit carries %d witness policies (%s); pass --witness-policy",
				len(found), strings.Join(found, ", "))})
		}
	}

	var first *kitProblem
	for _, f := range rd.Manifest().Files {
		b, ok := kept[f.Path]
		if !ok || f.MediaType != kit.MediaTypeCheckpoint {
			continue
		}
		cp := checkCheckpoint(f.Path, b, policy)
		res.Checkpoints = append(res.Checkpoints, cp)
		if cp.Problem != "" && first == nil {
			first = &kitProblem{File: f.Path, Kind: "checkpoint", Reason: cp.Problem}
		}
	}
	if first != nil {
		if !c.Bool("json") {
			printKitVerify(c.App.Writer, res)
		}
		return refuse(first)
	}
	res.OK = true
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	printKitVerify(c.App.Writer, res)
	return nil
}

// checkCheckpoint reports a checkpoint file: under a policy that lists its
// origin, the log signature, every cosignature by a policy witness and the
// quorum are checked (a failure is the Problem); otherwise its signature
// lines are listed unverified.
func checkCheckpoint(p string, signed []byte, policy *witness.Policy) kitCheckpoint {
	cp := kitCheckpoint{Path: p, Cosigners: []kitCosigner{}}
	// Parse without verifying first, to report origin, size and who signed
	// whatever the policy says.
	_, err := note.Open(signed, note.VerifierList())
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		cp.Problem = fmt.Sprintf("not a signed note: %v", err)
		return cp
	}
	body, err := witness.ParseCheckpoint([]byte(unv.Note.Text))
	if err != nil {
		cp.Problem = err.Error()
		return cp
	}
	cp.Origin, cp.Size = body.Origin, body.Size
	covered := false
	if policy != nil {
		for _, l := range policy.Logs {
			covered = covered || l.Verifier.Name() == body.Origin
		}
	}
	if !covered {
		for _, s := range unv.Note.UnverifiedSigs {
			cp.Unverified = append(cp.Unverified, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return cp
	}
	cp.CoveredByPolicy = true
	met := false
	cp.PolicyMet = &met
	c, err := policy.Verify(signed, nil)
	if err != nil {
		cp.Problem = err.Error()
		var qe *witness.QuorumError
		if errors.As(err, &qe) {
			for _, n := range qe.Cosigners {
				cp.Cosigners = append(cp.Cosigners, kitCosigner{Witness: n})
			}
		}
		return cp
	}
	met = true
	for _, s := range c.Cosignatures {
		cp.Cosigners = append(cp.Cosigners, kitCosigner{Witness: s.Witness, KeyName: s.KeyName, KeyHash: fmt.Sprintf("%08x", s.KeyHash), Time: s.Time})
	}
	for _, s := range c.Unverified {
		cp.Unverified = append(cp.Unverified, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return cp
}

func printKitVerify(w io.Writer, res *kitVerifyResult) {
	fmt.Fprintf(w, "kit: %s (sha256:%s)\n", res.Kit, res.SHA256)
	printManifestSummary(w, *res.Manifest)
	fmt.Fprintf(w, "signed by %d of %d trusted keys (threshold %d):\n", len(res.Signers), len(res.TrustedKeys), res.Threshold)
	for _, s := range res.Signers {
		fmt.Fprintf(w, "  %s  %s\n", s.KeyID, s.Key)
	}
	if res.WitnessPolicy != "" {
		fmt.Fprintf(w, "witness policy: %s\n", res.WitnessPolicy)
	} else {
		fmt.Fprintf(w, "witness policy: none (cosignatures not checked)\n")
	}
	for _, cp := range res.Checkpoints {
		fmt.Fprintf(w, "checkpoint %s: origin %s, size %d\n", cp.Path, cp.Origin, cp.Size)
		if len(cp.Cosigners) > 0 {
			names := make([]string, len(cp.Cosigners))
			for i, s := range cp.Cosigners {
				names[i] = s.Witness
			}
			fmt.Fprintf(w, "  cosigned by: %s\n", strings.Join(names, ", "))
		}
		if len(cp.Unverified) > 0 {
			fmt.Fprintf(w, "  not checked: %s\n", strings.Join(cp.Unverified, ", "))
		}
		switch {
		case cp.Problem != "":
			fmt.Fprintf(w, "  REFUSED: %s\n", cp.Problem)
		case cp.CoveredByPolicy:
			fmt.Fprintf(w, "  witness policy met\n")
		default:
			fmt.Fprintf(w, "  origin not covered by the witness policy\n")
		}
	}
	if res.OK {
		fmt.Fprintln(w, "Verified OK")
	}
}
