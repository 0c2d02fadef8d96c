// Package auth is portway's Cognito stand-in, issuing side: a user pool with
// resource servers and scopes, app clients with bcrypt-hashed secrets, the
// OAuth2 client-credentials token endpoint, persistent RS256 signing keys and
// their JWKS.
//
// State lives in <StateDir>/auth: clients.json (ClientStore) and keys.json
// (KeyStore, mode 0600). Both stores can be opened by other processes (the
// `portway clients` and `portway keys` commands) while a Server runs; the
// Server notices their changes on its next request.
//
// The JWKS publishes two keys, like a Cognito user pool: the active signing
// key and the next one. KeyStore.Rotate promotes the next key, and keeps the
// old one published until every token it signed has expired.
//
// The issuer is URL()/{UserPoolID} by default, or Cognito's own form
// https://cognito-idp.{region}.amazonaws.com/{UserPoolID} with
// Config.IssuerStyle "aws", or any Config.Issuer; the discovery document and
// the JWKS are served under the issuer's path and the JWKS also at
// /.well-known/jwks.json.
//
// The token endpoint limits failed client authentications per source IP
// (Config.AuthFailureBurst), never per client id, which is public; and it
// spends one bcrypt comparison on every failure, whether the client id is
// unknown or the secret wrong, so neither response codes nor times tell
// which client ids exist.
package auth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portway/portway/internal/awsid"
	"github.com/portway/portway/internal/lazyre"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// Defaults and limits. Token validity bounds match Cognito's access-token
// validity range (5 minutes to 1 day).
const (
	DefaultListen = "127.0.0.1:8081"
	// DefaultUserPoolID has the form of a Cognito pool id, "<region>_<id>"
	// (e.g. "eu-west-1_AbC123"): clients such as aws-jwt-verify parse the
	// region (and so the issuer) out of it. Any id matching userPoolIDRe,
	// such as the older "local_portway", is still accepted.
	DefaultUserPoolID    = "eu-west-1_portway"
	DefaultTokenValidity = time.Hour
	MinTokenValidity     = 5 * time.Minute
	MaxTokenValidity     = 24 * time.Hour

	// FlowClientCredentials is the only OAuth flow the token endpoint serves.
	FlowClientCredentials = "client_credentials"

	defaultFailureBurst  = 10
	defaultFailureRefill = time.Second
)

// ResourceServer is a Cognito resource server: an identifier and the scope
// names under it. The full scope string a client asks for is
// Identifier + "/" + scope.
type ResourceServer struct {
	Identifier string
	Scopes     []string
}

// Config configures a Server. Zero values of Listen, UserPoolID and
// TokenValidity mean the defaults above.
type Config struct {
	Listen string // "127.0.0.1:8081"; port 0 picks a free port
	// PublicURL optionally overrides the base URL used for the issuer and the
	// discovery document (e.g. when clients reach auth through another
	// address). Default: "http://" + the bound address.
	PublicURL string
	// TLS, when set, makes the server answer over HTTPS only; URL() and
	// the local issuer are then https URLs.
	TLS        *tls.Config
	StateDir   string // keys in <StateDir>/auth/keys.json, clients in <StateDir>/auth/clients.json
	UserPoolID string // "eu-west-1_portway"

	// IssuerStyle selects the iss claim of tokens (see Server.Issuer):
	//   - "" or "local": the auth URL + "/" + UserPoolID, e.g.
	//     "http://127.0.0.1:8081/eu-west-1_portway";
	//   - "aws": Cognito's own form
	//     "https://cognito-idp.{Region}.amazonaws.com/{UserPoolID}", so that
	//     code that hard-codes the issuer of a real user pool accepts the
	//     tokens. That URL is not served; the discovery document and the JWKS
	//     are served by this server under the issuer's path
	//     (URL() + "/" + UserPoolID + "/.well-known/…").
	IssuerStyle string
	// Region is the AWS region of the "aws" issuer, e.g. "eu-west-1".
	// Default: the region prefix of UserPoolID when it has one (Cognito pool
	// ids look like "eu-west-1_AbC123"); otherwise it is required.
	Region string
	// Issuer, when set, is used as the iss claim verbatim (an http or https
	// URL without query or fragment); the discovery document and the JWKS
	// are then also served under its path. It cannot be combined with
	// IssuerStyle "aws".
	Issuer string

	ResourceServers []ResourceServer
	TokenValidity   time.Duration // default validity for new clients; 5m..24h, default 1h

	// BcryptCost for new client secrets; 0 means bcrypt.DefaultCost.
	BcryptCost int
	// AuthFailureBurst is how many failed client authentications a source IP
	// may make before its requests are answered 429 (whatever client id they
	// name); 0 means 10, a negative value turns the limit off. There is no
	// limit per client id: ids are public, and a correct secret is never
	// refused because of failures from other sources.
	AuthFailureBurst int
	// AuthFailureRefill is the time to regain one allowed failure; 0 means 1s.
	AuthFailureRefill time.Duration

	// Metrics, when set, gets the token endpoint's Prometheus collectors
	// (metrics.go); nil: no metrics.
	Metrics prometheus.Registerer `json:"-"`

	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

var (
	userPoolIDRe = lazyre.New(`^[\w-]+_[0-9a-zA-Z]+$`)
	issuerPathRe = lazyre.New(`^(/[A-Za-z0-9._~-]+)*$`)
	// Cognito's patterns for resource server identifiers and scope names.
	identifierRe = lazyre.New(`^[\x21\x23-\x5B\x5D-\x7E]{1,256}$`)
	scopeNameRe  = lazyre.New(`^[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]{1,256}$`)
)

// withDefaults returns cfg with zero values replaced by defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.UserPoolID == "" {
		cfg.UserPoolID = DefaultUserPoolID
	}
	if cfg.TokenValidity == 0 {
		cfg.TokenValidity = DefaultTokenValidity
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.AuthFailureBurst == 0 {
		cfg.AuthFailureBurst = defaultFailureBurst
	}
	if cfg.AuthFailureRefill == 0 {
		cfg.AuthFailureRefill = defaultFailureRefill
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.IssuerStyle == IssuerStyleAWS && cfg.Region == "" {
		cfg.Region = awsid.PoolRegion(cfg.UserPoolID)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Validate reports the first problem with cfg, naming the field. Zero values
// that have defaults are accepted.
func (cfg Config) Validate() error {
	if cfg.Listen != "" {
		if err := validateListen(cfg.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		switch {
		case err != nil:
			return fmt.Errorf("publicURL: %w", err)
		case u.Scheme != "http" && u.Scheme != "https":
			return errors.New("publicURL: scheme must be http or https")
		case u.Host == "":
			return errors.New("publicURL: host is required")
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			return errors.New("publicURL: must not have userinfo, query or fragment")
		}
	}
	if cfg.StateDir == "" {
		return errors.New("stateDir: required")
	}
	if cfg.UserPoolID != "" && !userPoolIDRe().MatchString(cfg.UserPoolID) {
		return fmt.Errorf("userPoolId: %q must match %s", cfg.UserPoolID, userPoolIDRe())
	}
	if err := cfg.validateIssuer(); err != nil {
		return err
	}
	if err := validateResourceServers(cfg.ResourceServers); err != nil {
		return err
	}
	if v := cfg.TokenValidity; v != 0 && (v < MinTokenValidity || v > MaxTokenValidity) {
		return fmt.Errorf("tokenValidity: %s must be between %s and %s", v, MinTokenValidity, MaxTokenValidity)
	}
	if c := cfg.BcryptCost; c != 0 && (c < bcrypt.MinCost || c > bcrypt.MaxCost) {
		return fmt.Errorf("bcryptCost: %d must be between %d and %d", c, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cfg.AuthFailureRefill < 0 {
		return errors.New("authFailureRefill: must be >= 0")
	}
	return nil
}

// Issuer styles (Config.IssuerStyle).
const (
	IssuerStyleLocal = "local"
	IssuerStyleAWS   = "aws"
)

func (cfg Config) validateIssuer() error {
	switch cfg.IssuerStyle {
	case "", IssuerStyleLocal:
	case IssuerStyleAWS:
		if cfg.Issuer != "" {
			return errors.New("issuer: cannot be combined with issuerStyle \"aws\"")
		}
		pool := cfg.UserPoolID
		if pool == "" {
			pool = DefaultUserPoolID
		}
		if cfg.Region == "" && awsid.PoolRegion(pool) == "" {
			return fmt.Errorf("region: required with issuerStyle \"aws\" (userPoolId %q has no region prefix)", pool)
		}
	default:
		return fmt.Errorf("issuerStyle: %q must be %q or %q", cfg.IssuerStyle, IssuerStyleLocal, IssuerStyleAWS)
	}
	if cfg.Region != "" && !awsid.ValidRegion(cfg.Region) {
		return fmt.Errorf("region: %q is not an AWS region name like eu-west-1", cfg.Region)
	}
	if cfg.Issuer != "" {
		u, err := url.Parse(cfg.Issuer)
		switch {
		case err != nil:
			return fmt.Errorf("issuer: %w", err)
		case u.Scheme != "http" && u.Scheme != "https":
			return errors.New("issuer: scheme must be http or https")
		case u.Host == "":
			return errors.New("issuer: host is required")
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.ForceQuery:
			return errors.New("issuer: must not have userinfo, query or fragment")
		case strings.HasSuffix(cfg.Issuer, "/"):
			return errors.New("issuer: must not end with /")
		case !issuerPathRe().MatchString(u.EscapedPath()):
			return fmt.Errorf("issuer: path %q must be /-separated segments of letters, digits and ._~-", u.Path)
		}
	}
	return nil
}

func validateListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q must be a number 0..65535", port)
	}
	return nil
}

func validateResourceServers(rss []ResourceServer) error {
	seen := map[string]bool{}
	for i, rs := range rss {
		field := fmt.Sprintf("resourceServers[%d]", i)
		if !identifierRe().MatchString(rs.Identifier) {
			return fmt.Errorf("%s.identifier: %q must be 1-256 printable characters without spaces, '\"' or '\\'", field, rs.Identifier)
		}
		if seen[rs.Identifier] {
			return fmt.Errorf("%s.identifier: duplicate %q", field, rs.Identifier)
		}
		seen[rs.Identifier] = true
		names := map[string]bool{}
		for j, sc := range rs.Scopes {
			if !scopeNameRe().MatchString(sc) {
				return fmt.Errorf("%s.scopes[%d]: %q must be 1-256 printable characters without spaces, '\"', '/' or '\\'", field, j, sc)
			}
			if names[sc] {
				return fmt.Errorf("%s.scopes[%d]: duplicate %q", field, j, sc)
			}
			names[sc] = true
		}
	}
	return nil
}

// scopeCatalog is the set of full scope strings the resource servers define.
type scopeCatalog struct {
	list []string // in configuration order
	set  map[string]struct{}
}

func newScopeCatalog(rss []ResourceServer) *scopeCatalog {
	c := &scopeCatalog{set: map[string]struct{}{}}
	for _, rs := range rss {
		for _, sc := range rs.Scopes {
			full := rs.Identifier + "/" + sc
			c.list = append(c.list, full)
			c.set[full] = struct{}{}
		}
	}
	return c
}

func (c *scopeCatalog) has(scope string) bool {
	_, ok := c.set[scope]
	return ok
}

// validScopeSyntax reports whether s looks like "identifier/scope".
func validScopeSyntax(s string) bool {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	return identifierRe().MatchString(s[:i]) && scopeNameRe().MatchString(s[i+1:])
}
