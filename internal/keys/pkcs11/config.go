package pkcs11

import (
	"io"
	"log/slog"

	"github.com/stellaops/stellad/internal/keys/internal/keymeta"
)

// ErrUnavailable is returned by every Provider method in a binary built with
// CGO_ENABLED=0. It is the same value as keys.ErrPKCS11Unavailable.
var ErrUnavailable = keymeta.ErrPKCS11Unavailable

// DefaultSessions is the number of concurrent PKCS#11 operations per token
// when Config.Sessions is zero. SoftHSM2 signs fastest with two to four
// concurrent callers on two cores; hardware HSMs often allow more.
const DefaultSessions = 8

// Config configures a Provider. The zero value is usable when every URI names
// its module-path.
type Config struct {
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
	// DefaultModule is the PKCS#11 module loaded for URIs without module-path.
	DefaultModule string
	// AllowPINValue accepts pin-value in URIs. Development only: in production
	// PINs never come from URIs.
	AllowPINValue bool
	// Sessions bounds concurrent PKCS#11 operations per token (and sizes
	// crypto11's session pool to match). Zero means DefaultSessions.
	Sessions int
	// Rand supplies the random CKA_ID of keys generated without an id in
	// their URI. Nil means crypto/rand.
	Rand io.Reader
}
