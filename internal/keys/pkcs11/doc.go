// Package pkcs11 opens and generates ECDSA P-256 signing keys held in PKCS#11
// tokens (HSMs; SoftHSM2 in tests), named by RFC 7512 URIs such as
//
//	pkcs11:token=stellad;object=dsse-tenant-a?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/credentials/stellad/hsm-pin
//
// ParseURI and URI work in every build. Provider talks to tokens through
// github.com/ThalesGroup/crypto11 and so needs cgo; a CGO_ENABLED=0 build
// compiles a Provider whose methods return ErrUnavailable.
//
// A Provider keeps one crypto11 context (one login, one session pool) per
// module and token, shared by every key opened in that token, until Close.
// PKCS#11 calls cannot be cancelled once started: each token bounds its
// concurrent calls with a semaphore the size of its session pool, and every
// operation checks its context before it starts a call.
//
// PINs come from a file (pin-source). A pin-value in the URI is refused unless
// Config.AllowPINValue is set, which only development configurations do.
package pkcs11
