package stack

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"

	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/controlauth"
)

// TestAWSAPIsOnControlListener drives a real stack's control listener with
// the SDK: the key pair of aws-credentials is accepted, a change goes
// through the supervisor the control API uses, the bearer-token control
// API still works beside it, and the control token is no AWS credential.
func TestAWSAPIsOnControlListener(t *testing.T) {
	dir := t.TempDir()
	st := startTestStackIn(t, dir)
	creds, err := awsapi.LoadOrCreateCredentials(dir, st.cfg.Region())
	if err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config{Region: st.cfg.Region(), BaseEndpoint: aws.String(st.Endpoint.ControlURL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")}
	ctx := context.Background()
	c := ecs.NewFromConfig(cfg)
	svc := st.cfg.Services[0].Name
	out, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("portway"), Service: aws.String(svc), DesiredCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Service.DesiredCount != 2 || desiredCount(t, st, svc) != 2 {
		t.Errorf("desired count: API %d, supervisor %d", out.Service.DesiredCount, desiredCount(t, st, svc))
	}
	lc, err := cip.NewFromConfig(cfg).ListUserPoolClients(ctx, &cip.ListUserPoolClientsInput{UserPoolId: aws.String(st.cfg.Auth.UserPoolID)})
	if err != nil {
		t.Fatal(err)
	}
	creds2, _ := ReadCredentials(dir)
	if len(lc.UserPoolClients) == 0 || aws.ToString(lc.UserPoolClients[0].ClientId) != creds2.ClientID {
		t.Errorf("ListUserPoolClients: %+v, want the default client %s", lc.UserPoolClients, creds2.ClientID)
	}

	// The control API beside it, with its token.
	tok, err := controlauth.ReadToken(filepath.Join(dir, controlauth.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, st.Endpoint.ControlURL+"/ecs/services/"+svc, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"desiredCount": 2`) {
		t.Errorf("control API: %d %s", resp.StatusCode, body)
	}

	// The control token as an AWS secret does not sign.
	bad := cfg.Copy()
	bad.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, tok, "")
	_, err = ecs.NewFromConfig(bad).ListClusters(ctx, &ecs.ListClustersInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Errorf("signed with the control token: %v", err)
	}
}
