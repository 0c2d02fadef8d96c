package ecs

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portway/portway/internal/metrics"
)

// taskStatuses are the values of portway_ecs_tasks's status label: the
// lastStatus of the tasks not yet STOPPED.
var taskStatuses = [...]string{StatusProvisioning, StatusPending, StatusActivating, StatusRunning, StatusDeactivating, StatusStopping}

var rolloutStates = [...]string{RolloutInProgress, RolloutCompleted, RolloutFailed}

// ecsMetrics are the supervisor's counters; the task and deployment
// gauges are read at scrape time (collector).
type ecsMetrics struct {
	starts *prometheus.CounterVec
	stops  *prometheus.CounterVec
}

// registerMetrics registers the supervisor's collectors on reg (nil: no
// metrics). Label values are service names and stop codes: both bounded.
func (s *Supervisor) registerMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	m := &ecsMetrics{}
	var err error
	if m.starts, err = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portway_ecs_task_starts_total",
		Help: "Tasks launched by a service.",
	}, []string{"service"})); err != nil {
		return err
	}
	if m.stops, err = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portway_ecs_task_stops_total",
		Help: "Tasks stopped, by service and stop code (TaskFailedToStart, EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated).",
	}, []string{"service", "reason"})); err != nil {
		return err
	}
	for _, sv := range s.services {
		m.starts.WithLabelValues(sv.name)
	}
	if _, err = metrics.Register(reg, &ecsCollector{s: s,
		tasks: prometheus.NewDesc("portway_ecs_tasks",
			"Tasks of a service not yet STOPPED, by last status.", []string{"service", "status"}, nil),
		deployments: prometheus.NewDesc("portway_ecs_deployments",
			"Deployments of a service, by rollout state.", []string{"service", "rollout_state"}, nil),
	}); err != nil {
		return err
	}
	s.metrics = m
	return nil
}

// taskLaunched counts a launch. Call with s.mu held (or not: counters are
// safe).
func (s *Supervisor) taskLaunched(sv *service) {
	if s.metrics != nil {
		s.metrics.starts.WithLabelValues(sv.name).Inc()
	}
}

// taskStopRequested counts a stop by its stop code.
func (s *Supervisor) taskStopRequested(t *task) {
	if s.metrics != nil {
		s.metrics.stops.WithLabelValues(t.svc.name, t.stopCode).Inc()
	}
}

type ecsCollector struct {
	s                  *Supervisor
	tasks, deployments *prometheus.Desc
}

func (c *ecsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.deployments
}

func (c *ecsCollector) Collect(ch chan<- prometheus.Metric) {
	type counts struct {
		tasks       [len(taskStatuses)]int
		deployments [len(rolloutStates)]int
	}
	s := c.s
	s.mu.Lock()
	by := make([]counts, len(s.services))
	idx := map[*service]int{}
	for i, sv := range s.services {
		idx[sv] = i
		for _, d := range sv.deployments {
			for j, r := range rolloutStates {
				if d.rollout == r {
					by[i].deployments[j]++
				}
			}
		}
	}
	for _, t := range s.tasks {
		i, ok := idx[t.svc]
		if !ok {
			continue
		}
		for j, st := range taskStatuses {
			if t.lastStatus == st {
				by[i].tasks[j]++
			}
		}
	}
	s.mu.Unlock()
	for i, sv := range s.services {
		for j, st := range taskStatuses {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(by[i].tasks[j]), sv.name, st)
		}
		for j, r := range rolloutStates {
			ch <- prometheus.MustNewConstMetric(c.deployments, prometheus.GaugeValue, float64(by[i].deployments[j]), sv.name, r)
		}
	}
}
