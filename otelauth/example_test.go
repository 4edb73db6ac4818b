package otelauth_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/otelauth"
)

// A Transport's events become metrics of the provider given to Events.
func Example() {
	srv := authtest.NewServer()
	defer srv.Close()
	reader := sdkmetric.NewManualReader() // in production, an exporter's reader
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	onEvent, err := otelauth.Events(mp)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &authtransport.Transport{
		Store:     authtransport.NewMemoryStore(srv.NewExpiredToken()),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		OnEvent:   onEvent,
	}}

	resp, err := client.Get(srv.ResourceURL("items"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit)
	}
	// Output:
	// authtransport.refresh.started {refresh}
	// authtransport.refresh.completed {refresh}
	// authtransport.refresh.duration s
}

// To receive the events too, call the function Events returns from a hook
// of your own.
func Example_ownHook() {
	srv := authtest.NewServer()
	defer srv.Close()

	onEvent, err := otelauth.Events(nil) // the global MeterProvider
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &authtransport.Transport{
		Store:     authtransport.NewMemoryStore(srv.NewToken()),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		OnEvent: func(ev authtransport.Event) {
			onEvent(ev)
			if ev.Kind == authtransport.EventLoginRequired {
				fmt.Println("login required:", ev.Reason)
			}
		},
	}}

	srv.RevokeGrant()
	if _, err := client.Get(srv.ResourceURL("items")); err == nil {
		log.Fatal("request succeeded with a revoked grant")
	}
	// Output:
	// login required: refresh rejected by the authorization server
}
