package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portway/portway/internal/lazyre"
)

// Errors returned by ClientStore.
var (
	ErrClientNotFound = errors.New("client not found")
	// ErrInvalidClient is returned by Authenticate for an unknown client id
	// or a wrong secret.
	ErrInvalidClient = errors.New("invalid client credentials")

	errUnknownClient = errors.New("unknown client")
	errWrongSecret   = errors.New("wrong secret")
)

// Client is an app client as callers see it; the secret hash never leaves
// the store.
type Client struct {
	ID             string
	Name           string
	AllowedScopes  []string // full scope strings "identifier/scope"
	AllowedFlows   []string // ["client_credentials"]
	TokenValidity  time.Duration
	CreatedAt      time.Time
	LastModifiedAt time.Time
}

// AllowsFlow reports whether the client may use the given OAuth flow.
func (c Client) AllowsFlow(flow string) bool { return slices.Contains(c.AllowedFlows, flow) }

// MarshalJSON renders the client with Cognito's DescribeUserPoolClient
// member names (validity in seconds); no secret material is included.
func (c Client) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID            string    `json:"ClientId"`
		ClientName          string    `json:"ClientName"`
		AllowedOAuthScopes  []string  `json:"AllowedOAuthScopes"`
		AllowedOAuthFlows   []string  `json:"AllowedOAuthFlows"`
		AccessTokenValidity int64     `json:"AccessTokenValidity"`
		CreationDate        time.Time `json:"CreationDate"`
		LastModifiedDate    time.Time `json:"LastModifiedDate"`
	}{c.ID, c.Name, nonNil(c.AllowedScopes), nonNil(c.AllowedFlows), int64(c.TokenValidity / time.Second), c.CreatedAt, c.LastModifiedAt})
}

// ClientUpdate lists the fields Update changes; nil fields are kept.
type ClientUpdate struct {
	Name          *string
	Scopes        []string // nil keeps; an empty non-nil slice is rejected
	Flows         []string // nil keeps; empty non-nil disables every flow
	TokenValidity *time.Duration
}

// clientRecord is a client as stored in clients.json.
type clientRecord struct {
	ClientID        string    `json:"client_id"`
	ClientName      string    `json:"client_name"`
	SecretHash      string    `json:"client_secret_bcrypt"`
	Scopes          []string  `json:"allowed_oauth_scopes"`
	Flows           []string  `json:"allowed_oauth_flows"`
	ValiditySeconds int64     `json:"access_token_validity_seconds"`
	CreatedAt       time.Time `json:"created_at"`
	LastModifiedAt  time.Time `json:"last_modified_at"`
}

func (r clientRecord) public() Client {
	return Client{
		ID:             r.ClientID,
		Name:           r.ClientName,
		AllowedScopes:  slices.Clone(r.Scopes),
		AllowedFlows:   slices.Clone(r.Flows),
		TokenValidity:  time.Duration(r.ValiditySeconds) * time.Second,
		CreatedAt:      r.CreatedAt,
		LastModifiedAt: r.LastModifiedAt,
	}
}

func (r clientRecord) check() error {
	switch {
	case r.ClientID == "":
		return errors.New("client_id is empty")
	case r.SecretHash == "":
		return fmt.Errorf("client %s: client_secret_bcrypt is empty", r.ClientID)
	}
	return nil
}

// Cognito's ClientName pattern, 1..128 characters, with plain spaces as the
// only whitespace.
var clientNameRe = lazyre.New(`^[\w +=,.@-]{1,128}$`)

func validateName(name string) error {
	if !clientNameRe().MatchString(name) {
		return fmt.Errorf("name: %q must be 1-128 characters of letters, digits, spaces and +=,.@_-", name)
	}
	return nil
}

func validateValidity(d time.Duration) error {
	if d < MinTokenValidity || d > MaxTokenValidity {
		return fmt.Errorf("tokenValidity: %s must be between %s and %s", d, MinTokenValidity, MaxTokenValidity)
	}
	return nil
}

func validateFlows(flows []string) ([]string, error) {
	out := []string{}
	for i, f := range flows {
		if f != FlowClientCredentials {
			return nil, fmt.Errorf("flows[%d]: %q is not supported (only %q)", i, f, FlowClientCredentials)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
