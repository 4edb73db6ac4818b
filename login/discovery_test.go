package login_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/login"
)

// docServer serves JSON documents by path; a document may use {origin}
// for the server's own origin. A path mapped to a number answers that
// status, one mapped to "->URL" redirects there.
func docServer(t *testing.T, docs map[string]string) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		origin := "http://" + r.Host
		doc = strings.ReplaceAll(doc, "{origin}", origin)
		var status int
		if _, err := fmt.Sscanf(doc, "%d", &status); err == nil && len(doc) == 3 {
			http.Error(w, "status", status)
			return
		}
		if to, ok := strings.CutPrefix(doc, "->"); ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, doc)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestDiscoveryServer(t *testing.T) {
	srv := newServer(t)
	ctx := withClient(t.Context(), srv.Client())
	var d login.Discovery

	t.Run("authtest", func(t *testing.T) {
		md, err := d.Server(ctx, srv.URL)
		require.NoError(t, err)
		assert.Equal(t, srv.URL, md.Issuer)
		assert.Equal(t, srv.AuthURL(), md.AuthorizationEndpoint)
		assert.Equal(t, srv.TokenURL(), md.TokenEndpoint)
		assert.Equal(t, srv.DeviceAuthURL(), md.DeviceAuthorizationEndpoint)
		assert.Equal(t, []string{"S256"}, md.CodeChallengeMethodsSupported)
		assert.True(t, md.AuthorizationResponseIssParameterSupported)
		assert.Contains(t, md.GrantTypesSupported, login.DeviceGrantType)

		pub := md.Config("cli", "", "read")
		assert.Equal(t, oauth2.Endpoint{AuthURL: srv.AuthURL(), DeviceAuthURL: srv.DeviceAuthURL(), TokenURL: srv.TokenURL(), AuthStyle: oauth2.AuthStyleInParams}, pub.Endpoint,
			"a public client names itself in the form")
		assert.Equal(t, []string{"read"}, pub.Scopes)
		assert.Equal(t, oauth2.AuthStyleInHeader, md.Config("app", "s").Endpoint.AuthStyle, "a confidential client uses client_secret_basic")
		postOnly := *md
		postOnly.TokenEndpointAuthMethodsSupported = []string{"client_secret_post"}
		assert.Equal(t, oauth2.AuthStyleInParams, postOnly.Config("app", "s").Endpoint.AuthStyle, "unless the server takes client_secret_post only")
	})

	meta := func(issuer string) string {
		return `{"issuer":"` + issuer + `","token_endpoint":"{origin}/token","authorization_endpoint":"{origin}/authorize"}`
	}
	other := docServer(t, map[string]string{"/.well-known/oauth-authorization-server": meta("{origin}")})
	tests := []struct {
		name  string
		docs  map[string]string
		path  string // of the issuer
		check func(t *testing.T, md *login.ServerMetadata, err error, origin string)
	}{
		{
			name: "RFC 8414", docs: map[string]string{"/.well-known/oauth-authorization-server": meta("{origin}")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				require.NoError(t, err)
				assert.Equal(t, origin+"/token", md.TokenEndpoint)
			},
		},
		{
			name: "OpenID Connect when RFC 8414 is missing", docs: map[string]string{"/.well-known/openid-configuration": meta("{origin}")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) { require.NoError(t, err) },
		},
		{
			name: "an issuer with a path", path: "/tenant", docs: map[string]string{"/.well-known/oauth-authorization-server/tenant": meta("{origin}/tenant")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				require.NoError(t, err)
				assert.Equal(t, origin+"/tenant", md.Issuer)
			},
		},
		{
			name: "an issuer with a path, OpenID Connect appended", path: "/tenant", docs: map[string]string{"/tenant/.well-known/openid-configuration": meta("{origin}/tenant")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) { require.NoError(t, err) },
		},
		{
			name: "an issuer with a path, OpenID Connect inserted", path: "/tenant", docs: map[string]string{"/.well-known/openid-configuration/tenant": meta("{origin}/tenant")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) { require.NoError(t, err) },
		},
		{
			name: "a redirect within the origin", docs: map[string]string{
				"/.well-known/oauth-authorization-server": "->/meta.json",
				"/meta.json": meta("{origin}"),
			},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				require.NoError(t, err, "followed")
			},
		},
		{
			name: "another issuer", docs: map[string]string{"/.well-known/oauth-authorization-server": meta("https://evil.example")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				var me *login.MismatchError
				require.ErrorAs(t, err, &me)
				assert.Equal(t, login.FieldIssuer, me.Field)
				assert.Equal(t, origin, me.Want)
				assert.Equal(t, "https://evil.example", me.Got)
				assert.Equal(t, origin+"/.well-known/oauth-authorization-server", me.URL)
			},
		},
		{
			name: "another issuer is not papered over by the fallback", docs: map[string]string{
				"/.well-known/oauth-authorization-server": meta("https://evil.example"),
				"/.well-known/openid-configuration":       meta("{origin}"),
			},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				assert.ErrorAs(t, err, new(*login.MismatchError))
			},
		},
		{
			name: "the issuer with a trailing slash is another issuer", docs: map[string]string{"/.well-known/oauth-authorization-server": meta("{origin}/")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				assert.ErrorAs(t, err, new(*login.MismatchError), "identical means identical (RFC 8414 §3.3)")
			},
		},
		{
			name: "a redirect to another origin", docs: map[string]string{"/.well-known/oauth-authorization-server": "->" + other.URL + "/.well-known/oauth-authorization-server"},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				var rd *login.RedirectError
				require.ErrorAs(t, err, &rd)
				assert.Equal(t, origin+"/.well-known/oauth-authorization-server", rd.From)
				assert.Equal(t, other.URL+"/.well-known/oauth-authorization-server", rd.To)
			},
		},
		{
			name: "no metadata anywhere", docs: map[string]string{},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, http.StatusNotFound, re.StatusCode)
				assert.Contains(t, re.Reason, origin+"/.well-known/openid-configuration", "the other location tried")
			},
		},
		{
			name: "a server error stops the search", docs: map[string]string{"/.well-known/oauth-authorization-server": "500", "/.well-known/openid-configuration": meta("{origin}")},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, http.StatusInternalServerError, re.StatusCode)
			},
		},
		{
			name: "not JSON", docs: map[string]string{"/.well-known/oauth-authorization-server": "<html>"},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "not a JSON object")
			},
		},
		{
			name: "no token endpoint", docs: map[string]string{"/.well-known/oauth-authorization-server": `{"issuer":"{origin}"}`},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "no token_endpoint")
			},
		},
		{
			name: "too large", docs: map[string]string{"/.well-known/oauth-authorization-server": `{"issuer":"` + strings.Repeat("x", 1<<20) + `"}`},
			check: func(t *testing.T, md *login.ServerMetadata, err error, origin string) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "larger than 1 MiB")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := docServer(t, tt.docs)
			md, err := d.Server(t.Context(), ts.URL+tt.path)
			if err != nil {
				assert.Nil(t, md, "no metadata with an error")
				assert.True(t, strings.HasPrefix(err.Error(), "login: "), "the message %q starts with the package name", err)
			}
			tt.check(t, md, err, ts.URL)
		})
	}

	t.Run("bad issuers", func(t *testing.T) {
		for issuer, want := range map[string]string{
			"http://as.example":        "is not https",
			"https://as.example/?x=1":  "has a query",
			"https://as.example/#frag": "a fragment",
			"as.example":               "not an absolute URL",
			"ftp://as.example/":        "neither https nor http",
		} {
			_, err := d.Server(t.Context(), issuer)
			assert.ErrorContains(t, err, want, "issuer %q", issuer)
		}
	})
}

func TestDiscoveryResource(t *testing.T) {
	srv := newServer(t)
	ctx := withClient(t.Context(), srv.Client())
	var d login.Discovery

	t.Run("authtest, from the challenge's URL", func(t *testing.T) {
		rm, err := d.Resource(ctx, srv.MetadataURL(), srv.ResourceURL("items"))
		require.NoError(t, err)
		assert.Equal(t, srv.URL+"/api/", rm.Resource)
		assert.Equal(t, []string{srv.URL}, rm.AuthorizationServers)
	})
	t.Run("authtest, from the well-known location", func(t *testing.T) {
		rm, err := d.Resource(ctx, "", srv.ResourceURL("items"))
		require.NoError(t, err)
		assert.Equal(t, srv.URL+"/api/", rm.Resource)
	})

	prm := func(resource string) string {
		return `{"resource":"` + resource + `","authorization_servers":["{origin}"]}`
	}
	tests := []struct {
		name    string
		doc     string
		called  string // path of the called resource
		wantErr any    // a pointer to the error type expected, or nil
		wantGot string
	}{
		{"the URL itself", prm("{origin}/mcp"), "/mcp", nil, ""},
		{"the API the URL is in", prm("{origin}/api/"), "/api/items/7", nil, ""},
		{"another origin", prm("https://evil.example/mcp"), "/mcp", new(*login.MismatchError), "https://evil.example/mcp"},
		{"another path of the origin", prm("{origin}/other/"), "/api/items", new(*login.MismatchError), "{origin}/other/"},
		{"a prefix inside a segment", prm("{origin}/ap"), "/api/items", new(*login.MismatchError), "{origin}/ap"},
		{"no resource", `{"authorization_servers":["x"]}`, "/api", new(*login.MismatchError), ""},
		{"no authorization server", `{"resource":"{origin}/api"}`, "/api", new(*login.ResponseError), ""},
		{"not JSON", `[1,2]`, "/api", new(*login.ResponseError), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := docServer(t, map[string]string{"/prm": tt.doc})
			rm, err := d.Resource(t.Context(), ts.URL+"/prm", ts.URL+tt.called+"?api_key=hush")
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.NotEmpty(t, rm.AuthorizationServers)
				return
			}
			require.ErrorAs(t, err, tt.wantErr)
			assert.Nil(t, rm)
			assert.NotContains(t, err.Error(), "hush", "no query in the message")
			var me *login.MismatchError
			if errors.As(err, &me) {
				assert.Equal(t, login.FieldResource, me.Field)
				assert.Equal(t, strings.ReplaceAll(tt.wantGot, "{origin}", ts.URL), me.Got)
				assert.Equal(t, ts.URL+tt.called, me.Want, "the URL called, without its query")
			}
		})
	}
}

func TestDiscoveryForResource(t *testing.T) {
	srv := newServer(t)
	ctx := withClient(t.Context(), srv.Client())
	var d login.Discovery
	evil := docServer(t, map[string]string{"/.well-known/oauth-authorization-server": `{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}`})

	t.Run("the first authorization server that checks out", func(t *testing.T) {
		ts := docServer(t, map[string]string{"/prm": `{"resource":"{origin}/","authorization_servers":["` + evil.URL + `","` + srv.URL + `"]}`})
		rm, sm, err := d.ForResource(ctx, ts.URL+"/prm", ts.URL+"/x")
		require.NoError(t, err)
		assert.Equal(t, ts.URL+"/", rm.Resource)
		assert.Equal(t, srv.URL, sm.Issuer, "the second server, since the first names another issuer")
	})
	t.Run("none checks out", func(t *testing.T) {
		ts := docServer(t, map[string]string{"/prm": `{"resource":"{origin}/","authorization_servers":["` + evil.URL + `"]}`})
		rm, sm, err := d.ForResource(ctx, ts.URL+"/prm", ts.URL+"/x")
		var me *login.MismatchError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, login.FieldIssuer, me.Field)
		assert.Nil(t, rm)
		assert.Nil(t, sm)
	})
	t.Run("the resource metadata does not check out", func(t *testing.T) {
		_, _, err := d.ForResource(ctx, srv.MetadataURL(), "http://127.0.0.1:1/api/x")
		var me *login.MismatchError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, login.FieldResource, me.Field)
	})
}
