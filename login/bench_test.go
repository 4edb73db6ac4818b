package login_test

import (
	"io"
	"testing"

	"github.com/d5c4ca72/authtransport/login"
)

// BenchmarkBrowserLogin measures a whole browser login against authtest:
// the loopback listener, the authorization request through a stand-in
// browser, the redirect back, the page, and the code exchange.
func BenchmarkBrowserLogin(b *testing.B) {
	srv := newServerB(b)
	cfg := srv.RegisterPublicClient("cli")
	ctx := withClient(b.Context(), srv.Client())
	br := &browser{client: srv.Client()}
	flow := &login.Browser{Config: cfg, Issuer: srv.URL, RequireIssuer: true, Open: br.Open, Output: io.Discard}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := flow.Login(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiscoveryForResource measures the discovery from a
// resource_metadata URL to the authorization server's endpoints.
func BenchmarkDiscoveryForResource(b *testing.B) {
	srv := newServerB(b)
	ctx := withClient(b.Context(), srv.Client())
	var d login.Discovery
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.ForResource(ctx, srv.MetadataURL(), srv.ResourceURL("items")); err != nil {
			b.Fatal(err)
		}
	}
}
