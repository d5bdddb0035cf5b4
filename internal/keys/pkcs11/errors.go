//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// crypto11 returns this unexported error, unwrapped, when no slot holds the
// token the Config names.
const crypto11TokenNotFound = "could not find PKCS#11 token"

// translate turns a PKCS#11 or crypto11 error into a message naming the token
// (and module, when known). The CKR_* code stays reachable with errors.As on a
// github.com/miekg/pkcs11.Error.
func translate(err error, tokenName, module string) error {
	var code p11.Error
	if errors.As(err, &code) {
		switch code {
		case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_LEN_RANGE:
			return fmt.Errorf("PIN for %s is incorrect: %w", tokenName, err)
		case p11.CKR_PIN_LOCKED:
			return fmt.Errorf("PIN for %s is locked; the security officer must reset it: %w", tokenName, err)
		case p11.CKR_PIN_EXPIRED:
			return fmt.Errorf("PIN for %s has expired: %w", tokenName, err)
		case p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_DEVICE_REMOVED, p11.CKR_SLOT_ID_INVALID:
			return fmt.Errorf("%s is not present: %w", tokenName, err)
		case p11.CKR_TOKEN_NOT_RECOGNIZED:
			return fmt.Errorf("%s is not recognised by the module: %w", tokenName, err)
		case p11.CKR_KEY_HANDLE_INVALID, p11.CKR_OBJECT_HANDLE_INVALID:
			return fmt.Errorf("the key object no longer exists in %s: %w", tokenName, err)
		case p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED:
			return fmt.Errorf("session with %s was lost (token reset or removed?); restart to log in again: %w", tokenName, err)
		case p11.CKR_DEVICE_MEMORY:
			return fmt.Errorf("%s is out of memory: %w", tokenName, err)
		}
		return fmt.Errorf("%s: %w", tokenName, err)
	}
	if err.Error() == crypto11TokenNotFound {
		if module != "" {
			return fmt.Errorf("%s not found by PKCS#11 module %s (is it initialised, and for SoftHSM2 is SOFTHSM2_CONF set?): %w", tokenName, module, err)
		}
		return fmt.Errorf("%s not found: %w", tokenName, err)
	}
	if module != "" {
		return fmt.Errorf("opening %s with PKCS#11 module %s: %w", tokenName, module, err)
	}
	return err
}
