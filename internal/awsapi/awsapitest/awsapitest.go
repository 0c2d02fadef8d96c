// Package awsapitest serves awsapi services on 127.0.0.1:0 behind the real
// Router, for tests that drive them with aws-sdk-go-v2 clients.
package awsapitest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/portway/portway/internal/awsapi"
)

// Region is the region the test server verifies.
const Region = "eu-west-1"

// Creds is the test server's key pair.
var Creds = awsapi.Credentials{AccessKeyID: "AKIATESTTESTTESTTEST", SecretAccessKey: "testsecrettestsecrettestsecrettestsecre1"}

// Server is a Router with services on an httptest server; requests that
// are not AWS calls get 404.
type Server struct {
	URL string
}

// Serve starts the router with services; it stops at the test's end.
func Serve(t testing.TB, services awsapi.Services) *Server {
	t.Helper()
	rt, err := awsapi.NewRouter(awsapi.Config{
		Services: services,
		Verifier: &awsapi.Verifier{Credentials: Creds, Region: Region},
		Next:     http.NotFoundHandler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL}
}

// Config is an SDK config for the server with the given key pair.
func (s *Server) Config(c awsapi.Credentials) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
		// One attempt: tests look at errors, not retries.
		RetryMaxAttempts: 1,
	}
}
