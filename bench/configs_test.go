package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/pki"
)

func containsAll(t *testing.T, what, text string, wants []string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func testGatewayConfig(dir string) nginxGatewayConfig {
	return nginxGatewayConfig{
		nginxCommon: nginxCommon{Dir: dir, Name: "nginx-gateway"},
		Listen:      "127.0.0.1:18080", Stage: "v1", Upstream: "127.78.3.10:18081",
	}
}

// testGatewayTLSConfig is the gateway config of -tls, with a certificate
// for its address from a fresh local CA in dir.
func testGatewayTLSConfig(t *testing.T, dir string) nginxGatewayConfig {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c := testGatewayConfig(dir)
	c.Name = "nginx-gateway-tls"
	c.CertFile, c.KeyFile = filepath.Join(dir, "gw-cert.pem"), filepath.Join(dir, "gw-key.pem")
	if err := pki.WriteFiles(cert, pki.Files{CertFile: c.CertFile, KeyFile: c.KeyFile}); err != nil {
		t.Fatal(err)
	}
	return c
}

func testSidecarConfig(dir string) nginxSidecarConfig {
	return nginxSidecarConfig{
		nginxCommon: nginxCommon{Dir: dir, Name: "nginx-sidecar1", User: "root"},
		Listen:      "127.78.2.1:9000", App: "127.78.2.1:9001",
	}
}

func testHAProxyConfig(dir string) haproxyConfig {
	return haproxyConfig{
		Listen: "127.78.3.10:18081", Targets: []string{"127.78.2.1:9000", "127.78.2.2:9000"},
		CheckPath: "/management/healthcheck", IntervalMS: 1000, TimeoutMS: 900, Rise: 2, Fall: 2,
		StatsSocket: filepath.Join(dir, "haproxy.sock"),
	}
}

func TestNginxGatewayConfig(t *testing.T) {
	conf, err := testGatewayConfig("/tmp/b").Render()
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "gateway config", conf, []string{
		"daemon off;",
		"pid /tmp/b/nginx-gateway.pid;",
		"access_log off;",
		"client_max_body_size 10m;",
		"server 127.78.3.10:18081;",
		"keepalive 64;",
		"listen 127.0.0.1:18080",
		// the stage prefix is stripped: /v1/ingests/x → /ingests/x
		"location /v1/ingests {",
		"proxy_pass http://nlb/ingests;",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		"proxy_set_header X-Forwarded-Prefix /v1;",
		"proxy_set_header X-Forwarded-Host $http_host;",
		"proxy_set_header X-Forwarded-Proto $scheme;",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
	})
	if strings.Contains(conf, "user ") {
		t.Errorf("user directive without a user:\n%s", conf)
	}
	if strings.Contains(conf, "ssl") {
		t.Errorf("TLS without certificate files:\n%s", conf)
	}
}

func TestNginxGatewayTLSConfig(t *testing.T) {
	c := testGatewayConfig("/tmp/b")
	c.CertFile, c.KeyFile = "/tmp/b/gw-cert.pem", "/tmp/b/gw-key.pem"
	conf, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "gateway TLS config", conf, []string{
		"listen 127.0.0.1:18080 ssl reuseport;",
		"ssl_certificate /tmp/b/gw-cert.pem;",
		"ssl_certificate_key /tmp/b/gw-key.pem;",
		"ssl_protocols TLSv1.2 TLSv1.3;",
		// the load balancer behind stays plain HTTP
		"proxy_pass http://nlb/ingests;",
		"proxy_set_header X-Forwarded-Proto $scheme;",
	})
}

func TestNginxSidecarConfig(t *testing.T) {
	conf, err := testSidecarConfig("/tmp/b").Render()
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "sidecar config", conf, []string{
		"user root;",
		"listen 127.78.2.1:9000;",
		"server 127.78.2.1:9001;",
		"keepalive 64;",
		"proxy_pass http://app;",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		"proxy_set_header Host $http_host;",
		"proxy_set_header X-Real-IP $remote_addr;",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
		"client_max_body_size 12m;",
		"add_header Access-Control-Allow-Origin '*' always;",
		"add_header Access-Control-Allow-Methods 'GET, POST, OPTIONS' always;",
		"add_header Access-Control-Allow-Headers 'DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type' always;",
		"add_header Access-Control-Allow-Credentials 'true' always;",
		"proxy_hide_header Access-Control-Allow-Origin;",
	})
}

func TestHAProxyConfig(t *testing.T) {
	conf, err := testHAProxyConfig("/tmp/b").Render()
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "haproxy config", conf, []string{
		"mode tcp",
		"bind 127.78.3.10:18081",
		"balance roundrobin",
		"option httpchk",
		"http-check send meth GET uri /management/healthcheck ver HTTP/1.1 hdr Host health-check",
		"http-check expect status 200",
		"default-server inter 1000ms rise 2 fall 2",
		"timeout check 900ms",
		"server t0 127.78.2.1:9000 check",
		"server t1 127.78.2.2:9000 check",
		"stats socket /tmp/b/haproxy.sock",
	})
	if strings.Contains(conf, "mode http") {
		t.Error("HAProxy must stay in TCP mode")
	}
}

// TestConfigsAcceptedByTools checks the generated configs with nginx -t
// and haproxy -c when those are installed (nothing is started).
func TestConfigsAcceptedByTools(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if nginx, err := lookTool("nginx"); err != nil {
		t.Log("nginx not installed; skipping nginx -t")
	} else {
		gw := testGatewayConfig(dir)
		gwTLS := testGatewayTLSConfig(t, dir)
		sc := testSidecarConfig(dir)
		sc.User = nginxUser(os.Geteuid())
		for name, render := range map[string]func() (string, error){
			"nginx-gateway": gw.Render, "nginx-gateway-tls": gwTLS.Render, "nginx-sidecar1": sc.Render,
		} {
			conf, err := render()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name+".conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
				if err := os.MkdirAll(filepath.Join(dir, name+"-"+sub), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := exec.CommandContext(ctx, nginx, "-p", dir, "-e", "stderr", "-c", path, "-t").CombinedOutput(); err != nil {
				t.Errorf("nginx -t %s: %v\n%s", name, err, out)
			}
		}
	}
	if haproxy, err := lookTool("haproxy"); err != nil {
		t.Log("haproxy not installed; skipping haproxy -c")
	} else {
		conf, err := testHAProxyConfig(dir).Render()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.CommandContext(ctx, haproxy, "-c", "-f", path).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c: %v\n%s", err, out)
		}
	}
}

func TestNginxUser(t *testing.T) {
	if got := nginxUser(1000); got != "" {
		t.Errorf("nginxUser(1000) = %q, want none", got)
	}
	if got := nginxUser(0); got == "" {
		t.Error("nginxUser(0) is empty")
	}
}
