package apigwapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	apigw "github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/smithy-go"

	"github.com/portway/portway/internal/awsapi/apigwapi"
	"github.com/portway/portway/internal/gateway"
)

// fakeExporter records its calls and answers with a fixed document.
type fakeExporter struct {
	calls []string
}

func (f *fakeExporter) Export(stage, exportType, format string, extensions []string) ([]byte, error) {
	f.calls = append(f.calls, strings.Join([]string{stage, exportType, format, strings.Join(extensions, "+")}, " "))
	if stage == "broken" {
		return nil, errors.New("cannot export this")
	}
	if format == "yaml" {
		return []byte("openapi: 3.0.1\n"), nil
	}
	return []byte(`{"openapi":"3.0.1"}`), nil
}

var created = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func gatewayConfig() gateway.Config {
	integ := gateway.Integration{Type: "HTTP_PROXY", ConnectionType: "VPC_LINK", URI: "http://127.0.0.1:9000/bags/{proxy}", Timeout: 10 * time.Second}
	return gateway.Config{
		Stage:          "v1",
		StageVariables: map[string]string{"backend": "127.0.0.1"},
		Stages:         []gateway.Stage{{Name: "v2", Throttle: &gateway.ThrottleConfig{RateLimit: 100, BurstLimit: 50}}, {Name: "broken"}},
		Resources: []gateway.Resource{
			{Path: "/bags/{proxy+}", Methods: []gateway.Method{{HTTPMethod: "ANY", Authorization: "COGNITO_USER_POOLS", Scopes: []string{"storage/bags"}, Integration: integ}}},
			{Path: "/bags", Methods: []gateway.Method{{HTTPMethod: "GET", Integration: gateway.Integration{Type: "HTTP_PROXY", URI: "http://127.0.0.1:9000/bags"}}}},
			{Path: "/health/live", Methods: []gateway.Method{{HTTPMethod: "get", Integration: gateway.Integration{Type: "HTTP_PROXY", URI: "http://127.0.0.1:9000/h"}}}},
		},
	}
}

func newClient(t *testing.T, exp apigwapi.Exporter) (*apigw.Client, *apigwapi.Service) {
	t.Helper()
	svc, err := apigwapi.New(apigwapi.Config{Name: "portway", Description: "the stack's API", Gateway: gatewayConfig(), Exporter: exp, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return apigw.New(apigw.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}, HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDPORTWAYTEST", "secret", ""),
	}), svc
}

func errorType(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%v is not an AWS API error", err)
	}
	return ae.ErrorCode()
}

func TestRestApisAndStages(t *testing.T) {
	c, svc := newClient(t, nil)
	ctx := context.Background()
	id := svc.RestAPIID()
	if id != apigwapi.ID("portway") || len(id) != 10 {
		t.Fatalf("id %q", id)
	}
	apis, err := c.GetRestApis(ctx, &apigw.GetRestApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(apis.Items) != 1 {
		t.Fatalf("apis: %+v", apis.Items)
	}
	a := apis.Items[0]
	if aws.ToString(a.Id) != id || aws.ToString(a.Name) != "portway" || aws.ToString(a.Description) != "the stack's API" ||
		!a.CreatedDate.Equal(created) || a.EndpointConfiguration.Types[0] != types.EndpointTypeRegional || aws.ToString(a.RootResourceId) == "" {
		t.Errorf("api: %+v", a)
	}
	one, err := c.GetRestApi(ctx, &apigw.GetRestApiInput{RestApiId: aws.String(id)})
	if err != nil || aws.ToString(one.Name) != "portway" {
		t.Errorf("GetRestApi: %v %+v", err, one)
	}
	_, err = c.GetRestApi(ctx, &apigw.GetRestApiInput{RestApiId: aws.String("nope")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) || !strings.Contains(nf.ErrorMessage(), "Invalid API identifier specified") {
		t.Errorf("unknown api: %v", err)
	}

	stages, err := c.GetStages(ctx, &apigw.GetStagesInput{RestApiId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(stages.Item) != 3 || aws.ToString(stages.Item[0].StageName) != "v1" || stages.Item[0].Variables["backend"] != "127.0.0.1" {
		t.Fatalf("stages: %+v", stages.Item)
	}
	v2, err := c.GetStage(ctx, &apigw.GetStageInput{RestApiId: aws.String(id), StageName: aws.String("v2")})
	if err != nil {
		t.Fatal(err)
	}
	if ms := v2.MethodSettings["*/*"]; ms.ThrottlingRateLimit != 100 || ms.ThrottlingBurstLimit != 50 {
		t.Errorf("v2 throttling: %+v", v2.MethodSettings)
	}
	if _, err := c.GetStage(ctx, &apigw.GetStageInput{RestApiId: aws.String(id), StageName: aws.String("v9")}); !errors.As(err, &nf) {
		t.Errorf("unknown stage: %v", err)
	}
}

func TestResources(t *testing.T) {
	c, svc := newClient(t, nil)
	ctx := context.Background()
	id := svc.RestAPIID()
	out, err := c.GetResources(ctx, &apigw.GetResourcesInput{RestApiId: aws.String(id), Embed: []string{"methods"}})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]types.Resource{}
	var paths []string
	for _, r := range out.Items {
		byPath[aws.ToString(r.Path)] = r
		paths = append(paths, aws.ToString(r.Path))
	}
	if want := []string{"/", "/bags", "/bags/{proxy+}", "/health", "/health/live"}; !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths %q, want %q", paths, want)
	}
	root, proxy, health := byPath["/"], byPath["/bags/{proxy+}"], byPath["/health"]
	if root.ParentId != nil || root.PathPart != nil {
		t.Errorf("root: %+v", root)
	}
	if aws.ToString(proxy.ParentId) != aws.ToString(byPath["/bags"].Id) || aws.ToString(proxy.PathPart) != "{proxy+}" {
		t.Errorf("proxy: %+v", proxy)
	}
	if len(health.ResourceMethods) != 0 || aws.ToString(byPath["/health/live"].ParentId) != aws.ToString(health.Id) {
		t.Errorf("intermediate resource: %+v", health)
	}
	m := proxy.ResourceMethods["ANY"]
	in := m.MethodIntegration
	if aws.ToString(m.AuthorizationType) != "COGNITO_USER_POOLS" || aws.ToString(m.AuthorizerId) == "" ||
		!reflect.DeepEqual(m.AuthorizationScopes, []string{"storage/bags"}) || !m.RequestParameters["method.request.path.proxy"] ||
		in.Type != types.IntegrationTypeHttpProxy || aws.ToString(in.Uri) != "http://127.0.0.1:9000/bags/{proxy}" ||
		in.ConnectionType != types.ConnectionTypeVpcLink || aws.ToString(in.ConnectionId) == "" || in.TimeoutInMillis != 10000 ||
		in.RequestParameters["integration.request.path.proxy"] != "method.request.path.proxy" {
		t.Errorf("proxy ANY: %+v / %+v", m, in)
	}
	if g := byPath["/health/live"].ResourceMethods["GET"]; aws.ToString(g.AuthorizationType) != "NONE" || g.MethodIntegration.ConnectionType != types.ConnectionTypeInternet || g.MethodIntegration.TimeoutInMillis != 29000 {
		t.Errorf("health GET: %+v", g)
	}

	// Without embed=methods, only the methods' keys.
	plain, err := c.GetResources(ctx, &apigw.GetResourcesInput{RestApiId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plain.Items {
		if aws.ToString(r.Path) == "/bags" {
			if m, ok := r.ResourceMethods["GET"]; !ok || m.MethodIntegration != nil || m.HttpMethod != nil {
				t.Errorf("plain /bags: %+v", r.ResourceMethods)
			}
		}
	}
	// Pages: the paginator walks them with limit and position.
	var n int
	pg := apigw.NewGetResourcesPaginator(c, &apigw.GetResourcesInput{RestApiId: aws.String(id), Limit: aws.Int32(2)})
	for pages := 0; pg.HasMorePages(); pages++ {
		p, err := pg.NextPage(ctx)
		if err != nil || len(p.Items) > 2 || pages > 3 {
			t.Fatalf("page %d: %v %d items", pages, err, len(p.Items))
		}
		n += len(p.Items)
	}
	if n != 5 {
		t.Errorf("paged %d resources, want 5", n)
	}
	one, err := c.GetResource(ctx, &apigw.GetResourceInput{RestApiId: aws.String(id), ResourceId: proxy.Id, Embed: []string{"methods"}})
	if err != nil || aws.ToString(one.Path) != "/bags/{proxy+}" || one.ResourceMethods["ANY"].MethodIntegration == nil {
		t.Errorf("GetResource: %v %+v", err, one)
	}
	var nf *types.NotFoundException
	if _, err := c.GetResource(ctx, &apigw.GetResourceInput{RestApiId: aws.String(id), ResourceId: aws.String("zzz")}); !errors.As(err, &nf) {
		t.Errorf("unknown resource: %v", err)
	}
	var br *types.BadRequestException
	if _, err := c.GetResources(ctx, &apigw.GetResourcesInput{RestApiId: aws.String(id), Limit: aws.Int32(501)}); !errors.As(err, &br) {
		t.Errorf("limit 501: %v", err)
	}
}

func TestExport(t *testing.T) {
	exp := &fakeExporter{}
	c, svc := newClient(t, exp)
	ctx := context.Background()
	id := aws.String(svc.RestAPIID())
	out, err := c.GetExport(ctx, &apigw.GetExportInput{RestApiId: id, StageName: aws.String("v1"), ExportType: aws.String("oas30"),
		Parameters: map[string]string{"extensions": "integrations,authorizers"}, Accepts: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Body) != `{"openapi":"3.0.1"}` || aws.ToString(out.ContentType) != "application/json" ||
		!strings.Contains(aws.ToString(out.ContentDisposition), "attachment") {
		t.Errorf("export: %q %q %q", out.Body, aws.ToString(out.ContentType), aws.ToString(out.ContentDisposition))
	}
	// The Go SDK always sends Accept: application/json (its API Gateway
	// customization overrides Accepts); the AWS CLI sends what it is given.
	r := httptest.NewRequest("GET", "/restapis/"+*id+"/stages/v2/exports/swagger", nil)
	r.Header.Set("Accept", "application/yaml")
	w := httptest.NewRecorder()
	svc.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "openapi: 3.0.1\n" || w.Header().Get("Content-Type") != "application/yaml" {
		t.Errorf("yaml export: %d %q %v", w.Code, w.Body, w.Header())
	}
	r.Header.Set("Accept", "text/html")
	w = httptest.NewRecorder()
	svc.ServeHTTP(w, r)
	if w.Code != 400 || w.Header().Get("x-amzn-ErrorType") != "BadRequestException" || !strings.Contains(w.Body.String(), "Accept") {
		t.Errorf("Accept text/html: %d %s", w.Code, w.Body)
	}
	if want := []string{"v1 oas30 json integrations+authorizers", "v2 swagger yaml "}; !reflect.DeepEqual(exp.calls, want) {
		t.Errorf("exporter calls %q, want %q", exp.calls, want)
	}
	for _, tc := range []struct {
		in   apigw.GetExportInput
		want string
	}{
		{apigw.GetExportInput{StageName: aws.String("v1"), ExportType: aws.String("raml")}, "BadRequestException"},
		{apigw.GetExportInput{StageName: aws.String("v1"), ExportType: aws.String("oas30"), Parameters: map[string]string{"extensions": "lambda"}}, "BadRequestException"},
		{apigw.GetExportInput{StageName: aws.String("v9"), ExportType: aws.String("oas30")}, "NotFoundException"},
		{apigw.GetExportInput{StageName: aws.String("broken"), ExportType: aws.String("oas30")}, "BadRequestException"},
	} {
		in := tc.in
		in.RestApiId = id
		if _, err := c.GetExport(ctx, &in); err == nil || errorType(t, err) != tc.want {
			t.Errorf("%+v: %v, want %s", tc.in, err, tc.want)
		}
	}
	noExp, svc2 := newClient(t, nil)
	if _, err := noExp.GetExport(ctx, &apigw.GetExportInput{RestApiId: aws.String(svc2.RestAPIID()), StageName: aws.String("v1"), ExportType: aws.String("oas30")}); err == nil || errorType(t, err) != "NotFoundException" {
		t.Errorf("without exporter: %v", err)
	}
}

func TestErrorsAndAuthErrors(t *testing.T) {
	c, svc := newClient(t, nil)
	ctx := context.Background()
	_, err := c.DeleteRestApi(ctx, &apigw.DeleteRestApiInput{RestApiId: aws.String(svc.RestAPIID())})
	if err == nil || errorType(t, err) != "BadRequestException" || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("DeleteRestApi: %v", err)
	}
	for code, want := range map[string]string{
		"MissingAuthenticationToken": "MissingAuthenticationTokenException",
		"SignatureDoesNotMatch":      "InvalidSignatureException",
		"InvalidClientTokenId":       "UnrecognizedClientException",
		"IncompleteSignature":        "IncompleteSignatureException",
	} {
		w := httptest.NewRecorder()
		svc.WriteAuthError(w, httptest.NewRequest("GET", "/restapis", nil), http.StatusForbidden, code, "Missing Authentication Token")
		body, _ := io.ReadAll(w.Result().Body)
		if w.Code != 403 || w.Header().Get("x-amzn-ErrorType") != want || string(body) != `{"message":"Missing Authentication Token"}` {
			t.Errorf("%s: %d %s %s", code, w.Code, w.Header().Get("x-amzn-ErrorType"), body)
		}
	}
	// The SDK reads the exception from the header.
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.WriteAuthError(w, r, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
	}))
	defer auth.Close()
	bad := apigw.New(apigw.Options{Region: "us-east-1", BaseEndpoint: aws.String(auth.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "wrong", "")})
	if _, err := bad.GetRestApis(ctx, &apigw.GetRestApisInput{}); err == nil || errorType(t, err) != "InvalidSignatureException" {
		t.Errorf("auth error through the SDK: %v", err)
	}
}
