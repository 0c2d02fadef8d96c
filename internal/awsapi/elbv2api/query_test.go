package elbv2api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/portway/portway/internal/nlb"
)

func paramsOf(t *testing.T, form string) params {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	p, err := readParams(r)
	if err != nil {
		t.Fatalf("readParams(%q): %v", form, err)
	}
	return p
}

func TestQueryLists(t *testing.T) {
	for _, tc := range []struct {
		form    string
		want    []string
		wantErr string
	}{
		{"Action=X", []string{}, ""},
		{"Names=", []string{}, ""}, // the SDKs' empty list
		{"Names.member.1=a", []string{"a"}, ""},
		{"Names.member.2=b&Names.member.1=a", []string{"a", "b"}, ""},
		{"Names.member.1=a&Names.member.3=c", nil, "Names.member.3 is given without Names.member.2"},
		{"Names.member.0=a", nil, "not within 1..1000"},
		{"Names.member.1001=a", nil, "not within 1..1000"},
		{"Names.member.01=a", nil, "leading zero"},
		{"Names.member.x=a", nil, `list index "x" is not a number`},
		{"Names.member.-1=a", nil, "is not a number"},
		{"Names.member.=a", nil, "is not a number"},
		{"Names.1=a", nil, "a list item must be Names.member.N"},
		{"Names=a", nil, "must be a list"},
		{"Names.member.1.Id=a", nil, "is a value, not a structure"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		p, err := readParams(r)
		var got []string
		if err == nil {
			got, err = p.list("Names")
		}
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "ValidationError: ") {
				t.Errorf("%s: error %v, want ValidationError with %q", tc.form, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.form, err)
		case !reflect.DeepEqual(got, tc.want):
			t.Errorf("%s: got %q, want %q", tc.form, got, tc.want)
		}
	}
}

func TestQueryStructs(t *testing.T) {
	p := paramsOf(t, "Targets.member.1.Id=127.0.0.1&Targets.member.1.Port=80&Targets.member.2.Id=127.0.0.2")
	ts, err := targets(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []nlb.Target{{ID: "127.0.0.1", Port: 80}, {ID: "127.0.0.2"}}; !reflect.DeepEqual(ts, want) {
		t.Errorf("targets: %+v", ts)
	}
	for form, want := range map[string]string{
		"":                         "Value null at 'targets'",
		"Targets.member.1.Port=80": "Value null at 'targets.1.member.id'",
		"Targets.member.1.Id=a&Targets.member.1.Port=http":  "at 'targets.1.member.port' must be an integer",
		"Targets.member.1.Id=a&Targets.member.1.Port=70000": "between 1 and 65535",
		"Targets.member.1.Ip=a":                             `unknown field "Ip"`,
		"Targets.member.1=a":                                "name a field, e.g. Targets.member.1.Id",
	} {
		if _, err := targets(paramsOf(t, form), true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", form, err, want)
		}
	}
}

func TestReadParamsRefuses(t *testing.T) {
	big := "Action=X&Names.member.1=" + strings.Repeat("a", MaxBodyBytes)
	for name, r := range map[string]*http.Request{
		"oversize body": httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big)),
		"repeated key":  httptest.NewRequest(http.MethodPost, "/?Action=Y", strings.NewReader("Action=X")),
		"bad escape":    httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=%zz")),
		"JSON body":     httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Action":"X"}`)),
	} {
		if name == "JSON body" {
			r.Header.Set("Content-Type", "application/json")
		}
		if _, err := readParams(r); err == nil || !strings.HasPrefix(err.Error(), "ValidationError") {
			t.Errorf("%s: %v, want ValidationError", name, err)
		}
	}
}

// fakeLB answers DescribeTargetHealth with fixed descriptions.
type fakeLB struct {
	LoadBalancer
	ths []nlb.TargetHealthDescription
}

func (f fakeLB) TargetGroupName(arn string) (string, error) {
	if arn != "arn:tg" {
		return "", nlb.ErrTargetGroupNotFound
	}
	return "web", nil
}

func (f fakeLB) DescribeTargetHealthOf(string, []nlb.Target) ([]nlb.TargetHealthDescription, error) {
	return f.ths, nil
}

func post(t *testing.T, h http.Handler, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestDescribeTargetHealthXML pins the document the AWS CLI parses.
func TestDescribeTargetHealthXML(t *testing.T) {
	s := New(fakeLB{ths: []nlb.TargetHealthDescription{
		{Target: nlb.Target{ID: "127.0.0.2", Port: 9000}, HealthCheckPort: "9000",
			TargetHealth: nlb.TargetHealth{State: "healthy"}},
		{Target: nlb.Target{ID: "127.0.0.3", Port: 9000}, HealthCheckPort: "9000",
			TargetHealth: nlb.TargetHealth{State: "unhealthy", Reason: "Target.FailedHealthChecks", Description: "Health checks failed"}},
	}}, nil)
	w := post(t, s, url.Values{"Action": {"DescribeTargetHealth"}, "Version": {Version}, "TargetGroupArn": {"arn:tg"}})
	id := w.Header().Get("x-amzn-RequestId")
	want := `<?xml version="1.0" encoding="UTF-8"?>
<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">` +
		`<DescribeTargetHealthResult><TargetHealthDescriptions>` +
		`<member><Target><Id>127.0.0.2</Id><Port>9000</Port></Target><HealthCheckPort>9000</HealthCheckPort><TargetHealth><State>healthy</State></TargetHealth></member>` +
		`<member><Target><Id>127.0.0.3</Id><Port>9000</Port></Target><HealthCheckPort>9000</HealthCheckPort><TargetHealth><State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason><Description>Health checks failed</Description></TargetHealth></member>` +
		`</TargetHealthDescriptions></DescribeTargetHealthResult>` +
		`<ResponseMetadata><RequestId>` + id + `</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "text/xml" {
		t.Errorf("status %d %s\n%s\nwant\n%s", w.Code, w.Header().Get("Content-Type"), w.Body, want)
	}

	s = New(fakeLB{}, nil)
	w = post(t, s, url.Values{"Action": {"DescribeTargetHealth"}, "Version": {Version}, "TargetGroupArn": {"arn:tg"}})
	if !strings.Contains(w.Body.String(), "<DescribeTargetHealthResult><TargetHealthDescriptions></TargetHealthDescriptions></DescribeTargetHealthResult>") {
		t.Errorf("empty list: %s", w.Body)
	}
}

func TestErrorDocuments(t *testing.T) {
	s := New(fakeLB{}, nil)
	for _, tc := range []struct {
		form   url.Values
		status int
		code   string
		msg    string
	}{
		{url.Values{"Action": {"CreateLoadBalancer"}, "Version": {Version}}, 400, "InvalidAction", "Could not find operation CreateLoadBalancer for version 2015-12-01"},
		{url.Values{"Action": {"DescribeTargetHealth"}, "Version": {"2012-06-01"}}, 400, "InvalidAction", "for version 2012-06-01"},
		{url.Values{"Action": {"DescribeTargetHealth"}}, 400, "MissingParameter", "Version"},
		{url.Values{"Version": {Version}}, 400, "MissingAction", "Action"},
		{url.Values{"Action": {"DescribeTargetHealth"}, "Version": {Version}}, 400, "ValidationError", "Value null at &#39;targetGroupArn&#39;"},
		{url.Values{"Action": {"DescribeTargetHealth"}, "Version": {Version}, "TargetGroupArn": {"arn:other"}}, 400, "TargetGroupNotFound", ""},
		{url.Values{"Action": {"DescribeTargetHealth"}, "Version": {Version}, "TargetGroupArn": {"arn:tg"}, "Targets.member.2.Id": {"a"}}, 400, "ValidationError", "Targets.member.2"},
	} {
		w := post(t, s, tc.form)
		id := w.Header().Get("x-amzn-RequestId")
		body := w.Body.String()
		if w.Code != tc.status || !strings.Contains(body, "<Error><Type>Sender</Type><Code>"+tc.code+"</Code><Message>") ||
			!strings.Contains(body, tc.msg) || !strings.Contains(body, "<RequestId>"+id+"</RequestId></ErrorResponse>") ||
			!strings.Contains(body, `<ErrorResponse xmlns="`+Namespace+`">`) {
			t.Errorf("%v: %d %s", tc.form, w.Code, body)
		}
	}
	r := httptest.NewRequest(http.MethodPut, "/", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
		t.Errorf("PUT: %d %v", w.Code, w.Header())
	}
	// GET with the parameters in the query string works too.
	r = httptest.NewRequest(http.MethodGet, "/?Action=DescribeTargetHealth&Version="+Version+"&TargetGroupArn=arn:tg", nil)
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
}
