package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

const maxTokenBody = 64 << 10

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// accessClaims is exactly the claim set of a Cognito client-credentials
// access token. There is no aud.
type accessClaims struct {
	Sub      string `json:"sub"`
	TokenUse string `json:"token_use"`
	Scope    string `json:"scope"`
	AuthTime int64  `json:"auth_time"`
	Iss      string `json:"iss"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Version  int    `json:"version"`
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
}

// handleToken serves POST /oauth2/token (client_credentials only).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed("OPTIONS, POST") // OPTIONS: see tokenCORS
	}
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	grant := form.Get("grant_type")
	switch {
	case grant == "":
		return badRequest(errInvalidRequest, "grant_type missing")
	case grant != FlowClientCredentials:
		return badRequest(errUnsupportedGrantType, "")
	}
	id, secret, err := clientCredentials(r, form)
	if err != nil {
		return err
	}

	// Failures are limited per source only, checked before the (costly)
	// secret comparison. The peer address is used, never X-Forwarded-For.
	// A secret this server has already verified passes a blocked source
	// (cheaply), so a shared address cannot lock out working clients.
	now := s.now()
	ip := sourceIP(r)
	var client Client
	if wait, blocked := s.limiter.blocked(now, ip); blocked {
		var ok bool
		if client, ok = s.clients.Verified(id, secret); !ok {
			s.log.Warn("auth: token request refused: too many failed authentications from source", "client_id", logID(id), "remote_ip", ip)
			return tooManyRequests(retryAfterSeconds(wait))
		}
	} else if client, err = s.clients.Authenticate(id, secret); err != nil {
		s.limiter.fail(now, ip)
		s.log.Info("auth: token request rejected", "client_id", logID(id), "remote_ip", ip, "outcome", errInvalidClient, "reason", err.Error())
		return badRequest(errInvalidClient, err.Error())
	}
	if !client.AllowsFlow(FlowClientCredentials) {
		s.log.Info("auth: token request rejected", "client_id", id, "outcome", errUnauthorizedClient)
		return badRequest(errUnauthorizedClient, "client_credentials flow not allowed")
	}
	scopes, err := s.grantScopes(client, form.Get("scope"))
	if err != nil {
		s.log.Info("auth: token request rejected", "client_id", id, "outcome", errInvalidScope)
		return err
	}
	validity := client.TokenValidity
	if validity <= 0 {
		validity = s.cfg.TokenValidity
	}
	token, err := s.issue(client.ID, scopes, now, validity)
	if err != nil {
		return err
	}
	s.log.Info("auth: token issued", "client_id", id, "outcome", "ok", "scope", strings.Join(scopes, " "))
	s.tokenIssued(client.ID)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: token,
		ExpiresIn:   int64(validity / time.Second),
		TokenType:   "Bearer",
	})
	return nil
}

// readForm reads a bounded application/x-www-form-urlencoded body. The URL
// query is ignored. Repeated parameters are an invalid_request (RFC 6749 3.1).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, badRequest(errInvalidRequest, "content type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, errInvalidRequest, "body too large")
		}
		return nil, badRequest(errInvalidRequest, "reading body: "+err.Error())
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest(errInvalidRequest, "malformed form body")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, badRequest(errInvalidRequest, "parameter "+k+" repeated")
		}
	}
	return form, nil
}

// clientCredentials extracts the client id and secret from HTTP Basic auth
// (form-urlencoded per RFC 6749 2.3.1) or from the body. Both may be given
// only if they agree.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, err error) {
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	if r.Header.Get("Authorization") == "" {
		if bodyID == "" || bodySecret == "" {
			return "", "", badRequest(errInvalidClient, "no client authentication")
		}
		return bodyID, bodySecret, nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", "", badRequest(errInvalidRequest, "Authorization header is not valid Basic")
	}
	if id, err = url.QueryUnescape(user); err != nil {
		return "", "", badRequest(errInvalidRequest, "Basic user is not form-urlencoded")
	}
	if secret, err = url.QueryUnescape(pass); err != nil {
		return "", "", badRequest(errInvalidRequest, "Basic password is not form-urlencoded")
	}
	if (bodyID != "" && bodyID != id) || (bodySecret != "" && bodySecret != secret) {
		return "", "", badRequest(errInvalidRequest, "client credentials in header and body differ")
	}
	if id == "" || secret == "" {
		return "", "", badRequest(errInvalidClient, "empty Basic credentials")
	}
	return id, secret, nil
}

// grantScopes returns the scopes to put in the token: the requested ones
// (space separated) if all are allowed, or when none are requested every
// allowed scope the resource servers still define.
func (s *Server) grantScopes(c Client, requested string) ([]string, error) {
	catalog := s.resourceServers.scopes()
	usable := func(sc string) bool {
		return catalog.has(sc) && containsString(c.AllowedScopes, sc)
	}
	var out []string
	if strings.Trim(requested, " ") == "" {
		for _, sc := range c.AllowedScopes {
			if usable(sc) {
				out = append(out, sc)
			}
		}
		if len(out) == 0 {
			return nil, badRequest(errInvalidScope, "client has no usable scope")
		}
		return out, nil
	}
	for _, sc := range strings.Split(requested, " ") {
		if sc == "" || containsString(out, sc) {
			continue
		}
		if !usable(sc) {
			return nil, badRequest(errInvalidScope, "scope not allowed: "+sc)
		}
		out = append(out, sc)
	}
	return out, nil
}

// issue signs an access token.
func (s *Server) issue(clientID string, scopes []string, now time.Time, validity time.Duration) (string, error) {
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("jti: %w", err)
	}
	iat := now.Unix()
	payload, err := json.Marshal(accessClaims{
		Sub:      clientID,
		TokenUse: "access",
		Scope:    strings.Join(scopes, " "),
		AuthTime: iat,
		Iss:      s.Issuer(),
		Exp:      iat + int64(validity/time.Second),
		Iat:      iat,
		Version:  2,
		Jti:      jti.String(),
		ClientID: clientID,
	})
	if err != nil {
		return "", err
	}
	jws, err := s.keys.current().active().signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return jws.CompactSerialize()
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// logID bounds an untrusted client id before it is logged.
func logID(id string) string {
	if len(id) > 64 {
		return id[:64] + "…"
	}
	return id
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
