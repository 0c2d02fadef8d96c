package cognitoapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/awsapi/awsapitest"
)

const (
	pool = "eu-west-1_portway"
	rsID = "https://api.example.org/storage"
)

// setup runs a real auth server (token endpoint on 127.0.0.1:0) and the
// API over its stores.
func setup(t *testing.T) (*auth.Server, *cip.Client, *awsapitest.Server) {
	t.Helper()
	srv, err := auth.New(auth.Config{Listen: "127.0.0.1:0", StateDir: t.TempDir(), UserPoolID: pool, BcryptCost: 4,
		ResourceServers: []auth.ResourceServer{{Identifier: rsID, Scopes: []string{"bags", "ingests"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	api, err := New(Config{Clients: srv.Clients(), ResourceServers: srv, UserPoolID: pool, Region: awsapitest.Region})
	if err != nil {
		t.Fatal(err)
	}
	as := awsapitest.Serve(t, awsapi.Services{awsapi.CognitoIDP: api})
	return srv, cip.NewFromConfig(as.Config(awsapitest.Creds)), as
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	return ae.ErrorCode()
}

// token asks the token endpoint for a client-credentials token.
func token(t *testing.T, srv *auth.Server, id, secret, scope string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, _ := http.NewRequest("POST", srv.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

func TestUserPool(t *testing.T) {
	_, c, _ := setup(t)
	ctx := context.Background()
	lp, err := c.ListUserPools(ctx, &cip.ListUserPoolsInput{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.UserPools) != 1 || aws.ToString(lp.UserPools[0].Id) != pool || aws.ToString(lp.UserPools[0].Name) != "portway" {
		t.Errorf("ListUserPools: %+v", lp.UserPools)
	}
	dp, err := c.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: aws.String(pool)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(dp.UserPool.Arn) != "arn:aws:cognito-idp:eu-west-1:000000000000:userpool/"+pool {
		t.Errorf("DescribeUserPool: %+v", dp.UserPool)
	}
	if _, err := c.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: aws.String("eu-west-1_other")}); apiCode(t, err) != "ResourceNotFoundException" {
		t.Errorf("unknown pool: %v", err)
	}
}

func TestClientLifecycle(t *testing.T) {
	srv, c, _ := setup(t)
	ctx := context.Background()
	cr, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(pool), ClientName: aws.String("reporting"), GenerateSecret: true,
		AllowedOAuthFlows: []types.OAuthFlowType{types.OAuthFlowTypeClientCredentials}, AllowedOAuthFlowsUserPoolClient: true,
		AllowedOAuthScopes: []string{rsID + "/bags"}, AccessTokenValidity: aws.Int32(30),
		TokenValidityUnits: &types.TokenValidityUnitsType{AccessToken: types.TimeUnitsTypeMinutes},
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := cr.UserPoolClient
	id, secret := aws.ToString(cl.ClientId), aws.ToString(cl.ClientSecret)
	if id == "" || secret == "" || aws.ToString(cl.ClientName) != "reporting" || aws.ToInt32(cl.AccessTokenValidity) != 30 ||
		cl.TokenValidityUnits.AccessToken != types.TimeUnitsTypeMinutes || !aws.ToBool(cl.AllowedOAuthFlowsUserPoolClient) {
		t.Fatalf("CreateUserPoolClient: %+v", cl)
	}
	// The same store as `portway clients`: the token endpoint knows it.
	if got, ok := srv.Clients().Get(id); !ok || got.Name != "reporting" {
		t.Errorf("store: %+v %v", got, ok)
	}
	status, body := token(t, srv, id, secret, rsID+"/bags")
	if status != 200 || body["access_token"] == nil || body["expires_in"] != float64(1800) {
		t.Errorf("token: %d %v", status, body)
	}
	if status, _ := token(t, srv, id, secret, rsID+"/ingests"); status != 400 {
		t.Errorf("token with a scope the client lacks: %d", status)
	}

	dc, err := c.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: aws.String(pool), ClientId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if dc.UserPoolClient.ClientSecret != nil || aws.ToString(dc.UserPoolClient.ClientName) != "reporting" ||
		len(dc.UserPoolClient.AllowedOAuthScopes) != 1 {
		t.Errorf("DescribeUserPoolClient (no secret: it is stored hashed): %+v", dc.UserPoolClient)
	}
	lc, err := c.ListUserPoolClients(ctx, &cip.ListUserPoolClientsInput{UserPoolId: aws.String(pool)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lc.UserPoolClients) != 1 || aws.ToString(lc.UserPoolClients[0].ClientId) != id {
		t.Errorf("ListUserPoolClients: %+v", lc.UserPoolClients)
	}

	up, err := c.UpdateUserPoolClient(ctx, &cip.UpdateUserPoolClientInput{UserPoolId: aws.String(pool), ClientId: aws.String(id),
		ClientName: aws.String("reporting2"), AllowedOAuthScopes: []string{rsID + "/bags", rsID + "/ingests"},
		AllowedOAuthFlows: []types.OAuthFlowType{types.OAuthFlowTypeClientCredentials}, AllowedOAuthFlowsUserPoolClient: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up.UserPoolClient.ClientName) != "reporting2" || len(up.UserPoolClient.AllowedOAuthScopes) != 2 ||
		aws.ToInt32(up.UserPoolClient.AccessTokenValidity) != 30 {
		t.Errorf("UpdateUserPoolClient: %+v", up.UserPoolClient)
	}
	if status, _ := token(t, srv, id, secret, rsID+"/ingests"); status != 200 {
		t.Errorf("token with the added scope: %d", status)
	}

	if _, err := c.DeleteUserPoolClient(ctx, &cip.DeleteUserPoolClientInput{UserPoolId: aws.String(pool), ClientId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if status, _ := token(t, srv, id, secret, rsID+"/bags"); status != 400 && status != 401 {
		t.Errorf("token of a deleted client: %d", status)
	}
	for name, err := range map[string]error{
		"describe": func() error {
			_, err := c.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: aws.String(pool), ClientId: aws.String(id)})
			return err
		}(),
		"delete": func() error {
			_, err := c.DeleteUserPoolClient(ctx, &cip.DeleteUserPoolClientInput{UserPoolId: aws.String(pool), ClientId: aws.String(id)})
			return err
		}(),
	} {
		if apiCode(t, err) != "ResourceNotFoundException" {
			t.Errorf("%s of a deleted client: %v", name, err)
		}
	}
}

func TestCreateClientRefusals(t *testing.T) {
	_, c, _ := setup(t)
	ctx := context.Background()
	base := func() *cip.CreateUserPoolClientInput {
		return &cip.CreateUserPoolClientInput{UserPoolId: aws.String(pool), ClientName: aws.String("x"), GenerateSecret: true,
			AllowedOAuthFlows: []types.OAuthFlowType{types.OAuthFlowTypeClientCredentials}, AllowedOAuthFlowsUserPoolClient: true,
			AllowedOAuthScopes: []string{rsID + "/bags"}}
	}
	for _, tc := range []struct {
		name string
		mod  func(*cip.CreateUserPoolClientInput)
		code string
	}{
		{"undefined scope", func(in *cip.CreateUserPoolClientInput) { in.AllowedOAuthScopes = []string{rsID + "/nope"} }, "ScopeDoesNotExistException"},
		{"code flow", func(in *cip.CreateUserPoolClientInput) {
			in.AllowedOAuthFlows = []types.OAuthFlowType{types.OAuthFlowTypeCode}
		}, "InvalidOAuthFlowException"},
		{"no secret", func(in *cip.CreateUserPoolClientInput) { in.GenerateSecret = false }, "InvalidParameterException"},
		{"flows not enabled", func(in *cip.CreateUserPoolClientInput) { in.AllowedOAuthFlowsUserPoolClient = false }, "InvalidOAuthFlowException"},
		{"validity too long", func(in *cip.CreateUserPoolClientInput) {
			in.AccessTokenValidity = aws.Int32(2)
			in.TokenValidityUnits = &types.TokenValidityUnitsType{AccessToken: types.TimeUnitsTypeDays}
		}, "InvalidParameterException"},
		{"unknown pool", func(in *cip.CreateUserPoolClientInput) { in.UserPoolId = aws.String("eu-west-1_x") }, "ResourceNotFoundException"},
		{"unsupported member", func(in *cip.CreateUserPoolClientInput) { in.CallbackURLs = []string{"https://x"} }, "InvalidParameterException"},
		{"bad name", func(in *cip.CreateUserPoolClientInput) { in.ClientName = aws.String("a\tb") }, "InvalidParameterException"},
	} {
		in := base()
		tc.mod(in)
		if _, err := c.CreateUserPoolClient(ctx, in); apiCode(t, err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestResourceServers(t *testing.T) {
	srv, c, _ := setup(t)
	ctx := context.Background()
	l, err := c.ListResourceServers(ctx, &cip.ListResourceServersInput{UserPoolId: aws.String(pool), MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.ResourceServers) != 1 || aws.ToString(l.ResourceServers[0].Identifier) != rsID || len(l.ResourceServers[0].Scopes) != 2 {
		t.Errorf("ListResourceServers: %+v", l.ResourceServers)
	}
	cr, err := c.CreateResourceServer(ctx, &cip.CreateResourceServerInput{UserPoolId: aws.String(pool), Identifier: aws.String("reports"),
		Name: aws.String("Reports"), Scopes: []types.ResourceServerScopeType{{ScopeName: aws.String("read"), ScopeDescription: aws.String("Read reports")}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cr.ResourceServer.Name) != "Reports" || aws.ToString(cr.ResourceServer.Scopes[0].ScopeDescription) != "Read reports" {
		t.Errorf("CreateResourceServer: %+v", cr.ResourceServer)
	}
	d, err := c.DescribeResourceServer(ctx, &cip.DescribeResourceServerInput{UserPoolId: aws.String(pool), Identifier: aws.String("reports")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.ResourceServer.Name) != "Reports" || len(d.ResourceServer.Scopes) != 1 {
		t.Errorf("DescribeResourceServer: %+v", d.ResourceServer)
	}
	if _, err := c.DescribeResourceServer(ctx, &cip.DescribeResourceServerInput{UserPoolId: aws.String(pool), Identifier: aws.String("nope")}); apiCode(t, err) != "ResourceNotFoundException" {
		t.Errorf("unknown resource server: %v", err)
	}
	if _, err := c.CreateResourceServer(ctx, &cip.CreateResourceServerInput{UserPoolId: aws.String(pool), Identifier: aws.String("reports"),
		Name: aws.String("Again")}); apiCode(t, err) != "InvalidParameterException" {
		t.Errorf("duplicate resource server: %v", err)
	}
	// Its scope can be granted and asked for at once.
	cl, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{UserPoolId: aws.String(pool), ClientName: aws.String("r"), GenerateSecret: true,
		AllowedOAuthFlows: []types.OAuthFlowType{types.OAuthFlowTypeClientCredentials}, AllowedOAuthFlowsUserPoolClient: true,
		AllowedOAuthScopes: []string{"reports/read"}})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := token(t, srv, aws.ToString(cl.UserPoolClient.ClientId), aws.ToString(cl.UserPoolClient.ClientSecret), "reports/read"); status != 200 {
		t.Errorf("token for a created resource server's scope: %d %v", status, body)
	}
	if got := srv.ResourceServers(); len(got) != 2 || got[1].Identifier != "reports" {
		t.Errorf("auth resource servers: %+v", got)
	}
}

func TestAuthErrors(t *testing.T) {
	_, _, as := setup(t)
	ctx := context.Background()
	wrong := awsapitest.Creds
	wrong.SecretAccessKey = strings.Repeat("z", 40)
	if _, err := cip.NewFromConfig(as.Config(wrong)).ListUserPools(ctx, &cip.ListUserPoolsInput{MaxResults: aws.Int32(1)}); apiCode(t, err) != "InvalidSignatureException" {
		t.Errorf("wrong secret: %v", err)
	}
	unknown := awsapitest.Creds
	unknown.AccessKeyID = "AKIAUNKNOWNUNKNOWNUN"
	if _, err := cip.NewFromConfig(as.Config(unknown)).ListUserPools(ctx, &cip.ListUserPoolsInput{MaxResults: aws.Int32(1)}); apiCode(t, err) != "UnrecognizedClientException" {
		t.Errorf("unknown key: %v", err)
	}
	req, _ := http.NewRequest("POST", as.URL, strings.NewReader(`{"MaxResults":1}`))
	req.Header.Set("Content-Type", awsapi.JSONContentType)
	req.Header.Set("X-Amz-Target", "AWSCognitoIdentityProviderService.ListUserPools")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"__type":"MissingAuthenticationTokenException"`) {
		t.Errorf("unsigned: %d %s", resp.StatusCode, b)
	}
}
