package otelauth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/otelauth"
)

// benchEvents are events of the kinds a busy Transport sends most, plus
// one this package must build attributes for.
var benchEvents = []struct {
	name string
	ev   authtransport.Event
}{
	{"RefreshStarted", authtransport.Event{Kind: authtransport.EventRefreshStarted}},
	{"RefreshSucceeded", authtransport.Event{Kind: authtransport.EventRefreshSucceeded, Duration: 40 * time.Millisecond}},
	{"RefreshFailed", authtransport.Event{Kind: authtransport.EventRefreshFailed, Detail: "transient", Duration: time.Second}},
	{"Rejected", authtransport.Event{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "Bearer invalid_token"}},
	{"RejectedMadeUpCode", authtransport.Event{Kind: authtransport.EventRequestRejected, Status: 401, Detail: "Bearer made_up"}},
	{"NoCredentials", authtransport.Event{Kind: authtransport.EventNoCredentials, Detail: "other-origin"}},
	{"LoginRequired", authtransport.Event{Kind: authtransport.EventLoginRequired, Reason: authtransport.ReasonRefreshRejected}},
	{"UnknownKind", authtransport.Event{Kind: 99}},
}

// BenchmarkEvents measures one event recorded with the SDK (a
// ManualReader) and, as the peer that shows this package's own share, with
// the no-op provider; in parallel, to show contention.
func BenchmarkEvents(b *testing.B) {
	providers := []struct {
		name string
		mp   func(b *testing.B) metric.MeterProvider
	}{
		{"SDK", func(b *testing.B) metric.MeterProvider {
			return sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		}},
		{"Noop", func(*testing.B) metric.MeterProvider { return noop.NewMeterProvider() }},
	}
	for _, p := range providers {
		for _, be := range benchEvents {
			onEvent, err := otelauth.Events(p.mp(b))
			require.NoError(b, err, "creating the instruments")
			ev := be.ev
			b.Run(p.name+"/"+be.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					onEvent(ev)
				}
			})
			b.Run(p.name+"/"+be.name+"/Parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						onEvent(ev)
					}
				})
			})
		}
	}
}
