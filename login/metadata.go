package login

import (
	"slices"

	"golang.org/x/oauth2"
)

// ServerMetadata is an authorization server's metadata (RFC 8414 §2, and
// the same members of OpenID Connect Discovery), as [Discovery.Server]
// found and checked it. Members the server did not send are zero.
type ServerMetadata struct {
	// Issuer is the server's issuer identifier, identical to the one it
	// was discovered with.
	Issuer string `json:"issuer"`
	// AuthorizationEndpoint, TokenEndpoint and
	// DeviceAuthorizationEndpoint are the endpoints of the flows.
	AuthorizationEndpoint       string `json:"authorization_endpoint,omitempty"`
	TokenEndpoint               string `json:"token_endpoint"`
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	// ScopesSupported lists the scopes the server names.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// GrantTypesSupported lists the grant types; empty means
	// authorization_code and implicit (RFC 8414 §2).
	GrantTypesSupported []string `json:"grant_types_supported,omitempty"`
	// CodeChallengeMethodsSupported lists the PKCE methods; [Browser]
	// always uses S256.
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported,omitempty"`
	// TokenEndpointAuthMethodsSupported lists the ways clients
	// authenticate; empty means client_secret_basic.
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// AuthorizationResponseIssParameterSupported reports that
	// authorization responses carry iss (RFC 9207): set
	// [Browser.RequireIssuer] from it.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// DPoPSigningAlgValuesSupported lists the DPoP proof algorithms (RFC
	// 9449 §5.1), if the server supports DPoP.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// Config returns an [oauth2.Config] for a client of the server, with the
// endpoints of m and the way of client authentication that fits: for a
// public client (no secret) client_id in the form, for a confidential one
// client_secret_basic unless the server names client_secret_post alone.
// Each call returns a new value, which the caller may change; the same
// value serves a [Browser], a [Device] and authtransport.NewOAuth2Refresher.
func (m *ServerMetadata) Config(clientID, clientSecret string, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	methods := m.TokenEndpointAuthMethodsSupported
	if clientSecret == "" || (len(methods) > 0 && !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post")) {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Scopes:       slices.Clone(scopes),
		Endpoint: oauth2.Endpoint{
			AuthURL:       m.AuthorizationEndpoint,
			DeviceAuthURL: m.DeviceAuthorizationEndpoint,
			TokenURL:      m.TokenEndpoint,
			AuthStyle:     style,
		},
	}
}

// ResourceMetadata is a protected resource's metadata (RFC 9728 §2), as
// [Discovery.Resource] found and checked it. Members the resource did not
// send are zero.
type ResourceMetadata struct {
	// Resource is the resource's identifier: pass it as
	// [Browser.Resource] or [Device.Resource] so that the token is
	// issued for it.
	Resource string `json:"resource"`
	// AuthorizationServers lists the issuer identifiers of the
	// authorization servers whose tokens the resource accepts.
	AuthorizationServers []string `json:"authorization_servers"`
	// ScopesSupported lists the scopes the resource uses.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported lists how the resource takes bearer tokens
	// ("header", "body", "query").
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a name for people.
	ResourceName string `json:"resource_name,omitempty"`
	// DPoPBoundAccessTokensRequired reports that the resource takes DPoP
	// tokens only (RFC 9449).
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
}
