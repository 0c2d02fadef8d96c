package nlb

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portway/portway/internal/metrics"
)

// healthStates are the values of portway_nlb_target_health's state label.
var healthStates = [...]string{StateInitial, StateHealthy, StateUnhealthy, StateUnhealthyDraining, StateDraining, StateUnused}

// collector reads the load balancer's targets at scrape time: the flows
// pay nothing for the metrics (but a sample of their sockets' byte
// counters when they close), and a deregistered target's series are gone
// with it.
type collector struct {
	lb                                    *LoadBalancer
	health, conns, active, bytes, hchecks *prometheus.Desc
}

func newCollector(lb *LoadBalancer) *collector {
	labels := []string{"target_group", "target"}
	return &collector{
		lb: lb,
		health: prometheus.NewDesc("portway_nlb_target_health",
			"Health state of each registered target: 1 for its current state, 0 for the others.",
			append(labels, "state"), nil),
		conns: prometheus.NewDesc("portway_nlb_connections_total",
			"Connections established to a target since its registration.", labels, nil),
		active: prometheus.NewDesc("portway_nlb_active_connections",
			"Connections to a target that are open now.", labels, nil),
		bytes: prometheus.NewDesc("portway_nlb_bytes_total",
			"Bytes sent to (to_target) and received from (from_target) a target since its registration.",
			append(labels, "direction"), nil),
		hchecks: prometheus.NewDesc("portway_nlb_health_checks_total",
			"Health checks of a target since its registration, by result.", append(labels, "result"), nil),
	}
}

// registerMetrics registers lb's collector on reg (nil: none).
func (lb *LoadBalancer) registerMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	_, err := metrics.Register(reg, newCollector(lb))
	return err
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.health, c.conns, c.active, c.bytes, c.hchecks} {
		ch <- d
	}
}

// targetSnapshot is what one scrape reads of a target.
type targetSnapshot struct {
	name                 string
	state                string
	conns, active        int64
	toTarget, fromTarget uint64
	checks               [len(checkResults)]uint64
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.lb.TargetGroupNames() {
		for _, t := range c.lb.groups[name].snapshot() {
			for _, s := range healthStates {
				v := 0.0
				if s == t.state {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.health, prometheus.GaugeValue, v, name, t.name, s)
			}
			ch <- prometheus.MustNewConstMetric(c.conns, prometheus.CounterValue, float64(t.conns), name, t.name)
			ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(t.active), name, t.name)
			ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(t.toTarget), name, t.name, "to_target")
			ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(t.fromTarget), name, t.name, "from_target")
			for i, r := range checkResults {
				ch <- prometheus.MustNewConstMetric(c.hchecks, prometheus.CounterValue, float64(t.checks[i]), name, t.name, r)
			}
		}
	}
}

// snapshot reads the group's targets for a scrape, sampling the byte
// counters of their open flows first.
func (g *targetGroup) snapshot() []targetSnapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]targetSnapshot, 0, len(g.targets))
	for _, t := range g.targets {
		for f := range t.conns {
			f.sampleBytes()
		}
		out = append(out, targetSnapshot{
			name: t.String(), state: g.healthOf(t).State,
			conns: t.connections, active: t.active,
			toTarget: t.bytes.toTarget.Load(), fromTarget: t.bytes.fromTarget.Load(),
			checks: t.checks,
		})
	}
	return out
}
