// Package cognitoapi serves the user pool part of Amazon Cognito's API
// (AWS JSON 1.1, AWSCognitoIdentityProviderService) over portway's auth
// component: its one user pool, its app clients and its resource servers.
// Clients change through the same auth.ClientStore as `portway clients`,
// so what one door creates the other sees, and the token endpoint serves
// it at once.
package cognitoapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/awsid"
)

// ClientStore is what the API needs of *auth.ClientStore.
type ClientStore interface {
	List() []auth.Client
	Get(id string) (auth.Client, bool)
	Create(name string, scopes []string, validity time.Duration) (id, secret string, err error)
	Update(id string, u auth.ClientUpdate) (auth.Client, error)
	Delete(id string) error
}

var _ ClientStore = (*auth.ClientStore)(nil)

// ResourceServers is what the API needs of *auth.Server.
type ResourceServers interface {
	ResourceServers() []auth.ResourceServerInfo
	CreateResourceServer(auth.ResourceServerInfo) (auth.ResourceServerInfo, error)
}

var _ ResourceServers = (*auth.Server)(nil)

// DefaultPoolName is the user pool's name.
const DefaultPoolName = "portway"

// Config configures the API.
type Config struct {
	Clients         ClientStore
	ResourceServers ResourceServers
	UserPoolID      string // "eu-west-1_portway"
	PoolName        string // default DefaultPoolName
	Region          string
	// CreatedAt is the pool's creation date (nil: the oldest client's,
	// else now).
	CreatedAt time.Time
	Now       func() time.Time
	Logger    *slog.Logger
}

// API is the Cognito user pools API.
type API struct {
	*awsapi.JSONService
	cfg Config
}

var _ awsapi.Service = (*API)(nil)

// New checks cfg and builds the API.
func New(cfg Config) (*API, error) {
	switch {
	case cfg.Clients == nil || cfg.ResourceServers == nil:
		return nil, errors.New("cognitoapi: no client store or resource servers")
	case cfg.UserPoolID == "":
		return nil, errors.New("cognitoapi: no user pool id")
	case !awsid.ValidRegion(cfg.Region):
		return nil, fmt.Errorf("cognitoapi: region %q", cfg.Region)
	}
	if cfg.PoolName == "" {
		cfg.PoolName = DefaultPoolName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{cfg: cfg}
	a.JSONService = &awsapi.JSONService{
		TargetPrefix:  awsapi.CognitoTargetPrefix,
		InternalError: "InternalErrorException",
		Logger:        cfg.Logger,
		Operations: map[string]awsapi.Operation{
			"ListUserPools":          a.listUserPools,
			"DescribeUserPool":       a.describeUserPool,
			"ListUserPoolClients":    a.listUserPoolClients,
			"DescribeUserPoolClient": a.describeUserPoolClient,
			"CreateUserPoolClient":   a.createUserPoolClient,
			"UpdateUserPoolClient":   a.updateUserPoolClient,
			"DeleteUserPoolClient":   a.deleteUserPoolClient,
			"ListResourceServers":    a.listResourceServers,
			"DescribeResourceServer": a.describeResourceServer,
			"CreateResourceServer":   a.createResourceServer,
		},
	}
	return a, nil
}

func decode(body []byte, v any) error {
	return awsapi.DecodeInput(body, v, "InvalidParameterException")
}

func invalid(format string, args ...any) error {
	return awsapi.Errorf("InvalidParameterException", format, args...)
}

func notFound(format string, args ...any) error {
	return awsapi.Errorf("ResourceNotFoundException", format, args...)
}

func (a *API) checkPool(id string) error {
	if id == "" {
		return invalid("UserPoolId: required")
	}
	if id != a.cfg.UserPoolID {
		return notFound("User pool %s does not exist.", id)
	}
	return nil
}

func (a *API) poolARN() string {
	return awsid.ARN("cognito-idp", a.cfg.Region, "userpool/"+a.cfg.UserPoolID)
}

func (a *API) created() time.Time {
	if !a.cfg.CreatedAt.IsZero() {
		return a.cfg.CreatedAt
	}
	if cs := a.cfg.Clients.List(); len(cs) > 0 {
		return cs[0].CreatedAt
	}
	return a.cfg.Now()
}

type poolDescription struct {
	ID               string            `json:"Id"`
	Name             string            `json:"Name"`
	LambdaConfig     map[string]string `json:"LambdaConfig"`
	LastModifiedDate awsapi.Epoch      `json:"LastModifiedDate"`
	CreationDate     awsapi.Epoch      `json:"CreationDate"`
}

func (a *API) listUserPools(_ context.Context, body []byte) (any, error) {
	var in struct {
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.MaxResults == nil {
		return nil, invalid("MaxResults: required")
	}
	c := awsapi.Epoch(a.created())
	pools, next, err := awsapi.Page([]poolDescription{{ID: a.cfg.UserPoolID, Name: a.cfg.PoolName, LambdaConfig: map[string]string{},
		LastModifiedDate: c, CreationDate: c}}, in.MaxResults, 60, in.NextToken, "MaxResults", "NextToken", "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return struct {
		UserPools []poolDescription `json:"UserPools"`
		NextToken *string           `json:"NextToken,omitempty"`
	}{pools, next}, nil
}

func (a *API) describeUserPool(_ context.Context, body []byte) (any, error) {
	var in struct {
		UserPoolID string `json:"UserPoolId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	c := awsapi.Epoch(a.created())
	return struct {
		UserPool any `json:"UserPool"`
	}{struct {
		ID                     string            `json:"Id"`
		Name                   string            `json:"Name"`
		Arn                    string            `json:"Arn"`
		LambdaConfig           map[string]string `json:"LambdaConfig"`
		LastModifiedDate       awsapi.Epoch      `json:"LastModifiedDate"`
		CreationDate           awsapi.Epoch      `json:"CreationDate"`
		EstimatedNumberOfUsers int               `json:"EstimatedNumberOfUsers"`
		MfaConfiguration       string            `json:"MfaConfiguration"`
		DeletionProtection     string            `json:"DeletionProtection"`
		UserPoolTier           string            `json:"UserPoolTier"`
	}{a.cfg.UserPoolID, a.cfg.PoolName, a.poolARN(), map[string]string{}, c, c, 0, "OFF", "INACTIVE", "ESSENTIALS"}}, nil
}

// resourceServer is Cognito's ResourceServerType.
type resourceServer struct {
	UserPoolID string  `json:"UserPoolId"`
	Identifier string  `json:"Identifier"`
	Name       string  `json:"Name"`
	Scopes     []scope `json:"Scopes"`
}

type scope struct {
	ScopeName        string `json:"ScopeName"`
	ScopeDescription string `json:"ScopeDescription"`
}

func (a *API) resourceServer(rs auth.ResourceServerInfo) resourceServer {
	out := resourceServer{UserPoolID: a.cfg.UserPoolID, Identifier: rs.Identifier, Name: rs.Name, Scopes: []scope{}}
	for _, s := range rs.Scopes {
		out.Scopes = append(out.Scopes, scope{s.Name, s.Description})
	}
	return out
}

func (a *API) listResourceServers(_ context.Context, body []byte) (any, error) {
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
	all := []resourceServer{}
	for _, rs := range a.cfg.ResourceServers.ResourceServers() {
		all = append(all, a.resourceServer(rs))
	}
	list, next, err := awsapi.Page(all, in.MaxResults, 50, in.NextToken, "MaxResults", "NextToken", "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return struct {
		ResourceServers []resourceServer `json:"ResourceServers"`
		NextToken       *string          `json:"NextToken,omitempty"`
	}{list, next}, nil
}

func (a *API) describeResourceServer(_ context.Context, body []byte) (any, error) {
	var in struct {
		UserPoolID string `json:"UserPoolId"`
		Identifier string `json:"Identifier"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	for _, rs := range a.cfg.ResourceServers.ResourceServers() {
		if rs.Identifier == in.Identifier {
			return struct {
				ResourceServer resourceServer `json:"ResourceServer"`
			}{a.resourceServer(rs)}, nil
		}
	}
	return nil, notFound("Resource server %s does not exist.", in.Identifier)
}

func (a *API) createResourceServer(_ context.Context, body []byte) (any, error) {
	var in struct {
		UserPoolID string  `json:"UserPoolId"`
		Identifier string  `json:"Identifier"`
		Name       string  `json:"Name"`
		Scopes     []scope `json:"Scopes"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkPool(in.UserPoolID); err != nil {
		return nil, err
	}
	if in.Identifier == "" || in.Name == "" {
		return nil, invalid("Identifier and Name: required")
	}
	info := auth.ResourceServerInfo{Identifier: in.Identifier, Name: in.Name}
	for _, s := range in.Scopes {
		info.Scopes = append(info.Scopes, auth.ScopeInfo{Name: s.ScopeName, Description: s.ScopeDescription})
	}
	rs, err := a.cfg.ResourceServers.CreateResourceServer(info)
	switch {
	case errors.Is(err, auth.ErrResourceServerExists):
		return nil, invalid("%s already exists in this user pool", in.Identifier)
	case errors.Is(err, auth.ErrResourceServerInvalid):
		return nil, invalid("%s", strings.TrimPrefix(err.Error(), auth.ErrResourceServerInvalid.Error()+": "))
	case err != nil:
		return nil, err
	}
	return struct {
		ResourceServer resourceServer `json:"ResourceServer"`
	}{a.resourceServer(rs)}, nil
}

// scopeDefined reports whether a full scope string is one of the
// resource servers'.
func (a *API) scopeDefined(s string) bool {
	for _, rs := range a.cfg.ResourceServers.ResourceServers() {
		for _, sc := range rs.Scopes {
			if rs.Identifier+"/"+sc.Name == s {
				return true
			}
		}
	}
	return false
}
