package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/stellaops/stellad/kit/internal/strictjson"
	"github.com/stellaops/stellad/kit/witness"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// ErrNotWitnessed is wrapped by every VerifyWitnessed error that means "the
// bundle's checkpoint could not be tied to a witnessed, mirrored checkpoint"
// without proving anything false: ErrUncovered and ErrBelowPolicy. A caller
// with a warn policy prints it and keeps the result of Verify.
var ErrNotWitnessed = errors.New("bundle checkpoint not witnessed")

// ErrUncovered (wraps ErrNotWitnessed): nothing mirrored covers the bundle's
// tree: no mirrored checkpoint of its origin, every mirrored one is older
// than the bundle's, or there are neither tiles nor a consistency proof to
// tie the bundle's tree to a newer mirrored one.
var ErrUncovered = fmt.Errorf("%w: no mirrored checkpoint covers it", ErrNotWitnessed)

// ErrBelowPolicy (wraps ErrNotWitnessed): the mirrored checkpoint that covers
// the bundle's tree does not satisfy the witness policy (too few valid
// cosignatures, a bad cosignature, or no policy given).
var ErrBelowPolicy = fmt.Errorf("%w: the covering mirrored checkpoint does not satisfy the witness policy", ErrNotWitnessed)

// ErrSplitView (wraps ErrVerification): the bundle's checkpoint and a
// mirrored checkpoint, both signed by the log, describe inconsistent trees
// (same size and different roots, or a consistency proof that fails). That
// is proof that the log showed two histories; it is never only a warning.
var ErrSplitView = fmt.Errorf("%w: split view", ErrVerification)

// TileReader reads the hash tiles of a mirrored log (C2SP tlog-tiles).
type TileReader interface {
	// ReadTile returns the hash tile at level and index holding width
	// hashes (0 means a full tile of 256). A tile the mirror does not hold
	// is an error wrapping fs.ErrNotExist.
	ReadTile(ctx context.Context, level, index uint64, width uint8) ([]byte, error)
}

// ConsistencyProof is an RFC 6962 consistency proof from the tree of size
// OldSize to the tree of size NewSize of one log.
type ConsistencyProof struct {
	OldSize uint64
	NewSize uint64
	Hashes  [][]byte
}

// MirroredLog is the mirrored material of one log: its checkpoint as
// carried in (C2SP signed note with the log's signature and witness
// cosignature lines) and, optionally, what ties older trees to it.
type MirroredLog struct {
	// Checkpoint is the signed note. Required.
	Checkpoint []byte
	// Consistency, when set, proves that the tree of size OldSize is a
	// prefix of the checkpoint's tree.
	Consistency *ConsistencyProof
	// Tiles, when set, reads the mirrored tiles of the checkpoint's tree;
	// consistency proofs from any older size are computed from them.
	Tiles TileReader
}

// WitnessOptions says what VerifyWitnessed trusts.
type WitnessOptions struct {
	// TrustedRoot is the trusted_root.json the bundle was verified with;
	// the mirrored checkpoints must be signed by the same log key. Required.
	TrustedRoot []byte
	// Policy is the witness policy the mirrored checkpoint must satisfy
	// (its quorum over the cosignatures that verify). Nil: no policy, so no
	// checkpoint counts as witnessed (ErrBelowPolicy).
	Policy *witness.Policy
	// Mirrors are the mirrored checkpoints, of any origins; those of other
	// origins than the bundle's are ignored.
	Mirrors []MirroredLog
}

// Cosigner is a witness of the policy whose cosignature verified.
type Cosigner struct {
	Witness string    `json:"witness"`
	Time    time.Time `json:"time"`
}

// Witnessed says how the bundle's checkpoint was tied to a witnessed,
// mirrored checkpoint.
type Witnessed struct {
	// Origin is the log's checkpoint origin.
	Origin string `json:"origin"`
	// BundleSize is the size of the tree the bundle's checkpoint commits to.
	BundleSize uint64 `json:"bundleSize"`
	// MirroredSize and MirroredRoot are the mirrored checkpoint's tree.
	MirroredSize uint64 `json:"mirroredSize"`
	MirroredRoot []byte `json:"mirroredRoot"`
	// Cosigners are the policy witnesses that cosigned the mirrored checkpoint.
	Cosigners []Cosigner `json:"cosigners"`
	// Method is how the trees were tied: "same-tree" (equal size and
	// root), "consistency-proof" (the carried proof) or "tiles" (a proof
	// computed from the mirrored tiles).
	Method string `json:"method"`
}

// VerifyWitnessed checks that the checkpoint of a verified bundle (res, as
// Verify returned it with opts.TrustedRoot) is consistent with a mirrored
// checkpoint of the same log that satisfies the witness policy: the same
// tree, or an older one proven to be its prefix by a carried consistency
// proof or by a proof computed from the mirrored tiles. It reads only what
// opts gives (tiles through opts' TileReaders, with ctx). Errors: a split
// view wraps ErrSplitView (and ErrVerification); a tree nothing mirrored
// covers wraps ErrUncovered, a covering checkpoint below the policy wraps
// ErrBelowPolicy (both wrap ErrNotWitnessed); unusable inputs (a trusted
// root without the bundle's log, a mirrored checkpoint of the bundle's
// origin that the log did not sign) wrap ErrInvalidInput. A split view
// found against any mirrored checkpoint wins over a match with another.
func VerifyWitnessed(ctx context.Context, res *Result, opts WitnessOptions) (*Witnessed, error) {
	if res == nil || res.LogOrigin == "" || len(res.RootHash) == 0 || res.TreeSize == 0 {
		return nil, fmt.Errorf("%w: no verified bundle result", ErrInvalidInput)
	}
	tr, err := root.NewTrustedRootFromJSON(opts.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing trusted root: %v", ErrInvalidInput, err)
	}
	tl, ok := tr.RekorLogs()[res.LogID]
	if !ok {
		return nil, fmt.Errorf("%w: the trusted root has no log %s", ErrInvalidInput, res.LogID)
	}
	host, err := logHost(tl)
	if err != nil {
		return nil, err
	}
	if host != res.LogOrigin {
		return nil, fmt.Errorf("%w: log %s has origin %q, the bundle's checkpoint %q", ErrInvalidInput, res.LogID, host, res.LogOrigin)
	}
	logKey, err := logNoteVerifier(tl, host)
	if err != nil {
		return nil, err
	}

	var (
		best                *Witnessed
		shortfalls, reasons []string
		sizes               []uint64
	)
	for i, m := range opts.Mirrors {
		origin, _, _ := bytes.Cut(m.Checkpoint, []byte("\n"))
		if string(origin) != host {
			continue
		}
		c, policyErr := openMirrored(m.Checkpoint, logKey, opts.Policy)
		if c == nil {
			return nil, fmt.Errorf("%w: mirrored checkpoint %d of %s: %v", ErrInvalidInput, i, host, policyErr)
		}
		sizes = append(sizes, c.Size)
		method, err := tie(ctx, res, c, m)
		if errors.Is(err, ErrSplitView) {
			return nil, err
		}
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if policyErr != nil {
			shortfalls = append(shortfalls, fmt.Sprintf("mirrored checkpoint of size %d: %v", c.Size, policyErr))
			continue
		}
		w := &Witnessed{Origin: host, BundleSize: res.TreeSize, MirroredSize: c.Size, MirroredRoot: c.Hash, Method: method, Cosigners: []Cosigner{}}
		for _, cs := range c.Cosignatures {
			if cs.Witness != "" {
				w.Cosigners = append(w.Cosigners, Cosigner{Witness: cs.Witness, Time: cs.Time})
			}
		}
		if best == nil || w.MirroredSize > best.MirroredSize {
			best = w
		}
	}
	switch {
	case best != nil:
		return best, nil
	case len(shortfalls) > 0:
		return nil, fmt.Errorf("%w: %s", ErrBelowPolicy, strings.Join(shortfalls, "; "))
	case len(sizes) == 0:
		return nil, fmt.Errorf("%w: no mirrored checkpoint of origin %q", ErrUncovered, host)
	default:
		return nil, fmt.Errorf("%w: the bundle's tree of size %d: %s", ErrUncovered, res.TreeSize, strings.Join(reasons, "; "))
	}
}

// openMirrored opens a mirrored checkpoint with the log key and, under a
// policy, its witnesses. It returns the checkpoint whenever the log's
// signature verifies, and separately why the policy is not satisfied; a nil
// checkpoint means the log did not sign it (the error says why).
func openMirrored(signed []byte, logKey note.Verifier, pol *witness.Policy) (*witness.Cosigned, error) {
	if pol == nil {
		c, err := witness.Open(signed, logKey)
		if err != nil {
			return nil, err
		}
		return c, errors.New("no witness policy given")
	}
	c, err := pol.Verify(signed, logKey)
	if err == nil {
		return c, nil
	}
	if errors.Is(err, witness.ErrLogSignature) || errors.Is(err, witness.ErrMalformed) {
		return nil, err
	}
	// Below the quorum, or a bad cosignature: the log's signature may still
	// hold, and the tree is then evidence for a split view.
	c2, err2 := witness.Open(signed, logKey)
	if err2 != nil {
		return nil, err2
	}
	return c2, err
}

// tie relates the bundle's tree to the mirrored checkpoint c: the method
// that proved the bundle's tree a prefix of c's, an ErrSplitView error, or
// another error saying why it cannot be decided.
func tie(ctx context.Context, res *Result, c *witness.Cosigned, m MirroredLog) (string, error) {
	split := func(format string, args ...any) error {
		return fmt.Errorf("%w: the bundle's checkpoint (size %d, root %x) and the mirrored checkpoint (size %d, root %x) of %s are inconsistent: %s",
			ErrSplitView, res.TreeSize, res.RootHash, c.Size, c.Hash, c.Origin, fmt.Sprintf(format, args...))
	}
	switch {
	case res.TreeSize == c.Size:
		if !bytes.Equal(res.RootHash, c.Hash) {
			return "", split("same size, different roots")
		}
		return "same-tree", nil
	case res.TreeSize > c.Size:
		return "", fmt.Errorf("newer than the mirrored checkpoint of size %d (it cannot be checked offline)", c.Size)
	}
	if p := m.Consistency; p != nil && p.OldSize == res.TreeSize && p.NewSize == c.Size {
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, p.OldSize, p.NewSize, p.Hashes, res.RootHash, c.Hash); err != nil {
			return "", split("the carried consistency proof fails: %v", err)
		}
		return "consistency-proof", nil
	}
	if m.Tiles == nil {
		return "", fmt.Errorf("older than the mirrored checkpoint of size %d, and neither tiles nor a consistency proof from size %d are mirrored", c.Size, res.TreeSize)
	}
	fetch := func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		return m.Tiles.ReadTile(ctx, level, index, p)
	}
	// The tiles must first reproduce the mirrored root: then a proof built
	// from them that fails is the log's inconsistency, not a bad mirror.
	nodes, err := client.FetchRangeNodes(ctx, c.Size, fetch)
	if err != nil {
		return "", fmt.Errorf("the mirrored tiles of size %d are incomplete: %v", c.Size, err)
	}
	rng, err := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewRange(0, c.Size, nodes)
	if err != nil {
		return "", fmt.Errorf("the mirrored tiles of size %d: %v", c.Size, err)
	}
	if got, err := rng.GetRootHash(nil); err != nil || !bytes.Equal(got, c.Hash) {
		return "", fmt.Errorf("the mirrored tiles do not hash to the mirrored checkpoint's root at size %d", c.Size)
	}
	pb, err := client.NewProofBuilder(ctx, c.Size, fetch)
	if err != nil {
		return "", fmt.Errorf("building a proof from the mirrored tiles: %v", err)
	}
	hashes, err := pb.ConsistencyProof(ctx, res.TreeSize, c.Size)
	if err != nil {
		return "", fmt.Errorf("the mirrored tiles cannot prove consistency from size %d to %d: %v", res.TreeSize, c.Size, err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, res.TreeSize, c.Size, hashes, res.RootHash, c.Hash); err != nil {
		return "", split("the consistency proof computed from the mirrored tiles fails: %v", err)
	}
	return "tiles", nil
}

// Paths of mirrored material inside an Offline Kit.
const (
	KitCheckpointsRoot = "checkpoints/"
	KitTilesRoot       = "tiles/"
	KitCheckpointFile  = "checkpoint"
	KitConsistencyFile = "consistency.json"
	KitTrustedRootPath = "trust/trusted_root.json"
	KitPolicyPath      = "trust/witness-policy"
)

// KitMirrors collects the mirrored logs an Offline Kit carries, from the
// kit's verified files by path (kit.Kit.Files or kit.Verify's result):
// checkpoints/<origin>/checkpoint, checkpoints/<origin>/consistency.json and
// tiles/<origin>/tile/<L>/<N>[.p/<W>]. Other files are ignored. Errors (a
// malformed consistency proof, tiles without a checkpoint) wrap
// ErrInvalidInput.
func KitMirrors(files map[string][]byte) ([]MirroredLog, error) {
	byOrigin := map[string]*MirroredLog{}
	tiles := map[string]MapTiles{}
	for p, data := range files {
		switch {
		case strings.HasPrefix(p, KitCheckpointsRoot):
			origin, file, ok := strings.Cut(strings.TrimPrefix(p, KitCheckpointsRoot), "/")
			if !ok || origin == "" {
				continue
			}
			m := byOrigin[origin]
			if m == nil {
				m = &MirroredLog{}
				byOrigin[origin] = m
			}
			switch file {
			case KitCheckpointFile:
				m.Checkpoint = data
			case KitConsistencyFile:
				cp, err := ParseConsistencyProof(data)
				if err != nil {
					return nil, fmt.Errorf("%w: %s: %v", ErrInvalidInput, p, err)
				}
				m.Consistency = cp
			}
		case strings.HasPrefix(p, KitTilesRoot):
			origin, tp, ok := strings.Cut(strings.TrimPrefix(p, KitTilesRoot), "/")
			if !ok || origin == "" || !strings.HasPrefix(tp, "tile/") {
				continue
			}
			if tiles[origin] == nil {
				tiles[origin] = MapTiles{}
			}
			tiles[origin][tp] = data
		}
	}
	for origin := range tiles {
		if byOrigin[origin] == nil || byOrigin[origin].Checkpoint == nil {
			return nil, fmt.Errorf("%w: %s%s/ carries tiles but no %s%s/%s", ErrInvalidInput, KitTilesRoot, origin, KitCheckpointsRoot, origin, KitCheckpointFile)
		}
		byOrigin[origin].Tiles = tiles[origin]
	}
	origins := make([]string, 0, len(byOrigin))
	for o, m := range byOrigin {
		if m.Checkpoint == nil {
			return nil, fmt.Errorf("%w: %s%s/ has no %s", ErrInvalidInput, KitCheckpointsRoot, o, KitCheckpointFile)
		}
		origins = append(origins, o)
	}
	slices.Sort(origins)
	out := make([]MirroredLog, 0, len(origins))
	for _, o := range origins {
		out = append(out, *byOrigin[o])
	}
	return out, nil
}

// MapTiles is a TileReader over tiles held in memory, keyed by their C2SP
// tlog-tiles path ("tile/0/x001/234.p/5").
type MapTiles map[string][]byte

// ReadTile implements TileReader.
func (m MapTiles) ReadTile(_ context.Context, level, index uint64, width uint8) ([]byte, error) {
	p := TilePath(level, index, width)
	b, ok := m[p]
	if !ok {
		return nil, fmt.Errorf("tile %s: %w", p, fs.ErrNotExist)
	}
	return b, nil
}

// TilePath is the C2SP tlog-tiles path of a hash tile: "tile/<L>/<N>" with
// N in groups of three digits ("x001/234"), and ".p/<W>" for a partial tile
// of width W (0 means full).
func TilePath(level, index uint64, width uint8) string {
	n := fmt.Sprintf("%03d", index%1000)
	for index >= 1000 {
		index /= 1000
		n = fmt.Sprintf("x%03d/", index%1000) + n
	}
	p := fmt.Sprintf("tile/%d/%s", level, n)
	if width > 0 {
		p += fmt.Sprintf(".p/%d", width)
	}
	return p
}

// consistencyJSON is checkpoints/<origin>/consistency.json.
type consistencyJSON struct {
	OldSize *uint64  `json:"oldSize"`
	NewSize *uint64  `json:"newSize"`
	Hashes  []string `json:"hashes"`
}

// MaxConsistencyProofSize bounds the consistency proof file
// ParseConsistencyProof accepts.
const MaxConsistencyProofSize = 64 << 10

// ParseConsistencyProof parses a kit's consistency proof file,
// {"hashes":["<base64>",...],"newSize":N,"oldSize":M}: the three members
// and no other (nor twice), 0 < M <= N, at most 64 hashes of 32 bytes in standard
// base64. Errors describe the first problem.
func ParseConsistencyProof(data []byte) (*ConsistencyProof, error) {
	if len(data) > MaxConsistencyProofSize {
		return nil, fmt.Errorf("consistency proof of %d bytes exceeds %d", len(data), MaxConsistencyProofSize)
	}
	if err := strictjson.Check(data, "consistency proof"); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f consistencyJSON
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("consistency proof: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("consistency proof: data after the object")
	}
	if f.OldSize == nil || f.NewSize == nil || f.Hashes == nil {
		return nil, errors.New("consistency proof: want oldSize, newSize and hashes")
	}
	if *f.OldSize == 0 || *f.OldSize > *f.NewSize || len(f.Hashes) > 64 {
		return nil, fmt.Errorf("consistency proof: sizes %d -> %d with %d hashes", *f.OldSize, *f.NewSize, len(f.Hashes))
	}
	p := &ConsistencyProof{OldSize: *f.OldSize, NewSize: *f.NewSize, Hashes: make([][]byte, 0, len(f.Hashes))}
	for i, h := range f.Hashes {
		b, err := base64.StdEncoding.Strict().DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("consistency proof: hashes[%d] is not 32 bytes of standard base64", i)
		}
		p.Hashes = append(p.Hashes, b)
	}
	return p, nil
}
