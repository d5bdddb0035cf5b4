// Package keys opens signing keys by URI and hands them out as crypto.Signer.
//
// Two schemes are understood:
//
//   - file:/path/key.pem (or file:relative/key.pem): an ECDSA P-256 PKCS#8
//     PEM file of mode 0600, for development (package file);
//   - pkcs11:token=...;object=...?module-path=...&pin-source=... (RFC 7512):
//     an ECDSA P-256 key inside an HSM, through crypto11; needs cgo
//     (package pkcs11).
//
// An Opener dispatches on the scheme and owns the PKCS#11 contexts, one per
// module and token, shared by every key opened in that token until Close.
// Every Key's URI() is safe to log: it never carries a pin-value.
//
// Callers branch on ErrNotFound, ErrExists and ErrPKCS11Unavailable with
// errors.Is; every other error is a message naming the file, token or object
// at fault.
package keys
