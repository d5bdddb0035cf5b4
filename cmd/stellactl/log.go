package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/client"
	"github.com/stellaops/stellad/kit/verify"
)

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "inspect the transparency log",
		Subcommands: []*cli.Command{
			{
				Name:      "status",
				Usage:     "print the log's origin, size, root hash and checkpoint",
				ArgsUsage: " ",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action:    logStatus,
			},
			{
				Name:      "proof",
				Usage:     "fetch an entry's inclusion proof and verify it against its checkpoint",
				ArgsUsage: "UUID",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "trusted-root", Usage: "trusted_root.json `FILE` (default: fetched from stellad)"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: logProof,
			},
			{
				Name:      "consistency",
				Usage:     "fetch a consistency proof between two tree sizes, or prove a checkpoint you hold consistent with the log",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.Uint64Flag{Name: "from", Usage: "older tree size `N`"},
					&cli.Uint64Flag{Name: "to", Usage: "newer tree size `M`"},
					&cli.StringFlag{Name: "checkpoint", Usage: "a signed checkpoint `FILE` seen earlier: verify the log's current checkpoint extends it"},
					&cli.StringFlag{Name: "trusted-root", Usage: "trusted_root.json `FILE` for --checkpoint (default: fetched from stellad)"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: logConsistency,
			},
		},
	}
}

func logStatus(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	st, err := cl.LogStatus(c.Context)
	if err != nil {
		return fmt.Errorf("log status: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	fmt.Fprintf(c.App.Writer, "origin: %s\ntree size: %d\nroot hash: %x\nlog key id: %x\nbase url: %s\ncheckpoint:\n%s",
		st.Origin, st.TreeSize, st.RootHash, st.LogKeyID, st.BaseURL, indent(st.Checkpoint))
	return nil
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

// proofReport is what `log proof --json` prints.
type proofReport struct {
	UUID       string   `json:"uuid"`
	LogIndex   uint64   `json:"logIndex"`
	TreeSize   uint64   `json:"treeSize"`
	RootHash   string   `json:"rootHash"`
	Hashes     []string `json:"hashes"`
	Checkpoint string   `json:"checkpoint"`
	Origin     string   `json:"origin"`
	Verified   bool     `json:"verified"`
}

func logProof(c *cli.Context) error {
	uuid, err := oneArg(c, "UUID")
	if err != nil {
		return err
	}
	leaf, err := hex.DecodeString(uuid)
	if err != nil || len(leaf) != 32 {
		return usageErrorf("log proof: uuid %q is not 64 hex digits (the entry's leaf hash)", uuid)
	}
	trusted, err := trustedRootFlag(c)
	if err != nil {
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
	if trusted, err = orDaemonTrustedRoot(c, cl, trusted); err != nil {
		return err
	}
	cp, err := verifyEntryProof(trusted, leaf, e)
	if err != nil {
		return fmt.Errorf("entry %s: %w", uuid, err)
	}
	p := e.Proof
	rep := proofReport{UUID: uuid, LogIndex: p.LogIndex, TreeSize: p.TreeSize, RootHash: hex.EncodeToString(p.RootHash),
		Checkpoint: p.Checkpoint, Origin: cp.Origin, Verified: true, Hashes: make([]string, len(p.Hashes))}
	for i, h := range p.Hashes {
		rep.Hashes[i] = hex.EncodeToString(h)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, rep)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "uuid: %s\nlog index: %d\ntree size: %d\nroot hash: %s\nhashes:\n", rep.UUID, rep.LogIndex, rep.TreeSize, rep.RootHash)
	for _, h := range rep.Hashes {
		fmt.Fprintf(w, "  %s\n", h)
	}
	fmt.Fprintf(w, "checkpoint:\n%sverified: inclusion proof matches the checkpoint signed by %s\n", indent(rep.Checkpoint), cp.Origin)
	return nil
}

// verifyEntryProof checks the entry's checkpoint against the trusted root, the
// proof against the checkpoint, and (when the entry carries its bundle) that
// the uuid is the leaf hash of the logged body.
func verifyEntryProof(trusted, leaf []byte, e *apitype.EntryResponse) (*verify.Checkpoint, error) {
	p := e.Proof
	if p.Checkpoint == "" {
		return nil, fmt.Errorf("%w: the proof carries no checkpoint", errVerifyFailed)
	}
	cp, err := verify.VerifyCheckpoint(trusted, p.Checkpoint)
	if err != nil {
		return nil, err
	}
	if cp.Size != p.TreeSize || !bytes.Equal(cp.RootHash, p.RootHash) {
		return nil, fmt.Errorf("%w: the proof is for tree size %d root %x but the checkpoint is for size %d root %x",
			errVerifyFailed, p.TreeSize, p.RootHash, cp.Size, cp.RootHash)
	}
	if p.LogIndex != e.Index {
		return nil, fmt.Errorf("%w: the proof is for index %d but the entry has index %d", errVerifyFailed, p.LogIndex, e.Index)
	}
	if body := bundleBody(e.Bundle); body != nil && !bytes.Equal(verify.LeafHash(body), leaf) {
		return nil, fmt.Errorf("%w: the uuid is not the leaf hash of the entry's logged body", errVerifyFailed)
	}
	if err := verify.VerifyInclusion(cp, p.LogIndex, leaf, p.Hashes); err != nil {
		return nil, err
	}
	return cp, nil
}

// bundleBody returns the canonicalized body of a bundle's first log entry, or
// nil when there is none.
func bundleBody(bundle []byte) []byte {
	var b struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				CanonicalizedBody string `json:"canonicalizedBody"`
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	if len(bundle) == 0 || json.Unmarshal(bundle, &b) != nil || len(b.VerificationMaterial.TlogEntries) == 0 {
		return nil
	}
	body, err := base64.StdEncoding.DecodeString(b.VerificationMaterial.TlogEntries[0].CanonicalizedBody)
	if err != nil || len(body) == 0 {
		return nil
	}
	return body
}

func logConsistency(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if c.IsSet("checkpoint") {
		if c.IsSet("from") || c.IsSet("to") {
			return usageErrorf("log consistency: --checkpoint excludes --from and --to")
		}
		return logConsistencyWith(c)
	}
	if err := requireFlags(c, "from", "to"); err != nil {
		return err
	}
	from, to := c.Uint64("from"), c.Uint64("to")
	if from > to {
		return usageErrorf("log consistency: --from %d is larger than --to %d", from, to)
	}
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	p, err := cl.ConsistencyProof(c.Context, from, to)
	if err != nil {
		return fmt.Errorf("consistency proof %d..%d: %w", from, to, err)
	}
	hashes := make([]string, len(p.Hashes))
	for i, h := range p.Hashes {
		hashes[i] = hex.EncodeToString(h)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"from": p.From, "to": p.To, "hashes": hashes})
	}
	fmt.Fprintf(c.App.Writer, "from: %d\nto: %d\nhashes:\n", p.From, p.To)
	for _, h := range hashes {
		fmt.Fprintf(c.App.Writer, "  %s\n", h)
	}
	return nil
}

// logConsistencyWith proves that the log's current checkpoint extends the one
// in --checkpoint (a checkpoint seen earlier, for example in a bundle or
// before a crash): both signatures are checked against the trusted root and
// the consistency proof against both roots. A log that shrank or forked fails
// with exit 1.
func logConsistencyWith(c *cli.Context) error {
	oldNote, err := readFile("--checkpoint", c.String("checkpoint"))
	if err != nil {
		return err
	}
	trusted, err := trustedRootFlag(c)
	if err != nil {
		return err
	}
	cl, err := daemonClient(c)
	if err != nil {
		return err
	}
	if trusted, err = orDaemonTrustedRoot(c, cl, trusted); err != nil {
		return err
	}
	old, err := verify.VerifyCheckpoint(trusted, string(oldNote))
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.String("checkpoint"), err)
	}
	st, err := cl.LogStatus(c.Context)
	if err != nil {
		return fmt.Errorf("reading the log status: %w", err)
	}
	cur, err := verify.VerifyCheckpoint(trusted, st.Checkpoint)
	if err != nil {
		return fmt.Errorf("the log's current checkpoint: %w", err)
	}
	if old.Origin != cur.Origin {
		return fmt.Errorf("%w: checkpoint %s is of log %q, the daemon serves %q", errVerifyFailed, c.String("checkpoint"), old.Origin, cur.Origin)
	}
	// The published checkpoint may trail one the appliance signed for a bundle
	// (it is republished on an interval): prove the smaller tree a prefix of the
	// larger, whichever it is. A rolled-back or forked log cannot give a proof
	// that verifies against both signed roots.
	small, large := old, cur
	if old.Size > cur.Size {
		small, large = cur, old
	}
	p, err := cl.ConsistencyProof(c.Context, small.Size, large.Size)
	if err != nil {
		var api *client.APIError
		if errors.As(err, &api) && api.Status == http.StatusNotFound {
			// The log does not hold the larger tree at all.
			return fmt.Errorf("%w: consistency proof %d..%d: %w", errVerifyFailed, small.Size, large.Size, err)
		}
		return fmt.Errorf("consistency proof %d..%d: %w", small.Size, large.Size, err)
	}
	if err := verify.VerifyConsistency(large, small.Size, small.RootHash, p.Hashes); err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.String("checkpoint"), err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"origin": cur.Origin, "from": small.Size, "to": large.Size, "consistent": true})
	}
	fmt.Fprintf(c.App.Writer, "consistent: %s size %d -> %d\n", cur.Origin, small.Size, large.Size)
	return nil
}

// trustedRootFlag reads --trusted-root, or returns nil when it is not set. It is
// read before any request so that a bad file is reported as bad input.
func trustedRootFlag(c *cli.Context) ([]byte, error) {
	if !c.IsSet("trusted-root") {
		return nil, nil
	}
	return readFile("--trusted-root", c.String("trusted-root"))
}

// orDaemonTrustedRoot returns local, or the daemon's trusted root when local is nil.
func orDaemonTrustedRoot(c *cli.Context, cl *client.Client, local []byte) ([]byte, error) {
	if local != nil {
		return local, nil
	}
	tr, err := cl.TrustedRoot(c.Context)
	if err != nil {
		return nil, fmt.Errorf("fetching the trusted root: %w", err)
	}
	return tr, nil
}
