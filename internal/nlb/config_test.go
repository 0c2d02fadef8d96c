package nlb

import (
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		Address:   "127.77.0.10",
		Listeners: []ListenerConfig{{Port: 65534, TargetGroup: "bags"}, {Port: 65535, TargetGroup: "ingests"}},
		TargetGroups: []TargetGroupConfig{
			{Name: "bags", Port: 9000, HealthCheck: HealthCheck{Protocol: "HTTP", Path: "/management/healthcheck"}},
			{Name: "ingests", Port: 9000},
		},
	}
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig().withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	hc := c.TargetGroups[0].HealthCheck
	want := HealthCheck{Protocol: "HTTP", Path: "/management/healthcheck", Matcher: "200-399",
		Interval: 30 * time.Second, Timeout: 6 * time.Second, HealthyThreshold: 5, UnhealthyThreshold: 2}
	if hc != want {
		t.Errorf("HTTP defaults = %+v, want %+v", hc, want)
	}
	tcp := c.TargetGroups[1].HealthCheck
	if tcp.Protocol != "TCP" || tcp.Timeout != 10*time.Second || tcp.Path != "" || tcp.Matcher != "" {
		t.Errorf("TCP defaults = %+v", tcp)
	}
	if c.TargetGroups[0].DeregistrationDelay != 300*time.Second {
		t.Errorf("deregistration delay = %s", c.TargetGroups[0].DeregistrationDelay)
	}
	if c.IdleTimeout != 350*time.Second || c.ConnectTimeout != time.Second || c.Name != DefaultName {
		t.Errorf("lb defaults: %+v", c)
	}
	for i, l := range c.Listeners {
		if l.IdleTimeout != DefaultIdleTimeout {
			t.Errorf("listeners[%d].IdleTimeout = %s, want the 350s default", i, l.IdleTimeout)
		}
	}
	tg0 := c.TargetGroups[0]
	if tg0.ConnectionTermination || tg0.ProxyProtocolV2 {
		t.Errorf("connection termination and proxy protocol must default to off: %+v", tg0)
	}
	if tg0.UnhealthyConnectionTermination == nil || !*tg0.UnhealthyConnectionTermination || tg0.UnhealthyDrainingInterval != 0 {
		t.Errorf("unhealthy connection termination must default to on, without draining interval: %+v", tg0)
	}
	// A listener without its own idle timeout takes the load balancer's.
	lc := validConfig()
	lc.IdleTimeout = time.Minute
	lc.Listeners[1].IdleTimeout = 5 * time.Second
	if d := lc.withDefaults(); d.Listeners[0].IdleTimeout != time.Minute || d.Listeners[1].IdleTimeout != 5*time.Second {
		t.Errorf("listener idle timeouts: %+v", d.Listeners)
	}
	// Sub-second interval: the default timeout shrinks below it.
	fast := HealthCheck{Interval: 50 * time.Millisecond, Path: "/"}.withDefaults()
	if fast.Timeout != 25*time.Millisecond || len(fast.validate()) != 0 {
		t.Errorf("fast defaults = %+v, %v", fast, fast.validate())
	}
	// Negative deregistration delay means none.
	tg := TargetGroupConfig{DeregistrationDelay: -1}.withDefaults()
	if tg.DeregistrationDelay != 0 {
		t.Errorf("negative delay -> %s", tg.DeregistrationDelay)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"healthy threshold", func(c *Config) { c.TargetGroups[0].HealthCheck.HealthyThreshold = 11 },
			"targetGroups[0].healthCheck.healthyThreshold: must be 2..10"},
		{"unhealthy threshold", func(c *Config) { c.TargetGroups[1].HealthCheck.UnhealthyThreshold = 1 },
			"targetGroups[1].healthCheck.unhealthyThreshold: must be 2..10"},
		{"timeout not below interval", func(c *Config) {
			c.TargetGroups[0].HealthCheck.Interval = time.Second
			c.TargetGroups[0].HealthCheck.Timeout = time.Second
		}, "targetGroups[0].healthCheck.timeout: must be less than interval"},
		{"negative interval", func(c *Config) { c.TargetGroups[0].HealthCheck.Interval = -time.Second },
			"targetGroups[0].healthCheck.interval: must be > 0"},
		{"interval too long", func(c *Config) { c.TargetGroups[0].HealthCheck.Interval = 301 * time.Second },
			"targetGroups[0].healthCheck.interval"},
		{"bad matcher", func(c *Config) { c.TargetGroups[0].HealthCheck.Matcher = "200-abc" },
			"targetGroups[0].healthCheck.matcher:"},
		{"matcher out of range", func(c *Config) { c.TargetGroups[0].HealthCheck.Matcher = "100" },
			"targetGroups[0].healthCheck.matcher:"},
		{"path with TCP", func(c *Config) {
			c.TargetGroups[0].HealthCheck.Protocol = "TCP"
		}, "targetGroups[0].healthCheck.path: not allowed with protocol TCP"},
		{"bad protocol", func(c *Config) { c.TargetGroups[0].HealthCheck.Protocol = "HTTPS" },
			"targetGroups[0].healthCheck.protocol"},
		{"bad path", func(c *Config) { c.TargetGroups[0].HealthCheck.Path = "health" },
			"targetGroups[0].healthCheck.path"},
		{"health port", func(c *Config) { c.TargetGroups[0].HealthCheck.Port = 70000 },
			"targetGroups[0].healthCheck.port"},
		{"group port", func(c *Config) { c.TargetGroups[0].Port = 0 }, "targetGroups[0].port: must be 1..65535"},
		{"group name", func(c *Config) { c.TargetGroups[0].Name = "bad_name" }, "targetGroups[0].name"},
		{"duplicate group", func(c *Config) { c.TargetGroups[1].Name = "bags" }, "targetGroups[1].name: duplicate"},
		{"delay", func(c *Config) { c.TargetGroups[0].DeregistrationDelay = 2 * time.Hour }, "targetGroups[0].deregistrationDelay"},
		{"address", func(c *Config) { c.Address = "localhost" }, "address: must be an IP address"},
		{"no listeners", func(c *Config) { c.Listeners = nil }, "listeners: at least one"},
		{"listener group", func(c *Config) { c.Listeners[1].TargetGroup = "items" }, `listeners[1].targetGroup: unknown target group "items"`},
		{"listener port", func(c *Config) { c.Listeners[0].Port = 65536 }, "listeners[0].port"},
		{"duplicate listener", func(c *Config) { c.Listeners[1].Port = 65534 }, "listeners[1].port: duplicate"},
		{"idle", func(c *Config) { c.IdleTimeout = -1 }, "idleTimeout"},
		{"idle too long", func(c *Config) { c.IdleTimeout = 6001 * time.Second }, "idleTimeout: must be"},
		{"listener idle", func(c *Config) { c.Listeners[1].IdleTimeout = -time.Second }, "listeners[1].idleTimeout: must be"},
		{"listener idle too long", func(c *Config) { c.Listeners[0].IdleTimeout = 2 * time.Hour }, "listeners[0].idleTimeout"},
		{"listener idle short", func(c *Config) { c.Listeners[0].IdleTimeout = time.Second }, ""},
		{"proxy protocol and termination", func(c *Config) {
			c.TargetGroups[0].ProxyProtocolV2 = true
			c.TargetGroups[0].ConnectionTermination = true
		}, ""},
		{"name", func(c *Config) { c.Name = "-x" }, "name:"},
		{"unhealthy draining with termination", func(c *Config) { c.TargetGroups[0].UnhealthyDrainingInterval = time.Minute },
			"targetGroups[0].unhealthyDrainingInterval: only with unhealthyConnectionTermination false"},
		{"unhealthy draining", func(c *Config) {
			c.TargetGroups[0].UnhealthyConnectionTermination = boolPtr(false)
			c.TargetGroups[0].UnhealthyDrainingInterval = time.Minute
		}, ""},
		{"unhealthy draining too long", func(c *Config) {
			c.TargetGroups[1].UnhealthyConnectionTermination = boolPtr(false)
			c.TargetGroups[1].UnhealthyDrainingInterval = 360001 * time.Second
		}, "targetGroups[1].unhealthyDrainingInterval: must be 0..360000s"},
		{"unhealthy draining negative", func(c *Config) {
			c.TargetGroups[1].UnhealthyConnectionTermination = boolPtr(false)
			c.TargetGroups[1].UnhealthyDrainingInterval = -time.Second
		}, "targetGroups[1].unhealthyDrainingInterval: must be 0..360000s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if tt.want != "" {
				if _, err := New(c); err == nil {
					t.Fatal("New accepted an invalid config")
				}
			}
		})
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		spec    string
		match   []int
		nomatch []int
		bad     bool
	}{
		{spec: "200", match: []int{200}, nomatch: []int{201, 399, 503}},
		{spec: "200-299", match: []int{200, 250, 299}, nomatch: []int{300, 503}},
		{spec: "200-399", match: []int{200, 302, 399}, nomatch: []int{400, 404, 503}},
		{spec: "200,202,300-399", match: []int{200, 202, 300, 301}, nomatch: []int{201, 203, 400}},
		{spec: " 200 , 503 ", match: []int{200, 503}, nomatch: []int{404}},
		{spec: "", bad: true},
		{spec: "abc", bad: true},
		{spec: "199", bad: true},
		{spec: "600", bad: true},
		{spec: "300-200", bad: true},
		{spec: "200,", bad: true},
		{spec: "200-", bad: true},
	}
	for _, tt := range tests {
		m, err := parseMatcher(tt.spec)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: parsed, want error", tt.spec)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		for _, c := range tt.match {
			if !m.match(c) {
				t.Errorf("%q does not match %d", tt.spec, c)
			}
		}
		for _, c := range tt.nomatch {
			if m.match(c) {
				t.Errorf("%q matches %d", tt.spec, c)
			}
		}
	}
}
