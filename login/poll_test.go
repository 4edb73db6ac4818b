package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPollVerdict(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want pollAction
	}{
		{"authorization_pending", &OAuthError{Code: "authorization_pending", StatusCode: 400}, pollAgain},
		{"slow_down", &OAuthError{Code: "slow_down", StatusCode: 400}, pollSlower},
		{"access_denied", &OAuthError{Code: "access_denied", StatusCode: 400}, pollStop},
		{"expired_token", &OAuthError{Code: "expired_token", StatusCode: 400}, pollStop},
		{"invalid_client", &OAuthError{Code: "invalid_client", StatusCode: 401}, pollStop},
		{"an OAuth error with a 5xx", &OAuthError{Code: "server_error", StatusCode: 503}, pollBackOff},
		{"an OAuth error with a 429", &OAuthError{Code: "rate_limit_exceeded", StatusCode: 429}, pollBackOff},
		{"a 5xx page", &ResponseError{StatusCode: 502}, pollBackOff},
		{"a 429 page", &ResponseError{StatusCode: 429}, pollBackOff},
		{"a 404 page", &ResponseError{StatusCode: 404}, pollStop},
		{"garbage", &ResponseError{StatusCode: 200, Reason: "not JSON"}, pollStop},
		{"a redirect", &RedirectError{StatusCode: 302}, pollStop},
		{"a reset", fmt.Errorf("login: token request: %w", errors.New("connection reset by peer")), pollBackOff},
		{"the request's own timeout", fmt.Errorf("login: token request: %w", context.DeadlineExceeded), pollBackOff},
		{"a cut answer", io.ErrUnexpectedEOF, pollBackOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, pollVerdict(tt.err))
		})
	}
}

func TestNextInterval(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		action   pollAction
		want     time.Duration
	}{
		{"pending keeps the interval", 5 * time.Second, pollAgain, 5 * time.Second},
		{"slow_down adds 5 s", 5 * time.Second, pollSlower, 10 * time.Second},
		{"and again", 10 * time.Second, pollSlower, 15 * time.Second},
		{"a failed poll doubles", 5 * time.Second, pollBackOff, 10 * time.Second},
		{"up to a minute", 40 * time.Second, pollBackOff, time.Minute},
		{"never below the server's interval", 90 * time.Second, pollBackOff, 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, nextInterval(tt.interval, tt.action))
		})
	}
}
