package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/offline"
)

// ErrNoOffline is returned by the kit use cases when no Offline Kit service
// is configured.
var ErrNoOffline = errors.New("offline kits are not configured")

// KitImport imports an Offline Kit: offline.Service verifies everything before
// it writes and changes state in one transaction; a refused kit changes
// nothing (but split-view evidence). The import is audited.
func (s *Service) KitImport(ctx context.Context, call Call, r io.Reader) (*apitype.KitImport, error) {
	a, rec, err := s.adminCall(call, "kit.import")
	if err == nil && a.Offline == nil {
		err = ErrNoOffline
	}
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	res, err := a.Offline.Import(ctx, r, principalName(call.Caller))
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	rec.Reason = fmt.Sprintf("kit %s #%d %s", res.Source, res.Sequence, res.ManifestSHA256)
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return &apitype.KitImport{
		Source: res.Source, Sequence: res.Sequence, Kind: res.Kind, ManifestSHA256: res.ManifestSHA256,
		Installed: nonNil(res.Installed), Checkpoints: res.Checkpoints, Tiles: res.Tiles, Bundles: res.Bundles,
		Licences: nonNil(res.Licences), AuditHead: res.AuditHead,
	}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// KitStatus reports the imported trust and the mirrored logs.
func (s *Service) KitStatus(ctx context.Context, call Call) (*apitype.KitStatus, error) {
	a, rec, err := s.adminCall(call, "kit.status")
	if err == nil && a.Offline == nil {
		err = ErrNoOffline
	}
	if err != nil {
		return nil, s.refuse(ctx, call.Caller, rec, err)
	}
	st, err := a.Offline.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &apitype.KitStatus{KitKeys: nonNil(st.KitKeys), KitThreshold: st.KitThreshold, WitnessPolicy: st.WitnessPolicy,
		Sources: []apitype.KitSource{}, Origins: []apitype.MirrorOrigin{}, SplitViews: []apitype.KitSplitView{}}
	if st.TrustedRoot != nil {
		out.TrustedRootSHA256 = st.TrustedRoot.SHA256
		out.TrustedRootStart = st.TrustedRoot.NewestStart.UTC().Format(time.RFC3339)
	}
	if len(st.Revocations) > 0 {
		out.Revocations, _ = json.Marshal(st.Revocations)
	}
	for _, src := range st.Sources {
		out.Sources = append(out.Sources, apitype.KitSource{Source: src.Source, Sequence: src.Sequence, Kind: src.Kind,
			ImportedAt: src.ImportedAt.UTC().Format(time.RFC3339), Actor: src.Actor})
	}
	for _, o := range st.Origins {
		out.Origins = append(out.Origins, apitype.MirrorOrigin{Origin: o.Origin, TreeSize: o.TreeSize, RootHash: o.RootHash,
			Witnesses: nonNil(o.Witnesses), TilesSize: o.TilesSize, Bundles: o.Bundles})
	}
	for _, v := range st.SplitViews {
		out.SplitViews = append(out.SplitViews, apitype.KitSplitView{Origin: v.Origin, AcceptedSize: v.AcceptedSize,
			AcceptedRoot: v.AcceptedRoot, OfferedSize: v.OfferedSize, OfferedRoot: v.OfferedRoot, KitSource: v.KitSource,
			KitSequence: v.KitSequence, Reason: v.Reason, DetectedAt: v.DetectedAt.UTC().Format(time.RFC3339)})
	}
	if err := s.allowed(ctx, call.Caller, rec); err != nil {
		return nil, err
	}
	return out, nil
}

// KitExport writes a kit of this appliance's log to w: its checkpoint, the
// consistency proof and tiles from since (a tree size the receiving side
// holds), the bundles logged since and the audit chain head, signed by the
// configured kit signing keys. w must buffer: on an error after a partial
// write the caller discards what was written (internal/api does).
func (s *Service) KitExport(ctx context.Context, call Call, w io.Writer, since uint64) error {
	a, rec, err := s.adminCall(call, "kit.export")
	if err == nil && (a.Offline == nil || len(a.KitExport.Signers) == 0) {
		err = fmt.Errorf("%w: no kit signing key (--kit-signing-key)", ErrNoOffline)
	}
	if err != nil {
		return s.refuse(ctx, call.Caller, rec, err)
	}
	opts := a.KitExport
	opts.Since, opts.Bundles, opts.Audit = since, s, a.Audit
	res, err := a.Offline.Export(ctx, w, opts)
	if err != nil {
		return s.refuse(ctx, call.Caller, rec, rejected(fmt.Errorf("exporting since %d: %w", since, err)))
	}
	rec.Reason = fmt.Sprintf("kit %s #%d, tree size %d since %d", res.Source, res.Sequence, res.TreeSize, res.Since)
	return s.allowed(ctx, call.Caller, rec)
}

var _ offline.BundleSource = (*Service)(nil)
