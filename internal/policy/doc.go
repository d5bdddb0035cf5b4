// Package policy is the scanner release check of stellad's admission path:
// requests to sign scan reports and SBOMs name the scanner image digest that
// produced them, and the appliance signs only for digests it trusts.
//
// A digest is trusted when it is a release signed by a trusted scanner
// release key, imported offline from an OCI image layout
// ([Checker.ImportLayout]); when it is on the configured allowlist; or when
// an admin approved it for the requesting tenant ([Checker.Approve]).
// Otherwise [Checker.Check] refuses with an [*Error] (scanner_untrusted), or,
// in queue mode, records a pending approval and refuses with
// scanner_approval_pending until an admin decides. Check answers from
// memory; every state change is written to SQLite (migration 6, see
// [Migrations]) before memory changes, and New reloads it, so a restart keeps
// what was imported and decided.
//
// The promise of ImportLayout: it verifies everything before it records
// anything. Every blob it reads is re-hashed against its digest, no file is
// read outside the layout directory and no symlink is followed, sizes and
// counts are bounded ([Limits]), and every release signature in the layout
// must verify with a trusted key and match the image it is attached to;
// otherwise nothing is recorded and the error names the file that failed.
//
// Formats. The layout reader ([OpenLayout], [Layout.Manifests]) follows OCI
// image-spec v1.1 image-layout.md, descriptor.md, manifest.md and
// image-index.md. Two release signature forms are recognised:
//
//   - cosign classic: a manifest tagged "sha256-<hex>.sig" (annotation
//     org.opencontainers.image.ref.name), or marked kind
//     dev.cosignproject.cosign/sigs as `cosign save` writes it, whose layers
//     of media type application/vnd.dev.cosign.simplesigning.v1+json carry a
//     base64 signature over the layer blob in the annotation
//     dev.cosignproject.cosign/signature; the blob is a simple-signing
//     payload whose critical.image.docker-manifest-digest is the released
//     digest (and must equal the tag's).
//   - OCI 1.1 referrer: a manifest with artifactType
//     application/vnd.dev.sigstore.bundle.v0.3+json whose subject is the
//     released image manifest and whose one layer is a Sigstore bundle v0.3,
//     either a messageSignature over the subject manifest (its digest must
//     be the subject's) or a DSSE envelope ([dsse.Parse]) whose in-toto
//     statement names the subject's sha256 digest, as cosign v3 signs images.
//
// Trust comes from the public keys in [Config] alone, or those given later
// to [Checker.SetReleaseKeys] (ECDSA P-256/P-384,
// Ed25519, RSA PKCS #1 v1.5 or PSS): certificates, transparency log entries
// and key hints inside bundles are ignored, and a signature by any other key
// (keyless cosign signatures included) makes the import fail.
//
// Libraries: the standard library and kit/dsse only. The OCI types are
// declared here (a handful of fields) rather than taken from
// github.com/opencontainers/image-spec, which go.mod does not require
// directly, and go-containerregistry is not linked into the daemon.
package policy
