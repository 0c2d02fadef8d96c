package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/rotate"
	"github.com/portway/portway/internal/trace"
)

// AccessLogConfig is gateway.accessLog: the access log `portway up` writes
// to <state>/logs/access.log, as API Gateway's stage accessLogSettings.
type AccessLogConfig struct {
	// Format is the line template with $context variables, as API
	// Gateway's accessLogSettings.format (JSON or text); default
	// gateway.DefaultAccessLogFormat.
	Format string `yaml:"format,omitempty"`
	// MaxSizeMiB rotates the file past this size (default 10); MaxFiles
	// rotated files are kept beside it (access.log.1 …, default 5).
	MaxSizeMiB int `yaml:"maxSizeMiB,omitempty"`
	MaxFiles   int `yaml:"maxFiles,omitempty"`
}

// Access log defaults.
const (
	DefaultAccessLogMaxSizeMiB = 10
	DefaultAccessLogMaxFiles   = 5
	AccessLogFile              = "logs/access.log" // under the state dir
)

func (a AccessLogConfig) validate(add func(field, format string, args ...any)) {
	if err := gateway.ValidateAccessLogFormat(a.Format); err != nil {
		add("gateway.accessLog.format", "%v", err)
	}
	if a.MaxSizeMiB < 0 || a.MaxSizeMiB > 1024 {
		add("gateway.accessLog.maxSizeMiB", "must be 1-1024 (0: %d)", DefaultAccessLogMaxSizeMiB)
	}
	if a.MaxFiles < 0 || a.MaxFiles > 100 {
		add("gateway.accessLog.maxFiles", "must be 1-100 (0: %d)", DefaultAccessLogMaxFiles)
	}
}

// OpenAccessLog opens the access log file at path, rotated as a says, and
// buffered: Close the returned Buffered to flush and close it.
func (a AccessLogConfig) OpenAccessLog(path string) (*gateway.AccessLog, *rotate.Buffered, error) {
	size, files := a.MaxSizeMiB, a.MaxFiles
	if size == 0 {
		size = DefaultAccessLogMaxSizeMiB
	}
	if files == 0 {
		files = DefaultAccessLogMaxFiles
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("access log: %w", err)
	}
	f, err := rotate.Open(path, int64(size)<<20, files)
	if err != nil {
		return nil, nil, fmt.Errorf("access log: %w", err)
	}
	b := rotate.NewBuffered(f, 0)
	return &gateway.AccessLog{Format: a.Format, Out: b}, b, nil
}

// closerComponent stops by closing: the access log, stopped after the gateway.
type closerComponent struct{ close func() error }

func (closerComponent) Start(context.Context) error  { return nil }
func (c closerComponent) Stop(context.Context) error { return c.close() }

// startTracing makes the trace store and the load balancer's flow log, and
// starts the collector the tasks report to.
func (s *Stack) startTracing(ctx context.Context) error {
	s.flows = trace.NewFlowLog(0, nil)
	s.traces = trace.NewStore(0, s.flows)
	if live := s.live; live != nil {
		// A task's last minute, as its sidecar saw each request.
		s.traces.Tap(func(h trace.Hop) {
			if h.Kind == trace.KindSidecar {
				live.TaskRequest(h.Task, time.Duration(h.Duration)*time.Microsecond, h.Status)
			}
		})
	}
	c, err := trace.NewCollector(trace.CollectorConfig{Store: s.traces})
	if err != nil {
		return err
	}
	if err := s.start(ctx, "traces", c); err != nil {
		return err
	}
	s.collector = c
	return nil
}
