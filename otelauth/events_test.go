package otelauth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/otelauth"
)

var (
	succeeded = attribute.String("authtransport.refresh.outcome", "succeeded")
	failed    = attribute.String("authtransport.refresh.outcome", "failed")
	terminal  = attribute.String("error.type", "terminal")
	transient = attribute.String("error.type", "transient")
	status401 = attribute.Int("http.response.status_code", 401)
	status403 = attribute.Int("http.response.status_code", 403)
)

func challenge(v string) attribute.KeyValue { return attribute.String("authtransport.challenge", v) }

func TestEventsRecordsEachKind(t *testing.T) {
	secret := errors.New("token endpoint said: refresh token rt-secret-1 is revoked")
	tests := []struct {
		name   string
		attrs  []attribute.KeyValue
		events []authtransport.Event
		want   map[string]int64
	}{
		{
			name:   "refresh started",
			events: []authtransport.Event{{Kind: authtransport.EventRefreshStarted}, {Kind: authtransport.EventRefreshStarted}},
			want:   map[string]int64{key("authtransport.refresh.started"): 2},
		},
		{
			name:   "refresh succeeded",
			events: []authtransport.Event{{Kind: authtransport.EventRefreshSucceeded, Duration: 40 * time.Millisecond}},
			want: map[string]int64{
				key("authtransport.refresh.completed", succeeded): 1,
				key("authtransport.refresh.duration", succeeded):  1,
			},
		},
		{
			name: "refresh failed, terminal and transient, error text not read",
			events: []authtransport.Event{
				{Kind: authtransport.EventRefreshFailed, Detail: "terminal", Duration: time.Second, Err: secret},
				{Kind: authtransport.EventRefreshFailed, Detail: "transient", Duration: time.Second, Err: secret},
				{Kind: authtransport.EventRefreshFailed, Detail: "transient", Duration: time.Second, Err: secret},
			},
			want: map[string]int64{
				key("authtransport.refresh.completed", failed, terminal):  1,
				key("authtransport.refresh.duration", failed, terminal):   1,
				key("authtransport.refresh.completed", failed, transient): 2,
				key("authtransport.refresh.duration", failed, transient):  2,
			},
		},
		{
			name:   "refresh failed with a detail this package does not know",
			events: []authtransport.Event{{Kind: authtransport.EventRefreshFailed, Detail: "novel"}},
			want: map[string]int64{
				key("authtransport.refresh.completed", failed, attribute.String("error.type", "novel")): 1,
				key("authtransport.refresh.duration", failed, attribute.String("error.type", "novel")):  1,
			},
		},
		{
			name:   "refresh limited",
			events: []authtransport.Event{{Kind: authtransport.EventRefreshLimited, Status: 401}},
			want:   map[string]int64{key("authtransport.refresh.limited", status401): 1},
		},
		{
			name:   "token adopted",
			events: []authtransport.Event{{Kind: authtransport.EventTokenAdopted}},
			want:   map[string]int64{key("authtransport.token.adopted"): 1},
		},
		{
			name: "store and save failures",
			events: []authtransport.Event{
				{Kind: authtransport.EventStoreFailed, Err: secret},
				{Kind: authtransport.EventSaveFailed, Err: secret},
				{Kind: authtransport.EventSaveFailed, Err: secret},
			},
			want: map[string]int64{
				key("authtransport.store.errors", attribute.String("authtransport.store.operation", "load")): 1,
				key("authtransport.store.errors", attribute.String("authtransport.store.operation", "save")): 2,
			},
		},
		{
			name: "rejections by status and challenge",
			events: []authtransport.Event{
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "Bearer invalid_token"},
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "bearer invalid_token"},
				{Kind: authtransport.EventRequestRejected, Status: 403, Detail: "Bearer insufficient_scope"},
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "DPoP use_dpop_nonce"},
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "DPoP"},
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "no challenge"},
			},
			want: map[string]int64{
				key("authtransport.request.rejected", status401, challenge("Bearer invalid_token")):      2,
				key("authtransport.request.rejected", status403, challenge("Bearer insufficient_scope")): 1,
				key("authtransport.request.rejected", status401, challenge("DPoP use_dpop_nonce")):       1,
				key("authtransport.request.rejected", status401, challenge("DPoP")):                      1,
				key("authtransport.request.rejected", status401, challenge("no challenge")):              1,
			},
		},
		{
			name: "rejections with what a server made up",
			events: []authtransport.Event{
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "Bearer token_rt-secret-1_refused"},
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "Bearer [redacted]"},
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "Negotiate"},
				{Kind: authtransport.EventRequestRejected, Status: 499, Detail: "Bearer invalid_token"},
			},
			want: map[string]int64{
				key("authtransport.request.rejected", status401, challenge("Bearer _OTHER")):                                              2,
				key("authtransport.request.rejected", status401, challenge("_OTHER")):                                                     1,
				key("authtransport.request.rejected", attribute.Int("http.response.status_code", 499), challenge("Bearer invalid_token")): 1,
			},
		},
		{
			name: "resends by reason and skipped resends",
			events: []authtransport.Event{
				{Kind: authtransport.EventResent, Detail: "refreshed"},
				{Kind: authtransport.EventResent, Detail: "dpop-nonce"},
				{Kind: authtransport.EventResendSkipped, Status: 401},
			},
			want: map[string]int64{
				key("authtransport.request.resent", attribute.String("authtransport.resend.reason", "refreshed")):  1,
				key("authtransport.request.resent", attribute.String("authtransport.resend.reason", "dpop-nonce")): 1,
				key("authtransport.request.resend_skipped"):                                                        1,
			},
		},
		{
			name: "requests without credentials by reason",
			events: []authtransport.Event{
				{Kind: authtransport.EventNoCredentials, Detail: "plain-http"},
				{Kind: authtransport.EventNoCredentials, Detail: "other-origin"},
				{Kind: authtransport.EventNoCredentials, Detail: "own-authorization"},
			},
			want: map[string]int64{
				key("authtransport.request.no_credentials", attribute.String("authtransport.no_credentials.reason", "plain-http")):        1,
				key("authtransport.request.no_credentials", attribute.String("authtransport.no_credentials.reason", "other-origin")):      1,
				key("authtransport.request.no_credentials", attribute.String("authtransport.no_credentials.reason", "own-authorization")): 1,
			},
		},
		{
			name: "logins required by reason",
			events: []authtransport.Event{
				{Kind: authtransport.EventLoginRequired, Reason: authtransport.ReasonStepUp, Status: 401},
				{Kind: authtransport.EventLoginRequired, Reason: authtransport.ReasonNoToken},
				{Kind: authtransport.EventLoginRequired, Reason: 99},
			},
			want: map[string]int64{
				key("authtransport.login.required", attribute.String("authtransport.login.reason", "stronger authentication required")): 1,
				key("authtransport.login.required", attribute.String("authtransport.login.reason", "no token")):                         1,
				key("authtransport.login.required", attribute.String("authtransport.login.reason", "Reason(99)")):                       1,
			},
		},
		{
			name: "logins",
			events: []authtransport.Event{
				{Kind: authtransport.EventLoginStarted, Reason: authtransport.ReasonNoToken},
				{Kind: authtransport.EventLoginSucceeded, Duration: time.Minute},
				{Kind: authtransport.EventLoginStarted, Reason: authtransport.ReasonNoToken},
				{Kind: authtransport.EventLoginFailed, Reason: authtransport.ReasonNoToken, Err: secret},
			},
			want: map[string]int64{
				key("authtransport.login.completed", attribute.String("authtransport.login.outcome", "succeeded")): 1,
				key("authtransport.login.completed", attribute.String("authtransport.login.outcome", "failed")):    1,
			},
		},
		{
			name:   "a kind this package does not know",
			events: []authtransport.Event{{Kind: 99, Detail: "whatever", Err: secret}},
			want:   map[string]int64{key("authtransport.event.other", attribute.String("authtransport.event.kind", "EventKind(99)")): 1},
		},
		{
			name:  "attributes given to Events are on every measurement, and lose to the package's",
			attrs: []attribute.KeyValue{attribute.String("api", "billing"), attribute.String("error.type", "mine")},
			events: []authtransport.Event{
				{Kind: authtransport.EventRefreshStarted},
				{Kind: authtransport.EventRefreshFailed, Detail: "terminal"},
				{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "Bearer whatever"},
				{Kind: 99},
			},
			want: map[string]int64{
				key("authtransport.refresh.started", attribute.String("api", "billing"), attribute.String("error.type", "mine")): 1,
				key("authtransport.refresh.completed", attribute.String("api", "billing"), failed, terminal):                     1,
				key("authtransport.refresh.duration", attribute.String("api", "billing"), failed, terminal):                      1,
				key("authtransport.request.rejected", attribute.String("api", "billing"), attribute.String("error.type", "mine"),
					status401, challenge("Bearer _OTHER")): 1,
				key("authtransport.event.other", attribute.String("api", "billing"), attribute.String("error.type", "mine"),
					attribute.String("authtransport.event.kind", "EventKind(99)")): 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mp, reader := newProvider(t)
			onEvent, err := otelauth.Events(mp, tt.attrs...)
			require.NoError(t, err, "creating the instruments")
			for _, ev := range tt.events {
				onEvent(ev)
			}
			got := collect(t, reader)
			assert.Equal(t, tt.want, values(got), "data points after %d events", len(tt.events))
			for k := range got {
				assert.NotContains(t, k, "rt-secret-1", "a data point carries a secret")
			}
		})
	}
}

func TestEventsDurationBuckets(t *testing.T) {
	mp, reader := newProvider(t)
	onEvent, err := otelauth.Events(mp)
	require.NoError(t, err, "creating the instruments")
	for _, d := range []time.Duration{5 * time.Millisecond, 80 * time.Millisecond, 3 * time.Second, 2 * time.Minute} {
		onEvent(authtransport.Event{Kind: authtransport.EventRefreshSucceeded, Duration: d})
	}
	got := collect(t, reader)
	p := got[key("authtransport.refresh.duration", succeeded)]
	assert.Equal(t, "s", p.unit, "unit of the duration histogram")
	assert.Equal(t, int64(4), p.value, "refreshes in the duration histogram")
	assert.InDelta(t, 123.085, p.sum, 1e-9, "sum of the durations in seconds")
	assert.Equal(t, []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}, p.bounds, "bucket boundaries")
	assert.Equal(t, []uint64{1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1}, p.buckets, "refreshes in each bucket")
}

func TestEventsUnits(t *testing.T) {
	mp, reader := newProvider(t)
	onEvent, err := otelauth.Events(mp)
	require.NoError(t, err, "creating the instruments")
	for k := authtransport.EventKind(1); k <= authtransport.EventLoginFailed+1; k++ {
		onEvent(authtransport.Event{Kind: k, Status: 401, Detail: "transient", Reason: authtransport.ReasonNoToken})
	}
	want := map[string]string{
		"authtransport.refresh.started":        "{refresh}",
		"authtransport.refresh.completed":      "{refresh}",
		"authtransport.refresh.duration":       "s",
		"authtransport.refresh.limited":        "{request}",
		"authtransport.token.adopted":          "{token}",
		"authtransport.store.errors":           "{error}",
		"authtransport.request.rejected":       "{request}",
		"authtransport.request.resent":         "{request}",
		"authtransport.request.resend_skipped": "{request}",
		"authtransport.request.no_credentials": "{request}",
		"authtransport.login.required":         "{request}",
		"authtransport.login.completed":        "{login}",
		"authtransport.event.other":            "{event}",
	}
	units := map[string]string{}
	for k, p := range collect(t, reader) {
		units[k[:strings.IndexByte(k, '{')]] = p.unit
	}
	assert.Equal(t, want, units, "unit of each metric")
}

func TestEventsUsesGlobalProviderWhenNil(t *testing.T) {
	mp, reader := newProvider(t)
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(mp)
	t.Cleanup(func() { otel.SetMeterProvider(prev) })

	onEvent, err := otelauth.Events(nil)
	require.NoError(t, err, "creating the instruments")
	onEvent(authtransport.Event{Kind: authtransport.EventTokenAdopted})
	assert.Equal(t, map[string]int64{key("authtransport.token.adopted"): 1}, values(collect(t, reader)),
		"data points recorded through the global provider")
}

// failingMeter is a meter that cannot create counters.
type failingMeter struct{ noop.Meter }

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return noop.Int64Counter{}, errors.New("no counters today")
}

type failingProvider struct{ noop.MeterProvider }

func (failingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

func TestEventsReportsInstrumentErrors(t *testing.T) {
	onEvent, err := otelauth.Events(failingProvider{})
	require.Error(t, err, "creating counters with a meter that cannot")
	assert.Nil(t, onEvent, "function returned with the error")
	assert.True(t, strings.HasPrefix(err.Error(), "otelauth: "), "error %q starts with the package name", err)
	assert.Contains(t, err.Error(), "no counters today", "error %q names the meter's error", err)
}
