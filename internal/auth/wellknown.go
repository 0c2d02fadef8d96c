package auth

import (
	"net/http"
	"strconv"
)

// handleJWKS serves the public signing keys.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed("GET, HEAD")
	}
	jwks := s.keys.JWKS()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(jwks)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(jwks)
	}
	return nil
}

type discoveryDoc struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

// handleDiscovery serves the OpenID configuration of the user pool. Its
// jwks_uri is the JWKS this server serves under the issuer's path (not the
// AWS URL when the issuer has the AWS form: that one is not reachable).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed("GET, HEAD")
	}
	iss := s.Issuer()
	writeJSON(w, http.StatusOK, discoveryDoc{
		Issuer:                            iss,
		JWKSURI:                           s.IssuerMetadataURL() + "/.well-known/jwks.json",
		TokenEndpoint:                     s.TokenURL(),
		ResponseTypesSupported:            []string{"token"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{algRS256},
		GrantTypesSupported:               []string{FlowClientCredentials},
		ScopesSupported:                   nonNil(s.Scopes()),
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		ClaimsSupported:                   []string{"sub", "iss", "client_id", "scope", "token_use", "auth_time", "exp", "iat", "jti", "version"},
	})
	return nil
}
