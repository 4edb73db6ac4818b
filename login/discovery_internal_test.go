package login

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerMetadataURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://as.example", []string{"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"}},
		{"https://as.example/", []string{"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"}},
		{"https://as.example/tenant/1", []string{
			"https://as.example/.well-known/oauth-authorization-server/tenant/1",
			"https://as.example/tenant/1/.well-known/openid-configuration",
			"https://as.example/.well-known/openid-configuration/tenant/1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			u, err := url.Parse(tt.issuer)
			require.NoError(t, err)
			assert.Equal(t, tt.want, serverMetadataURLs(u))
		})
	}
}

func TestResourceMetadataURL(t *testing.T) {
	tests := []struct{ resource, want string }{
		{"https://api.example", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://api.example/", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://api.example/v1/items?x=1", "https://api.example/.well-known/oauth-protected-resource/v1/items"},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			u, err := url.Parse(tt.resource)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resourceMetadataURL(u))
		})
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name, resource, called string
		want                   bool
	}{
		{"the same URL", "https://api.example/v1/items", "https://api.example/v1/items", true},
		{"the origin", "https://api.example", "https://api.example/v1/items", true},
		{"the origin with a slash", "https://api.example/", "https://api.example/v1/items", true},
		{"a path prefix ending in a slash", "https://api.example/v1/", "https://api.example/v1/items", true},
		{"a path prefix at a segment", "https://api.example/v1", "https://api.example/v1/items", true},
		{"the default port spelled out", "https://api.example:443/v1/", "https://api.example/v1/items", true},
		{"host case", "https://API.example/v1/", "https://api.example/v1/items", true},
		{"a prefix inside a segment", "https://api.example/v", "https://api.example/v1/items", false},
		{"another path", "https://api.example/v2/", "https://api.example/v1/items", false},
		{"a longer path", "https://api.example/v1/items/7", "https://api.example/v1/items", false},
		{"another host", "https://evil.example/", "https://api.example/v1/items", false},
		{"another port", "https://api.example:8443/", "https://api.example/v1/items", false},
		{"another scheme", "http://api.example/", "https://api.example/v1/items", false},
		{"a query must match exactly", "https://api.example/v1/items?a=1", "https://api.example/v1/items?a=1", true},
		{"a query that differs", "https://api.example/v1/items?a=1", "https://api.example/v1/items?a=2", false},
		{"a fragment", "https://api.example/#x", "https://api.example/v1/items", false},
		{"relative", "/v1/", "https://api.example/v1/items", false},
		{"empty", "", "https://api.example/v1/items", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.called)
			require.NoError(t, err)
			assert.Equal(t, tt.want, covers(tt.resource, u), "resource %q for %q", tt.resource, tt.called)
		})
	}
}
