package otelauth

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/d5c4ca72/authtransport"
)

// Events returns a function for [authtransport.Transport.OnEvent] that
// records each event as the metrics listed in the package documentation,
// with instruments it creates once from mp. If mp is nil, the global
// provider ([otel.GetMeterProvider]) is used; instruments made from it
// before a provider is set start recording once one is.
//
// attrs are added to every measurement, to tell apart Transports that
// share mp (one per API or tenant, say); where one has the key of an
// attribute this package sets, the package's value is used. They should be
// a few constants.
//
// The function is safe for concurrent use and may be shared by several
// Transports. Events returns an error, and no function, when an instrument
// cannot be created.
func Events(mp metric.MeterProvider, attrs ...attribute.KeyValue) (func(authtransport.Event), error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	in, err := newInstruments(mp.Meter(meterName))
	if err != nil {
		return nil, fmt.Errorf("otelauth: creating instruments: %w", err)
	}
	return newRecorder(in, attrs).record, nil
}

// rejection is what a rejection's attributes are built from.
type rejection struct {
	status    int
	challenge string
}

// recorder records events with its instruments and the attribute sets it
// builds in advance for every value the Transport sends. It is not changed
// after newRecorder returns.
type recorder struct {
	in    instruments
	extra []attribute.KeyValue // the attributes given to Events

	none          measure // extra alone
	succeeded     measure
	loginOK       measure
	loginFailed   measure
	failed        map[string]measure // by Detail
	load, save    measure
	limited       map[int]measure // by Status
	rejected      map[rejection]measure
	resent        map[string]measure // by Detail
	noCredentials map[string]measure // by Detail
	loginRequired map[authtransport.Reason]measure
}

func newRecorder(in instruments, extra []attribute.KeyValue) *recorder {
	extra = append([]attribute.KeyValue(nil), extra...)
	r := &recorder{
		in:            in,
		extra:         extra,
		none:          measureOf(extra),
		succeeded:     measureOf(extra, keyOutcome.String(outcomeSucceeded)),
		loginOK:       measureOf(extra, keyLoginOutcome.String(outcomeSucceeded)),
		loginFailed:   measureOf(extra, keyLoginOutcome.String(outcomeFailed)),
		failed:        map[string]measure{},
		load:          measureOf(extra, keyOperation.String(opLoad)),
		save:          measureOf(extra, keyOperation.String(opSave)),
		limited:       map[int]measure{},
		rejected:      map[rejection]measure{},
		resent:        map[string]measure{},
		noCredentials: map[string]measure{},
		loginRequired: map[authtransport.Reason]measure{},
	}
	for _, d := range failureDetails {
		r.failed[d] = r.failure(d)
	}
	challenges := challengeValues()
	for _, s := range rejectionStatuses {
		r.limited[s] = measureOf(extra, keyStatus.Int(s))
		for _, c := range challenges {
			r.rejected[rejection{s, c}] = r.rejection(rejection{s, c})
		}
	}
	for _, d := range resendDetails {
		r.resent[d] = measureOf(extra, keyResendReason.String(d))
	}
	for _, d := range noCredentialDetails {
		r.noCredentials[d] = measureOf(extra, keyNoCredsReason.String(d))
	}
	for _, rs := range loginReasons {
		r.loginRequired[rs] = measureOf(extra, keyLoginReason.String(rs.String()))
	}
	return r
}

func (r *recorder) failure(detail string) measure {
	return measureOf(r.extra, keyOutcome.String(outcomeFailed), keyErrorType.String(detail))
}

func (r *recorder) rejection(k rejection) measure {
	return measureOf(r.extra, keyStatus.Int(k.status), keyChallenge.String(k.challenge))
}

// record records ev. A value outside the prebuilt sets gets a set built
// for it; a kind without an instrument is counted by its String.
func (r *recorder) record(ev authtransport.Event) {
	ctx := context.Background()
	in := &r.in
	switch ev.Kind {
	case authtransport.EventRefreshStarted:
		in.started.Add(ctx, 1, r.none.add...)
	case authtransport.EventRefreshSucceeded:
		r.completed(ctx, ev, r.succeeded)
	case authtransport.EventRefreshFailed:
		m, ok := r.failed[ev.Detail]
		if !ok {
			m = r.failure(ev.Detail)
		}
		r.completed(ctx, ev, m)
	case authtransport.EventRefreshLimited:
		m, ok := r.limited[ev.Status]
		if !ok {
			m = measureOf(r.extra, keyStatus.Int(ev.Status))
		}
		in.limited.Add(ctx, 1, m.add...)
	case authtransport.EventTokenAdopted:
		in.adopted.Add(ctx, 1, r.none.add...)
	case authtransport.EventStoreFailed:
		in.storeErrors.Add(ctx, 1, r.load.add...)
	case authtransport.EventSaveFailed:
		in.storeErrors.Add(ctx, 1, r.save.add...)
	case authtransport.EventRequestRejected:
		k := rejection{ev.Status, ev.Detail}
		m, ok := r.rejected[k]
		if !ok {
			k.challenge = challengeValue(ev.Detail)
			if m, ok = r.rejected[k]; !ok {
				m = r.rejection(k)
			}
		}
		in.rejected.Add(ctx, 1, m.add...)
	case authtransport.EventResent:
		m, ok := r.resent[ev.Detail]
		if !ok {
			m = measureOf(r.extra, keyResendReason.String(ev.Detail))
		}
		in.resent.Add(ctx, 1, m.add...)
	case authtransport.EventResendSkipped:
		in.resendSkipped.Add(ctx, 1, r.none.add...)
	case authtransport.EventNoCredentials:
		m, ok := r.noCredentials[ev.Detail]
		if !ok {
			m = measureOf(r.extra, keyNoCredsReason.String(ev.Detail))
		}
		in.noCredentials.Add(ctx, 1, m.add...)
	case authtransport.EventLoginRequired:
		m, ok := r.loginRequired[ev.Reason]
		if !ok {
			m = measureOf(r.extra, keyLoginReason.String(ev.Reason.String()))
		}
		in.loginRequired.Add(ctx, 1, m.add...)
	case authtransport.EventLoginSucceeded:
		in.logins.Add(ctx, 1, r.loginOK.add...)
	case authtransport.EventLoginFailed:
		in.logins.Add(ctx, 1, r.loginFailed.add...)
	case authtransport.EventLoginStarted:
		// A login's outcome is what counts; its start adds nothing.
	default:
		in.other.Add(ctx, 1, measureOf(r.extra, keyKind.String(ev.Kind.String())).add...)
	}
}

// completed records a finished refresh with the attributes of m.
func (r *recorder) completed(ctx context.Context, ev authtransport.Event, m measure) {
	r.in.completed.Add(ctx, 1, m.add...)
	r.in.duration.Record(ctx, ev.Duration.Seconds(), m.rec...)
}
