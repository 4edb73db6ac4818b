package otelauth

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// meterName is the instrumentation scope of the instruments.
const meterName = "github.com/d5c4ca72/authtransport/otelauth"

// durationBounds are the bucket boundaries, in seconds, of
// authtransport.refresh.duration: a token endpoint answers in tens of
// milliseconds when it is near, in seconds when it is slow, and a refresh
// gives up after RefreshTimeout (30 s by default).
var durationBounds = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// instruments are the instruments that events are recorded with.
type instruments struct {
	started       metric.Int64Counter
	completed     metric.Int64Counter
	duration      metric.Float64Histogram
	limited       metric.Int64Counter
	adopted       metric.Int64Counter
	storeErrors   metric.Int64Counter
	rejected      metric.Int64Counter
	resent        metric.Int64Counter
	resendSkipped metric.Int64Counter
	noCredentials metric.Int64Counter
	loginRequired metric.Int64Counter
	logins        metric.Int64Counter
	other         metric.Int64Counter
}

// newInstruments creates the instruments with m. Its error joins those of
// every instrument that could not be created.
func newInstruments(m metric.Meter) (instruments, error) {
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	in := instruments{
		started:       counter("authtransport.refresh.started", "{refresh}", "Token refreshes started: the Refresher was called."),
		completed:     counter("authtransport.refresh.completed", "{refresh}", "Token refreshes completed, by outcome."),
		limited:       counter("authtransport.refresh.limited", "{request}", "Rejected requests returned as they are because refreshes that rejections ask for are spaced."),
		adopted:       counter("authtransport.token.adopted", "{token}", "Tokens another Transport, process or login stored, used instead of refreshing."),
		storeErrors:   counter("authtransport.store.errors", "{error}", "Token store failures, by operation."),
		rejected:      counter("authtransport.request.rejected", "{request}", "Requests a resource server answered with 401 or 403, by status and challenge."),
		resent:        counter("authtransport.request.resent", "{request}", "Requests sent again, by reason."),
		resendSkipped: counter("authtransport.request.resend_skipped", "{request}", "Rejected requests not sent again because their body cannot be replayed."),
		noCredentials: counter("authtransport.request.no_credentials", "{request}", "Requests sent without credentials, by reason."),
		loginRequired: counter("authtransport.login.required", "{request}", "Requests that ended in a login required error, by reason."),
		logins:        counter("authtransport.login.completed", "{login}", "Interactive logins (Transport.Login) completed, by outcome."),
		other:         counter("authtransport.event.other", "{event}", "Events of kinds without an instrument of their own, by kind."),
	}
	var err error
	in.duration, err = m.Float64Histogram("authtransport.refresh.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of completed token refreshes, by outcome."),
		metric.WithExplicitBucketBoundaries(durationBounds...))
	errs = append(errs, err)
	return in, errors.Join(errs...)
}
