package trace

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The environment variables `portway up` gives every task container: where
// to send hop records and the token to send with them.
const (
	EnvURL   = "PORTWAY_TRACE_URL"
	EnvToken = "PORTWAY_TRACE_TOKEN"
)

// Reporter bounds: hops queued (beyond, new ones are dropped and counted),
// hops per batch, and how long a hop waits for its batch.
const (
	reporterQueue = 2048
	reporterBatch = 512
	reporterEvery = 200 * time.Millisecond
	reportTimeout = 2 * time.Second
)

// Reporter sends a process's hops to portway's collector in batches, from
// a goroutine of its own: Record never blocks and never fails; when the
// queue is full or the collector is away, hops are dropped (counted in
// Dropped, logged once a minute at most). A nil Reporter records nothing.
type Reporter struct {
	url, token string
	task       string // $PORTWAY_TASK_ID: set on every hop
	log        *slog.Logger
	client     *http.Client
	ch         chan Hop
	dropped    atomic.Uint64
	buf        []byte // the batch being sent (the sender's goroutine only)

	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// ReporterFromEnv is the Reporter for $PORTWAY_TRACE_URL and
// $PORTWAY_TRACE_TOKEN, or nil when they are not set (tracing off).
func ReporterFromEnv(log *slog.Logger) *Reporter {
	url, token := os.Getenv(EnvURL), os.Getenv(EnvToken)
	if url == "" || token == "" {
		return nil
	}
	r := NewReporter(url, token, log)
	r.task = os.Getenv("PORTWAY_TASK_ID")
	return r
}

// NewReporter sends batches to url (the collector's ingest endpoint)
// with token; Start begins, Stop flushes what is queued.
func NewReporter(url, token string, log *slog.Logger) *Reporter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reporter{
		url: url, token: token, log: log,
		client: &http.Client{Timeout: reportTimeout, Transport: &http.Transport{Proxy: nil, MaxIdleConns: 1, IdleConnTimeout: time.Minute}},
		ch:     make(chan Hop, reporterQueue),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// Record queues h for the next batch, or drops it when the queue is full.
func (r *Reporter) Record(h Hop) {
	if r == nil {
		return
	}
	if h.Task == "" {
		h.Task = r.task
	}
	select {
	case r.ch <- h:
	default:
		r.dropped.Add(1)
	}
}

// Dropped is how many hops were not delivered.
func (r *Reporter) Dropped() uint64 {
	if r == nil {
		return 0
	}
	return r.dropped.Load()
}

// Start runs the sender.
func (r *Reporter) Start() {
	if r == nil {
		return
	}
	go r.run()
}

// Stop sends what is queued (bounded by ctx) and ends the sender.
func (r *Reporter) Stop(ctx context.Context) {
	if r == nil {
		return
	}
	r.once.Do(func() { close(r.stop) })
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

func (r *Reporter) run() {
	defer close(r.done)
	tick := time.NewTicker(reporterEvery)
	defer tick.Stop()
	batch := make([]Hop, 0, reporterBatch)
	var lastLog time.Time
	var reported uint64
	flush := func() {
		if len(batch) > 0 {
			if err := r.send(batch); err != nil {
				r.dropped.Add(uint64(len(batch)))
				if time.Since(lastLog) > time.Minute {
					lastLog = time.Now()
					r.log.Warn("trace: hops not delivered", "err", err, "dropped", r.dropped.Load())
				}
			}
			batch = batch[:0]
		}
		if d := r.dropped.Load(); d != reported && time.Since(lastLog) > time.Minute {
			lastLog, reported = time.Now(), d
			r.log.Warn("trace: hops dropped", "dropped", d)
		}
	}
	for {
		select {
		case h := <-r.ch:
			batch = append(batch, h)
			if len(batch) == reporterBatch {
				flush()
			}
		case <-tick.C:
			flush()
		case <-r.stop:
			for {
				select {
				case h := <-r.ch:
					batch = append(batch, h)
					if len(batch) == reporterBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

func (r *Reporter) send(hops []Hop) error {
	r.buf = r.buf[:0]
	for i := range hops {
		r.buf = appendWire(r.buf, &hops[i])
	}
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(r.buf))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", wireContentType)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "collector answered " + http.StatusText(e.code) }

// wireContentType is the batch's media type (wire.go).
const wireContentType = "text/x-portway-hops; charset=utf-8"

// RootIn is the trace id of the first valid X-Amzn-Trace-Id among a
// request's header values, or "": what a sidecar or app records its hop
// under (the gateway passed it on).
func RootIn(values func(yield func([]byte) bool)) string {
	root := ""
	values(func(v []byte) bool {
		if ValidHeader(v) {
			root = RootOf(string(v[:len("Root=")+rootLen]))
			return false
		}
		return true
	})
	return root
}
