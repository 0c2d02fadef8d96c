package cognitoapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/awsapi"
)

// userPoolClient is Cognito's UserPoolClientType (the members portway has).
type userPoolClient struct {
	UserPoolID                      string       `json:"UserPoolId"`
	ClientName                      string       `json:"ClientName"`
	ClientID                        string       `json:"ClientId"`
	ClientSecret                    string       `json:"ClientSecret,omitempty"`
	LastModifiedDate                awsapi.Epoch `json:"LastModifiedDate"`
	CreationDate                    awsapi.Epoch `json:"CreationDate"`
	AccessTokenValidity             int64        `json:"AccessTokenValidity"`
	TokenValidityUnits              units        `json:"TokenValidityUnits"`
	SupportedIdentityProviders      []string     `json:"SupportedIdentityProviders"`
	AllowedOAuthFlows               []string     `json:"AllowedOAuthFlows"`
	AllowedOAuthScopes              []string     `json:"AllowedOAuthScopes"`
	AllowedOAuthFlowsUserPoolClient bool         `json:"AllowedOAuthFlowsUserPoolClient"`
	EnableTokenRevocation           bool         `json:"EnableTokenRevocation"`
}

type units struct {
	AccessToken  string `json:"AccessToken,omitempty"`
	IDToken      string `json:"IdToken,omitempty"`
	RefreshToken string `json:"RefreshToken,omitempty"`
}

func (a *API) client(c auth.Client, secret string) userPoolClient {
	v, unit := validityInUnits(c.TokenValidity)
	return userPoolClient{
		UserPoolID: a.cfg.UserPoolID, ClientName: c.Name, ClientID: c.ID, ClientSecret: secret,
		LastModifiedDate: awsapi.Epoch(c.LastModifiedAt), CreationDate: awsapi.Epoch(c.CreatedAt),
		AccessTokenValidity: v, TokenValidityUnits: units{AccessToken: unit},
		SupportedIdentityProviders: []string{"COGNITO"},
		AllowedOAuthFlows:          nonNil(c.AllowedFlows), AllowedOAuthScopes: nonNil(c.AllowedScopes),
		AllowedOAuthFlowsUserPoolClient: len(c.AllowedFlows) > 0,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// validityInUnits states a validity in the largest unit that divides it.
func validityInUnits(d time.Duration) (int64, string) {
	switch {
	case d%time.Hour == 0:
		return int64(d / time.Hour), "hours"
	case d%time.Minute == 0:
		return int64(d / time.Minute), "minutes"
	}
	return int64(d / time.Second), "seconds"
}

// validity reads AccessTokenValidity in TokenValidityUnits.AccessToken
// (Cognito's default unit: hours).
func validity(v *int64, u *units) (time.Duration, error) {
	unit := "hours"
	if u != nil && u.AccessToken != "" {
		unit = u.AccessToken
	}
	var per time.Duration
	switch unit {
	case "seconds":
		per = time.Second
	case "minutes":
		per = time.Minute
	case "hours":
		per = time.Hour
	case "days":
		per = 24 * time.Hour
	default:
		return 0, invalid("TokenValidityUnits.AccessToken: must be seconds, minutes, hours or days")
	}
	if v == nil {
		return 0, nil
	}
	d := time.Duration(*v) * per
	if *v <= 0 || d < auth.MinTokenValidity || d > auth.MaxTokenValidity || d/per != time.Duration(*v) {
		return 0, invalid("AccessTokenValidity: %d %s is out of range; it must be between %s and %s", *v, unit, auth.MinTokenValidity, auth.MaxTokenValidity)
	}
	return d, nil
}

// clientInput is what CreateUserPoolClient and UpdateUserPoolClient take.
type clientInput struct {
	UserPoolID                      string   `json:"UserPoolId"`
	ClientName                      *string  `json:"ClientName"`
	AllowedOAuthFlows               []string `json:"AllowedOAuthFlows"`
	AllowedOAuthScopes              []string `json:"AllowedOAuthScopes"`
	AllowedOAuthFlowsUserPoolClient *bool    `json:"AllowedOAuthFlowsUserPoolClient"`
	AccessTokenValidity             *int64   `json:"AccessTokenValidity"`
	TokenValidityUnits              *units   `json:"TokenValidityUnits"`
	SupportedIdentityProviders      []string `json:"SupportedIdentityProviders"`
}

// check validates what portway can run: the client_credentials flow with
// defined scopes, and Cognito's own rules for them.
func (a *API) check(in clientInput) error {
	if in.SupportedIdentityProviders != nil && !(len(in.SupportedIdentityProviders) == 1 && in.SupportedIdentityProviders[0] == "COGNITO") {
		return invalid("SupportedIdentityProviders: portway's user pool has only COGNITO")
	}
	for _, f := range in.AllowedOAuthFlows {
		if f != auth.FlowClientCredentials {
			return awsapi.Errorf("InvalidOAuthFlowException", "AllowedOAuthFlows: %q is not supported; portway serves only client_credentials", f)
		}
	}
	if len(in.AllowedOAuthFlows) > 0 && (in.AllowedOAuthFlowsUserPoolClient == nil || !*in.AllowedOAuthFlowsUserPoolClient) {
		return awsapi.Errorf("InvalidOAuthFlowException", "AllowedOAuthFlowsUserPoolClient must be true to use AllowedOAuthFlows")
	}
	for _, s := range in.AllowedOAuthScopes {
		if !a.scopeDefined(s) {
			return awsapi.Errorf("ScopeDoesNotExistException", "Invalid scope requested: %s", s)
		}
	}
	return nil
}

func storeError(err error, clientID string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrClientNotFound):
		return notFound("User pool client %s does not exist.", clientID)
	}
	return invalid("%v", err)
}

func (a *API) createUserPoolClient(_ context.Context, body []byte) (any, error) {
	var in struct {
		clientInput
		GenerateSecret *bool `json:"GenerateSecret"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	if in.ClientName == nil || *in.ClientName == "" {
		return nil, invalid("ClientName: required")
	}
	if err := a.check(in.clientInput); err != nil {
		return nil, err
	}
	if in.GenerateSecret == nil || !*in.GenerateSecret {
		return nil, invalid("GenerateSecret: must be true; portway's app clients use the client_credentials flow, which needs a secret")
	}
	if len(in.AllowedOAuthFlows) == 0 || len(in.AllowedOAuthScopes) == 0 {
		return nil, awsapi.Errorf("InvalidOAuthFlowException",
			"portway's app clients use the client_credentials flow: set AllowedOAuthFlows [client_credentials], AllowedOAuthFlowsUserPoolClient true and AllowedOAuthScopes")
	}
	d, err := validity(in.AccessTokenValidity, in.TokenValidityUnits)
	if err != nil {
		return nil, err
	}
	id, secret, err := a.cfg.Clients.Create(*in.ClientName, in.AllowedOAuthScopes, d)
	if err != nil {
		return nil, storeError(err, "")
	}
	c, ok := a.cfg.Clients.Get(id)
	if !ok {
		return nil, fmt.Errorf("client %s vanished after its creation", id)
	}
	return struct {
		UserPoolClient userPoolClient `json:"UserPoolClient"`
	}{a.client(c, secret)}, nil
}

type clientRef struct {
	UserPoolID string `json:"UserPoolId"`
	ClientID   string `json:"ClientId"`
}

func (a *API) describeUserPoolClient(_ context.Context, body []byte) (any, error) {
	var in clientRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	c, ok := a.cfg.Clients.Get(in.ClientID)
	if !ok {
		return nil, notFound("User pool client %s does not exist.", in.ClientID)
	}
	// The secret is stored only as a bcrypt hash: CreateUserPoolClient
	// shows it once (as `portway clients create` does).
	return struct {
		UserPoolClient userPoolClient `json:"UserPoolClient"`
	}{a.client(c, "")}, nil
}

func (a *API) listUserPoolClients(_ context.Context, body []byte) (any, error) {
	var in struct {
		UserPoolID string `json:"UserPoolId"`
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	type desc struct {
		ClientID   string `json:"ClientId"`
		UserPoolID string `json:"UserPoolId"`
		ClientName string `json:"ClientName"`
	}
	all := []desc{}
	for _, c := range a.cfg.Clients.List() {
		all = append(all, desc{c.ID, a.cfg.UserPoolID, c.Name})
	}
	list, next, err := awsapi.Page(all, in.MaxResults, 60, in.NextToken, "MaxResults", "NextToken", "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return struct {
		UserPoolClients []desc  `json:"UserPoolClients"`
		NextToken       *string `json:"NextToken,omitempty"`
	}{list, next}, nil
}

// updateUserPoolClient changes the members given and keeps the others
// (Cognito resets members left out to their defaults; portway keeps them,
// so that a partial update never drops a client's scopes).
func (a *API) updateUserPoolClient(_ context.Context, body []byte) (any, error) {
	var in struct {
		clientInput
		ClientID string `json:"ClientId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	if _, ok := a.cfg.Clients.Get(in.ClientID); !ok {
		return nil, notFound("User pool client %s does not exist.", in.ClientID)
	}
	if err := a.check(in.clientInput); err != nil {
		return nil, err
	}
	var u auth.ClientUpdate
	u.Name = in.ClientName
	if in.AllowedOAuthScopes != nil {
		if len(in.AllowedOAuthScopes) == 0 {
			return nil, invalid("AllowedOAuthScopes: a client_credentials client needs at least one scope")
		}
		u.Scopes = in.AllowedOAuthScopes
	}
	if in.AllowedOAuthFlows != nil {
		u.Flows = in.AllowedOAuthFlows
	} else if in.AllowedOAuthFlowsUserPoolClient != nil && !*in.AllowedOAuthFlowsUserPoolClient {
		u.Flows = []string{}
	}
	if in.AccessTokenValidity != nil || in.TokenValidityUnits != nil {
		if in.AccessTokenValidity == nil {
			return nil, invalid("AccessTokenValidity: required with TokenValidityUnits")
		}
		d, err := validity(in.AccessTokenValidity, in.TokenValidityUnits)
		if err != nil {
			return nil, err
		}
		u.TokenValidity = &d
	}
	c, err := a.cfg.Clients.Update(in.ClientID, u)
	if err != nil {
		return nil, storeError(err, in.ClientID)
	}
	return struct {
		UserPoolClient userPoolClient `json:"UserPoolClient"`
	}{a.client(c, "")}, nil
}

func (a *API) deleteUserPoolClient(_ context.Context, body []byte) (any, error) {
	var in clientRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	if err := a.cfg.Clients.Delete(in.ClientID); err != nil {
		return nil, storeError(err, in.ClientID)
	}
	return struct{}{}, nil
}
