package refusal

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestError(t *testing.T) {
	err := fmt.Errorf("signing: %w", &Error{Code: "quota_rate", Msg: "50 requests/s", RetryAfter: time.Second})
	if !errors.Is(err, &Error{Code: "quota_rate"}) || errors.Is(err, &Error{Code: "quota_daily"}) {
		t.Error("errors.Is does not compare codes")
	}
	var r *Error
	if !errors.As(err, &r) || r.RetryAfter != time.Second {
		t.Errorf("errors.As = %v", r)
	}
	if got := New("auth_missing", "no %s header", "Authorization").Error(); got != "auth_missing: no Authorization header" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Code: "x"}).Error(); got != "x" {
		t.Errorf("Error() without message = %q", got)
	}
}
