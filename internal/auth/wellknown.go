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

// discoveryDoc is the OpenID configuration as a Cognito user pool serves it
// at https://cognito-idp.{region}.amazonaws.com/{poolId}/.well-known/openid-configuration:
// exactly these members, in this (alphabetical) order, and Cognito's values
// for the lists, whatever the pool's resource servers. A real document
// (2025) is in localstack/localstack#12914; end_session_endpoint appeared
// in Cognito's document in February 2024. Cognito lists no
// grant_types_supported and no claims_supported.
//
// Cognito serves the endpoints from the pool's domain
// (https://{domain}.auth.{region}.amazoncognito.com); portway serves them
// from its own URL. Only the token endpoint and the JWKS are implemented:
// /oauth2/authorize, /logout, /oauth2/userInfo and /oauth2/revoke answer
// 404. They are listed all the same, as Cognito lists them, because
// discovery clients may require them (OpenID Connect Discovery 1.0 makes
// authorization_endpoint REQUIRED) and a client-credentials client never
// calls them: Cognito's userInfo wants a user's token with the openid
// scope, its revoke endpoint revokes refresh tokens, and the client
// credentials grant yields neither.
type discoveryDoc struct {
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
}

// handleDiscovery serves the OpenID configuration of the user pool. Its
// jwks_uri is the JWKS this server serves under the issuer's path (not the
// AWS URL when the issuer has the AWS form: that one is not reachable).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed("GET, HEAD")
	}
	base := s.URL()
	writeJSON(w, http.StatusOK, discoveryDoc{
		AuthorizationEndpoint:             base + "/oauth2/authorize",
		EndSessionEndpoint:                base + "/logout",
		IDTokenSigningAlgValuesSupported:  []string{algRS256},
		Issuer:                            s.Issuer(),
		JWKSURI:                           s.IssuerMetadataURL() + "/.well-known/jwks.json",
		ResponseTypesSupported:            []string{"code", "token"},
		RevocationEndpoint:                base + "/oauth2/revoke",
		ScopesSupported:                   []string{"openid", "email", "phone", "profile"},
		SubjectTypesSupported:             []string{"public"},
		TokenEndpoint:                     s.TokenURL(),
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		UserinfoEndpoint:                  base + "/oauth2/userInfo",
	})
	return nil
}
