package authtest

import (
	"encoding/json"
	"net/http"
)

// serveResourceMetadata serves the Protected Resource Metadata (RFC 9728)
// of the resource under /api/, whose identifier is URL+"/api/", at the URL
// its challenges name and at the well-known location of every URL under
// /api/ (RFC 9728 §3.1).
func (s *Server) serveResourceMetadata(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dpopRequired := s.dpop.required
	s.mu.Unlock()
	writeJSON(w, map[string]any{
		"resource":                              s.resourceID(),
		"authorization_servers":                 []string{s.URL},
		"bearer_methods_supported":              []string{"header"},
		"resource_name":                         "authtest protected resource",
		"dpop_signing_alg_values_supported":     []string{"ES256"},
		"dpop_bound_access_tokens_required":     dpopRequired,
		"authorization_details_types_supported": []string{},
	})
}

// serveServerMetadata serves the Authorization Server Metadata (RFC 8414)
// of the server, whose issuer identifier is URL.
func (s *Server) serveServerMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                        s.URL,
		"authorization_endpoint":        s.AuthURL(),
		"token_endpoint":                s.TokenURL(),
		"device_authorization_endpoint": s.DeviceAuthURL(),
		"grant_types_supported": []string{"authorization_code", "refresh_token", "client_credentials",
			DeviceCodeGrantType},
		"response_types_supported":                       []string{"code"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"authorization_response_iss_parameter_supported": true,
		"dpop_signing_alg_values_supported":              []string{"ES256"},
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
