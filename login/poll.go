package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/d5c4ca72/authtransport"
)

// The device login's poll loop (RFC 8628 §3.4, §3.5). What each answer
// means for the next poll is decided by pollVerdict and nextInterval, pure
// functions of the answer and the interval; poll only waits and asks.

// maxBackoffInterval caps the interval doubled after failed polls.
const maxBackoffInterval = time.Minute

// slowDownStep is what each slow_down adds to the interval.
const slowDownStep = 5 * time.Second

// pollAction is what to do after a poll.
type pollAction int

const (
	pollAgain   pollAction = iota + 1 // authorization_pending: same interval
	pollSlower                        // slow_down: interval + 5 s from now on
	pollBackOff                       // failed in transit, 5xx or 429: interval doubled
	pollStop                          // a token, or an answer that ends the login
)

// pollVerdict returns what to do after a poll that failed with err.
func pollVerdict(err error) pollAction {
	var oe *OAuthError
	var re *ResponseError
	var rd *RedirectError
	switch {
	case errors.As(err, &oe) && oe.Code == "authorization_pending":
		return pollAgain
	case errors.As(err, &oe) && oe.Code == "slow_down":
		return pollSlower
	case errors.As(err, &oe) && (oe.StatusCode >= 500 || oe.StatusCode == http.StatusTooManyRequests):
		return pollBackOff
	case errors.As(err, &oe), errors.As(err, &rd):
		return pollStop
	case errors.As(err, &re):
		if re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests {
			return pollBackOff
		}
		return pollStop
	}
	// The request did not get through (a reset, a timeout): RFC 8628
	// §3.5 asks to poll less often, not to give up.
	return pollBackOff
}

// nextInterval returns the interval after an answer that asks for another
// poll.
func nextInterval(interval time.Duration, a pollAction) time.Duration {
	switch a {
	case pollSlower:
		return interval + slowDownStep
	case pollBackOff:
		return max(interval, min(2*interval, maxBackoffInterval))
	}
	return interval
}

// poll calls request every interval (as adjusted by the answers) until it
// returns a token or an error that ends the login, the device code
// expires, or ctx ends.
func poll(ctx context.Context, interval time.Duration, expiry time.Time, request func(context.Context) (*authtransport.Token, error)) (*authtransport.Token, error) {
	var last error // the last poll that failed in transit
	for {
		wait, expired := interval, false
		if left := time.Until(expiry); left <= wait {
			wait, expired = left, true
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("login: waiting for the user to approve the device: %w", err)
		}
		if expired {
			if last != nil {
				return nil, fmt.Errorf("%w (the device code expired; the last poll failed: %v)", ErrTimeout, last)
			}
			return nil, ErrTimeout
		}
		tok, err := request(ctx)
		if err == nil {
			return tok, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("login: waiting for the user to approve the device: %w", ctx.Err())
		}
		a := pollVerdict(err)
		switch a {
		case pollStop:
			return nil, err
		case pollBackOff:
			last = err
		}
		interval = nextInterval(interval, a)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
