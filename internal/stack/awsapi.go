package stack

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/awsapi/apigwapi"
	"github.com/portway/portway/internal/awsapi/cognitoapi"
	"github.com/portway/portway/internal/awsapi/ecsapi"
	"github.com/portway/portway/internal/awsapi/elbv2api"
	"github.com/portway/portway/internal/awsid"
	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/openapi"
)

// Region is the stack's AWS region: auth.region, else the region prefix of
// auth.userPoolId, else awsid.DefaultRegion. ARNs, the SigV4 credential
// scope and <state>/aws-config name it.
func (c Config) Region() string {
	if c.Auth.Region != "" {
		return c.Auth.Region
	}
	if r := awsid.PoolRegion(c.Auth.UserPoolID); r != "" {
		return r
	}
	return awsid.DefaultRegion
}

// awsRouter serves the AWS APIs on the control listener (SigV4 with the
// key pair of <state>/aws-credentials) in front of the control API next.
// A service is registered under its SigV4 signing name (awsapi.ECS,
// awsapi.CognitoIDP, awsapi.ELBv2, awsapi.APIGateway).
func (s *Stack) awsRouter(creds awsapi.Credentials, sup *ecs.Supervisor, reg registrar, gcfg gateway.Config, next http.Handler, log *slog.Logger) (*awsapi.Router, error) {
	region := s.cfg.Region()
	ecsAPI, err := ecsapi.New(ecsapi.Config{Supervisor: sup, Region: region, TargetGroupARN: reg.TargetGroupARN, Logger: log})
	if err != nil {
		return nil, err
	}
	cognitoAPI, err := cognitoapi.New(cognitoapi.Config{Clients: s.auth.Clients(), ResourceServers: s.auth,
		UserPoolID: s.cfg.Auth.UserPoolID, Region: region, Logger: log})
	if err != nil {
		return nil, err
	}
	poolARN := awsid.ARN("cognito-idp", region, "userpool/"+s.cfg.Auth.UserPoolID)
	apigwAPI, err := apigwapi.New(apigwapi.Config{Name: "portway", Gateway: gcfg, Created: time.Now(), Logger: log,
		Exporter: apigwapi.ExporterFunc(func(stage, exportType, format string, extensions []string) ([]byte, error) {
			return openapi.Export(gcfg, openapi.ExportOptions{Format: exportType, Stage: stage, Extensions: len(extensions) > 0,
				YAML: format == "yaml", UserPoolARN: poolARN})
		})})
	if err != nil {
		return nil, err
	}
	return awsapi.NewRouter(awsapi.Config{
		Services: awsapi.Services{
			awsapi.ECS:        ecsAPI,
			awsapi.CognitoIDP: cognitoAPI,
			awsapi.ELBv2:      elbv2api.New(s.lb, log),
			awsapi.APIGateway: apigwAPI,
		},
		Verifier: &awsapi.Verifier{Credentials: creds, Region: region},
		Next:     next,
		Logger:   log,
	})
}

var _ cognitoapi.ResourceServers = (*auth.Server)(nil)
